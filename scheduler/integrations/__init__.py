"""Ready-made hooks for error reporting and tracing, each behind its own extra."""
