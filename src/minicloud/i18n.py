"""Message catalogs (locales/<lang>/*.json, merged) and language negotiation.

Every text a user reads — API error messages and console labels — is looked up
here by key, so Korean and English stay side by side in two files.
"""
from __future__ import annotations

import json
from functools import lru_cache
from pathlib import Path

LOCALES_DIR = Path(__file__).with_name("locales")
LANGUAGES = ("ko", "en")


@lru_cache(maxsize=None)
def catalog(lang: str) -> dict[str, str]:
    merged: dict[str, str] = {}
    for path in sorted((LOCALES_DIR / lang).glob("*.json")):
        with open(path, encoding="utf-8") as fh:
            merged.update(json.load(fh))
    return merged


def translate(lang: str, key: str, **params: object) -> str:
    """The message ``key`` in ``lang`` (falling back to English, then the key) with ``{params}`` filled."""
    text = catalog(lang).get(key) or catalog("en").get(key) or key
    if params:
        try:
            return text.format(**params)
        except (KeyError, IndexError, ValueError):
            return text
    return text


@lru_cache(maxsize=256)  # browsers send a handful of distinct headers
def negotiate(accept_language: str | None, default: str) -> str:
    """The best supported language from an Accept-Language header, else ``default``."""
    best, best_q = None, 0.0
    for part in (accept_language or "").split(","):
        tag, _, params = part.strip().partition(";")
        q = 1.0
        if params.strip().startswith("q="):
            try:
                q = float(params.strip()[2:])
            except ValueError:
                q = 0.0
        primary = tag.strip().lower().split("-")[0]
        if primary in LANGUAGES and q > best_q:
            best, best_q = primary, q
    return best or default
