"""The WSGI application: request id -> error rendering -> auth (+ CSRF) -> router -> handler -> audit.

``make_app(config)`` builds it with the real services; tests pass ``services=``
to inject stand-ins (as in Falcon's "look" example).
"""
from __future__ import annotations

import logging
import re
import secrets
import time
import traceback
import uuid
from typing import Iterable

from jinja2 import Environment, FileSystemLoader, select_autoescape
from werkzeug.exceptions import HTTPException, NotFound
from werkzeug.wrappers import Request, Response

from minicloud import metrics
from minicloud.config import PROJECT_ROOT, Config
from minicloud.errors import ApiError, Forbidden, Unauthorized
from minicloud.handlers.pages.errors import error_page
from minicloud.i18n import LANGUAGES, negotiate
from minicloud.services import Services
from minicloud.services.audit import AuditEntry
from minicloud.web import csrf
from minicloud.web.context import RequestContext
from minicloud.web.decoding import check_fields, check_path_params, request_path
from minicloud.web.errors import envelope, from_http_exception
from minicloud.web.jsonio import json_response
from minicloud.web.router import Route, Router
from minicloud.web.text import printable
from minicloud.web.times import moment
from minicloud.web.session import LANG_COOKIE, SESSION_COOKIE, cookie, remembered_project

log = logging.getLogger("minicloud.app")
access_log = logging.getLogger("minicloud.access")

_REQUEST_ID = re.compile(r"^[A-Za-z0-9._-]{8,64}$")
_UUID = re.compile(r"^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$")


class App:
    def __init__(self, config: Config, services: Services, routes: Iterable[Route]):
        self.config = config
        self.services = services
        self.router = Router(routes)
        self.templates = Environment(
            loader=FileSystemLoader(str(PROJECT_ROOT / "templates")),
            autoescape=select_autoescape(["html"]),
            trim_blocks=True, lstrip_blocks=True,
        )
        self.templates.globals["languages"] = LANGUAGES
        self.templates.globals["moment"] = moment  # <time> in the page's zone; static/time.js localizes it

    # -- WSGI entry ----------------------------------------------------------
    def __call__(self, environ: dict, start_response):
        started = time.perf_counter()
        request = Request(environ)
        incoming = environ.get("HTTP_X_REQUEST_ID", "")
        request_id = incoming if _REQUEST_ID.match(incoming) else secrets.token_hex(16)
        ctx = RequestContext(self, request, request_id, self._language(request))
        try:
            response = self._dispatch(ctx)
        except Exception as exc:  # noqa: BLE001 - everything becomes an error response
            response = self._error_response(ctx, exc)
        for args, kwargs in ctx.set_cookies:
            response.set_cookie(*args, **kwargs)
        self._common_headers(ctx, response)
        if ctx.route is not None and ctx.route.audited and not ctx.audit_skip:
            self._audit(ctx, response.status_code)
        metrics.observe_request(ctx.route and ctx.route.endpoint, response.status_code, time.perf_counter() - started)
        if access_log.isEnabledFor(logging.INFO):
            access_log.info(
                "%s %s %s %d %.1fms rid=%s user=%s", request.remote_addr, request.method,
                request.full_path.rstrip("?"), response.status_code, (time.perf_counter() - started) * 1000,
                request_id, ctx.principal.username if ctx.principal else "-",
            )
        return response(environ, start_response)

    @staticmethod
    def _common_headers(ctx: RequestContext, response: Response) -> None:
        """Every answer: its request id, and no content sniffing. JSON answers (the API's data and
        errors, some of them secrets shown once) are never stored by a cache."""
        response.headers["X-Request-Id"] = ctx.request_id
        response.headers["X-Content-Type-Options"] = "nosniff"
        if response.mimetype == "application/json":
            response.headers["Cache-Control"] = "no-store"

    def _language(self, request: Request) -> str:
        chosen = cookie(request, LANG_COOKIE)
        if chosen in LANGUAGES:
            return chosen
        return negotiate(request.environ.get("HTTP_ACCEPT_LANGUAGE"), self.config.get("server.default_language"))

    # -- dispatch ------------------------------------------------------------
    def _dispatch(self, ctx: RequestContext) -> Response:
        request = ctx.request
        path = request_path(request.environ)
        if request.method == "OPTIONS":
            return self._options(path)
        route, params = self.router.match(request.method, path)
        ctx.route, ctx.params = route, params
        check_path_params(params)
        ctx.args  # noqa: B018 - 400 before anything else for a query string that is not text
        if route.auth != "public" or self._has_credentials(request):
            self._authenticate(ctx, required=route.auth != "public")
        self._check_csrf(ctx)
        self._check_form_text(ctx)
        if route.auth == "admin" and not (ctx.principal and ctx.principal.is_admin):
            raise Forbidden("error.admin_only")
        if route.auth == "project":
            ctx.project = self._acting_project(ctx)
            if not ctx.project.allows(route.required_role):
                raise Forbidden("error.role_forbids", code="role_forbids", role=ctx.project.role)
        return route.handler(ctx, **params)

    def _options(self, path: str) -> Response:
        """OPTIONS: 204 with the methods the path's route answers (404 for a path we do not serve)."""
        allowed = self.router.allowed(path)
        if not allowed:
            raise NotFound()
        return Response(status=204, headers={"Allow": ", ".join(allowed)})

    @staticmethod
    def _has_credentials(request: Request) -> bool:
        return bool(request.environ.get("HTTP_AUTHORIZATION") or cookie(request, SESSION_COOKIE))

    def _authenticate(self, ctx: RequestContext, required: bool) -> None:
        request = ctx.request
        header = request.environ.get("HTTP_AUTHORIZATION", "")
        scheme, _, token = header.partition(" ")
        session = cookie(request, SESSION_COOKIE)
        try:
            if header:
                if scheme.lower() != "bearer" or not token.strip():
                    raise Unauthorized("error.invalid_token")
                ctx.principal = self.services.sessions.authenticate(token.strip(), "token")
            elif session:
                try:
                    ctx.principal = self.services.sessions.authenticate(session, "cookie")
                except Unauthorized:
                    ctx.set_cookie(SESSION_COOKIE, "", expires=0, path="/")
                    raise
            elif required:
                raise Unauthorized("error.login_required", code="login_required")
        except Unauthorized:
            if required:
                raise  # a public route simply serves an anonymous caller

    def _check_csrf(self, ctx: RequestContext) -> None:
        """Console form posts, and API writes made with the session cookie, need the CSRF token.

        Public API calls (sign-up, login) act as nobody and take only JSON, which a
        cross-site form cannot send, so they need none.
        """
        route, request = ctx.route, ctx.request
        if not route.mutating:
            return
        acts_by_cookie = route.auth != "public" and ctx.principal is not None and ctx.principal.via == "cookie"
        if route.api and not acts_by_cookie:
            return
        submitted = request.headers.get(csrf.HEADER)
        if submitted is None and request.mimetype == "multipart/form-data" and route.streams_body:
            # Parsing the form here would spool the whole upload: the handler streams the body and
            # must call ctx.check_csrf() with the token field it meets before acting on anything.
            ctx.csrf_pending = True
            return
        if submitted is None and request.mimetype in ("application/x-www-form-urlencoded", "multipart/form-data"):
            submitted = request.form.get(csrf.FIELD)
        ctx.check_csrf(submitted)

    @staticmethod
    def _check_form_text(ctx: RequestContext) -> None:
        """A console form's fields are text minicloud can store (400 naming the field otherwise). The
        API reads only JSON (checked by its reader); a streamed upload's fields are its handler's."""
        request, route = ctx.request, ctx.route
        if route.api or route.streams_body or request.mimetype not in ("application/x-www-form-urlencoded",
                                                                       "multipart/form-data"):
            return
        check_fields(request.form.items(multi=True))

    def _acting_project(self, ctx: RequestContext):
        chosen = ctx.request.headers.get("X-Project-Id")
        projects = self.services.projects
        if chosen is not None:  # sent, even empty: it must be a project id
            if not _UUID.match(chosen.strip()):
                raise ApiError("error.bad_project_header", code="bad_project_header",
                               details={"field": "X-Project-Id"})
            return projects.resolve(ctx.principal, uuid.UUID(chosen.strip()))
        remembered = remembered_project(ctx) if ctx.principal.via == "cookie" else None
        return remembered or projects.resolve(ctx.principal, None)

    # -- errors and audit ----------------------------------------------------
    def _error_response(self, ctx: RequestContext, exc: Exception) -> Response:
        if isinstance(exc, HTTPException):
            exc = from_http_exception(exc)
        if not isinstance(exc, ApiError):
            log.error("request %s failed:\n%s", ctx.request_id, traceback.format_exc())
            exc = ApiError("error.internal", code="internal_error", status=500, request_id=ctx.request_id)
        if exc.status >= 500:
            exc.details.setdefault("request_id", ctx.request_id)
        is_page = not ctx.route.api if ctx.route else not ctx.request.path.startswith("/api/")
        if is_page:
            return error_page(ctx, exc)
        return json_response(envelope(exc, ctx.lang), exc.status, exc.headers)

    def _audit(self, ctx: RequestContext, status: int) -> None:
        principal, route = ctx.principal, ctx.route
        path = request_path(ctx.request.environ)
        params = ctx.params
        target = ctx.audit_target or (str(list(params.values())[-1]) if params else None)
        username = principal.username if principal else ctx.audit_username
        entry = AuditEntry(  # what the user sent is recorded as text the database can hold
            action=route.endpoint, method=ctx.request.method, path=printable(path), status=status,
            request_id=ctx.request_id, target=printable(target) if target else None, address=ctx.request.remote_addr,
            user_id=principal.user_id if principal else ctx.audit_user_id,
            username=printable(username) if username else None,
            project_id=ctx.project.id if ctx.project else (ctx.audit_project_id or params.get("project_id")),
        )
        try:
            self.services.audit.record(entry)
        except Exception:  # noqa: BLE001 - the answer is already decided; keep serving
            log.exception("request %s: audit entry could not be written", ctx.request_id)


def make_app(config: Config | None = None, services: Services | None = None) -> App:
    from minicloud import config as config_module
    from minicloud.routes import ROUTES

    config = config or config_module.load()
    services = services or Services.from_config(config)
    return App(config, services, ROUTES)
