"""The rules of object storage that need neither the database nor Swift: bucket names, object
keys, content types, Swift's times, and an upload body that stops at a byte limit."""
from __future__ import annotations

import mimetypes
import re
from datetime import datetime, timezone
from email.utils import parsedate_to_datetime
from typing import BinaryIO, Iterable, Iterator

BUCKET_NAME = re.compile(r"^[a-z0-9](?:[a-z0-9-]{1,61})[a-z0-9]$")
MAX_KEY_BYTES = 1024


class OverLimit(Exception):
    """Raised from inside the upload body when a stream passes what it may send (aborts the upload)."""

    def __init__(self, reason: str):
        super().__init__(reason)
        self.reason = reason   # "size" (max_object_bytes) or "quota" (room left)


class BodyBroken(Exception):
    """Reading the client's body failed (it disconnected, or sent a malformed chunk): the upload is aborted."""


class CappedBody:
    """Reads ``source`` (a file-like object or an iterable of bytes) in chunks; raises OverLimit
    as soon as more than ``cap`` bytes come, and BodyBroken when reading the client's body fails."""

    CHUNK = 256 * 1024

    def __init__(self, source: BinaryIO | Iterable[bytes], cap: int, reason: str):
        self.cap, self.reason, self.count = cap, reason, 0
        self._read = source.read if hasattr(source, "read") else self._reader(iter(source))

    @staticmethod
    def _reader(chunks: Iterator[bytes]):
        def read(_size: int = -1) -> bytes:
            return next(chunks, b"")
        return read

    def read(self, size: int = -1) -> bytes:
        try:
            data = self._read(self.CHUNK if size is None or size < 0 else size)
        except Exception as exc:  # noqa: BLE001 - whatever the server raises for a broken body
            raise BodyBroken(str(exc)) from exc
        self.count += len(data)
        if self.count > self.cap:
            raise OverLimit(self.reason)
        return data

    def __iter__(self) -> Iterator[bytes]:
        while True:
            data = self.read(self.CHUNK)
            if not data:
                return
            yield data


def valid_bucket_name(name: object) -> bool:
    return isinstance(name, str) and bool(BUCKET_NAME.match(name))


def key_problem(key: object) -> str | None:
    """None when ``key`` is a valid object key, else the catalog key of what is wrong."""
    if not isinstance(key, str) or key == "":
        return "storage.key_invalid"
    try:
        encoded = key.encode("utf-8")
    except UnicodeEncodeError:
        return "storage.key_invalid"
    if len(encoded) > MAX_KEY_BYTES or "\x00" in key:
        return "storage.key_invalid"
    return None


def guess_content_type(key: str, given: str | None) -> str:
    """The request's Content-Type, else one guessed from the key's extension, else octet-stream."""
    if given:
        return given
    return mimetypes.guess_type(key)[0] or "application/octet-stream"


def iso_time(value: str | None) -> str | None:
    """A Swift time (HTTP date or ISO without zone) as ISO-8601 UTC ending in Z."""
    if not value:
        return value
    try:
        moment = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        try:
            moment = datetime.fromisoformat(value.replace("Z", "+00:00"))
        except ValueError:
            return value
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=timezone.utc)
    return moment.astimezone(timezone.utc).isoformat().replace("+00:00", "Z")
