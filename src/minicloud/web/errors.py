"""The JSON error envelope: ``{"error": {"code", "message", "details"}}``.

Every error a client sees has this shape, with the message in the caller's
language; nothing else (no stack trace) ever leaks out.
"""
from __future__ import annotations

from functools import partial

from werkzeug.exceptions import HTTPException

from minicloud.errors import ApiError, ValidationFailed
from minicloud.i18n import translate
from minicloud.web.messages import field_messages

_HTTP_CODES = {
    400: "bad_request", 401: "unauthorized", 403: "forbidden", 404: "not_found",
    405: "method_not_allowed", 409: "conflict", 413: "payload_too_large",
    415: "unsupported_media_type", 422: "validation_failed", 429: "rate_limited",
    500: "internal_error", 503: "service_unavailable",
}


def from_http_exception(exc: HTTPException) -> ApiError:
    """Wrap a werkzeug HTTP exception (404, 405 ...) so it renders in the envelope."""
    status = exc.code or 500
    code = _HTTP_CODES.get(status, "http_error")
    headers = {}
    if status == 405 and getattr(exc, "valid_methods", None):
        headers["Allow"] = ", ".join(exc.valid_methods)
    return ApiError(f"error.{code}", code=code, status=status, headers=headers)


def envelope(error: ApiError, lang: str) -> dict:
    """The error as the API answers it, in ``lang``: a ValidationFailed's field problems as messages too."""
    details = error.details
    if isinstance(error, ValidationFailed):
        details = {**details, "fields": field_messages(partial(translate, lang), error.fields)}
    return {"error": {"code": error.code, "message": error.message(lang), "details": details}}
