"""The HTTP side of mcloud: httpx against /api/v1, errors as ``ApiFailure`` (the API's envelope, in words)."""
from __future__ import annotations

import re
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

import httpx

from mcloud import exitcodes

UUID = re.compile(r"^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$")
TIMEOUT = httpx.Timeout(30.0, connect=10.0)
PAGE = 100


@dataclass
class ApiFailure(Exception):
    """The API said no (its error envelope), or could not be reached (status 0)."""

    status: int
    code: str
    message: str
    details: dict = field(default_factory=dict)

    @property
    def exit_code(self) -> int:
        return exitcodes.UNAVAILABLE if self.status == 0 else exitcodes.for_status(self.status)

    def lines(self) -> list[str]:
        """The message, then one line per bad field (the API's own words for each)."""
        out = [self.message]
        fields = ((self.details or {}).get("fields") if isinstance(self.details, dict) else None) or {}
        if len(fields) == 1 and next(iter(fields.values())) == self.message:
            return [f"{next(iter(fields))}: {self.message}"]   # the one bad field says it all
        for name, problem in fields.items():
            out.append(f"  {name}: {problem}")
        return out


def failure_from(response: httpx.Response) -> ApiFailure:
    try:
        error = response.json()["error"]
        return ApiFailure(response.status_code, str(error.get("code") or "error"), str(error.get("message") or ""),
                          error.get("details") or {})
    except (ValueError, KeyError, TypeError):
        text = response.text.strip()[:300] or response.reason_phrase
        return ApiFailure(response.status_code, "http_error", f"HTTP {response.status_code}: {text}")


class ApiClient:
    """One server, one identity (a token or an API key), one language, perhaps an acting project."""

    def __init__(self, url: str, *, secret: str | None, lang: str, project_id: str | None = None):
        self.url = url.rstrip("/")
        self.secret = secret
        self.lang = lang
        self.project_id = project_id
        self.http = httpx.Client(base_url=self.url, timeout=TIMEOUT, follow_redirects=False)

    def __enter__(self) -> "ApiClient":
        return self

    def __exit__(self, *exc) -> None:
        self.http.close()

    def headers(self, extra: dict | None = None) -> dict:
        headers = {"Accept-Language": self.lang, "Accept": "application/json", "User-Agent": "mcloud"}
        if self.secret:
            headers["Authorization"] = f"Bearer {self.secret}"
        if self.project_id:
            headers["X-Project-Id"] = self.project_id
        return headers | (extra or {})

    def request(self, method: str, path: str, *, json: Any = None, params: dict | None = None,
                content=None, headers: dict | None = None) -> httpx.Response:
        try:
            response = self.http.request(method, "/api/v1" + path, json=json, params=_clean(params), content=content,
                                         headers=self.headers(headers))
        except httpx.TransportError as exc:
            raise unreachable(self.url, exc) from exc
        if response.status_code >= 400:
            raise failure_from(response)
        return response

    def call(self, method: str, path: str, **kwargs) -> Any:
        """The JSON answer (None for 204)."""
        response = self.request(method, path, **kwargs)
        return response.json() if response.content else None

    def get(self, path: str, **params) -> Any:
        return self.call("GET", path, params=params)

    def all(self, path: str, **params) -> list[dict]:
        """Every item of a paged list (following ``next``)."""
        items: list[dict] = []
        cursor = None
        while True:
            page = self.get(path, **params, limit=PAGE, cursor=cursor) if _pages(path) else self.get(path, **params)
            items.extend(page.get("items", []))
            cursor = page.get("next")
            if not cursor or not _pages(path):
                return items

    @contextmanager
    def stream(self, method: str, path: str, *, params: dict | None = None) -> Iterator[httpx.Response]:
        try:
            with self.http.stream(method, "/api/v1" + path, params=_clean(params), headers=self.headers(),
                                  timeout=httpx.Timeout(300.0, connect=10.0)) as response:
                if response.status_code >= 400:
                    response.read()
                    raise failure_from(response)
                yield response
        except httpx.TransportError as exc:
            raise unreachable(self.url, exc) from exc

    # -- names or ids ------------------------------------------------------------------------------
    def resolve(self, path: str, value: str, *, kind: str, key: str = "name", **params) -> dict:
        """The item of the list at ``path`` whose id is ``value``, or whose ``key`` is (a user types names)."""
        items = self.all(path, **params)
        for item in items:
            if str(item.get("id")) == value:
                return item
        named = [item for item in items if str(item.get(key)) == value]
        if not named:
            named = [item for item in items if str(item.get(key, "")).lower() == value.lower()]
        if len(named) == 1:
            return named[0]
        if len(named) > 1:
            raise ApiFailure(409, "ambiguous", f"{kind} {value!r}: {len(named)}",
                             {"kind": kind, "name": value, "ids": [str(i["id"]) for i in named]})
        raise ApiFailure(404, "not_found_by_name", f"{kind} {value!r}", {"kind": kind, "name": value})

    def resolve_id(self, path: str, value: str, *, kind: str, **params) -> str:
        if UUID.match(value):
            return value
        return str(self.resolve(path, value, kind=kind, **params)["id"])

    def resolve_project(self, value: str) -> str:
        if UUID.match(value):
            return value
        saved, self.project_id = self.project_id, None   # the list of one's projects needs no acting project
        try:
            return self.resolve_id("/projects", value, kind="project")
        finally:
            self.project_id = saved


def unreachable(url: str, exc: Exception) -> ApiFailure:
    return ApiFailure(0, "unreachable", f"{url}: {type(exc).__name__}: {exc}")


def _clean(params: dict | None) -> dict | None:
    if params is None:
        return None
    return {k: ("true" if v is True else "false" if v is False else v) for k, v in params.items() if v is not None}


# Lists the API answers whole (no limit/cursor parameters).
_UNPAGED = re.compile(r"^/vpcs/[^/]+/(subnets|route-tables)$")


def _pages(path: str) -> bool:
    return not _UNPAGED.match(path)
