"""Placeholder (being written)."""
from werkzeug.exceptions import NotFound


def document(ctx):
    raise NotFound()
