"""GET /api/v1/instances/{id}/console/stream: a mini PC's serial console output as it is printed.

The server follows the console log (``console_read`` from the last offset shown, every
``POLL_SECONDS``) and sends ``event: output`` frames whose data is ``{"data": "<text>"}`` — raw
terminal output, escape sequences kept, secret-looking lines masked (services/console_text.py) — each
with ``id:`` the log offset it reaches, so a reconnecting EventSource (``Last-Event-ID``) resumes where it
was, without repeating or losing output (``?from=`` does the same for a new EventSource). Without either
it starts with the log's last 64 KiB.
Typing goes the other way: POST /api/v1/instances/{id}/console.
"""
from __future__ import annotations

import time
from typing import Iterator

from minicloud.errors import ServiceUnavailable
from minicloud.services.console_text import ConsoleDecoder, without_terminal_queries
from minicloud.web import sse
from minicloud.web.schemas import Answer

POLL_SECONDS = 0.2
DESCRIPTION = ("text/event-stream: `event: output` frames whose data is {data: text} (terminal output with its "
               "escape sequences; secret-looking lines masked), `id:` the log offset reached (send it back as "
               "Last-Event-ID to resume); the stream ends after a few minutes (reconnect)")
STREAM = Answer(media=sse.MIMETYPE)


STREAM_QUERY = {"type": "object", "additionalProperties": False, "properties": {
    "from": {"type": "integer", "minimum": 0, "maximum": 2 ** 53,
             "description": "Resume at this log offset (an event's id), as the Last-Event-ID header does"}}}


def _resume_offset(ctx) -> int | None:
    """Where to resume: the Last-Event-ID a reconnecting EventSource sends, else ?from=, else None (the tail)."""
    raw = ctx.request.headers.get("Last-Event-ID", "").strip()
    if raw.isdigit() and len(raw) < 16:
        return int(raw)
    return ctx.query().get("from")


def stream(ctx, instance_id):
    read = ctx.services.instances.console_reader(ctx.project, instance_id)  # 404 before streaming
    events = ctx.services.events
    offset = _resume_offset(ctx)
    release = events.follow_slot()  # 503 when this process follows its most consoles already

    def frames() -> Iterator[str]:
        nonlocal offset
        yield sse.retry(events.retry_ms)
        yield sse.comment("following")
        decoder: ConsoleDecoder | None = None
        deadline = time.monotonic() + events.stream_seconds
        quiet_since = time.monotonic()
        while time.monotonic() < deadline:
            try:
                data, reached = read(offset)
            except ServiceUnavailable:
                return  # the log cannot be read now: the browser reconnects after retry:
            if decoder is None:
                start = reached - len(data)
                if offset is None and start > 0:  # a tail starts mid-line: from the next full line
                    cut = data.find(b"\n") + 1
                    data, start = data[cut:], start + cut
                decoder = ConsoleDecoder(start)
                if offset is None:  # history: what it asked its terminal then needs no answer now
                    data = without_terminal_queries(data)
            text = decoder.feed(data, reached)
            offset = reached
            if text:
                quiet_since = time.monotonic()
                yield sse.frame({"data": text}, event="output", id=str(decoder.shown_to))
            elif time.monotonic() - quiet_since >= events.heartbeat_seconds:
                quiet_since = time.monotonic()
                yield sse.comment("heartbeat")
            if len(data) < 65536:
                time.sleep(POLL_SECONDS)

    return sse.response(frames(), on_close=release)
