"""An in-memory stand-in for the Swift storage driver (tests only): accounts -> containers -> objects.

It keeps the contract of drivers/storage/base.py (tests/contract/test_storage_contract.py runs the
same tests on it and on the real SwiftDriver), records what it was asked in ``requests``, and
``down = True`` makes it unreachable.
"""
from __future__ import annotations

import hashlib
import hmac
import mimetypes
import re
import threading
import time
from email.utils import formatdate
from urllib.parse import parse_qs, quote, unquote

from minicloud.drivers.storage.base import (ContainerNotEmpty, ContainerStats, NotFound, ObjectDownload, ObjectEntry,
                                            ObjectInfo, ObjectListing, StorageError, StorageUnavailable, SwiftCall,
                                            TempUrlRejected)

PIECE = 65536
_RANGE = re.compile(r"^bytes=(\d*)-(\d*)$")


class StandinSwift:
    """Accounts -> containers -> {key: (bytes, content type)}; ``down`` makes every call unreachable."""

    def __init__(self):
        self.accounts: dict[str, dict[str, dict[str, tuple[bytes, str]]]] = {}
        self.requests: list[str] = []
        self.down = False
        self._modified: dict[tuple[str, str, str], float] = {}
        self._secret = b"standin temp-url secret"
        self._local = threading.local()

    @property
    def last_calls(self):
        return list(getattr(self._local, "calls", []))

    def _call(self, method, path, status=200):
        self._local.calls = [SwiftCall(method, path, None if self.down else status, 1.0)]
        self.requests.append(f"{method} {path}")
        if self.down:
            raise StorageUnavailable("connection refused")

    def account_for(self, project_hex):
        return f"AUTH_mc{project_hex}"

    def ensure_account(self, account):
        self._call("HEAD", f"/v1/{account}")
        self.accounts.setdefault(account, {})

    def healthcheck(self):
        self._call("GET", "/healthcheck")
        return {"url": "http://standin"}

    def account_stats(self, account):
        self._call("HEAD", f"/v1/{account}")
        containers = self.accounts.get(account, {})
        return {"containers": len(containers), "objects": sum(len(c) for c in containers.values()),
                "bytes": sum(len(b) for c in containers.values() for b, _ in c.values())}

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

    def container_stats(self, account, container):
        self._call("HEAD", f"/v1/{account}/{container}", 204)
        objects = self._container(account, container)
        return ContainerStats(container, len(objects), sum(len(b) for b, _ in objects.values()))

    def delete_container(self, account, container):
        self._call("DELETE", f"/v1/{account}/{container}", 204)
        if self.accounts.get(account, {}).get(container):
            raise ContainerNotEmpty("not empty", 409)
        self.accounts.get(account, {}).pop(container, None)

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

    def put_object(self, account, container, key, body, length, content_type):
        self._call("PUT", f"/v1/{account}/{container}/{key}", 201)
        objects = self._container(account, container)
        data = b"".join(_pieces(body, length))
        if length is not None and len(data) != length:
            raise StorageError(f"the body has {len(data)} bytes, not {length}", 400)
        content_type = content_type or mimetypes.guess_type(key, strict=False)[0] or "application/octet-stream"
        objects[key] = (data, content_type)
        self._modified[(account, container, key)] = time.time()
        return self._info(account, container, key)

    def head_object(self, account, container, key):
        self._call("HEAD", f"/v1/{account}/{container}/{key}")
        if key not in self.accounts.get(account, {}).get(container, {}):
            return None
        return self._info(account, container, key)

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
        if if_none_match and info.etag in if_none_match:
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

    def delete_object(self, account, container, key):
        self._call("DELETE", f"/v1/{account}/{container}/{key}", 204)
        return self.accounts.get(account, {}).get(container, {}).pop(key, None) is not None

    def _signature(self, path, expires_at):
        return hmac.new(self._secret, f"GET\n{int(expires_at)}\n{path}".encode(), hashlib.sha256).hexdigest()

    def temp_url(self, account, container, key, expires_at):
        path = f"/v1/{account}/{container}/{key}"
        return f"{quote(path)}?temp_url_sig={self._signature(path, expires_at)}&temp_url_expires={int(expires_at)}"

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
