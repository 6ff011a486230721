"""An in-memory stand-in for the Swift storage driver (tests only): accounts -> containers -> objects.

It follows drivers/storage/base.py closely enough for rules that need no real Swift,
records what it was asked in ``requests``, and ``down = True`` makes it unreachable.
"""
from __future__ import annotations

import hashlib
import threading

from minicloud.drivers.storage.base import (ContainerNotEmpty, ContainerStats, NotFound, ObjectDownload, ObjectInfo,
                                            ObjectListing, StorageUnavailable, SwiftCall)


class StandinSwift:
    """Accounts -> containers -> {key: (bytes, content type)}; ``down`` makes every call unreachable."""

    def __init__(self):
        self.accounts: dict[str, dict[str, dict[str, tuple[bytes, str]]]] = {}
        self.requests: list[str] = []
        self.down = False
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
        created = container not in self.accounts[account]
        self.accounts[account].setdefault(container, {})
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
        self._call("GET", f"/v1/{account}/{container}")
        keys = sorted(k for k in self._container(account, container) if k.startswith(prefix) and k > marker)
        page = keys[:limit]
        objects = self._container(account, container)
        entries = [self._info(k, objects[k]) for k in page]
        return ObjectListing(entries, [], page[-1] if len(keys) > limit else None)

    @staticmethod
    def _info(key, stored):
        data, content_type = stored
        return ObjectInfo(key, len(data), hashlib.md5(data).hexdigest(), content_type, "2026-11-22T01:02:03.000000")

    def put_object(self, account, container, key, body, length, content_type):
        self._call("PUT", f"/v1/{account}/{container}/{key}", 201)
        objects = self._container(account, container)
        chunks = []
        while True:
            chunk = body.read(65536)
            if not chunk:
                break
            chunks.append(chunk)
        data = b"".join(chunks)
        objects[key] = (data, content_type)
        return self._info(key, objects[key])

    def head_object(self, account, container, key):
        self._call("HEAD", f"/v1/{account}/{container}/{key}")
        stored = self._container(account, container).get(key)
        return self._info(key, stored) if stored else None

    def get_object(self, account, container, key, range_header=None, if_none_match=None):
        self._call("GET", f"/v1/{account}/{container}/{key}")
        stored = self._container(account, container).get(key)
        if stored is None:
            raise NotFound("no object", 404)
        data, content_type = stored
        headers = {"Content-Type": content_type, "Content-Length": str(len(data))}
        return ObjectDownload(200, headers, iter([data]))

    def delete_object(self, account, container, key):
        self._call("DELETE", f"/v1/{account}/{container}/{key}", 204)
        return self._container(account, container).pop(key, None) is not None

    def temp_url(self, account, container, key, expires_at):
        return f"/v1/{account}/{container}/{key}?temp_url_sig=sha256:x&temp_url_expires={expires_at}"

    def get_temp_url(self, path_and_query, range_header=None, if_none_match=None):
        raise NotImplementedError
