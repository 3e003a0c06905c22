"""The example's Django app."""
