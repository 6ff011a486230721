"""The Swift storage driver: buckets and objects on OpenStack Swift (see base.py for the contract).

How it talks to Swift:

* **Auth**: v1 (``GET auth_url`` with ``X-Auth-User`` / ``X-Auth-Key``) as the reseller admin. The
  token and the storage URL it returns are cached for the whole process and renewed shortly
  before ``X-Auth-Token-Expires`` runs out, or once when Swift answers 401 (tempauth keeps tokens
  in memcached: a restarted Swift forgets them). Building the driver contacts nothing; a Swift that
  is down at start-up, or restarted later, is simply reached by the next call.
* **Accounts**: one per project, ``{reseller_prefix}mc{project hex}`` at ``/v1/{account}`` on the
  proxy (its base is taken from the storage URL auth returns). ``ensure_account`` creates it (POST
  as reseller admin; a PUT when the proxy has no ``account_autocreate``) and sets its temp-URL key,
  derived with HMAC-SHA256 from ``temp_url_secret`` (or the reseller key) and the account name.
  Accounts known ready are remembered per process, so calling it before each write is free.
* **HTTP**: plain ``http.client``, one keep-alive connection per thread and Swift endpoint. A
  connection that went stale (Swift restarted, idle close) is replaced and an idempotent request
  retried once; anything else that cannot reach Swift raises ``StorageUnavailable``.
* **Streaming**: uploads read ``body`` in ``chunk_size`` pieces and send them as they come, with
  ``Content-Length`` or chunked; ``Expect: 100-continue`` lets Swift refuse (401, 404, 413) before
  a byte of the body is read. An exception while reading the body resets the connection, so Swift
  sees a broken upload and stores nothing. Downloads hand out the open response; its connection
  goes back to the thread's slot when read to the end, and is closed when abandoned.
* **Calls**: every request is recorded (method, path, status, ms) in a per-thread list that
  ``last_calls`` shows; paths never hold tokens and ``temp_url_sig`` values are masked.
"""
from __future__ import annotations

import base64
import hashlib
import hmac
import http.client
import json
import mimetypes
import os
import re
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, BinaryIO, Iterable
from urllib.parse import quote

from .base import (
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
)
from minicloud.drivers.calls import public as _public

from .swift_http import Endpoint, Reply, Upload, abort_connection, await_continue

CHUNK_SIZE = 1024 * 1024
TEMP_URL_KEY_HEADER = "X-Account-Meta-Temp-URL-Key"
# Renew the token this many seconds before Swift says it expires.
TOKEN_MARGIN_SECONDS = 60
# Swift's own cap on one listing request.
MAX_LISTING_LIMIT = 10000
DOWNLOAD_HEADERS = ("Content-Type", "Content-Length", "ETag", "Last-Modified", "Accept-Ranges", "Content-Range")
_SIG_RE = re.compile(r"(temp_url_sig=)[^&]*")
_HTTP_ERRORS = (OSError, http.client.HTTPException)


def mask_path(path: str) -> str:
    """``path`` as the "underneath" panel may show it: temp-URL signatures replaced by ``***``."""
    return _SIG_RE.sub(r"\1***", path)


def quote_name(name: str) -> str:
    """A container name or object key as a URL path: UTF-8, percent-encoded, ``/`` kept; the segments
    ``.`` and ``..`` are encoded too, so nothing on the way (nor a browser) can collapse them."""
    segments = quote(name, safe="/").split("/")
    return "/".join(seg.replace(".", "%2E") if seg in (".", "..") else seg for seg in segments)


def derive_temp_url_key(secret: str, account: str) -> str:
    """The temp-URL key of ``account``: HMAC-SHA256(secret, account name), hex."""
    return hmac.new(secret.encode(), account.encode(), hashlib.sha256).hexdigest()


def sign_temp_url(key: str, method: str, path: str, expires_at: int) -> str:
    """Swift's tempurl signature for ``path`` (unquoted ``/v1/a/c/o``) as ``sha256:<base64url>``."""
    message = f"{method}\n{int(expires_at)}\n{path}".encode()
    digest = hmac.new(key.encode(), message, hashlib.sha256).digest()
    return "sha256:" + base64.urlsafe_b64encode(digest).decode("ascii").rstrip("=")


def _unquote_etag(value: str | None) -> str:
    return (value or "").strip('"')


@dataclass(frozen=True)
class _Auth:
    token: str
    endpoint: Endpoint
    base_path: str       # path before "/v1/…" on the proxy ("" for a proxy at the root)
    expires_at: float    # monotonic seconds; inf when Swift did not say


class _Download:
    """The body of a streamed GET: iterates in chunks and releases its connection exactly once."""

    def __init__(self, driver: "SwiftDriver", reply: Reply, chunk_size: int):
        self._driver = driver
        self._response = reply.response
        self._conn = reply.connection
        self._chunk_size = chunk_size
        length = reply.headers.get("Content-Length")
        self._left = int(length) if length and length.isdigit() else None

    def __iter__(self) -> "_Download":
        return self

    def __next__(self) -> bytes:
        if self._conn is None:
            raise StopIteration
        try:
            piece = self._response.read(self._chunk_size)
        except _HTTP_ERRORS as exc:
            self.close()
            raise StorageUnavailable(f"Swift dropped the download: {exc}") from exc
        if not piece:
            complete = not self._left
            self.close()
            if not complete:
                raise StorageUnavailable(f"Swift dropped the download with {self._left} bytes missing")
            raise StopIteration
        if self._left is not None:
            self._left -= len(piece)
        return piece

    def close(self) -> None:
        conn, self._conn = self._conn, None
        if conn is None:
            return
        if self._response.isclosed() and self._left in (0, None):
            self._driver._checkin(conn)
        else:
            abort_connection(conn)


class SwiftDriver:
    """StorageDriver on a Swift with v1 auth; safe to share between threads."""

    def __init__(self, auth_url: str, user: str, key: str = "", key_file: str | Path | None = None,
                 reseller_prefix: str = "AUTH_", temp_url_secret: str = "", timeout: float = 10.0,
                 chunk_size: int = CHUNK_SIZE):
        if not key and not key_file:
            raise ValueError("SwiftDriver needs a key or a key_file")
        self.auth_url = auth_url
        self._auth_endpoint, self._auth_path = Endpoint.of(auth_url)
        self.user = user
        self._key = key
        self._key_file = Path(key_file) if key_file else None
        self.reseller_prefix = reseller_prefix
        self._temp_url_secret = temp_url_secret
        self.timeout = timeout
        self.chunk_size = chunk_size
        self._auth: _Auth | None = None
        self._auth_lock = threading.Lock()
        self._ready_accounts: set[str] = set()
        self._local = threading.local()

    @classmethod
    def from_config(cls, config: Any) -> "SwiftDriver":
        """A driver from the ``[storage]`` settings (a relative key_file is under the project root)."""
        settings = config.section("storage")
        key_file = settings.get("key_file") or None
        if key_file and not Path(key_file).is_absolute():
            key_file = Path(config.root) / key_file
        return cls(settings["auth_url"], settings["user"], key=settings.get("key", ""), key_file=key_file,
                   reseller_prefix=settings.get("reseller_prefix", "AUTH_"),
                   temp_url_secret=settings.get("temp_url_secret", ""),
                   timeout=float(settings.get("timeout_seconds", 10.0)))

    # ---- the contract -------------------------------------------------------------------------

    @property
    def last_calls(self) -> list[SwiftCall]:
        """The Swift requests made by the last public method this thread called (auth included)."""
        return list(getattr(self._local, "calls", []))

    def account_for(self, project_hex: str) -> str:
        """The Swift account name of a project (``{reseller_prefix}mc{project_hex}``)."""
        return f"{self.reseller_prefix}mc{project_hex}"

    @_public
    def ensure_account(self, account: str) -> None:
        """Afterwards the account exists and carries its temp-URL key. Idempotent; after the first
        success in this process it makes no request at all."""
        if account in self._ready_accounts:
            return
        wanted = derive_temp_url_key(self._secret(), account)
        path = self._account_path(account)
        reply = self._swift("HEAD", path)
        if reply.status == 404 or reply.headers.get(TEMP_URL_KEY_HEADER) != wanted:
            if reply.status == 404:
                reply = self._swift("PUT", path, headers={TEMP_URL_KEY_HEADER: wanted})
            else:
                reply = self._swift("POST", path, headers={TEMP_URL_KEY_HEADER: wanted})
                if reply.status == 404:  # no account_autocreate: the reseller admin creates it
                    reply = self._swift("PUT", path, headers={TEMP_URL_KEY_HEADER: wanted})
        self._expect(reply, f"account {account}")
        self._ready_accounts.add(account)

    @_public
    def healthcheck(self) -> dict:
        """Afterwards: Swift answered auth (a fresh token) and /healthcheck; returns {"url": proxy URL}."""
        auth = self._authenticate(stale=self._auth)
        reply = self._exchange("GET", auth.endpoint, auth.base_path + "/healthcheck", {})
        self._expect(reply, "healthcheck")
        return {"url": f"{auth.endpoint}{auth.base_path}"}

    @_public
    def account_stats(self, account: str) -> dict:
        """{"containers": n, "objects": n, "bytes": n} of the account (Swift's account HEAD; these
        totals lag a few seconds behind writes). A missing account counts as empty."""
        reply = self._swift("HEAD", self._account_path(account))
        if reply.status == 404:
            return {"containers": 0, "objects": 0, "bytes": 0}
        self._expect(reply, f"account {account}")
        h = reply.headers
        return {"containers": int(h.get("X-Account-Container-Count", 0)),
                "objects": int(h.get("X-Account-Object-Count", 0)),
                "bytes": int(h.get("X-Account-Bytes-Used", 0))}

    @_public
    def create_container(self, account: str, container: str) -> bool:
        """Afterwards the container exists. True when this call created it (Swift's 201, not 202)."""
        reply = self._swift("PUT", self._container_path(account, container))
        self._expect(reply, f"container {container}")
        return reply.status == 201

    @_public
    def container_stats(self, account: str, container: str) -> ContainerStats:
        """Objects and bytes of one container (exact on a single node). Raises NotFound."""
        reply = self._swift("HEAD", self._container_path(account, container))
        self._expect(reply, f"container {container}")
        return ContainerStats(container, int(reply.headers.get("X-Container-Object-Count", 0)),
                              int(reply.headers.get("X-Container-Bytes-Used", 0)))

    @_public
    def delete_container(self, account: str, container: str) -> None:
        """Afterwards the container is gone (a missing one is fine). Raises ContainerNotEmpty."""
        reply = self._swift("DELETE", self._container_path(account, container))
        if reply.status == 409:
            raise ContainerNotEmpty(f"container {container} still holds objects", status=409)
        if reply.status != 404:
            self._expect(reply, f"container {container}")

    @_public
    def list_objects(self, account: str, container: str, prefix: str = "", delimiter: str | None = None,
                     marker: str = "", limit: int = 1000) -> ObjectListing:
        """One page of the container's listing (at most ``limit`` objects plus prefixes together), in
        Swift's (byte) order; ``next_marker`` is what to pass as ``marker`` for the next page, None on
        the last page. Raises NotFound."""
        limit = max(1, min(limit, MAX_LISTING_LIMIT - 1))
        query = {"format": "json", "limit": str(limit + 1)}
        if prefix:
            query["prefix"] = prefix
        if delimiter:
            query["delimiter"] = delimiter
        if marker:
            query["marker"] = marker
        reply = self._swift("GET", self._container_path(account, container), query=query)
        self._expect(reply, f"container {container}")
        rows = json.loads(reply.data or b"[]") if reply.status == 200 else []
        more = len(rows) > limit
        rows = rows[:limit]
        objects, prefixes = [], []
        for row in rows:
            if "subdir" in row:
                prefixes.append(row["subdir"])
            else:
                objects.append(ObjectEntry(row["name"], int(row["bytes"]), row.get("last_modified", ""),
                                           row.get("content_type", ""), _unquote_etag(row.get("hash"))))
        last = rows[-1] if rows else None
        next_marker = (last.get("subdir") or last.get("name")) if more and last else None
        return ObjectListing(objects, prefixes, next_marker)

    @_public
    def put_object(self, account: str, container: str, key: str, body: BinaryIO | Iterable[bytes],
                   length: int | None, content_type: str | None) -> ObjectInfo:
        """Stream ``body`` into the object (``length`` bytes, or chunked when None).

        Afterwards the object holds exactly the bytes read. An exception raised while reading
        ``body`` aborts the upload (Swift keeps the old object, if any) and propagates unchanged;
        a body shorter or longer than ``length`` aborts it too (StorageError, status 400). Raises
        NotFound when the container is missing, before any of ``body`` is read. Without a (valid)
        ``content_type`` the type is guessed from the key, as Swift itself would."""
        content_type = _clean_content_type(content_type) or (
            mimetypes.guess_type(key, strict=False)[0] or "application/octet-stream")
        upload = Upload(body, length, self.chunk_size)
        reply = self._swift("PUT", self._object_path(account, container, key),
                            headers={"Content-Type": content_type}, upload=upload)
        self._expect(reply, f"object {key}")
        return ObjectInfo(key, reply.sent, _unquote_etag(reply.headers.get("ETag")), content_type,
                          reply.headers.get("Last-Modified", ""))

    @_public
    def head_object(self, account: str, container: str, key: str) -> ObjectInfo | None:
        """The object's metadata, or None when it (or its container) does not exist."""
        reply = self._swift("HEAD", self._object_path(account, container, key))
        if reply.status == 404:
            return None
        self._expect(reply, f"object {key}")
        h = reply.headers
        return ObjectInfo(key, int(h.get("Content-Length", 0)), _unquote_etag(h.get("ETag")),
                          h.get("Content-Type", ""), h.get("Last-Modified", ""))

    @_public
    def get_object(self, account: str, container: str, key: str, range_header: str | None = None,
                   if_none_match: str | None = None) -> ObjectDownload:
        """Start streaming the object (see ObjectDownload). Raises NotFound; an unsatisfiable
        Range raises StorageError with status 416."""
        headers = _conditional_headers(range_header, if_none_match)
        reply = self._swift("GET", self._object_path(account, container, key), headers=headers, stream=True)
        return self._download(reply, f"object {key}")

    @_public
    def delete_object(self, account: str, container: str, key: str) -> bool:
        """Afterwards the object is gone. True when it existed."""
        reply = self._swift("DELETE", self._object_path(account, container, key))
        if reply.status == 404:
            return False
        self._expect(reply, f"object {key}")
        return True

    def temp_url(self, account: str, container: str, key: str, expires_at: int) -> str:
        """A GET temp URL path with its query (``/v1/{account}/{container}/{key}?temp_url_sig=sha256:…
        &temp_url_expires=…``), signed with the account's key; valid until ``expires_at`` (epoch s).
        Contacts nothing (the key is derived, and ``ensure_account`` put it on the account)."""
        key_for_account = derive_temp_url_key(self._secret(), account)
        signature = sign_temp_url(key_for_account, "GET", f"/v1/{account}/{container}/{key}", expires_at)
        return (f"{self._object_path(account, container, key)}"
                f"?temp_url_sig={quote(signature, safe=':')}&temp_url_expires={int(expires_at)}")

    @_public
    def get_temp_url(self, path_and_query: str, range_header: str | None = None,
                     if_none_match: str | None = None) -> ObjectDownload:
        """Fetch a temp URL made by ``temp_url`` without any token (as an anonymous visitor).
        Raises TempUrlRejected when Swift refuses the signature or it has expired, NotFound
        when the object is gone."""
        if not path_and_query.startswith("/v1/") or re.search(r"[\x00-\x20\x7f]", path_and_query):
            raise TempUrlRejected("not a temp URL path", status=400)
        auth = self._auth or self._authenticate(stale=None)  # only to learn where the proxy is
        headers = _conditional_headers(range_header, if_none_match)
        reply = self._exchange("GET", auth.endpoint, auth.base_path + path_and_query, headers, stream=True)
        if reply.status == 401:
            raise TempUrlRejected("Swift refused the temp URL (wrong signature or expired)", status=401)
        return self._download(reply, "shared object")

    # ---- accounts, keys and paths -------------------------------------------------------------

    def _secret(self) -> str:
        if not self._temp_url_secret:
            self._temp_url_secret = hmac.new(self._reseller_key().encode(), b"minicloud temp-url keys",
                                             hashlib.sha256).hexdigest()
        return self._temp_url_secret

    def _reseller_key(self) -> str:
        if self._key:
            return self._key
        try:
            key = self._key_file.read_text().strip()
        except OSError as exc:
            raise StorageUnavailable(f"cannot read the Swift key file {self._key_file}: {exc.strerror}") from None
        if not key:
            raise StorageUnavailable(f"the Swift key file {self._key_file} is empty")
        return key

    @staticmethod
    def _account_path(account: str) -> str:
        return f"/v1/{quote_name(account)}"

    def _container_path(self, account: str, container: str) -> str:
        return f"{self._account_path(account)}/{quote_name(container)}"

    def _object_path(self, account: str, container: str, key: str) -> str:
        return f"{self._container_path(account, container)}/{quote_name(key)}"

    # ---- auth ---------------------------------------------------------------------------------

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
            headers = {"X-Auth-User": self.user, "X-Auth-Key": self._reseller_key()}
            reply = self._exchange("GET", self._auth_endpoint, self._auth_path, headers)
            if reply.status in (401, 403):
                raise StorageUnavailable(f"Swift refused the credentials of {self.user}", status=reply.status)
            if reply.status >= 500:
                raise StorageUnavailable(f"Swift auth answered {reply.status}", status=reply.status)
            token = reply.headers.get("X-Auth-Token") or reply.headers.get("X-Storage-Token")
            storage_url = reply.headers.get("X-Storage-Url")
            if reply.status >= 300 or not token or not storage_url:
                raise StorageError(f"Swift auth answered {reply.status} without a token", status=reply.status)
            endpoint, path = Endpoint.of(storage_url)
            base_path = path[: path.rfind("/v1/")] if "/v1/" in path else ""
            lifetime = reply.headers.get("X-Auth-Token-Expires", "")
            expires_at = float("inf")
            if lifetime.isdigit():
                seconds = int(lifetime)
                expires_at = time.monotonic() + seconds - min(TOKEN_MARGIN_SECONDS, seconds // 2)
            self._auth = _Auth(token, endpoint, base_path, expires_at)
            return self._auth

    # ---- requests -----------------------------------------------------------------------------

    def _swift(self, method: str, path: str, query: dict[str, str] | None = None,
               headers: dict[str, str] | None = None, upload: Upload | None = None,
               stream: bool = False) -> Reply:
        """An authenticated request to the proxy; on 401 one new token and one more try (when the
        body, if any, was not read yet)."""
        if query:
            path += "?" + "&".join(f"{k}={quote(v, safe='')}" for k, v in query.items())
        auth = self._current_auth()
        for attempt in (1, 2):
            sent_headers = {**(headers or {}), "X-Auth-Token": auth.token}
            reply = self._exchange(method, auth.endpoint, auth.base_path + path, sent_headers,
                                   upload=upload, stream=stream)
            if reply.status != 401 or attempt == 2 or (upload is not None and not upload.replayable):
                break
            auth = self._authenticate(stale=auth)  # tempauth forgot the token (expired, memcached restarted)
            if upload is not None:
                upload = Upload(upload.body, upload.length, upload.chunk_size)
        return reply

    def _exchange(self, method: str, endpoint: Endpoint, path: str, headers: dict[str, str],
                  upload: Upload | None = None, stream: bool = False) -> Reply:
        """One request, recorded in ``last_calls``; one retry on a fresh connection when a reused one
        turned out stale and nothing of the body was read. Raises StorageUnavailable when Swift
        cannot be reached."""
        if upload is not None:
            headers = {**headers, **upload.headers()}
        expect_continue = upload is not None and upload.length != 0
        if expect_continue:
            headers["Expect"] = "100-continue"
        for attempt in (1, 2):
            conn = self._checkout(endpoint)
            reused = conn.sock is not None
            started = time.perf_counter()
            body_sent = False
            try:
                conn.putrequest(method, path, skip_accept_encoding=True)
                for name, value in headers.items():
                    conn.putheader(name, value)
                conn.endheaders()
                if upload is not None and (not expect_continue or await_continue(conn, self.timeout)):
                    upload.send(conn)
                    body_sent = True
                response = conn.getresponse()
            except _HTTP_ERRORS as exc:
                self._record(method, path, None, started)
                if upload is not None and upload.failed:
                    raise
                abort_connection(conn)
                if (attempt == 1 and reused and not isinstance(exc, TimeoutError)
                        and (upload is None or not upload.touched)):
                    continue
                raise StorageUnavailable(f"Swift at {endpoint} cannot be reached: {exc or type(exc).__name__}") from exc
            except BaseException:
                self._record(method, path, None, started)
                abort_connection(conn)
                raise
            self._record(method, path, response.status, started)
            reply = Reply(response.status, response.headers, response, conn, sent=upload.sent if upload else 0)
            if stream and response.status in (200, 206):
                return reply
            try:
                reply.data = response.read()
            except _HTTP_ERRORS as exc:
                abort_connection(conn)
                raise StorageUnavailable(f"Swift at {endpoint} dropped the answer: {exc}") from exc
            reply.connection = None
            if upload is not None and not body_sent:
                conn.close()  # Swift answered before the body: the connection's state is unclear
            else:
                self._checkin(conn)
            return reply
        raise AssertionError("unreachable")

    def _download(self, reply: Reply, what: str) -> ObjectDownload:
        if reply.status == 304:
            return ObjectDownload(304, _pick_headers(reply.headers), iter(()))
        self._expect(reply, what)
        body = _Download(self, reply, self.chunk_size)
        return ObjectDownload(reply.status, _pick_headers(reply.headers), body, body.close)

    @staticmethod
    def _expect(reply: Reply, what: str) -> None:
        """Raise the error that matches a non-2xx reply."""
        status = reply.status
        if 200 <= status < 300:
            return
        if status == 404:
            raise NotFound(f"{what} not found", status=404)
        if status >= 500:
            raise StorageUnavailable(f"Swift answered {status} for {what}", status=status)
        detail = reply.data[:200].decode("utf-8", "replace").strip()
        raise StorageError(f"Swift answered {status} for {what}" + (f": {detail}" if detail else ""), status=status)

    def _record(self, method: str, path: str, status: int | None, started: float) -> None:
        calls = getattr(self._local, "calls", None)
        if calls is None:
            calls = self._local.calls = []
        calls.append(SwiftCall(method, mask_path(path), status, (time.perf_counter() - started) * 1000))

    # ---- connections: one idle keep-alive connection per thread and endpoint ------------------

    def _pool(self) -> dict[Endpoint, http.client.HTTPConnection]:
        local = self._local
        if getattr(local, "pid", None) != os.getpid():  # a forked worker must not share its parent's sockets
            local.pid = os.getpid()
            local.idle = {}
        return local.idle

    def _checkout(self, endpoint: Endpoint) -> http.client.HTTPConnection:
        conn = self._pool().pop(endpoint, None)
        if conn is not None:
            return conn
        cls = http.client.HTTPSConnection if endpoint.scheme == "https" else http.client.HTTPConnection
        return cls(endpoint.host, endpoint.port, timeout=self.timeout)

    def _checkin(self, conn: http.client.HTTPConnection) -> None:
        endpoint = Endpoint("https" if isinstance(conn, http.client.HTTPSConnection) else "http",
                             conn.host, conn.port)
        pool = self._pool()
        if endpoint in pool:
            conn.close()
        else:
            pool[endpoint] = conn


def _conditional_headers(range_header: str | None, if_none_match: str | None) -> dict[str, str]:
    headers = {}
    if range_header:
        headers["Range"] = range_header
    if if_none_match:
        headers["If-None-Match"] = if_none_match
    return headers


def _pick_headers(headers: http.client.HTTPMessage) -> dict[str, str]:
    return {name: headers[name] for name in DOWNLOAD_HEADERS if headers.get(name) is not None}


def _clean_content_type(value: str | None) -> str | None:
    """A content type safe to send as a header (printable ASCII), else None."""
    if value and value.isascii() and value.isprintable():
        return value.strip() or None
    return None
