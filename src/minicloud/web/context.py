"""RequestContext: everything a handler needs about one request, and how it answers."""
from __future__ import annotations

from functools import cached_property
from typing import Any, Protocol

from werkzeug.datastructures import MultiDict
from werkzeug.wrappers import Request, Response

from minicloud.errors import BadRequest, Forbidden, PayloadTooLarge, UnsupportedMediaType, ValidationFailed
from minicloud.i18n import translate
from minicloud.services.principal import Principal, ProjectRef
from minicloud.web import csrf
from minicloud.web import jsonio
from minicloud.web.decoding import query_args
from minicloud.web.jsonio import json_response
from minicloud.web.router import Route, Router
from minicloud.web.session import cookie
from minicloud.web.validation import coerce_query, validate


class Application(Protocol):
    """What a request sees of the application serving it (``minicloud.app.App`` is one): its
    configuration, services, route table and templates. Declared here so the toolkit imports
    nothing above it."""

    config: Any
    services: Any
    router: Router
    templates: Any


class RequestContext:
    def __init__(self, app: Application, request: Request, request_id: str, lang: str):
        self.app = app
        self.services = app.services
        self.config = app.config
        self.request = request
        self.request_id = request_id
        self.lang = lang
        self.route: Route | None = None
        self.params: dict[str, Any] = {}  # the route's path parameters, converted
        self.principal: Principal | None = None
        self.project: ProjectRef | None = None
        self.audit_target: str | None = None
        self.audit_username: str | None = None
        self.audit_user_id = None
        self.audit_project_id = None
        self.audit_skip = False  # the answer did nothing worth a history line (a "are you sure?" page)
        self.set_cookies: list[tuple[tuple, dict]] = []
        self._csrf: str | None = None
        self.csrf_pending = False  # a streaming route left the form's CSRF token to its handler

    # -- language ----------------------------------------------------------
    def t(self, key: str, **params: Any) -> str:
        return translate(self.lang, key, **params)

    # -- input -------------------------------------------------------------
    def json(self) -> Any:
        """The parsed JSON body: 415 unless JSON, 413 above the size limit, 400 when malformed,
        422 naming the field that holds what nothing accepts (see ``jsonio.read``)."""
        request = self.request
        if request.mimetype != "application/json":
            raise UnsupportedMediaType("error.unsupported_media_type")
        limit = int(self.config.get("server.max_json_bytes"))
        if request.content_length is not None and request.content_length > limit:
            raise PayloadTooLarge("error.payload_too_large", limit=limit)
        raw = request.stream.read(limit + 1)
        if len(raw) > limit:
            raise PayloadTooLarge("error.payload_too_large", limit=limit)
        try:
            return jsonio.read(raw)
        except jsonio.Unreadable as exc:
            raise BadRequest("error.malformed_json", code="malformed_json", reason=exc.reason,
                             details={"field": exc.field}) from None
        except jsonio.BadValue as exc:
            raise ValidationFailed({exc.field: self.t(exc.key)}) from None

    def body(self) -> dict:
        """The JSON body checked against the route's schema (422 naming the bad fields)."""
        return validate(self.json(), self.route.body or {}, self.t)

    @cached_property
    def args(self) -> MultiDict:
        """The query string's arguments as text, read once (400 for bytes that are not UTF-8)."""
        return query_args(self.request.environ)

    def query(self) -> dict:
        """The query string checked against the route's schema (400 for bytes that are not UTF-8)."""
        return coerce_query(self.args, self.route.query or {}, self.t)

    def form(self) -> dict:
        return {k: v for k, v in self.request.form.items() if k != csrf.FIELD}

    # -- output ------------------------------------------------------------
    def respond(self, data: Any, status: int = 200, headers: dict | None = None) -> Response:
        """``data`` as JSON; a 204 carries no body at all."""
        if status == 204:
            return Response(status=204, headers=headers)
        return json_response(data, status, headers)

    def url_for(self, endpoint: str, /, **params: Any) -> str:
        return self.app.router.url_for(endpoint, **params)

    def redirect(self, location: str, status: int = 303) -> Response:
        return Response("", status=status, headers={"Location": location})

    def set_cookie(self, *args: Any, **kwargs: Any) -> None:
        """Queue a cookie for whatever response this request ends with."""
        self.set_cookies.append((args, kwargs))

    @property
    def csrf_token(self) -> str:
        """The browser's CSRF token, issuing a new cookie when it has none."""
        if self._csrf is None:
            current = cookie(self.request, csrf.COOKIE)
            secret = self.config.jwt_secret()
            if current and csrf.is_valid(secret, current, current):
                self._csrf = current
            else:
                self._csrf = csrf.new_token(secret)
                self.set_cookie(csrf.COOKIE, self._csrf, httponly=True, samesite="Lax",
                                secure=bool(self.config.get("server.secure_cookies")), path="/")
        return self._csrf

    def check_csrf(self, submitted: str | None) -> None:
        """403 csrf_failed unless ``submitted`` is the CSRF token matching this browser's cookie.

        The app calls it for every form post; a ``streams_body`` route's handler calls it itself
        with the token field read from the stream, before it acts on anything else."""
        if not csrf.is_valid(self.config.jwt_secret(), cookie(self.request, csrf.COOKIE), submitted):
            raise Forbidden("error.csrf_failed", code="csrf_failed")
        self.csrf_pending = False

    def render(self, template: str, status: int = 200, **variables: Any) -> Response:
        html = self.app.templates.get_template(template).render(ctx=self, t=self.t, **variables)
        return Response(html, status=status, content_type="text/html; charset=utf-8")
