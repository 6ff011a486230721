"""Static files of the console (CSS, the small progressive-enhancement scripts), from src/minicloud/static/."""
from __future__ import annotations

from pathlib import Path

from werkzeug.utils import send_from_directory

STATIC_DIR = Path(__file__).resolve().parents[2] / "static"
MAX_AGE = 3600


def serve(ctx, file: str):
    """The file, or 404 for anything outside the directory (``..``, absolute paths) or missing."""
    response = send_from_directory(STATIC_DIR, file, ctx.request.environ, max_age=MAX_AGE)
    response.headers["X-Content-Type-Options"] = "nosniff"
    return response


def favicon(ctx):
    """GET /favicon.ico, where browsers look without a <link rel="icon">: the PNG fallback of favicon.svg."""
    response = send_from_directory(STATIC_DIR, "favicon.png", ctx.request.environ, max_age=MAX_AGE)
    response.headers["X-Content-Type-Options"] = "nosniff"
    return response
