"""A small validator for request bodies and query strings, written as JSON Schema.

The same schema dicts feed the OpenAPI document, so what the docs promise is
what the server checks. Supported: type (string, integer, boolean, object,
array), required, minLength, maxLength, pattern, format (date, date-time, email, uuid),
enum, minimum, maximum, additionalProperties: false. Every string must be storable text (no NUL,
no lone surrogate) and every integer must fit in 64 bits (``minicloud.web.text``), whatever the schema says.
"""
from __future__ import annotations

import re
import uuid
from datetime import date, datetime
from typing import Any

from minicloud.errors import ValidationFailed
from minicloud.web.text import integer_problem, text_problem

_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
_TYPES = {"string": str, "integer": int, "boolean": bool, "object": dict, "array": list}


def _check(value: Any, spec: dict) -> tuple[str, dict] | None:
    """None when ``value`` satisfies ``spec``, else (message key, params)."""
    kind = spec.get("type")
    if kind:
        expected = _TYPES[kind]
        if not isinstance(value, expected) or (kind == "integer" and isinstance(value, bool)):
            return "validation.type", {"type": kind}
    if "enum" in spec and value not in spec["enum"]:
        return "validation.enum", {"choices": ", ".join(map(str, spec["enum"]))}
    if isinstance(value, str):
        if text_problem(value):
            return text_problem(value), {}
        if len(value) < spec.get("minLength", 0):
            return "validation.min_length", {"min": spec["minLength"]}
        if "maxLength" in spec and len(value) > spec["maxLength"]:
            return "validation.max_length", {"max": spec["maxLength"]}
        if "pattern" in spec and not re.fullmatch(spec["pattern"], value):
            return spec.get("x-message", "validation.pattern"), {}
        fmt = spec.get("format")
        try:
            if fmt == "date":
                date.fromisoformat(value)
            elif fmt == "date-time":
                datetime.fromisoformat(value.replace("Z", "+00:00"))
            elif fmt == "uuid":
                uuid.UUID(value)
        except ValueError:
            return f"validation.format_{fmt}", {}
        if fmt == "email" and not _EMAIL.match(value):
            return "validation.format_email", {}
    if isinstance(value, int) and not isinstance(value, bool):
        if integer_problem(value):
            return integer_problem(value), {}
        if "minimum" in spec and value < spec["minimum"]:
            return "validation.minimum", {"min": spec["minimum"]}
        if "maximum" in spec and value > spec["maximum"]:
            return "validation.maximum", {"max": spec["maximum"]}
    return None


def validate(data: Any, schema: dict, translate_fn) -> dict:
    """Return ``data`` (with defaults filled) or raise ValidationFailed naming every bad field."""
    if not isinstance(data, dict):
        raise ValidationFailed({"body": translate_fn("validation.object")})
    props: dict = schema.get("properties", {})
    errors: dict[str, str] = {}
    for name in schema.get("required", []):
        if data.get(name) in (None, ""):
            spec = props.get(name, {})
            errors[name] = translate_fn(spec.get("x-required-message", "validation.required"))
    if schema.get("additionalProperties") is False:
        for name in data:
            if name not in props:
                errors[name] = translate_fn("validation.unknown_field")
    out = {}
    for name, spec in props.items():
        if name in errors:
            continue
        if data.get(name) is None:
            if "default" in spec:
                out[name] = spec["default"]
            elif name in data:
                out[name] = None
            continue
        problem = _check(data[name], spec)
        if problem:
            errors[name] = translate_fn(problem[0], **problem[1])
        else:
            out[name] = data[name]
    if errors:
        raise ValidationFailed(errors)
    return out


_QUERY_INTEGER = re.compile(r"^-?[0-9]{1,20}$")
_QUERY_BOOLEANS = {"1": True, "true": True, "yes": True, "on": True,
                   "0": False, "false": False, "no": False, "off": False}


def coerce_query(args, schema: dict, translate_fn) -> dict:
    """Validate query-string arguments: integers (plain digits) and booleans are converted first."""
    data: dict[str, Any] = {}
    errors: dict[str, str] = {}
    for name, spec in schema.get("properties", {}).items():
        if name not in args:
            continue
        raw = args.get(name)
        if spec.get("type") == "integer":
            if _QUERY_INTEGER.match(raw):
                data[name] = int(raw)
            else:
                errors[name] = translate_fn("validation.type", type="integer")
        elif spec.get("type") == "boolean":
            if raw.lower() in _QUERY_BOOLEANS:
                data[name] = _QUERY_BOOLEANS[raw.lower()]
            else:
                errors[name] = translate_fn("validation.type", type="boolean")
        else:
            data[name] = raw
    if errors:
        raise ValidationFailed(errors)
    return validate(data, schema, translate_fn)
