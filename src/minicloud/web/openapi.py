"""The OpenAPI 3.1 document, generated from the route table (the ``api`` rows).

Nothing here is written twice: paths and methods come from the router, request
bodies and query parameters are the very JSON Schemas the handlers validate
with, and the success statuses are the route's own (``Route.success_statuses``).
The error answers follow from what the
request path does to every request (see ``App._dispatch``):

- not ``auth="public"``              -> 401 (no or bad credentials)
- a JSON body                        -> 400 malformed, 413 too large, 415 not JSON, 422 invalid field
- a query schema                     -> 422 (and 400 for a bad ``cursor``)
- ``auth="project"``                 -> 400 bad ``X-Project-Id``, 403 role forbids, 404 unknown project
- ``auth="admin"`` or a signed-in write -> 403 (role, or the CSRF check for cookie sessions)
- a path parameter                   -> 404 not found *or not yours*
- a signed-in write that names or creates something -> 409 (duplicate name, wrong state)
- anything that reads the database   -> 503

plus the few listed in ``EXTRA_ERRORS``. ``x-auth`` and ``x-role`` carry the
route's ``auth`` and least project role for the /docs page.
"""
from __future__ import annotations

import copy
import weakref
from typing import Any

from minicloud.web.csrf import HEADER as CSRF_HEADER
from minicloud.web.router import _PARAM, Route, Router
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
    400: "Malformed request (bad JSON, bad header or cursor)",
    401: "No credentials, or they are not valid (any more)",
    403: "Your role forbids this (or the CSRF check failed)",
    404: "Not found, or not yours",
    409: "Conflicts with the current state (duplicate name, wrong state)",
    413: "The request body is too large",
    415: "The body is not application/json",
    422: "A field is not valid; details.fields names each one",
    429: "Too many requests; see Retry-After",
    503: "A backend (the database, libvirt, Kubernetes, Swift) is unreachable",
}
ERROR_NAMES: dict[int, str] = {
    400: "BadRequest", 401: "Unauthorized", 403: "Forbidden", 404: "NotFound", 409: "Conflict",
    413: "PayloadTooLarge", 415: "UnsupportedMediaType", 422: "ValidationFailed", 429: "TooManyRequests",
    503: "ServiceUnavailable",
}
SUCCESS_DESCRIPTIONS: dict[int, str] = {
    200: "OK",
    201: "Created",
    202: "Accepted: the work goes on in the background; the state field moves on",
    204: "Done; no content",
}
# Errors a handler's service raises that the general rules above cannot see.
EXTRA_ERRORS: dict[str, tuple[int, ...]] = {
    "auth.signup": (409,),          # the username is taken
    "auth.login": (401, 429),       # wrong password; too many failures
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
    return _PARAM.sub(lambda m: "{" + m.group("name") + "}", pattern)


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
    codes: set[int] = set(EXTRA_ERRORS.get(route.endpoint, ()))
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
    if signed_in and route.mutating and (has_body or has_path):
        codes.add(409)
    return sorted(codes)


# -- the document --------------------------------------------------------------------------------
def _operation(route: Route) -> dict:
    op: dict[str, Any] = {"operationId": route.endpoint}
    if route.summary:
        op["summary"] = route.summary
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
    responses: dict[str, Any] = {}
    for status in route.success_statuses:
        text = SUCCESS_DESCRIPTIONS.get(status) or ERROR_DESCRIPTIONS.get(status, "Answer")
        answer: dict[str, Any] = {"description": text}
        if status != 204:
            answer["content"] = {"application/json": {"schema": {"type": "object"}}}
        if status in (201, 202):
            answer["headers"] = {"Location": {"description": "Where the new resource lives, when it has its own URL",
                                              "schema": {"type": "string"}}}
        responses[str(status)] = answer
    for status in error_statuses(route):
        responses.setdefault(str(status), {"$ref": f"#/components/responses/{ERROR_NAMES[status]}"})
    op["responses"] = dict(sorted(responses.items()))
    op["security"] = [] if route.auth == "public" else copy.deepcopy(SECURITY)
    op["x-auth"] = route.auth
    if route.auth == "project":
        op["x-role"] = route.required_role
    return op


def build_document(router: Router, title: str = "minicloud API", version: str | None = None) -> dict:
    """The OpenAPI 3.1 document for every ``api=True`` route of ``router``."""
    if version is None:
        from minicloud import __version__

        version = __version__
    paths: dict[str, dict] = {}
    tags: list[str] = []
    for route in router.routes:
        if not route.api:
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
                '{"error": {"code", "message", "details"}}, its message in the language of Accept-Language.'
            ),
        },
        "tags": [{"name": tag} for tag in tags],
        "paths": paths,
        "components": {
            "schemas": {"Error": ERROR_SCHEMA},
            "responses": {
                name: {"description": ERROR_DESCRIPTIONS[status],
                       "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}}}
                for status, name in ERROR_NAMES.items()
            },
            "parameters": {"ProjectId": PROJECT_HEADER},
            "securitySchemes": SECURITY_SCHEMES,
        },
    }


_CACHE: "weakref.WeakKeyDictionary[Router, dict]" = weakref.WeakKeyDictionary()


def document_for(router: Router) -> dict:
    """The document of ``router``, built once and kept while the router lives. Treat it as read-only."""
    doc = _CACHE.get(router)
    if doc is None:
        doc = _CACHE[router] = build_document(router)
    return doc
