"""The WSGI entry point for gunicorn: ``gunicorn minicloud.wsgi:application``.

Built at import time in each worker process, so every worker opens its own
database pool after the fork.
"""
from __future__ import annotations

import logging

from minicloud.app import make_app

logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s %(message)s")
application = make_app()
