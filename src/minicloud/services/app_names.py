"""Kubernetes names and host names for apps (pure functions).

- ``sanitize("My Blog!")`` → ``"my-blog"``: lower case, ``[^a-z0-9-]`` → ``-``, hyphens collapsed
  and trimmed, cut to a DNS label (63 characters); "" when nothing usable is left.
- ``k8s_name(name, app_id)`` → ``"my-blog-3f9a2"``: the sanitized name (or "app") plus 5 hex
  characters of the app's id, so two apps in a namespace never clash; it starts with a letter
  (a Service name must be an RFC 1035 label).
- ``host_candidates(name, base_domain)`` → ``my-blog.apps…``, ``my-blog-2.apps…``, …: the
  service tries them in turn against the database's unique index on ``host``.
"""
from __future__ import annotations

import re
from typing import Iterator

MAX_LABEL = 63
SHORT_ID = 5
_INVALID = re.compile(r"[^a-z0-9-]+")
_HYPHENS = re.compile(r"-{2,}")
LABEL = re.compile(r"^[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?$")


def sanitize(name: str, limit: int = MAX_LABEL) -> str:
    """The name as a DNS label of at most ``limit`` characters ("" when nothing is left)."""
    label = _HYPHENS.sub("-", _INVALID.sub("-", (name or "").lower())).strip("-")
    return label[:limit].rstrip("-")


def short_id(app_id) -> str:
    return str(app_id).replace("-", "")[:SHORT_ID]


def k8s_name(name: str, app_id) -> str:
    """``{sanitized}-{short id}``, at most 63 characters, starting with a letter."""
    suffix = short_id(app_id)
    base = sanitize(name, MAX_LABEL - len(suffix) - 1 - 4) or "app"
    if not base[0].isalpha():
        base = f"app-{base}"
    return f"{base}-{suffix}"


def host_label(name: str, app_id) -> str:
    """The first label of the app's host: the sanitized name, or ``app-{short id}`` when empty."""
    return sanitize(name) or f"app-{short_id(app_id)}"


def host_candidates(name: str, app_id, base_domain: str, tries: int = 20) -> Iterator[str]:
    """``label.base``, then ``label-2.base`` … (the label cut so the suffix fits), then one with the short id."""
    label = host_label(name, app_id)
    yield f"{label}.{base_domain}"
    for n in range(2, tries + 1):
        suffix = f"-{n}"
        yield f"{sanitize(label, MAX_LABEL - len(suffix))}{suffix}.{base_domain}"
    suffix = f"-{short_id(app_id)}"
    yield f"{sanitize(label, MAX_LABEL - len(suffix))}{suffix}.{base_domain}"


def namespace_for(project_id) -> str:
    """The project's namespace: ``mc-`` and 12 hex characters of its id."""
    return "mc-" + str(project_id).replace("-", "")[:12]
