"""One module per group of commands, each a ``typer.Typer`` (or ``register(app)`` for top-level ones)."""
