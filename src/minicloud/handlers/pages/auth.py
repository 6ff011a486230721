"""Console page (being written)."""
from werkzeug.exceptions import NotFound


def _todo(ctx, **kw):
    raise NotFound()
login_form = login = signup_form = signup = logout = _todo
