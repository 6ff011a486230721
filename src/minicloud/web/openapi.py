"""The OpenAPI 3.1 document, generated from the route table (the ``api`` rows).

Nothing here is written twice: paths and methods come from the router, request
bodies and query parameters are the very JSON Schemas the handlers validate
with, the success statuses are the route's own (``Route.success_statuses``) and
so are the answers' schemas and headers (``Route.response``, declared beside each
resource's body schemas in its handler module). The error answers follow from
what the request path does to every request (see ``App._dispatch``):

- every operation                    -> 400 a path or query string that is not UTF-8 or holds NUL,
                                        414 a request line longer than the server reads (gunicorn's
                                        own HTML answer, configs/gunicorn.conf.py)
- not ``auth="public"``              -> 401 (no or bad credentials), 503 (the database)
- a JSON body                        -> 400 malformed, 413 too large, 415 not JSON, 422 invalid field
- a query schema                     -> 422 (and 400 for a bad ``cursor``)
- ``auth="project"``                 -> 400 bad ``X-Project-Id``, 403 role forbids, 404 unknown project
- ``auth="admin"`` or a signed-in write -> 403 (role, or the CSRF check for cookie sessions)
- a path parameter                   -> 404 not found *or not yours*

plus what the route's service answers beyond that (``Route.errors``: 409 conflicts,
a 404 for an id in the body, 502/503 from a backend, …). Every error carries the
envelope, except the answers to HEAD, which have no body. ``x-auth`` and ``x-role``
carry the route's ``auth`` and least project role (for the /docs page), and each
operation's description says the same in words.
"""
from __future__ import annotations

import copy
import weakref
from collections.abc import Mapping
from typing import Any

from minicloud.web.csrf import HEADER as CSRF_HEADER
from minicloud.web.router import PARAMETER, Route, Router
from minicloud.web.schemas import Answer, Header
from minicloud.web.session import SESSION_COOKIE

OPENAPI_VERSION = "3.1.0"

PATH_SCHEMAS: dict[str, dict] = {
    "uuid": {"type": "string", "format": "uuid"},
    "int": {"type": "integer", "minimum": 0},
    "name": {"type": "string", "pattern": "^[A-Za-z0-9._-]+$"},
    "str": {"type": "string"},
    "path": {"type": "string"},
}

ERROR_DESCRIPTIONS: dict[int, str] = {
    400: "Malformed request (bad JSON, bad header or cursor, an upload cut short)",
    401: "No credentials, or they are not valid (any more)",
    403: "Your role forbids this, a quota is exceeded (quota_exceeded), or the CSRF check failed",
    404: "Not found, or not yours",
    405: "This path does not take this method; Allow lists those it takes",
    409: "Conflicts with the current state (duplicate name, wrong state)",
    411: "A chunked upload the server cannot delimit: send Content-Length",
    413: "The request body is too large",
    415: "The body is not application/json",
    414: "The request line is longer than the server reads (8190 bytes): gunicorn's own answer, in HTML",
    416: "The Range cannot be satisfied",
    422: "A field is not valid; details.fields names each one",
    429: "Too many requests; see Retry-After",
    502: "A backend (Swift) answered something unexpected",
    503: "A backend (the database, libvirt, Kubernetes, Swift) is unreachable, or no Kubernetes cluster is configured",
}
ERROR_NAMES: dict[int, str] = {
    400: "BadRequest", 401: "Unauthorized", 403: "Forbidden", 404: "NotFound", 405: "MethodNotAllowed",
    409: "Conflict", 411: "LengthRequired", 413: "PayloadTooLarge", 414: "UriTooLong", 415: "UnsupportedMediaType",
    416: "RangeNotSatisfiable", 422: "ValidationFailed", 429: "TooManyRequests", 502: "BadGateway",
    503: "ServiceUnavailable",
}
# Headers an error answer always carries.
ERROR_HEADERS: dict[int, dict[str, Header]] = {
    405: {"Allow": Header("The methods this path takes", required=True)},
    429: {"Retry-After": Header("Seconds to wait", {"type": "integer", "minimum": 0}, required=True)},
}
# Errors the web server itself answers, in its own media type, not the envelope.
SERVER_ANSWERS: dict[int, str] = {414: "text/html"}
SUCCESS_DESCRIPTIONS: dict[int, str] = {
    200: "OK",
    201: "Created",
    202: "Accepted: the work goes on in the background; the state field moves on",
    204: "Done; no content",
}

SECURITY_SCHEMES = {
    "bearerJWT": {
        "type": "http", "scheme": "bearer", "bearerFormat": "JWT",
        "description": "An access token from POST /api/v1/auth/login: `Authorization: Bearer <token>`.",
    },
    "apiKey": {
        "type": "http", "scheme": "bearer", "bearerFormat": "mck_…",
        "description": "An API key from POST /api/v1/api-keys: `Authorization: Bearer mck_…`.",
    },
    "sessionCookie": {
        "type": "apiKey", "in": "cookie", "name": SESSION_COOKIE,
        "description": f"The browser console's session; writes also need the CSRF token ({CSRF_HEADER}).",
    },
}
SECURITY = [{"bearerJWT": []}, {"apiKey": []}, {"sessionCookie": []}]

ERROR_SCHEMA = {
    "type": "object",
    "required": ["error"],
    "properties": {
        "error": {
            "type": "object",
            "required": ["code", "message", "details"],
            "properties": {
                "code": {"type": "string", "description": "Stable machine-readable code, e.g. quota_exceeded"},
                "message": {"type": "string", "description": "Text for people, in the caller's language"},
                "details": {"type": "object", "description": "More about the error, e.g. fields: {name: message}"},
            },
        },
    },
}
PROJECT_HEADER = {
    "name": "X-Project-Id",
    "in": "header",
    "required": False,
    "description": "The project to act in (default: the one chosen in the console, else your personal project).",
    "schema": {"type": "string", "format": "uuid"},
}


# -- helpers -------------------------------------------------------------------------------------
def openapi_path(pattern: str) -> str:
    """``/api/v1/projects/{project_id:uuid}`` -> ``/api/v1/projects/{project_id}``."""
    return PARAMETER.sub(lambda m: "{" + m.group("name") + "}", pattern)


def _public_schema(schema: Any) -> Any:
    """A copy without our private ``x-…`` keys (message-catalog keys the client has no use for)."""
    if isinstance(schema, dict):
        return {k: _public_schema(v) for k, v in schema.items() if not str(k).startswith("x-")}
    if isinstance(schema, list):
        return [_public_schema(v) for v in schema]
    return copy.deepcopy(schema)


def error_statuses(route: Route) -> list[int]:
    """The error answers an operation may give (see the module docstring)."""
    has_body, has_query, has_path = route.body is not None, route.query is not None, bool(route.params)
    signed_in = route.auth != "public"
    codes: set[int] = set(route.errors) | {400, 414}
    if signed_in:
        codes |= {401, 503}
    if has_body:
        codes |= {400, 413, 415, 422, 503}
    if has_query:
        codes |= {422, 503}
        if "cursor" in route.query.get("properties", {}):
            codes.add(400)
    if route.auth == "project":
        codes |= {400, 403, 404}
    if route.auth == "admin" or (signed_in and route.mutating):
        codes.add(403)
    if has_path:
        codes |= {404, 503}
    return sorted(codes)


def success_answer(route: Route, status: int) -> Answer:
    """What ``route`` answers with ``status``: its declared ``response`` (see ``Route``); a 204, a 304
    and any answer to HEAD have no body."""
    declared = route.response
    if isinstance(declared, Mapping) and declared and all(isinstance(key, int) for key in declared):
        declared = declared.get(status)
    answer = declared if isinstance(declared, Answer) else Answer(declared)
    if status in (204, 304) or route.method == "HEAD":
        return Answer(media=None, headers=answer.headers)
    return answer


def who_may_call(route: Route) -> str:
    """The role an operation needs, in words (its description)."""
    if route.auth == "public":
        return "Anyone; no credentials needed."
    if route.auth == "admin":
        return "A global administrator."
    if route.auth == "user":
        if route.role:
            return f"A signed-in member of the project in the path with at least the role {route.role} there."
        return "Any signed-in user."
    return (f"A member of the acting project (X-Project-Id) with at least the role {route.required_role}; "
            "global administrators act as admin in any project.")


def _headers(headers: dict[str, Header]) -> dict[str, dict]:
    return {name: {"description": header.description, "required": header.required, "schema": dict(header.schema)}
            for name, header in headers.items()}


def _success(route: Route, status: int) -> dict:
    answer = success_answer(route, status)
    text = SUCCESS_DESCRIPTIONS.get(status) or ERROR_DESCRIPTIONS.get(status, "Answer")
    out: dict[str, Any] = {"description": text}
    if answer.media == "application/json":
        schema = answer.schema if answer.schema is not None else {"type": "object"}
        out["content"] = {answer.media: {"schema": _public_schema(schema)}}
    elif answer.media is not None:  # any bytes: OpenAPI 3.1 describes them by the media type alone
        out["content"] = {answer.media: {}}
    if answer.headers:
        out["headers"] = _headers(answer.headers)
    return out


def _error(route: Route, status: int) -> dict:
    if route.method == "HEAD":  # the same status, without a body
        out: dict[str, Any] = {"description": ERROR_DESCRIPTIONS[status] + " (no body: HEAD)"}
        if status in ERROR_HEADERS:
            out["headers"] = _headers(ERROR_HEADERS[status])
        return out
    return {"$ref": f"#/components/responses/{ERROR_NAMES[status]}"}


# -- the document --------------------------------------------------------------------------------
def _operation(route: Route) -> dict:
    op: dict[str, Any] = {"operationId": route.endpoint}
    if route.summary:
        op["summary"] = route.summary
    op["description"] = "Who may call it: " + who_may_call(route)
    if route.tags:
        op["tags"] = list(route.tags)
    parameters: list[dict] = []
    for name, kind in route.params.items():
        param = {"name": name, "in": "path", "required": True, "schema": dict(PATH_SCHEMAS[kind])}
        if kind == "path":
            param["description"] = "The rest of the path; may contain /"
        parameters.append(param)
    if route.query:
        required = set(route.query.get("required", []))
        for name, spec in route.query.get("properties", {}).items():
            param = {"name": name, "in": "query", "required": name in required, "schema": _public_schema(spec)}
            if spec.get("description"):
                param["description"] = spec["description"]
            parameters.append(param)
    if route.auth == "project":
        parameters.append({"$ref": "#/components/parameters/ProjectId"})
    if parameters:
        op["parameters"] = parameters
    if route.body is not None:
        op["requestBody"] = {
            "required": True,
            "content": {"application/json": {"schema": _public_schema(route.body)}},
        }
    responses = {str(status): _success(route, status) for status in route.success_statuses}
    for status in error_statuses(route):
        responses.setdefault(str(status), _error(route, status))
    op["responses"] = dict(sorted(responses.items()))
    op["security"] = [] if route.auth == "public" else copy.deepcopy(SECURITY)
    op["x-auth"] = route.auth
    if route.auth == "project" or route.role:
        op["x-role"] = route.required_role
    return op


def build_document(router: Router, title: str = "minicloud API", version: str | None = None) -> dict:
    """The OpenAPI 3.1 document for every documented ``api=True`` route of ``router``."""
    if version is None:
        from minicloud import __version__

        version = __version__
    paths: dict[str, dict] = {}
    tags: list[str] = []
    for route in router.routes:
        if not route.api or not route.documented:
            continue
        path = openapi_path(route.pattern)
        item = paths.setdefault(path, {})
        method = route.method.lower()
        if method in item:
            raise ValueError(f"{route.method} {path} is listed twice ({item[method]['operationId']}, {route.endpoint})")
        item[method] = _operation(route)
        tags += [tag for tag in route.tags if tag not in tags]
    return {
        "openapi": OPENAPI_VERSION,
        "info": {
            "title": title,
            "version": str(version),
            "description": (
                "The REST API of minicloud. JSON in and out (UTF-8); ids are UUIDs; times are UTC ISO-8601. "
                "Lists take ?limit= and ?cursor= and answer {items, next}. Every error has the shape "
                '{"error": {"code", "message", "details"}}, its message in the language of Accept-Language '
                "(an answer to HEAD has no body). A method a path does not take answers 405 with Allow."
            ),
        },
        "tags": [{"name": tag} for tag in tags],
        "paths": paths,
        "components": {
            "schemas": {"Error": ERROR_SCHEMA},
            "responses": {name: _error_response(status) for status, name in ERROR_NAMES.items()},
            "parameters": {"ProjectId": PROJECT_HEADER},
            "securitySchemes": SECURITY_SCHEMES,
        },
    }


def _error_response(status: int) -> dict:
    if status in SERVER_ANSWERS:  # answered by gunicorn before minicloud sees the request
        return {"description": ERROR_DESCRIPTIONS[status], "content": {SERVER_ANSWERS[status]: {}}}
    out: dict[str, Any] = {"description": ERROR_DESCRIPTIONS[status],
                           "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}}}
    if status in ERROR_HEADERS:
        out["headers"] = _headers(ERROR_HEADERS[status])
    return out


_CACHE: "weakref.WeakKeyDictionary[Router, dict]" = weakref.WeakKeyDictionary()


def document_for(router: Router) -> dict:
    """The document of ``router``, built once and kept while the router lives. Treat it as read-only."""
    doc = _CACHE.get(router)
    if doc is None:
        doc = _CACHE[router] = build_document(router)
    return doc
