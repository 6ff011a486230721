"""Every answer of an API route, checked against what the OpenAPI document says of it (tests only).

``ConformingClient`` is a werkzeug test ``Client`` that, after each request to an ``api`` route,
checks the answer against the document the app serves: the status is one the operation lists,
the Content-Type one it documents (no body where it documents none), every header it marks
required is there, and a JSON body validates against the documented schema — with every object
that lists its properties taken as closed, so a field the server sends but the document does not
name fails too. A 500 is left alone (a crash is its own failure, not a documentation question).
So every test that goes through ``client`` (or ``auth``) is also a conformance test.
"""
from __future__ import annotations

import json
import re
import uuid
from datetime import date, datetime
from functools import lru_cache
from urllib.parse import urlsplit

from jsonschema import Draft202012Validator, FormatChecker
from werkzeug.exceptions import HTTPException
from werkzeug.test import Client

from minicloud.web.openapi import document_for, openapi_path

_RFC3339 = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?(Z|[+-]\d\d:\d\d)$")
FORMATS = FormatChecker(formats=())


@FORMATS.checks("date-time", raises=ValueError)
def _date_time(value) -> bool:
    return not isinstance(value, str) or bool(_RFC3339.match(value)) and bool(datetime.fromisoformat(value))


@FORMATS.checks("date", raises=ValueError)
def _date(value) -> bool:
    return not isinstance(value, str) or bool(date.fromisoformat(value))


@FORMATS.checks("uuid", raises=ValueError)
def _uuid(value) -> bool:
    return not isinstance(value, str) or str(uuid.UUID(value)) == value.lower()


@FORMATS.checks("uri")
def _uri(value) -> bool:
    return not isinstance(value, str) or bool(urlsplit(value).scheme and urlsplit(value).netloc)


def closed(schema):
    """A copy in which every object schema that lists properties allows no others."""
    if isinstance(schema, list):
        return [closed(item) for item in schema]
    if not isinstance(schema, dict):
        return schema
    out = {key: closed(value) for key, value in schema.items()}
    if "properties" in schema:
        out["properties"] = {name: closed(spec) for name, spec in schema["properties"].items()}
        out.setdefault("additionalProperties", False)
    return out


def _resolve(doc: dict, node: dict) -> dict:
    while "$ref" in node:
        target = doc
        for part in node["$ref"].removeprefix("#/").split("/"):
            target = target[part]
        node = {**target, **{k: v for k, v in node.items() if k != "$ref"}}
    return node


def _inline(doc: dict, schema):
    """``schema`` with every local ``$ref`` replaced by what it names."""
    if isinstance(schema, list):
        return [_inline(doc, item) for item in schema]
    if not isinstance(schema, dict):
        return schema
    return {key: _inline(doc, value) for key, value in _resolve(doc, schema).items()}


@lru_cache(maxsize=None)
def _validator(schema_json: str) -> Draft202012Validator:
    return Draft202012Validator(closed(json.loads(schema_json)), format_checker=FORMATS)


def _media_matches(documented: str, given: str) -> bool:
    main, _, sub = documented.partition("/")
    given_main, _, given_sub = given.partition("/")
    return main in ("*", given_main) and sub in ("*", given_sub)


def check_answer(doc: dict, route, response) -> None:
    """Raise AssertionError naming what in ``response`` the document does not say of ``route``."""
    label = f"{route.method} {openapi_path(route.pattern)} -> {response.status_code}"
    operation = doc["paths"][openapi_path(route.pattern)][route.method.lower()]
    documented = operation["responses"].get(str(response.status_code))
    assert documented is not None, f"{label}: the status is not documented ({sorted(operation['responses'])})"
    documented = _resolve(doc, documented)
    for name, header in documented.get("headers", {}).items():
        assert not header.get("required") or name in response.headers, f"{label}: no {name} header"
    content = documented.get("content")
    if not content:
        assert response.get_data() == b"", f"{label}: a body where the document says there is none"
        return
    media = response.mimetype
    matching = [documented for documented in content if _media_matches(documented, media)]
    assert matching, f"{label}: Content-Type {media!r}, documented {sorted(content)}"
    schema = content[matching[0]].get("schema")
    if schema is None or media != "application/json":
        return
    validator = _validator(json.dumps(_inline(doc, schema), sort_keys=True))
    body = json.loads(response.get_data())
    problems = [f"{'/'.join(map(str, error.absolute_path)) or '(body)'}: {error.message}"
                for error in validator.iter_errors(body)]
    assert not problems, f"{label}: the body does not match the document:\n  " + "\n  ".join(problems[:10])


class ConformingClient(Client):
    """A test client whose every API answer is checked against the served OpenAPI document."""

    def open(self, *args, **kwargs):
        response = super().open(*args, **kwargs)
        request = response.request
        try:
            route, _ = self.application.router.match(request.method, request.path)
        except HTTPException:
            return response
        if route.api and route.documented and route.method == request.method and response.status_code != 500:
            check_answer(document_for(self.application.router), route, response)
        return response
