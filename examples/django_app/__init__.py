"""A Django project whose app ``shop`` enqueues jobs (docs/guides/django.md)."""
