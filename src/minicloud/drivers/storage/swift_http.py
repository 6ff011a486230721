"""The HTTP wire under the Swift driver: endpoints, replies, streamed request bodies with
``Expect: 100-continue``, and aborting a request so that Swift never stores half a body."""
from __future__ import annotations

import http.client
import re
import select
import socket
import ssl
import struct
import time
from dataclasses import dataclass
from typing import BinaryIO, Iterable, Iterator
from urllib.parse import urlsplit

from .base import StorageError


@dataclass(frozen=True)
class Endpoint:
    scheme: str
    host: str
    port: int

    @classmethod
    def of(cls, url: str) -> tuple["Endpoint", str]:
        """(endpoint, path) of an absolute http(s) URL."""
        parts = urlsplit(url)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise StorageError(f"not an http(s) URL: {url!r}")
        port = parts.port or (443 if parts.scheme == "https" else 80)
        return cls(parts.scheme, parts.hostname, port), parts.path

    def __str__(self) -> str:
        return f"{self.scheme}://{self.host}:{self.port}"


@dataclass
class Reply:
    status: int
    headers: http.client.HTTPMessage
    response: http.client.HTTPResponse
    connection: http.client.HTTPConnection | None  # set while the body of a streamed reply is unread
    data: bytes = b""
    sent: int = 0        # body bytes sent with the request


class Upload:
    """Sends a caller's body on a connection and remembers how far it got."""

    def __init__(self, body: BinaryIO | Iterable[bytes] | bytes, length: int | None, chunk_size: int):
        self.body = body
        self.length = length
        self.chunk_size = chunk_size
        self.touched = False   # the body was read from: the request cannot be replayed
        self.failed = False    # reading the body raised: propagate that exception unchanged
        self.sent = 0

    @property
    def replayable(self) -> bool:
        return not self.touched or self.length == 0

    def headers(self) -> dict[str, str]:
        if self.length is None:
            return {"Transfer-Encoding": "chunked"}
        return {"Content-Length": str(self.length)}

    def _pieces(self) -> Iterator[bytes]:
        body, remaining = self.body, self.length
        if isinstance(body, (bytes, bytearray, memoryview)):
            yield body
        elif hasattr(body, "read"):
            read = body.read
            while remaining is None or remaining > 0:
                size = self.chunk_size if remaining is None else min(self.chunk_size, remaining)
                piece = read(size)
                if not piece:
                    return
                if remaining is not None:
                    remaining -= len(piece)
                yield piece
        else:
            yield from body

    def send(self, conn: http.client.HTTPConnection) -> None:
        """Write the whole body; on a body exception reset the connection and re-raise it as is."""
        sock = conn.sock
        chunked = self.length is None
        pieces = self._pieces()
        self.touched = True
        while True:
            try:
                piece = next(pieces)
            except StopIteration:
                break
            except BaseException:
                self.failed = True
                abort_connection(conn)
                raise
            if not piece:
                continue
            if self.length is not None and self.sent + len(piece) > self.length:
                self.failed = True
                abort_connection(conn)
                raise StorageError(f"the body is longer than its length ({self.length} bytes)", status=400)
            sock.sendall(b"%x\r\n%b\r\n" % (len(piece), piece) if chunked else piece)
            self.sent += len(piece)
        if chunked:
            sock.sendall(b"0\r\n\r\n")
        elif self.sent != self.length:
            self.failed = True
            abort_connection(conn)
            raise StorageError(f"the body ended after {self.sent} of {self.length} bytes", status=400)


def abort_connection(conn: http.client.HTTPConnection) -> None:
    """Close with a TCP reset: the other side sees a broken request, never a complete one."""
    sock = conn.sock
    if sock is not None:
        try:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        except OSError:
            pass
    conn.close()


def await_continue(conn: http.client.HTTPConnection, timeout: float) -> bool:
    """After headers with ``Expect: 100-continue``: True when the body should be sent (Swift said
    100 Continue, or said nothing within ``timeout``), False when a final answer is already waiting."""
    sock = conn.sock
    if sock is None or isinstance(sock, ssl.SSLSocket):  # MSG_PEEK needs a plain socket
        return True
    deadline = time.monotonic() + timeout
    seen = b""
    while True:
        ready, _, _ = select.select([sock], [], [], max(0.0, deadline - time.monotonic()))
        if not ready:
            return True
        peeked = sock.recv(4096, socket.MSG_PEEK)
        if not peeked:
            return False  # closed: getresponse() reports it
        data = seen + peeked
        if len(data) >= 12 and not re.match(rb"HTTP/1\.[01] 100", data):
            return False
        end = data.find(b"\r\n\r\n")
        take = (end + 4 - len(seen)) if end >= 0 else len(peeked)
        while take > 0:  # consume exactly the interim response, nothing of what follows
            got = sock.recv(take)
            if not got:
                return False
            seen += got
            take -= len(got)
        if end >= 0:
            return True
