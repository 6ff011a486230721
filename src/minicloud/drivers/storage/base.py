"""The object-storage driver contract: Swift accounts, containers (buckets) and objects.

One Swift account per minicloud project (``AUTH_mc<project hex>`` with the default
reseller prefix), created by the reseller admin on first use: tenants are isolated
by Swift itself, not by a name prefix. A bucket is a container in its project's
account; an object key is any UTF-8 string (``../x`` is just a name).

Every method either does what its docstring promises or raises:
- ``StorageUnavailable`` when Swift cannot be reached or answers 5xx (→ 503),
- ``StorageError`` (or a subclass) with the HTTP status Swift gave and a message.
Bodies stream both ways: nothing holds a whole object in memory.

Every Swift request a method made is recorded (method, path, status, milliseconds)
and readable afterwards from ``last_calls`` in the same thread: that is the
"underneath" panel. Paths never carry tokens; temp-URL signatures are masked.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import BinaryIO, Iterable, Iterator, Protocol

from minicloud.drivers.calls import RecordedCall


class StorageError(Exception):
    """Swift refused the request; ``status`` is the HTTP status it answered."""

    def __init__(self, message: str, status: int | None = None):
        super().__init__(message)
        self.status = status


class StorageUnavailable(StorageError):
    """Swift (auth or proxy) cannot be reached, or answered 5xx."""


class NotFound(StorageError):
    """The account, container or object does not exist (404)."""


class ContainerNotEmpty(StorageError):
    """A container that still holds objects cannot be deleted (Swift's 409)."""


class TempUrlRejected(StorageError):
    """A temp URL whose signature is wrong or whose time has passed (Swift's 401)."""


# One request to Swift, as the "underneath" panel shows it (paths carry no token; signatures masked).
SwiftCall = RecordedCall


@dataclass(frozen=True)
class ContainerStats:
    name: str
    object_count: int
    bytes_used: int


@dataclass(frozen=True)
class ObjectEntry:
    """One object in a listing."""

    key: str
    size: int
    last_modified: str   # ISO-8601 UTC, as Swift lists it
    content_type: str
    etag: str


@dataclass(frozen=True)
class ObjectListing:
    """A page of a container listing. With a delimiter, ``prefixes`` are the "folders"
    (each ends with the delimiter); ``next_marker`` is None on the last page."""

    objects: list[ObjectEntry]
    prefixes: list[str]
    next_marker: str | None


@dataclass(frozen=True)
class ObjectInfo:
    """An object's metadata (HEAD, or the result of a PUT)."""

    key: str
    size: int
    etag: str
    content_type: str
    last_modified: str   # HTTP date, as Swift sends it


@dataclass
class ObjectDownload:
    """A streamed GET: ``status`` is 200, 206 (Range) or 304 (If-None-Match matched; empty body).

    ``headers`` holds what a client needs, as Swift sent it: Content-Type, Content-Length,
    ETag, Last-Modified, Accept-Ranges and Content-Range when present. Iterate ``body`` for
    the bytes (StorageUnavailable if Swift drops the stream midway); ``close()`` releases the
    connection (also when not read to the end) and is safe to call twice: always call it.
    """

    status: int
    headers: dict[str, str]
    body: Iterator[bytes]
    _close: object = field(default=None, repr=False)

    def close(self) -> None:
        closer = self._close
        self._close = None
        if callable(closer):
            closer()


class StorageDriver(Protocol):
    @property
    def last_calls(self) -> list[SwiftCall]:
        """The Swift requests made by the last public method this thread called."""

    def account_for(self, project_hex: str) -> str:
        """The Swift account name of a project (``{reseller_prefix}mc{project_hex}``)."""

    def ensure_account(self, account: str) -> None:
        """Afterwards the account exists and carries its temp-URL key. Idempotent."""

    def healthcheck(self) -> dict:
        """Afterwards: Swift answered /healthcheck and auth; returns {"url": proxy URL}."""

    def account_stats(self, account: str) -> dict:
        """{"containers": n, "objects": n, "bytes": n} of the account (Swift's account HEAD; these
        totals lag a few seconds behind writes). A missing account counts as empty."""

    def create_container(self, account: str, container: str) -> bool:
        """Afterwards the container exists. True when this call created it."""

    def container_stats(self, account: str, container: str) -> ContainerStats:
        """Objects and bytes of one container (exact on a single node). Raises NotFound."""

    def delete_container(self, account: str, container: str) -> None:
        """Afterwards the container is gone (a missing one is fine). Raises ContainerNotEmpty."""

    def list_objects(self, account: str, container: str, prefix: str = "", delimiter: str | None = None,
                     marker: str = "", limit: int = 1000) -> ObjectListing:
        """One page of the container's listing, in Swift's (byte) order. Raises NotFound."""

    def put_object(self, account: str, container: str, key: str, body: BinaryIO | Iterable[bytes],
                   length: int | None, content_type: str | None) -> ObjectInfo:
        """Stream ``body`` into the object (``length`` bytes, or chunked when None).

        Afterwards the object holds exactly the bytes read. An exception raised while
        reading ``body`` aborts the upload (Swift keeps the old object, if any) and
        propagates unchanged; a body shorter or longer than ``length`` aborts it too
        (StorageError, status 400). Raises NotFound when the container is missing."""

    def head_object(self, account: str, container: str, key: str) -> ObjectInfo | None:
        """The object's metadata, or None when it does not exist."""

    def get_object(self, account: str, container: str, key: str, range_header: str | None = None,
                   if_none_match: str | None = None) -> ObjectDownload:
        """Start streaming the object (see ObjectDownload). Raises NotFound; an unsatisfiable
        Range raises StorageError with status 416."""

    def delete_object(self, account: str, container: str, key: str) -> bool:
        """Afterwards the object is gone. True when it existed."""

    def temp_url(self, account: str, container: str, key: str, expires_at: int) -> str:
        """A GET temp URL path with its query (``/v1/{account}/{container}/{key}?temp_url_sig=sha256:…
        &temp_url_expires=…``), signed with the account's key; valid until ``expires_at`` (epoch s)."""

    def get_temp_url(self, path_and_query: str, range_header: str | None = None,
                     if_none_match: str | None = None) -> ObjectDownload:
        """Fetch a temp URL made by ``temp_url`` without any token (as an anonymous visitor).
        Raises TempUrlRejected when Swift refuses the signature or it has expired, NotFound
        when the object is gone."""
