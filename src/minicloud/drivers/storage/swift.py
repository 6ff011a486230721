"""The Swift storage driver: buckets and objects on OpenStack Swift through python-swiftclient
(see base.py for the contract).

How it talks to Swift:

* **Calls**: swiftclient's functions (``head_container``, ``put_object``, ``get_object``…) with
  ``http_conn=(account URL, connection)``: one keep-alive connection (a requests session) per thread
  and Swift endpoint, shared by every account (swift_wire.RecordingConnection records each request
  for ``last_calls``; paths never hold tokens, temp-URL signatures are masked).
* **Auth**: v1 (``X-Auth-User`` / ``X-Auth-Key``) as the reseller admin, sent on that same recorded
  connection (swiftclient's ``get_auth`` opens one of its own). The token and the proxy's address are
  kept for the process and renewed shortly before ``X-Auth-Token-Expires``; a 401 (tempauth keeps
  tokens in memcached, which a restart empties) renews the token once and repeats the call — except
  an upload whose body is spent: that one is StorageUnavailable, and the next goes with the new
  token. Building the driver contacts nothing.
* **Accounts**: one per project, ``{reseller_prefix}mc{project hex}`` at ``/v1/{account}`` on the
  proxy. ``ensure_account`` creates it (POST as reseller admin; a PUT when the proxy has no
  ``account_autocreate``) and sets its temp-URL key, HMAC-SHA256 of ``temp_url_secret`` (or of the
  reseller key, derived once per process: rotating that key changes every account's temp-URL key)
  and the account name. Accounts known ready are remembered per process.
* **Streaming**: uploads go in ``chunk_size`` pieces with Content-Length, or chunked. An exception
  while reading the body closes the connection mid-request, so Swift stores nothing. Downloads
  stream in ``download_chunk_size`` pieces (``resp_chunk_size``; 4 MiB, which bench/storage_stream.py
  measured relaying faster than 1 MiB at the same CPU).
* **Temp URLs**: ``swiftclient.utils.generate_temp_url`` (hex SHA-256).
* **Errors**: no answer → StorageUnavailable; 5xx → StorageUnavailable; 404 → NotFound; others
  StorageError with Swift's status.
"""
from __future__ import annotations

import hashlib
import hmac
import os
import re
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, BinaryIO, Callable, Iterable
from urllib.parse import quote, urlparse

from swiftclient import client as swift
from swiftclient.exceptions import ClientException
from swiftclient.utils import generate_temp_url

from minicloud.drivers.calls import public as _public

from .base import (
    MAX_DOWNLOAD_PIECE,
    ContainerNotEmpty,
    ContainerStats,
    NotFound,
    ObjectDownload,
    ObjectEntry,
    ObjectInfo,
    ObjectListing,
    StorageError,
    StorageUnavailable,
    SwiftCall,
    TempUrlRejected,
    object_content_type,
)
from .swift_wire import (
    TRANSPORT_ERRORS,
    BodyFailed,
    Download,
    RecordingConnection,
    SizedUpload,
    Upload,
    keep_dot_segments,
    mask_path,
)

CHUNK_SIZE = 1024 * 1024  # an upload's pieces: larger ones cost more copying in gunicorn's body reader
TEMP_URL_KEY_HEADER = "X-Account-Meta-Temp-URL-Key"
# Renew the token this many seconds before Swift says it expires.
TOKEN_MARGIN_SECONDS = 60
# Swift's own cap on one listing request.
MAX_LISTING_LIMIT = 10000
DOWNLOAD_HEADERS = ("Content-Type", "Content-Length", "ETag", "Last-Modified", "Accept-Ranges", "Content-Range")
_BYTES = (bytes, bytearray, memoryview)


def derive_temp_url_key(secret: str, account: str) -> str:
    """The temp-URL key of ``account``: HMAC-SHA256(secret, account name), hex."""
    return hmac.new(secret.encode(), account.encode(), hashlib.sha256).hexdigest()


@dataclass(frozen=True)
class SwiftSettings:
    """Where Swift is and how to sign in: the ``[storage]`` settings the driver uses."""

    auth_url: str
    user: str
    key: str = ""
    key_file: Path | None = None
    reseller_prefix: str = "AUTH_"
    temp_url_secret: str = ""
    timeout: float = 10.0
    chunk_size: int = CHUNK_SIZE
    download_chunk_size: int = MAX_DOWNLOAD_PIECE  # fewer turns relaying Swift's answer to the client

    @classmethod
    def from_config(cls, config: Any) -> "SwiftSettings":
        """From the ``[storage]`` section (a relative key_file is under the project root)."""
        section = config.section("storage")
        key_file = section.get("key_file") or None
        if key_file and not Path(key_file).is_absolute():
            key_file = Path(config.root) / key_file
        return cls(section["auth_url"], section["user"], key=section.get("key", ""),
                   key_file=Path(key_file) if key_file else None,
                   reseller_prefix=section.get("reseller_prefix", "AUTH_"),
                   temp_url_secret=section.get("temp_url_secret", ""),
                   timeout=float(section.get("timeout_seconds", 10.0)))


@dataclass(frozen=True)
class _Auth:
    token: str
    root: str            # the proxy up to "/v1/…" (scheme, host, port and any path before it)
    expires_at: float    # monotonic seconds; inf when Swift did not say


class SwiftDriver:
    """StorageDriver on a Swift with v1 auth; safe to share between threads."""

    def __init__(self, settings: SwiftSettings):
        if not settings.key and not settings.key_file:
            raise ValueError("SwiftDriver needs a key or a key_file")
        self.settings = settings
        self._temp_url_secret = settings.temp_url_secret
        self._auth: _Auth | None = None
        self._auth_lock = threading.Lock()
        self._ready_accounts: set[str] = set()
        self._local = threading.local()

    @classmethod
    def from_config(cls, config: Any) -> "SwiftDriver":
        """A driver from the ``[storage]`` settings."""
        return cls(SwiftSettings.from_config(config))

    # ---- the contract -------------------------------------------------------------------------

    @property
    def last_calls(self) -> list[SwiftCall]:
        """The Swift requests made by the last public method this thread called (auth included)."""
        return list(getattr(self._local, "calls", []))

    def account_for(self, project_hex: str) -> str:
        """StorageDriver.account_for: ``{reseller_prefix}mc{project_hex}``."""
        return f"{self.settings.reseller_prefix}mc{project_hex}"

    @_public
    def ensure_account(self, account: str) -> None:
        """StorageDriver.ensure_account: HEAD, then POST (or PUT) the key when it is missing or another.
        After the first success in this process it makes no request at all."""
        if account in self._ready_accounts:
            return
        wanted = {TEMP_URL_KEY_HEADER: derive_temp_url_key(self._secret(), account)}
        try:
            headers = self._swift(swift.head_account, account, what=f"account {account}")
        except NotFound:
            headers = None
        if headers is None:
            self._put_account(account, wanted)
        elif headers.get(TEMP_URL_KEY_HEADER) != wanted[TEMP_URL_KEY_HEADER]:
            try:
                self._swift(swift.post_account, account, wanted, what=f"account {account}")
            except NotFound:  # no account_autocreate: the reseller admin creates it
                self._put_account(account, wanted)
        self._ready_accounts.add(account)

    @_public
    def healthcheck(self) -> dict:
        """StorageDriver.healthcheck: always a fresh token, then the proxy's /healthcheck."""
        auth = self._authenticate(stale=self._auth)
        self._raw("GET", auth.root, "/healthcheck", {}, "healthcheck")
        return {"url": auth.root}

    @_public
    def account_stats(self, account: str) -> dict:
        """StorageDriver.account_stats: the account's HEAD (a 404 counts as empty)."""
        try:
            headers = self._swift(swift.head_account, account, what=f"account {account}")
        except NotFound:
            return {"containers": 0, "objects": 0, "bytes": 0}
        return {"containers": int(headers.get("x-account-container-count", 0)),
                "objects": int(headers.get("x-account-object-count", 0)),
                "bytes": int(headers.get("x-account-bytes-used", 0))}

    @_public
    def create_container(self, account: str, container: str) -> bool:
        """StorageDriver.create_container: PUT; True on Swift's 201, False on its 202."""
        answer: dict = {}
        self._swift(swift.put_container, account, container, response_dict=answer, what=f"container {container}")
        return answer.get("status") == 201

    @_public
    def container_stats(self, account: str, container: str) -> ContainerStats:
        """StorageDriver.container_stats: the container's HEAD."""
        headers = self._swift(swift.head_container, account, container, what=f"container {container}")
        return ContainerStats(container, int(headers.get("x-container-object-count", 0)),
                              int(headers.get("x-container-bytes-used", 0)))

    @_public
    def delete_container(self, account: str, container: str) -> None:
        """StorageDriver.delete_container: DELETE; Swift's 409 is ContainerNotEmpty, its 404 no error."""
        try:
            self._swift(swift.delete_container, account, container, what=f"container {container}")
        except NotFound:
            pass
        except StorageError as exc:
            if exc.status == 409:
                raise ContainerNotEmpty(f"container {container} still holds objects", status=409) from None
            raise

    @_public
    def list_objects(self, account: str, container: str, prefix: str = "", delimiter: str | None = None,
                     marker: str = "", limit: int = 1000) -> ObjectListing:
        """StorageDriver.list_objects: one GET of ``limit + 1`` rows (the extra one says whether a next page
        exists; ``limit`` is capped below Swift's 10000)."""
        limit = max(1, min(limit, MAX_LISTING_LIMIT - 1))
        _, rows = self._swift(swift.get_container, account, container, marker=marker or None, limit=limit + 1,
                              prefix=prefix or None, delimiter=delimiter or None, what=f"container {container}")
        more = len(rows) > limit
        rows = rows[:limit]
        objects, prefixes = [], []
        for row in rows:
            if "subdir" in row:
                prefixes.append(row["subdir"])
            else:
                objects.append(ObjectEntry(row["name"], int(row["bytes"]), row.get("last_modified", ""),
                                           row.get("content_type", ""), (row.get("hash") or "").strip('"')))
        last = rows[-1] if rows else None
        next_marker = (last.get("subdir") or last.get("name")) if more and last else None
        return ObjectListing(objects, prefixes, next_marker)

    @_public
    def put_object(self, account: str, container: str, key: str, body: BinaryIO | Iterable[bytes],
                   length: int | None, content_type: str | None) -> ObjectInfo:
        """StorageDriver.put_object: one PUT (bytes, and an empty body read to its end, are sent as they are
        and may be repeated after a 401)."""
        content_type = object_content_type(key, content_type)
        if isinstance(body, _BYTES) and length is not None and len(body) != length:
            raise StorageError(f"the body has {len(body)} bytes, not {length}", status=400)
        upload = None
        answer: dict = {}
        try:
            if isinstance(body, _BYTES):
                contents = bytes(body)
            elif length == 0:  # read to its end (an "empty" body that is not fails as too long); then replayable
                contents = b"".join(Upload(body, 0, self.settings.chunk_size))
            else:
                contents = upload = (SizedUpload if length else Upload)(body, length, self.settings.chunk_size)
            etag = self._swift(swift.put_object, account, container, key, contents, content_length=length,
                               content_type=content_type, response_dict=answer, replayable=upload is None,
                               what=f"object {key}")
        except BodyFailed as failed:
            raise failed.error
        size = upload.sent if upload is not None else len(contents)
        return ObjectInfo(key, size, etag, content_type, answer["headers"].get("last-modified", ""))

    @_public
    def head_object(self, account: str, container: str, key: str) -> ObjectInfo | None:
        """StorageDriver.head_object: the object's HEAD (404 → None)."""
        try:
            headers = self._swift(swift.head_object, account, container, key, what=f"object {key}")
        except NotFound:
            return None
        return ObjectInfo(key, int(headers.get("content-length", 0)), headers.get("etag", "").strip('"'),
                          headers.get("content-type", ""), headers.get("last-modified", ""))

    @_public
    def get_object(self, account: str, container: str, key: str, range_header: str | None = None,
                   if_none_match: str | None = None) -> ObjectDownload:
        """StorageDriver.get_object: a GET read in ``download_chunk_size`` pieces (``resp_chunk_size``)."""
        return self._open(lambda: self._swift(
            swift.get_object, account, container, key, resp_chunk_size=self.settings.download_chunk_size,
            headers=_conditional_headers(range_header, if_none_match), what=f"object {key}"))

    @_public
    def delete_object(self, account: str, container: str, key: str) -> bool:
        """StorageDriver.delete_object: DELETE (404 → False)."""
        try:
            self._swift(swift.delete_object, account, container, key, what=f"object {key}")
        except NotFound:
            return False
        return True

    def temp_url(self, account: str, container: str, key: str, expires_at: int) -> str:
        """StorageDriver.temp_url, signed by swiftclient's ``generate_temp_url`` (HMAC-SHA256, hex) with the key
        ``ensure_account`` put on the account. Contacts nothing. Without a ``temp_url_secret`` the keys derive
        from the reseller key: the first call that needs it reads a ``key_file`` (StorageUnavailable when it
        cannot), and the derived secret is kept for the process; a rotated reseller key therefore changes
        every account's key once the process restarts — links made before stop working, and an account's
        new links work only once ``ensure_account`` put its new key (after a restart it compares and does)."""
        path = f"/v1/{account}/{container}/{key}"
        signed = generate_temp_url(path, int(expires_at), derive_temp_url_key(self._secret(), account), "GET",
                                   absolute=True, digest="sha256")
        return keep_dot_segments(quote(path)) + "?" + signed[len(path) + 1:]

    @_public
    def get_temp_url(self, path_and_query: str, range_header: str | None = None,
                     if_none_match: str | None = None) -> ObjectDownload:
        """StorageDriver.get_temp_url: a GET without a token on the proxy (learnt from auth). A path that is
        not ``/v1/…`` or holds control characters or spaces is TempUrlRejected (400) without a request."""
        if not path_and_query.startswith("/v1/") or re.search(r"[\x00-\x20\x7f]", path_and_query):
            raise TempUrlRejected("not a temp URL path", status=400)
        root = self._current_auth().root  # only to learn where the proxy is
        headers = _conditional_headers(range_header, if_none_match)
        try:
            return self._open(lambda: self._raw("GET", root, path_and_query, headers, "shared object", stream=True))
        except StorageError as exc:
            if exc.status == 401:
                raise TempUrlRejected("Swift refused the temp URL (wrong signature or expired)", status=401) from None
            raise

    # ---- requests -----------------------------------------------------------------------------

    def _swift(self, fn: Callable, account: str, *args: Any, what: str, replayable: bool = True,
               **kwargs: Any) -> Any:
        """``fn(account URL, token, *args, http_conn=…, **kwargs)``, one of swiftclient's functions; on 401 one
        new token and one more try (a body that cannot be replayed: the new token, and StorageUnavailable).
        Swift's refusals become the contract's errors."""
        auth = self._current_auth()
        for attempt in (1, 2):
            url = f"{auth.root}/v1/{quote(account, safe='')}"
            try:
                return fn(url, auth.token, *args, http_conn=(urlparse(url), self._connection(auth.root)), **kwargs)
            except ClientException as exc:
                if exc.http_status != 401 or attempt == 2:
                    raise _refusal(exc.http_status, what, exc.http_response_content,
                                   exc.http_response_headers) from None
            except TRANSPORT_ERRORS as exc:
                raise _unreachable(auth.root, exc) from None
            auth = self._authenticate(stale=auth)  # tempauth forgot the token (memcached restarted)
            if not replayable:  # the body is spent: the next upload goes with the new token
                raise StorageUnavailable(f"Swift had forgotten the token; {what} was not stored", status=401)
        raise AssertionError("unreachable")

    def _raw(self, method: str, root: str, path: str, headers: dict[str, str], what: str, stream: bool = False):
        """A request swiftclient has no function for, to ``root`` + ``path`` on the same connections: the
        response once its status is 2xx (its body unread when ``stream``), else the matching error."""
        conn = self._connection(root)
        try:
            conn.request(method, urlparse(root).path + path, "", headers)
            response = conn.getresponse()
            if stream and 200 <= response.status < 300:
                return response
            body = response.read()
        except TRANSPORT_ERRORS as exc:
            raise _unreachable(root, exc) from None
        if not 200 <= response.status < 300:
            raise _refusal(response.status, what, body, response.getheaders())
        return response

    def _open(self, request: Callable[[], Any]) -> ObjectDownload:
        """An ObjectDownload of a GET: ``request()`` gives swiftclient's (headers, body) or a raw response."""
        try:
            answer = request()
        except _NotModified as unchanged:
            return ObjectDownload(304, _pick_headers(unchanged.headers), iter(()))
        if isinstance(answer, tuple):
            headers, body = answer
            status = int(body.resp.status)
        else:  # a raw response: swiftclient's object body around it
            headers = dict(answer.getheaders())
            body = swift._ObjectBody(answer, self.settings.download_chunk_size, None)
            status = answer.status
        download = Download(body)
        return ObjectDownload(status, _pick_headers(headers), download, download.close)

    def _put_account(self, account: str, headers: dict[str, str]) -> None:
        auth = self._current_auth()
        self._raw("PUT", auth.root, f"/v1/{quote(account, safe='')}", {**headers, "X-Auth-Token": auth.token},
                  f"account {account}")

    # ---- auth and keys ------------------------------------------------------------------------

    def _current_auth(self) -> _Auth:
        auth = self._auth
        if auth is None or time.monotonic() >= auth.expires_at:
            auth = self._authenticate(stale=auth)
        return auth

    def _authenticate(self, stale: _Auth | None) -> _Auth:
        """A new token, unless another thread already replaced ``stale`` meanwhile."""
        with self._auth_lock:
            if self._auth is not None and self._auth is not stale:
                return self._auth
            parsed = urlparse(self.settings.auth_url)
            headers = {"X-Auth-User": self.settings.user, "X-Auth-Key": self._reseller_key()}
            try:
                response = self._raw("GET", f"{parsed.scheme}://{parsed.netloc}", parsed.path, headers, "auth")
            except StorageError as exc:
                if exc.status in (401, 403):
                    raise StorageUnavailable(f"Swift refused the credentials of {self.settings.user}",
                                             status=exc.status) from None
                raise
            token = response.getheader("x-auth-token") or response.getheader("x-storage-token")
            storage_url = response.getheader("x-storage-url") or ""
            if not token or "/v1/" not in storage_url:
                raise StorageError(f"Swift auth answered {response.status} without a token", status=response.status)
            lifetime = response.getheader("x-auth-token-expires") or ""
            expires_at = float("inf")
            if lifetime.isdigit():  # renewed a little before Swift forgets it
                expires_at = time.monotonic() + int(lifetime) - min(TOKEN_MARGIN_SECONDS, int(lifetime) // 2)
            self._auth = _Auth(token, storage_url[: storage_url.rfind("/v1/")], expires_at)
            return self._auth

    def _secret(self) -> str:
        if not self._temp_url_secret:
            self._temp_url_secret = hmac.new(self._reseller_key().encode(), b"minicloud temp-url keys",
                                             hashlib.sha256).hexdigest()
        return self._temp_url_secret

    def _reseller_key(self) -> str:
        if self.settings.key:
            return self.settings.key
        key_file = self.settings.key_file
        try:
            key = key_file.read_text().strip()
        except OSError as exc:
            raise StorageUnavailable(f"cannot read the Swift key file {key_file}: {exc.strerror}") from None
        if not key:
            raise StorageUnavailable(f"the Swift key file {key_file} is empty")
        return key

    # ---- connections and what they record -----------------------------------------------------

    def _connection(self, origin: str) -> RecordingConnection:
        """This thread's connection to ``origin`` (scheme://host:port[/path]); a forked worker makes its own."""
        local = self._local
        if getattr(local, "pid", None) != os.getpid():
            local.pid, local.connections = os.getpid(), {}
        parsed = urlparse(origin)
        endpoint = f"{parsed.scheme}://{parsed.netloc}"
        conn = local.connections.get(endpoint)
        if conn is None:
            conn = local.connections[endpoint] = RecordingConnection(endpoint, self.settings.timeout, self._record)
        return conn

    def _record(self, method: str, path: str, status: int | None, started: float) -> None:
        calls = getattr(self._local, "calls", None)
        if calls is None:
            calls = self._local.calls = []
        calls.append(SwiftCall(method, mask_path(path), status, (time.perf_counter() - started) * 1000))


class _NotModified(Exception):
    """A conditional GET matched (304): not an error for the caller."""

    def __init__(self, headers):
        super().__init__("not modified")
        self.headers = headers


def _refusal(status: int | None, what: str, body: bytes | str | None = None, headers=None) -> Exception:
    """The contract's error for Swift's answer ``status`` to a request about ``what``."""
    if status == 304:
        return _NotModified(headers or {})
    if status == 404:
        return NotFound(f"{what} not found", status=404)
    if status is not None and status >= 500:
        return StorageUnavailable(f"Swift answered {status} for {what}", status=status)
    if isinstance(body, bytes):
        body = body.decode("utf-8", "replace")
    detail = (body or "")[:200].strip()
    return StorageError(f"Swift answered {status} for {what}" + (f": {detail}" if detail else ""), status=status)


def _unreachable(where: str, exc: BaseException) -> StorageUnavailable:
    return StorageUnavailable(f"Swift at {where} cannot be reached ({type(exc).__name__})")


def _conditional_headers(range_header: str | None, if_none_match: str | None) -> dict[str, str]:
    headers = {}
    if range_header:
        headers["Range"] = range_header
    if if_none_match:
        headers["If-None-Match"] = if_none_match
    return headers


def _pick_headers(headers) -> dict[str, str]:
    lowered = {name.lower(): value for name, value in dict(headers).items()}
    return {name: lowered[name.lower()] for name in DOWNLOAD_HEADERS if lowered.get(name.lower()) is not None}

