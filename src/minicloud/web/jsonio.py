"""JSON in and out: UTF-8, UUIDs as strings, times as ISO-8601 UTC.

``read(raw)`` is the one JSON reader of request bodies. Besides the syntax it refuses, once for
every endpoint, what no handler could store or use: text with NUL or lone surrogates, integers
beyond 64 bits (or of thousands of digits), NaN and infinities, nesting deeper than
``MAX_DEPTH``. Each refusal names the field (``name``, ``env.FOO``, ``items[2]``).
"""
from __future__ import annotations

import json
import math
import uuid
from datetime import date, datetime, timezone
from decimal import Decimal
from typing import Any

from werkzeug.wrappers import Response

from minicloud.web.text import integer_problem, printable, text_problem

MAX_DEPTH = 32
_MAX_INT_DIGITS = 20  # longer integers are refused before Python converts them (it would refuse > 4300)


class Unreadable(Exception):
    """The body is not JSON minicloud reads: ``reason`` for people, ``field`` where it is."""

    def __init__(self, reason: str, field: str = "body"):
        super().__init__(reason)
        self.reason, self.field = reason, field


class BadValue(Exception):
    """The body is JSON, but ``field`` holds a value no endpoint accepts (``key``: the catalog message)."""

    def __init__(self, field: str, key: str):
        super().__init__(f"{field}: {key}")
        self.field, self.key = field, key


class _TooLong:
    """An integer literal too long to convert; reported as out of range by the walk."""


def _integer(literal: str) -> int | _TooLong:
    return _TooLong() if len(literal.lstrip("-")) > _MAX_INT_DIGITS else int(literal)


def _constant(name: str) -> float:
    raise ValueError(f"{name} is not a number JSON allows")


def _field(parent: str, part: str | int) -> str:
    """Where a value sits, for people: ``name``, ``env.FOO``, ``items[2]`` (unprintable text escaped)."""
    if isinstance(part, int):
        return f"{parent}[{part}]"
    part = printable(part)
    return f"{parent}.{part}" if parent else part


def _check(value: Any) -> None:
    """Walk the parsed value (without recursion) and raise for the first thing not accepted."""
    stack: list[tuple[Any, str, int]] = [(value, "", 0)]
    while stack:
        node, where, depth = stack.pop()
        if depth >= MAX_DEPTH:
            raise Unreadable(f"nested deeper than {MAX_DEPTH} levels")
        if isinstance(node, dict):
            for key, item in node.items():
                inner = _field(where, key)
                if text_problem(key):
                    raise BadValue(inner, text_problem(key))
                stack.append((item, inner, depth + 1))
        elif isinstance(node, list):
            stack.extend((item, _field(where, i), depth + 1) for i, item in enumerate(node))
        elif isinstance(node, str):
            if text_problem(node):
                raise BadValue(where or "body", text_problem(node))
        elif isinstance(node, _TooLong):
            raise BadValue(where or "body", "validation.int64")
        elif isinstance(node, bool):
            continue
        elif isinstance(node, int):
            if integer_problem(node):
                raise BadValue(where or "body", integer_problem(node))
        elif isinstance(node, float) and not math.isfinite(node):
            raise BadValue(where or "body", "validation.finite")


def read(raw: bytes) -> Any:
    """The value of a JSON request body (None when empty); raises Unreadable or BadValue."""
    if not raw:
        return None
    try:
        value = json.loads(raw.decode("utf-8"), parse_int=_integer, parse_constant=_constant)
    except UnicodeDecodeError:
        raise Unreadable("not UTF-8") from None
    except RecursionError:
        raise Unreadable(f"nested deeper than {MAX_DEPTH} levels") from None
    except ValueError as exc:  # JSONDecodeError, or NaN / Infinity
        raise Unreadable(str(exc)) from None
    _check(value)
    return value


def _default(value: Any) -> Any:
    if isinstance(value, datetime):
        if value.tzinfo is not None:
            value = value.astimezone(timezone.utc)
            return value.isoformat().replace("+00:00", "Z")
        return value.isoformat()
    if isinstance(value, (date, uuid.UUID)):
        return str(value)
    if isinstance(value, Decimal):
        return int(value) if value == value.to_integral_value() else float(value)
    if hasattr(value, "as_dict"):
        return value.as_dict()
    raise TypeError(f"cannot serialise {type(value).__name__}")


_ENCODER = json.JSONEncoder(default=_default, ensure_ascii=False, separators=(",", ":"))  # built once, not per answer


def dumps(data: Any) -> str:
    return _ENCODER.encode(data)


def json_response(data: Any, status: int = 200, headers: dict | None = None) -> Response:
    return Response(dumps(data), status=status, headers=headers, content_type="application/json; charset=utf-8")
