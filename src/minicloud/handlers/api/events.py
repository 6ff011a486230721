"""GET /api/v1/events and the console's GET /events: the acting project's changes as server-sent events.

Each event is ``event: change`` with ``data: {"kind": "instances", "id": "…", "op": "UPDATE",
"state": "running"}`` (jobs add their ``target``). The stream starts with ``retry:``, sends a comment
as a heartbeat while nothing changes, and ends after ``events.stream_seconds``: EventSource reconnects
by itself, and each reconnection is authenticated (and its project's membership checked) again.
"""
from __future__ import annotations

import time
from typing import Iterator

from minicloud.db.pool import DatabaseUnavailable
from minicloud.web import sse
from minicloud.web.schemas import Answer

DESCRIPTION = ("text/event-stream: `event: change` frames whose data is {kind, id, op, state?, target?} — "
               "kind one of instances, jobs, apps, buckets, vpcs, subnets, security_groups, public_ips — "
               "comment lines as heartbeats; the stream ends after a few minutes (reconnect; `retry:` says when).")

STREAM = Answer(media=sse.MIMETYPE)


def stream(ctx):
    events = ctx.services.events
    feed = events.open(ctx.project.id)  # 503 now, before any byte is sent, when it cannot listen

    def frames() -> Iterator[str]:
        yield sse.retry(events.retry_ms)
        yield sse.comment("listening")
        deadline = time.monotonic() + events.stream_seconds
        while (left := deadline - time.monotonic()) > 0:
            try:
                batch = feed.wait(min(events.heartbeat_seconds, left))
            except DatabaseUnavailable:
                return  # the browser reconnects after retry:
            if not batch:
                yield sse.comment("heartbeat")
            for event in batch:
                yield sse.frame(event.public(), event="change")

    return sse.response(frames(), on_close=feed.close)
