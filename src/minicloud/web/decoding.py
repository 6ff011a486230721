"""The path and query decoder: request bytes to text, strictly.

WSGI hands the path over as the raw bytes the client sent (one character per byte); werkzeug
would decode them replacing invalid UTF-8 with U+FFFD, so two different object keys (``%ff`` and
``%fe``) would both become ``"\\ufffd"`` and collide. Here invalid bytes are kept as
``surrogateescape`` characters instead, so a route can still be matched and the parameter holding
them named in a 400 (``bad_encoding``); and a query string with invalid UTF-8 is refused the same way.
"""
from __future__ import annotations

from urllib.parse import parse_qsl, unquote_to_bytes, urlsplit

from werkzeug.datastructures import MultiDict

from minicloud.errors import BadRequest


def has_undecodable(text: str) -> bool:
    """True when ``text`` holds bytes that were not UTF-8 (as surrogate escapes)."""
    return any("\udc80" <= ch <= "\udcff" for ch in text)


def bad_encoding(field: str) -> BadRequest:
    return BadRequest("error.bad_encoding", code="bad_encoding", details={"field": field}, field=field)


def request_path(environ: dict) -> str:
    """The request path as text; bytes that are not UTF-8 become surrogate escapes (see module doc).

    The path is read from the request line as sent (``RAW_URI`` / ``REQUEST_URI``) when the server
    gives it and minicloud is served at the root, because some servers (werkzeug's own) have already
    replaced invalid bytes in ``PATH_INFO``; else from ``PATH_INFO``, which gunicorn leaves raw."""
    sent = environ.get("RAW_URI") or environ.get("REQUEST_URI")
    if sent and not environ.get("SCRIPT_NAME"):
        target = urlsplit(sent).path if "://" in sent.split("?", 1)[0] else sent.split("?", 1)[0]
        raw = unquote_to_bytes(target.encode("latin-1", "replace")) or b"/"  # WSGI strings carry bytes
    else:
        raw = (environ.get("PATH_INFO", "") or "/").encode("latin-1", "replace")
    return raw.decode("utf-8", "surrogateescape")


def check_path_params(params: dict) -> None:
    """400 naming the first path parameter that was not UTF-8."""
    for name, value in params.items():
        if isinstance(value, str) and has_undecodable(value):
            raise bad_encoding(name)


def check_fields(pairs) -> None:
    """400 naming the first (name, value) pair that is not UTF-8 or holds a NUL character (which no
    parameter or form field accepts)."""
    for name, value in pairs:
        if has_undecodable(name) or has_undecodable(value):
            raise bad_encoding(name if not has_undecodable(name) else "query")
        if "\x00" in name or "\x00" in value:
            field = name.replace("\x00", "")
            raise BadRequest("error.bad_text", code="bad_text", details={"field": field}, field=field)


def query_args(environ: dict) -> MultiDict:
    """The query string's arguments as text, checked by ``check_fields``."""
    if not environ.get("QUERY_STRING"):
        return MultiDict()
    raw = environ["QUERY_STRING"].encode("latin-1", "replace").decode("utf-8", "surrogateescape")
    pairs = parse_qsl(raw, keep_blank_values=True, encoding="utf-8", errors="surrogateescape")
    check_fields(pairs)
    return MultiDict(pairs)
