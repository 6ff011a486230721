"""Building blocks for the JSON Schemas of answers (OpenAPI 3.1 / JSON Schema 2020-12).

Each handler module declares the shape of what its resource answers with these, beside its
body and query schemas; the route table hands them to ``Route(response=...)`` and the OpenAPI
document publishes them. ``obj`` makes every property required unless named ``optional``:
a property the server always sends is required, one it sends only sometimes is not.
"""
from __future__ import annotations

from dataclasses import dataclass, field

UUID = {"type": "string", "format": "uuid"}
TIME = {"type": "string", "format": "date-time", "description": "UTC, ISO-8601"}
DATE = {"type": "string", "format": "date"}
STRING = {"type": "string"}
INTEGER = {"type": "integer"}
COUNT = {"type": "integer", "minimum": 0}
BOOLEAN = {"type": "boolean"}
ANY_OBJECT = {"type": "object", "description": "A free-form object"}


def nullable(schema: dict) -> dict:
    """``schema`` that may also be null (``"type": [..., "null"]``)."""
    kind = schema["type"]
    kinds = [*kind] if isinstance(kind, list) else [kind]
    return {**schema, "type": [*kinds, "null"]}


def obj(properties: dict[str, dict], optional: tuple[str, ...] = (), **extra) -> dict:
    """An object with these properties, every one required except those in ``optional``."""
    required = [name for name in properties if name not in optional]
    return {"type": "object", "required": required, "properties": properties, **extra}


def sparse(properties: dict[str, dict], **extra) -> dict:
    """An object that may carry any of these properties, none of them always."""
    return obj(properties, optional=tuple(properties), **extra)


def extended(base: dict, more: dict[str, dict], optional: tuple[str, ...] = ()) -> dict:
    """``base`` (an ``obj``) with ``more`` properties, required unless in ``optional``."""
    required = [*base["required"], *(name for name in more if name not in optional)]
    return {**base, "required": required, "properties": {**base["properties"], **more}}


def array(items: dict, **extra) -> dict:
    return {"type": "array", "items": items, **extra}


def map_of(values: dict, description: str = "") -> dict:
    """An object whose keys are chosen at run time, every value of the ``values`` schema."""
    out = {"type": "object", "additionalProperties": values}
    return {**out, "description": description} if description else out


def page_of(item: dict, **more: dict) -> dict:
    """A page of a list: ``{"items": [item, ...], "next": cursor | null}`` (plus ``more`` properties)."""
    return obj({"items": array(item), **more,
                "next": nullable({"type": "string", "description": "The cursor of the next page; null on the last"})})


@dataclass(frozen=True)
class Header:
    """A response header: sent on every such answer when ``required``, else only sometimes."""

    description: str
    schema: dict = field(default_factory=lambda: dict(STRING))
    required: bool = False


@dataclass(frozen=True)
class Answer:
    """A success answer: its media type (None: no body), the JSON Schema of a JSON body (None with
    another media type: any bytes), and its headers."""

    schema: dict | None = None
    media: str | None = "application/json"
    headers: dict[str, Header] = field(default_factory=dict)


LOCATION = Header("The URL of the resource (its GET)", required=True)


def located(schema: dict) -> Answer:
    """A 201/202 JSON answer that always carries a Location."""
    return Answer(schema, headers={"Location": LOCATION})
