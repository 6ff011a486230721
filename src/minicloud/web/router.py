"""A hand-written router: (method, path) -> Route with typed path parameters.

Paths are written like ``/api/v1/projects/{project_id:uuid}`` or
``/api/v1/buckets/{name:name}/objects/{key:path}``. Converters:

- ``uuid``: a canonical UUID, passed to the handler as ``uuid.UUID``;
- ``name``: one path segment of letters, digits, ``.``, ``_`` and ``-``;
- ``int``: a non-negative integer;
- ``path``: the rest of the path, slashes included (must be the last part);
- ``str`` (default): one non-empty path segment.

A request for a path that exists with another method is a 405 carrying the
``Allow`` header; HEAD is answered by a HEAD route when the table has one for
the path, else by its GET route; OPTIONS is answered (by the app) with the
``Allow`` header alone; unknown paths are 404. Where two patterns match one path
(``…/objects/{key:path}`` and ``…/objects/{key:path}/share`` both match
``…/objects/a/share``), ``Allow`` names the methods of the more specific pattern:
the one with more literal text.
"""
from __future__ import annotations

import re
import uuid
from dataclasses import dataclass, field
from typing import Any, Callable, Iterable
from urllib.parse import quote, urlencode

from werkzeug.exceptions import MethodNotAllowed, NotFound

CONVERTERS: dict[str, tuple[str, Callable[[str], Any]]] = {
    "uuid": (r"[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}", uuid.UUID),
    "name": (r"[A-Za-z0-9._-]+", str),
    "int": (r"[0-9]+", int),
    "path": (r".+", str),
    "str": (r"[^/]+", str),
}
PARAMETER = re.compile(r"\{(?P<name>[a-z_][a-z0-9_]*)(?::(?P<type>[a-z]+))?\}")
_HEAD_DEPTH = 3  # how many leading path segments index the table
_KEPT_HEADS = 1024  # paths are the client's to choose: the candidates of at most this many heads are kept


def path_head(path: str) -> tuple[str, ...]:
    """The first ``_HEAD_DEPTH`` segments of a request path: ``/api/v1/instances/x`` -> (api, v1, instances)."""
    return tuple(path.split("/", _HEAD_DEPTH + 1)[1:_HEAD_DEPTH + 1])


def pattern_head(pattern: str) -> tuple[str, ...]:
    """A pattern's leading segments of literal text (at most ``_HEAD_DEPTH``): a path it matches begins
    with them."""
    head = []
    for segment in pattern.split("/")[1:_HEAD_DEPTH + 1]:
        if "{" in segment:
            break
        head.append(segment)
    return tuple(head)


@dataclass(frozen=True)
class Route:
    """One line of the route table.

    ``auth`` is ``"public"`` (no credentials), ``"user"`` (a signed-in user),
    ``"project"`` (a signed-in user acting in a project) or ``"admin"`` (a global
    administrator). ``role`` is the least project role the route needs; by
    default ``viewer`` for reads and ``user`` for writes. The app checks it for
    ``auth="project"``; on an ``auth="user"`` route about the project in its path
    (``/projects/{project_id}/…``) the service checks it and ``role`` documents it. ``status`` is what a
    success answers with (published in OpenAPI; see ``success_statuses``).
    ``api`` routes answer errors with the JSON envelope (console pages draw an error page);
    ``documented=False`` leaves an API route out of the OpenAPI document (``/metrics``, whose
    answer is Prometheus's format). ``streams_body`` marks a route whose handler streams the
    request body (a multipart upload): the app then leaves a form-submitted CSRF token for the
    handler to check (``ctx.check_csrf``) instead of parsing the whole form first.

    For the OpenAPI document: ``response`` is what a success answers with — a JSON
    Schema of its body, a ``schemas.Answer`` (another media type, no body, headers),
    or ``{status: either}`` when the success statuses differ; ``errors`` are the error
    statuses its service may answer beyond those ``openapi.error_statuses`` derives
    from the route itself (a conflict, a backend's answer, an id in the body).
    """

    method: str
    pattern: str
    endpoint: str
    handler: Callable[..., Any]
    auth: str = "project"
    role: str | None = None
    summary: str = ""
    body: dict | None = None
    query: dict | None = None
    api: bool = True
    documented: bool = True
    audit: bool | None = None
    tags: tuple[str, ...] = ()
    status: int | tuple[int, ...] | None = None
    streams_body: bool = False
    response: Any = None
    errors: tuple[int, ...] = ()
    _regex: re.Pattern = field(init=False, repr=False, compare=False)
    _casts: dict[str, Callable[[str], Any]] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        regex, casts, pos = "", {}, 0
        for match in PARAMETER.finditer(self.pattern):
            kind = match.group("type") or "str"
            if kind not in CONVERTERS:
                raise ValueError(f"{self.pattern}: unknown converter {kind!r}")
            if kind == "path" and PARAMETER.search(self.pattern, match.end()):
                raise ValueError(f"{self.pattern}: no parameter may follow a path parameter")
            regex += re.escape(self.pattern[pos:match.start()])
            regex += f"(?P<{match.group('name')}>{CONVERTERS[kind][0]})"
            casts[match.group("name")] = CONVERTERS[kind][1]
            pos = match.end()
        regex += re.escape(self.pattern[pos:])
        object.__setattr__(self, "_regex", re.compile(f"^{regex}$"))
        object.__setattr__(self, "_casts", casts)

    @property
    def mutating(self) -> bool:
        return self.method not in ("GET", "HEAD", "OPTIONS")

    @property
    def required_role(self) -> str:
        return self.role or ("user" if self.mutating else "viewer")

    @property
    def success_statuses(self) -> tuple[int, ...]:
        """The statuses a success answers with: the declared ones, else 201 for POST, 204 for DELETE, 200."""
        if self.status is not None:
            return (self.status,) if isinstance(self.status, int) else tuple(self.status)
        return {"POST": (201,), "DELETE": (204,)}.get(self.method, (200,))

    @property
    def audited(self) -> bool:
        return self.mutating if self.audit is None else self.audit

    @property
    def specificity(self) -> int:
        """How much of the pattern is literal text: the more, the more specific."""
        return len(PARAMETER.sub("", self.pattern))

    @property
    def params(self) -> dict[str, str]:
        """Parameter name -> converter name, in path order."""
        return {m.group("name"): m.group("type") or "str" for m in PARAMETER.finditer(self.pattern)}

    def match(self, path: str) -> dict[str, Any] | None:
        found = self._regex.match(path)
        if not found:
            return None
        try:
            return {k: self._casts[k](v) for k, v in found.groupdict().items()}
        except ValueError:
            return None


class Router:
    """Matches requests against an ordered table of routes.

    Only the routes whose literal head (``pattern_head``) begins the path are tried, in table order:
    the table is indexed by head once, and the candidates of the heads paths begin with are kept
    (for a bounded number of heads)."""

    def __init__(self, routes: Iterable[Route]):
        self.routes: list[Route] = list(routes)
        self._by_endpoint: dict[str, Route] = {}
        self._by_head: dict[tuple[str, ...], list[int]] = {}
        self._candidates: dict[tuple[str, ...], list[Route]] = {}
        seen: set[tuple[str, str]] = set()
        for index, route in enumerate(self.routes):
            self._by_head.setdefault(pattern_head(route.pattern), []).append(index)
            if route.endpoint in self._by_endpoint:
                raise ValueError(f"duplicate endpoint {route.endpoint}")
            if (route.method, route.pattern) in seen:
                raise ValueError(f"duplicate route {route.method} {route.pattern}")
            seen.add((route.method, route.pattern))
            self._by_endpoint[route.endpoint] = route

    def candidates(self, path: str) -> list[Route]:
        """The routes that may match ``path``, in table order."""
        head = path_head(path)
        found = self._candidates.get(head)
        if found is None:
            keys = [head[:n] for n in range(len(head) + 1) if head[:n] in self._by_head]
            found = [self.routes[i] for i in sorted(i for key in keys for i in self._by_head[key])]
            if len(self._candidates) < _KEPT_HEADS:
                self._candidates[head] = found
        return found

    def match(self, method: str, path: str) -> tuple[Route, dict[str, Any]]:
        """The route and converted parameters; raises NotFound or MethodNotAllowed."""
        fallback = None
        for route in self.candidates(path):
            params = route.match(path)
            if params is None:
                continue
            if route.method == method:
                return route, params
            if method == "HEAD" and route.method == "GET" and fallback is None:
                fallback = route, params
        if fallback is not None:
            return fallback
        allowed = self.allowed(path)
        if allowed:
            raise MethodNotAllowed(valid_methods=allowed)
        raise NotFound()

    def allowed(self, path: str) -> list[str]:
        """The methods the most specific pattern matching ``path`` answers (with HEAD for GET, and
        OPTIONS); [] when no route matches."""
        matching = [route for route in self.candidates(path) if route.match(path) is not None]
        if not matching:
            return []
        best = max(route.specificity for route in matching)
        methods = {route.method for route in matching if route.specificity == best} | {"OPTIONS"}
        if "GET" in methods:
            methods.add("HEAD")
        return sorted(methods)

    def url_for(self, endpoint: str, /, **params: Any) -> str:
        """Build the path of ``endpoint``; extra keyword arguments become the query string."""
        route = self._by_endpoint[endpoint]
        names = route.params

        def fill(match: re.Match) -> str:
            name = match.group("name")
            if name not in params:
                raise KeyError(f"{endpoint} needs the parameter {name!r}")
            value = str(params[name])
            safe = "/" if names[name] == "path" else ""
            return quote(value, safe=safe)

        path = PARAMETER.sub(fill, route.pattern)
        extra = {k: v for k, v in params.items() if k not in names and v is not None}
        if extra:
            path += "?" + urlencode(extra)
        return path

    def listing(self) -> list[tuple[str, str, str]]:
        """Every (method, pattern, endpoint) in table order."""
        return [(r.method, r.pattern, r.endpoint) for r in self.routes]
