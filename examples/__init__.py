"""Demo tasks for schedule.example.yml and `make run`."""
