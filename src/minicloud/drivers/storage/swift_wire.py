"""What the Swift driver puts between python-swiftclient and the wire.

* ``RecordingConnection``: swiftclient's ``HTTPConnection`` (a requests session, keep-alive) that
  sends every path exactly as swiftclient quoted it — requests would otherwise drop ``.``/``..``
  segments, so ``../x`` would become another object — and records each request (method, path
  with signatures masked, status, ms).
* ``Upload``: the caller's body in pieces, counted and held to its length; whatever reading it
  raises travels through requests unchanged (``BodyFailed``) and aborts the request, so Swift
  never stores half a body.
* ``Download``: a streamed GET body; a broken stream is ``StorageUnavailable``.
"""
from __future__ import annotations

import http.client
import logging
import re
import time
from typing import BinaryIO, Callable, Iterable, Iterator

import requests
import urllib3
from swiftclient.client import HTTPConnection
from swiftclient.utils import ReadableToIterable

from .base import StorageError, StorageUnavailable

# What a request that got no answer (or lost it midway) raises underneath swiftclient.
TRANSPORT_ERRORS = (requests.RequestException, urllib3.exceptions.HTTPError, http.client.HTTPException, OSError)
_SIG_RE = re.compile(r"(temp_url_sig=)[^&]*")
_DOT_SEGMENT = re.compile(r"(?<=/)\.{1,2}(?=/|$)")

# swiftclient logs failed requests at INFO as curl commands with the first characters of the token
# and of the reseller key: keep its logger quiet whatever the application's logging level.
logging.getLogger("swiftclient").setLevel(logging.WARNING)


def mask_path(path: str) -> str:
    """``path`` as the "underneath" panel may show it: temp-URL signatures replaced by ``***``."""
    return _SIG_RE.sub(r"\1***", path)


def keep_dot_segments(path_and_query: str) -> str:
    """The path with its ``.`` and ``..`` segments percent-encoded (the query untouched), so nothing
    on the way can collapse them: for Swift they are parts of a name."""
    path, mark, query = path_and_query.partition("?")
    return _DOT_SEGMENT.sub(lambda m: "%2E" * len(m.group()), path) + mark + query


class RecordingConnection(HTTPConnection):
    """swiftclient's connection to one Swift endpoint, sending paths as given and recording each request
    through ``record(method, path, status or None, started)``. One per thread (a requests session is not
    meant to be shared)."""

    def __init__(self, url: str, timeout: float, record: Callable[[str, str, int | None, float], None]):
        super().__init__(url, timeout=timeout)
        self.request_session.trust_env = False  # no proxies or .netrc from the environment: Swift is direct
        self._origin = f"{self.parsed_url.scheme}://{self.parsed_url.netloc}"
        self._record = record

    def _request(self, method: str, url: str, headers=None, data=None, files=None, **send_args):
        target = keep_dot_segments(url[len(self._origin):])
        session = self.request_session
        prepared = session.prepare_request(requests.Request(method, url, headers=headers, data=data, files=files))
        prepared.url = self._origin + target  # requests' own preparation would remove dot segments
        started = time.perf_counter()
        try:
            response = session.send(prepared, **send_args)
        except BaseException:
            self._record(method, target, None, started)
            raise
        self._record(method, target, response.status_code, started)
        return response


class BodyFailed(Exception):
    """Carries what reading the caller's body raised (``error``) through requests and swiftclient."""

    def __init__(self, error: BaseException):
        super().__init__(str(error))
        self.error = error


class Upload(ReadableToIterable):
    """The caller's body as the pieces swiftclient sends; ``sent`` counts their bytes. A file-like body is read
    in pieces of at most ``chunk_size``, up to ``length``; an iterable's pieces pass as they come. A body that
    ends short of ``length``, or an iterable that yields more, raises BodyFailed(StorageError 400) — for the
    longer one before the piece that completes ``length`` leaves (one piece is read ahead), so Swift never
    receives a whole body to store. swiftclient sends a ReadableToIterable as it is."""

    def __init__(self, body: BinaryIO | Iterable[bytes], length: int | None, chunk_size: int):
        super().__init__(body, chunk_size)
        self.length = length
        self.sent = 0
        self._pieces = self._read(body) if hasattr(body, "read") else iter(body)

    def _read(self, body: BinaryIO) -> Iterator[bytes]:
        while self.length is None or self.sent < self.length:
            size = self.chunk_size if self.length is None else min(self.chunk_size, self.length - self.sent)
            piece = body.read(size)
            if not piece:
                return
            yield piece

    def _next_piece(self) -> bytes | None:
        """The body's next non-empty piece, None at its end; the caller's error as BodyFailed."""
        try:
            for piece in self._pieces:
                if piece:
                    return piece
        except Exception as exc:  # noqa: BLE001 - the caller's own error, re-raised by the driver as it is
            raise BodyFailed(exc) from exc
        return None

    def __next__(self) -> bytes:
        piece = self._next_piece()
        if piece is None:
            if self.length is not None and self.sent != self.length:
                raise BodyFailed(StorageError(f"the body ended after {self.sent} of {self.length} bytes", 400))
            raise StopIteration
        self.sent += len(piece)
        if self.length is not None and (self.sent > self.length or (
                self.sent == self.length and self._next_piece() is not None)):
            raise BodyFailed(StorageError(f"the body is longer than its length ({self.length} bytes)", 400))
        return piece


class SizedUpload(Upload):
    """An Upload with a Content-Length (requests takes it from ``len``)."""

    def __len__(self) -> int:
        return self.length


class Download:
    """The body of a streamed GET (swiftclient's object body): pieces until the end, then its connection goes
    back to the session; ``close()`` before the end drops the connection. A stream that breaks midway (or ends
    short of its Content-Length) raises StorageUnavailable."""

    def __init__(self, body):
        self._body = body

    def __iter__(self) -> "Download":
        return self

    def __next__(self) -> bytes:
        if self._body is None:
            raise StopIteration
        try:
            piece = self._body.read(self._body.chunk_size)
        except TRANSPORT_ERRORS as exc:
            self.close()
            raise StorageUnavailable(f"Swift dropped the download: {type(exc).__name__}") from None
        if not piece:
            self.close()
            raise StopIteration
        return piece

    def close(self) -> None:
        body, self._body = self._body, None
        if body is not None:
            body.close()
