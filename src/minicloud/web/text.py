"""What minicloud accepts as text and as a number, wherever input arrives (JSON, query, path, forms).

PostgreSQL cannot store a NUL character, and a lone UTF-16 surrogate (``"\\ud800"`` in JSON)
cannot be encoded as UTF-8 at all; integers are stored in 64 bits. Each of these is a user's
mistake (or an attack), so it is refused where the input is read, with the field named —
never left to fail deep inside a service as a 500.
"""
from __future__ import annotations

INT64_MIN, INT64_MAX = -(2 ** 63), 2 ** 63 - 1


def text_problem(value: str) -> str | None:
    """None when ``value`` is text minicloud can store, else the catalog key saying why not."""
    if "\x00" in value:
        return "validation.nul"
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        return "validation.not_text"
    return None


def integer_problem(value: int) -> str | None:
    """None when ``value`` fits in 64 bits, else the catalog key saying it does not."""
    return None if INT64_MIN <= value <= INT64_MAX else "validation.int64"


def printable(value: str) -> str:
    """``value`` with what could not be stored (NUL, lone surrogates) written as escapes: for records
    of what a user sent (the audit log, an error naming a field)."""
    return value.encode("utf-8", "backslashreplace").decode("utf-8").replace("\x00", "\\x00")
