"""The language switch (한국어 / English): a cookie that wins over Accept-Language."""
from __future__ import annotations

from werkzeug.exceptions import NotFound

from minicloud.handlers.pages.common import YEAR, safe_next
from minicloud.i18n import LANGUAGES
from minicloud.web.session import LANG_COOKIE


def switch(ctx, lang: str):
    if lang not in LANGUAGES:
        raise NotFound()
    ctx.set_cookie(LANG_COOKIE, lang, max_age=YEAR, httponly=True, samesite="Lax",
                   secure=bool(ctx.config.get("server.secure_cookies")), path="/")
    return ctx.redirect(safe_next(ctx.request.args.get("next"), "/"))
