"""Server-sent events (text/event-stream): the frames, and the streaming response that carries them.

A stream starts with ``retry:`` (how long a browser's EventSource waits before it reconnects), sends a
comment line as a heartbeat while nothing happens (so a proxy keeps the connection and a closed one is
noticed), and ends after a bounded time: the client reconnects and is authenticated again.
"""
from __future__ import annotations

import json
from typing import Any, Callable, Iterator

from werkzeug.wrappers import Response

MIMETYPE = "text/event-stream"


def frame(data: Any, event: str | None = None, id: str | None = None) -> str:
    """One event: ``data`` as one line of JSON (JSON never contains a raw newline)."""
    lines = []
    if event:
        lines.append(f"event: {event}")
    if id:
        lines.append(f"id: {id}")
    lines.append("data: " + json.dumps(data, ensure_ascii=False, separators=(",", ":")))
    return "\n".join(lines) + "\n\n"


def retry(milliseconds: int) -> str:
    return f"retry: {int(milliseconds)}\n\n"


def comment(text: str = "") -> str:
    return f": {text}\n\n"


class _Frames:
    """The frames as bytes; ``close`` (the server calls it when the answer ends or the client went away,
    also when no frame was ever asked for) ends the producer and then runs ``on_close`` once."""

    def __init__(self, frames: Iterator[str], on_close: Callable[[], None] | None):
        self._frames, self._on_close = frames, on_close

    def __iter__(self) -> Iterator[bytes]:
        for item in self._frames:
            yield item.encode("utf-8")

    def close(self) -> None:
        on_close, self._on_close = self._on_close, None
        try:
            close = getattr(self._frames, "close", None)
            if close is not None:
                close()
        finally:
            if on_close is not None:
                on_close()


def response(frames: Iterator[str], on_close: Callable[[], None] | None = None) -> Response:
    """A streamed answer: each frame is sent as soon as it is produced (no buffering, no caching);
    ``on_close`` frees what the stream held (a connection, a slot) however it ends."""
    headers = {"Cache-Control": "no-store", "X-Accel-Buffering": "no"}
    return Response(_Frames(frames, on_close), mimetype=MIMETYPE, headers=headers, direct_passthrough=True)
