"""mcloud's own words in Korean and English (locales/<lang>.json); the API's messages come in the same language.

The language is ``--lang``, else ``$MCLOUD_LANG``, else ``$LANG`` / ``$LC_ALL`` (ko_KR.UTF-8 -> ko), else English.
"""
from __future__ import annotations

import json
import os
from functools import cache
from importlib import resources

LANGUAGES = ("ko", "en")


def pick_language(explicit: str | None = None) -> str:
    for value in (explicit, os.environ.get("MCLOUD_LANG"), os.environ.get("LC_ALL"), os.environ.get("LANG")):
        if value:
            code = value.strip().lower()[:2]
            if code in LANGUAGES:
                return code
    return "en"


@cache
def catalog(lang: str) -> dict[str, str]:
    return json.loads(resources.files("mcloud").joinpath(f"locales/{lang}.json").read_text(encoding="utf-8"))


def say(lang: str, _key: str, /, **params) -> str:
    """The text of ``_key`` in ``lang`` (English when missing there), with ``{param}``s filled in."""
    text = next((c[_key] for c in (catalog(lang), catalog("en")) if _key in c), _key)
    return text.format(**params) if params else text
