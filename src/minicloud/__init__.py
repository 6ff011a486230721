"""minicloud: a small, self-hostable cloud for teaching."""

__version__ = "0.1.0"
