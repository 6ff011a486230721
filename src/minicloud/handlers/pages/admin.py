"""Console page (being written)."""
from werkzeug.exceptions import NotFound


def _todo(ctx, **kw):
    raise NotFound()
admin = _todo
