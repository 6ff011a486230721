"""Console page (being written)."""
from werkzeug.exceptions import NotFound


def _todo(ctx, **kw):
    raise NotFound()
instances = networks = apps = storage = _todo
