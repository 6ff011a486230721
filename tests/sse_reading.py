"""Reading a server-sent-events answer in tests: frames as they arrive, from a WSGI or an HTTP stream."""
from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Iterable, Iterator


@dataclass
class Frame:
    event: str | None = None
    data: str | None = None
    id: str | None = None
    retry: int | None = None
    comments: list[str] = field(default_factory=list)

    @property
    def json(self):
        return json.loads(self.data)


def frames(chunks: Iterable[bytes]) -> Iterator[Frame]:
    """Each blank-line-terminated block of the stream as a Frame (text/event-stream syntax)."""
    buffer = ""
    for chunk in chunks:
        buffer += chunk.decode("utf-8")
        while "\n\n" in buffer:
            block, buffer = buffer.split("\n\n", 1)
            frame = Frame()
            for line in block.split("\n"):
                name, _, value = line.partition(":")
                value = value[1:] if value.startswith(" ") else value
                if name == "":
                    frame.comments.append(value)
                elif name == "data":
                    frame.data = value if frame.data is None else frame.data + "\n" + value
                elif name == "event":
                    frame.event = value
                elif name == "id":
                    frame.id = value
                elif name == "retry":
                    frame.retry = int(value)
            yield frame


def next_event(stream: Iterator[Frame], event: str = "change") -> Frame:
    """The next frame that is an event named ``event`` (heartbeats and others skipped); AssertionError when
    the stream ends first."""
    for frame in stream:
        if frame.event == event:
            return frame
    raise AssertionError(f"the stream ended without an {event!r} event")
