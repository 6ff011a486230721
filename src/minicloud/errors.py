"""Errors a user may be shown: an HTTP status, a stable code and a message-catalog key.

Services raise these with keys and parameters, never with text; the web layer renders
them in the JSON envelope (API) or on an error page (console), in the caller's language.
"""
from __future__ import annotations

from typing import Any

from minicloud.i18n import translate


class ApiError(Exception):
    """An error with an HTTP status, a stable code and a catalog message key."""

    status = 400
    code = "bad_request"

    def __init__(self, key: str | None = None, *, code: str | None = None, status: int | None = None,
                 details: dict | None = None, headers: dict | None = None, **params: Any):
        super().__init__(key or self.code)
        self.key = key or f"error.{code or self.code}"
        if code:
            self.code = code
        if status:
            self.status = status
        self.details = details or {}
        self.headers = headers or {}
        self.params = params

    def message(self, lang: str) -> str:
        return translate(lang, self.key, **self.params)


class BadRequest(ApiError):
    status, code = 400, "bad_request"


class Unauthorized(ApiError):
    status, code = 401, "unauthorized"


class Forbidden(ApiError):
    status, code = 403, "forbidden"


class NotFoundError(ApiError):
    status, code = 404, "not_found"


class Conflict(ApiError):
    status, code = 409, "conflict"


class PayloadTooLarge(ApiError):
    status, code = 413, "payload_too_large"


class UnsupportedMediaType(ApiError):
    status, code = 415, "unsupported_media_type"


Keyed = str | tuple[str, dict]
"""What a service says (what is wrong with a field, what a status means): a catalog key, or (key, its parameters)."""


class ValidationFailed(ApiError):
    """422 naming every bad field: ``fields`` = {field name: key or (key, params)}, kept as
    ``details["fields"]``; the web layer shows each as a message (``web.messages.field_messages``)."""

    status, code = 422, "validation_failed"

    def __init__(self, fields: dict[str, Keyed], key: str | None = None, **params: Any):
        super().__init__(key or "error.validation_failed", details={"fields": fields},
                         fields=", ".join(fields), **params)

    @property
    def fields(self) -> dict[str, Keyed]:
        return self.details["fields"]


class TooManyRequests(ApiError):
    status, code = 429, "rate_limited"


class ServiceUnavailable(ApiError):
    status, code = 503, "service_unavailable"
