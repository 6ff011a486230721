"""An in-memory stand-in for the Swift storage driver (tests only): accounts -> containers -> objects.

It keeps the contract of drivers/storage/base.py (tests/contract/test_storage_contract.py runs the
same tests on it and on the real SwiftDriver): ``last_calls`` holds each request a public method
made, as the real driver makes them (its first one signs in: ``GET /auth/v1.0``); ``requests``
records what it was asked over its life; ``down = True`` makes it unreachable, and
``answering = 503`` (any 5xx) makes it sign in but answer every other request with that status.
"""
from __future__ import annotations

import functools
import hashlib
import hmac
import re
import threading
import time
from email.utils import formatdate
from urllib.parse import parse_qs, quote, unquote

from minicloud.drivers.storage.base import (ContainerNotEmpty, ContainerStats, NotFound, ObjectDownload, ObjectEntry,
                                            ObjectInfo, ObjectListing, StorageError, StorageUnavailable, SwiftCall,
                                            TempUrlRejected, object_content_type)

PIECE = 65536
AUTH_PATH = "/auth/v1.0"
_RANGE = re.compile(r"^bytes=(\d*)-(\d*)$")


def _public(method):
    """A fresh ``last_calls`` for each call of a contract method."""

    @functools.wraps(method)
    def wrapper(self, *args, **kwargs):
        self._local.calls = []
        return method(self, *args, **kwargs)

    return wrapper


class StandinSwift:
    """Accounts -> containers -> {key: (bytes, content type)}; ``down`` makes every call unreachable,
    ``answering`` a 5xx status every call but the sign-in answered with it."""

    def __init__(self):
        self.accounts: dict[str, dict[str, dict[str, tuple[bytes, str]]]] = {}
        self.requests: list[str] = []
        self.down = False
        self.answering: int | None = None
        self._signed_in = False
        self._ready_accounts: set[str] = set()
        self._modified: dict[tuple[str, str, str], float] = {}
        self._secret = b"standin temp-url secret"
        self._local = threading.local()

    @property
    def last_calls(self):
        return list(getattr(self._local, "calls", []))

    def _call(self, method, path, status=200):
        """One request to Swift, after the sign-in when there is no token yet."""
        if not self._signed_in:
            self._request("GET", AUTH_PATH, 200)
            self._signed_in = True
        self._request(method, path, self.answering or status)

    def _request(self, method, path, status):
        answered = None if self.down else status
        self._local.calls.append(SwiftCall(method, path, answered, 1.0))
        self.requests.append(f"{method} {path}")
        if answered is None:
            raise StorageUnavailable("connection refused")
        if answered >= 500:
            raise StorageUnavailable(f"Swift answered {answered}", status=answered)

    def account_for(self, project_hex):
        return f"AUTH_mc{project_hex}"

    @_public
    def ensure_account(self, account):
        if account in self._ready_accounts:
            return
        self._call("HEAD", f"/v1/{account}")
        self._call("POST", f"/v1/{account}", 204)  # its temp-URL key
        self.accounts.setdefault(account, {})
        self._ready_accounts.add(account)

    @_public
    def healthcheck(self):
        self._signed_in = False  # always a fresh token
        self._call("GET", "/healthcheck")
        return {"url": "http://standin"}

    @_public
    def account_stats(self, account):
        self._call("HEAD", f"/v1/{account}")
        containers = self.accounts.get(account, {})
        return {"containers": len(containers), "objects": sum(len(c) for c in containers.values()),
                "bytes": sum(len(b) for c in containers.values() for b, _ in c.values())}

    @_public
    def create_container(self, account, container):
        self._call("PUT", f"/v1/{account}/{container}", 201)
        containers = self.accounts.setdefault(account, {})
        created = container not in containers
        containers.setdefault(container, {})
        return created

    def _container(self, account, container):
        try:
            return self.accounts[account][container]
        except KeyError:
            raise NotFound("no container", 404) from None

    @_public
    def container_stats(self, account, container):
        self._call("HEAD", f"/v1/{account}/{container}", 204)
        objects = self._container(account, container)
        return ContainerStats(container, len(objects), sum(len(b) for b, _ in objects.values()))

    @_public
    def delete_container(self, account, container):
        self._call("DELETE", f"/v1/{account}/{container}", 204)
        if self.accounts.get(account, {}).get(container):
            raise ContainerNotEmpty("not empty", 409)
        self.accounts.get(account, {}).pop(container, None)

    @_public
    def list_objects(self, account, container, prefix="", delimiter=None, marker="", limit=1000):
        """Swift's listing: UTF-8 order (which is code point order), folders once each, a folder equal to
        the marker skipped, ``limit`` counting objects and folders together."""
        self._call("GET", f"/v1/{account}/{container}")
        objects = self._container(account, container)
        rows: list[str | ObjectEntry] = []
        for key in sorted(k for k in objects if k.startswith(prefix) and k > marker):
            cut = key.find(delimiter, len(prefix)) if delimiter else -1
            if cut < 0:
                rows.append(self._entry(account, container, key))
                continue
            folder = key[: cut + len(delimiter)]
            if folder != marker and folder not in rows:
                rows.append(folder)
        page = rows[:limit]
        last = page[-1] if page else None
        next_marker = (last if isinstance(last, str) else last.key) if len(rows) > limit else None
        return ObjectListing([r for r in page if isinstance(r, ObjectEntry)], [r for r in page if isinstance(r, str)],
                             next_marker)

    def _stamp(self, account, container, key):
        return self._modified.get((account, container, key), 1_790_000_000.0)

    def _entry(self, account, container, key):
        data, content_type = self.accounts[account][container][key]
        listed = time.strftime("%Y-%m-%dT%H:%M:%S.000000", time.gmtime(self._stamp(account, container, key)))
        return ObjectEntry(key, len(data), listed, content_type, hashlib.md5(data).hexdigest())

    def _info(self, account, container, key):
        data, content_type = self.accounts[account][container][key]
        return ObjectInfo(key, len(data), hashlib.md5(data).hexdigest(), content_type,
                          formatdate(self._stamp(account, container, key), usegmt=True))

    @_public
    def put_object(self, account, container, key, body, length, content_type):
        if isinstance(body, (bytes, bytearray, memoryview)) and length is not None and len(body) != length:
            raise StorageError(f"the body has {len(body)} bytes, not {length}", 400)
        self._call("PUT", f"/v1/{account}/{container}/{key}", 201)
        objects = self._container(account, container)
        data = b"".join(_pieces(body, length))
        if length is not None and len(data) != length:
            raise StorageError(f"the body has {len(data)} bytes, not {length}", 400)
        objects[key] = (data, object_content_type(key, content_type))
        self._modified[(account, container, key)] = time.time()
        return self._info(account, container, key)

    @_public
    def head_object(self, account, container, key):
        self._call("HEAD", f"/v1/{account}/{container}/{key}")
        if key not in self.accounts.get(account, {}).get(container, {}):
            return None
        return self._info(account, container, key)

    @_public
    def get_object(self, account, container, key, range_header=None, if_none_match=None):
        self._call("GET", f"/v1/{account}/{container}/{key}")
        return self._download(account, container, key, range_header, if_none_match)

    def _download(self, account, container, key, range_header, if_none_match):
        if key not in self.accounts.get(account, {}).get(container, {}):
            raise NotFound("no object", 404)
        info = self._info(account, container, key)
        data = self.accounts[account][container][key][0]
        headers = {"Content-Type": info.content_type, "ETag": info.etag, "Last-Modified": info.last_modified,
                   "Accept-Ranges": "bytes"}
        if if_none_match and _matches(if_none_match, info.etag):
            return ObjectDownload(304, headers, iter(()))
        status, start, end = 200, 0, len(data)
        wanted = _RANGE.match(range_header or "")
        if wanted and any(wanted.groups()):
            first, last = wanted.groups()
            start, end = (len(data) - int(last), len(data)) if not first else (int(first), int(last or len(data) - 1) + 1)
            start, end = max(start, 0), min(end, len(data))
            if start >= end:
                raise StorageError("range not satisfiable", 416)
            status = 206
            headers["Content-Range"] = f"bytes {start}-{end - 1}/{len(data)}"
        headers["Content-Length"] = str(end - start)
        body = (data[at:min(at + PIECE, end)] for at in range(start, end, PIECE))
        return ObjectDownload(status, headers, body, body.close)

    @_public
    def delete_object(self, account, container, key):
        self._call("DELETE", f"/v1/{account}/{container}/{key}", 204)
        return self.accounts.get(account, {}).get(container, {}).pop(key, None) is not None

    def _signature(self, path, expires_at):
        return hmac.new(self._secret, f"GET\n{int(expires_at)}\n{path}".encode(), hashlib.sha256).hexdigest()

    def temp_url(self, account, container, key, expires_at):
        path = f"/v1/{account}/{container}/{key}"
        return f"{quote(path)}?temp_url_sig={self._signature(path, expires_at)}&temp_url_expires={int(expires_at)}"

    @_public
    def get_temp_url(self, path_and_query, range_header=None, if_none_match=None):
        quoted, _, query = path_and_query.partition("?")
        self._call("GET", quoted)
        path, params = unquote(quoted), parse_qs(query)
        expires = params.get("temp_url_expires", ["0"])[0]
        signature = params.get("temp_url_sig", [""])[0]
        if (not expires.isdigit() or int(expires) < time.time()
                or not hmac.compare_digest(signature, self._signature(path, int(expires)))):
            raise TempUrlRejected("wrong signature or expired", 401)
        _, _, account, container, key = path.split("/", 4)
        return self._download(account, container, key, range_header, if_none_match)


def _matches(if_none_match, etag):
    """Whether an If-None-Match header holds ``*`` or the ETag (quoted or not, weak or not)."""
    tags = {tag.strip().removeprefix("W/").strip('"') for tag in if_none_match.split(",")}
    return "*" in tags or etag in tags


def _pieces(body, length):
    """The body's bytes as they are read: bytes, a file-like object (up to ``length``) or an iterable."""
    if isinstance(body, (bytes, bytearray, memoryview)):
        yield bytes(body)
    elif hasattr(body, "read"):
        left = length
        while left is None or left > 0:
            piece = body.read(PIECE if left is None else min(PIECE, left))
            if not piece:
                return
            left = None if left is None else left - len(piece)
            yield piece
    else:
        yield from body
