"""The durable job queue in PostgreSQL and the worker that runs it."""
