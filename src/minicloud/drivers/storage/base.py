"""The object-storage driver contract: Swift accounts, containers (buckets) and objects.

One Swift account per minicloud project (``AUTH_mc<project hex>`` with the default
reseller prefix), created by the reseller admin on first use: tenants are isolated
by Swift itself, not by a name prefix. A bucket is a container in its project's
account; an object key is any UTF-8 string (``../x`` is just a name).

Each method below says, in the manner of Nova's virt driver contract:
- **Afterwards**: what holds once it returns;
- **Raises**: which of the errors below, when;
- **Repeat**: whether calling it again with the same arguments is safe (and what it returns then).

Any method that talks to Swift also raises ``StorageUnavailable`` when Swift cannot be
reached, drops the connection, or answers 5xx (the web layer answers 503); and a
``StorageError`` with Swift's HTTP status for any other refusal. Bodies stream both ways:
nothing holds a whole object in memory.

Every Swift request a method made is recorded (method, path, status or None when no
answer came, milliseconds), the sign-in for a token included, and readable afterwards from
``last_calls`` in the same thread: that is the "underneath" panel. Paths never carry tokens;
temp-URL signatures are masked. tests/contract/test_storage_contract.py holds the real driver
and every stand-in to this contract.
"""
from __future__ import annotations

import mimetypes
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


def object_content_type(key: str, given: str | None) -> str:
    """The content type an object is stored with: ``given`` when it is printable ASCII and not blank,
    else the type guessed from the key (``application/octet-stream`` when nothing fits)."""
    if given and given.isascii() and given.isprintable() and given.strip():
        return given.strip()
    return mimetypes.guess_type(key, strict=False)[0] or "application/octet-stream"


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


MAX_DOWNLOAD_PIECE = 4 * 1024 * 1024  # the largest piece a download's body yields (memory stays flat)


@dataclass
class ObjectDownload:
    """A streamed GET: ``status`` is 200, 206 (Range) or 304 (If-None-Match matched; empty body).

    ``headers`` holds what a client needs, as Swift sent it: Content-Type, Content-Length,
    ETag, Last-Modified, Accept-Ranges and Content-Range when present. Iterate ``body`` for
    the bytes, in pieces of at most MAX_DOWNLOAD_PIECE (StorageUnavailable if Swift drops the
    stream midway); ``close()`` releases the connection (also when not read to the end) and is
    safe to call twice: always call it.
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
        """Every Swift request the last public method this thread called made, in order (a sign-in for a new
        token, ``GET`` of the auth path, comes before the request that needed it), each with Swift's
        status, or None when no answer came. After a StorageUnavailable the last one says why: status
        None when Swift could not be reached or dropped the connection; its 5xx status when it answered
        one; 401/403 on the sign-in when Swift refused the credentials; and when Swift had forgotten the
        token during an upload whose body cannot be sent again, the upload's 401 followed by the new
        sign-in (200). A method that fails before contacting Swift (a ``bytes`` body of the wrong
        length, an unreadable key file) leaves it empty, as does a repeated ``ensure_account``."""

    def account_for(self, project_hex: str) -> str:
        """The Swift account name of a project (``{reseller_prefix}mc{project_hex}``). Contacts nothing."""

    def ensure_account(self, account: str) -> None:
        """Afterwards: the account exists and carries its temp-URL key (``temp_url`` links work).
        Raises: StorageUnavailable. Repeat: safe; once it succeeded, a repeat makes no request."""

    def healthcheck(self) -> dict:
        """Afterwards: Swift accepted the credentials (a fresh token) and its proxy answered /healthcheck.
        Returns {"url": the proxy's URL}. Raises: StorageUnavailable (also for refused credentials).
        Repeat: safe."""

    def account_stats(self, account: str) -> dict:
        """{"containers": n, "objects": n, "bytes": n} of the account (Swift's account totals, which lag a
        few seconds behind writes). Changes nothing. Raises: StorageUnavailable; a missing account counts
        as empty, not NotFound. Repeat: safe."""

    def create_container(self, account: str, container: str) -> bool:
        """Afterwards: the container exists in the (ensured) account. Returns True when this call created
        it. Raises: StorageUnavailable. Repeat: safe; it returns False and changes nothing."""

    def container_stats(self, account: str, container: str) -> ContainerStats:
        """Objects and bytes of one container, exact once the writes returned. Changes nothing.
        Raises: NotFound when the container is missing. Repeat: safe."""

    def delete_container(self, account: str, container: str) -> None:
        """Afterwards: the container is gone. Raises: ContainerNotEmpty (status 409) while it holds
        objects, and then it is left as it was. Repeat: safe; a missing container is no error."""

    def list_objects(self, account: str, container: str, prefix: str = "", delimiter: str | None = None,
                     marker: str = "", limit: int = 1000) -> ObjectListing:
        """One page of the container's listing in Swift's (UTF-8 byte) order: the names after ``marker``
        that start with ``prefix``; with a delimiter, the names holding it after the prefix are folded
        into ``prefixes`` (each once, ending with the delimiter). At most ``limit`` objects and prefixes
        together; ``next_marker`` is what to pass as ``marker`` for the next page (a folder is never
        repeated), None on the last page. Changes nothing. Raises: NotFound when the container is
        missing. Repeat: safe."""

    def put_object(self, account: str, container: str, key: str, body: BinaryIO | Iterable[bytes],
                   length: int | None, content_type: str | None) -> ObjectInfo:
        """Stream ``body`` (bytes, a file-like object or an iterable of bytes) into the object: ``length``
        bytes, or chunked when None. Without a ``content_type``, or with one that is not printable ASCII,
        it is guessed from the key (``object_content_type``).

        Afterwards: the object holds exactly the bytes sent, and the returned ObjectInfo says so (size,
        MD5 ETag, content type). An exception raised while reading ``body`` aborts the upload and
        propagates unchanged; a body that ends before ``length`` bytes, or an iterable that yields more,
        aborts it with StorageError status 400. An aborted upload leaves the object as it was before
        (the old content, or no object). A ``bytes`` body of the wrong length is refused so before any
        request. Raises: NotFound when the container is missing (some of ``body`` may have been read
        by then). Repeat: safe with the same bytes (the object is simply overwritten)."""

    def head_object(self, account: str, container: str, key: str) -> ObjectInfo | None:
        """The object's metadata, or None when it (or its container) does not exist. Changes nothing.
        Repeat: safe."""

    def get_object(self, account: str, container: str, key: str, range_header: str | None = None,
                   if_none_match: str | None = None) -> ObjectDownload:
        """Start streaming the object (see ObjectDownload): 200, 206 for a satisfiable ``range_header``,
        304 when ``if_none_match`` holds its ETag. Changes nothing. Raises: NotFound when the object or
        its container is missing; StorageError status 416 for an unsatisfiable Range. Repeat: safe."""

    def delete_object(self, account: str, container: str, key: str) -> bool:
        """Afterwards: the object is gone. Returns True when it existed. Repeat: safe; it returns False
        (also when the container is missing)."""

    def temp_url(self, account: str, container: str, key: str, expires_at: int) -> str:
        """A GET temp URL path with its query (``/v1/{account}/{container}/{key}?temp_url_sig=…
        &temp_url_expires=…``, the key percent-encoded), signed with the account's key; anyone may fetch
        the object with it until ``expires_at`` (epoch seconds). Contacts nothing. Raises:
        StorageUnavailable only when the keys derive from the reseller key (no ``temp_url_secret``) and
        its key file cannot be read on the first call that needs it. Repeat: safe; the same arguments
        give the same URL while the secret the keys derive from stays the same — a new secret (or a
        rotated reseller key when the keys derive from it) changes every account's key, so links made
        before stop working and each account needs its key put again by ``ensure_account``."""

    def get_temp_url(self, path_and_query: str, range_header: str | None = None,
                     if_none_match: str | None = None) -> ObjectDownload:
        """Fetch a temp URL made by ``temp_url`` without any token (as an anonymous visitor), streamed
        like get_object. Changes nothing. Raises: TempUrlRejected when the signature is wrong (another
        key, another path) or has expired; NotFound when the object is gone. Repeat: safe."""
