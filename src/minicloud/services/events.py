"""Change events: what the triggers of migration 0010 announce on ``CHANNEL``, for one project's eyes.

A feed is one subscriber's ``LISTEN`` on a connection of its own (never one of the pool's: a page's
stream is open for minutes and must not hold a connection the requests need). It hands out only the
events of the project it was opened for; the payloads carry ids and states, never secrets or user text.
A process opens at most ``events.max_streams`` feeds at once (503 past that; a browser's EventSource
tries again by itself).
"""
from __future__ import annotations

import json
import logging
import threading
import uuid
from dataclasses import dataclass
from typing import Callable

import psycopg
from psycopg import sql

from minicloud.config import Config
from minicloud.db.pool import Database, DatabaseUnavailable
from minicloud.errors import ServiceUnavailable

log = logging.getLogger("minicloud.events")

CHANNEL = "minicloud_events"
KINDS = ("instances", "jobs", "apps", "buckets", "vpcs", "subnets", "security_groups", "public_ips")


@dataclass(frozen=True)
class Event:
    """One committed change: the project it belongs to, what kind of row, which, and its state (if it has one)."""

    project: uuid.UUID
    kind: str
    id: str
    op: str
    state: str | None = None
    target: str | None = None

    def public(self) -> dict:
        """The event as a stream sends it (the project is the stream's own, so it is left out)."""
        out = {"kind": self.kind, "id": self.id, "op": self.op}
        if self.state is not None:
            out["state"] = self.state
        if self.target is not None:
            out["target"] = self.target
        return out


def parse(payload: str) -> Event | None:
    """The trigger's JSON payload as an Event; None for anything else (a payload we did not send)."""
    try:
        data = json.loads(payload)
        if data.get("kind") not in KINDS:
            return None
        return Event(project=uuid.UUID(data["project"]), kind=data["kind"], id=str(uuid.UUID(data["id"])),
                     op=str(data["op"]), state=data.get("state"), target=data.get("target"))
    except (ValueError, KeyError, TypeError, AttributeError):
        return None


class Feed:
    """A dedicated connection listening on ``CHANNEL``, yielding the events of one project."""

    def __init__(self, url: str, project_id: uuid.UUID, release):
        self.project_id = project_id
        self._release = release
        try:
            self._conn = psycopg.connect(url, autocommit=True, connect_timeout=5)
            self._conn.execute(sql.SQL("LISTEN {}").format(sql.Identifier(CHANNEL)))
        except psycopg.OperationalError as exc:
            release()
            raise DatabaseUnavailable(str(exc)) from exc

    def wait(self, timeout: float) -> list[Event]:
        """The project's events that arrive within ``timeout`` seconds (returns at the first batch)."""
        events: list[Event] = []
        try:
            for note in self._conn.notifies(timeout=timeout, stop_after=1):
                self._keep(note.payload, events)
            # whatever else is already waiting comes in the same batch
            for note in self._conn.notifies(timeout=0.05):
                self._keep(note.payload, events)
        except psycopg.OperationalError as exc:
            raise DatabaseUnavailable(str(exc)) from exc
        return events

    def _keep(self, payload: str, events: list[Event]) -> None:
        event = parse(payload)
        if event is not None and event.project == self.project_id and event not in events:
            events.append(event)

    def close(self) -> None:
        try:
            self._conn.close()
        finally:
            self._release()

    def __enter__(self) -> "Feed":
        return self

    def __exit__(self, *exc) -> None:
        self.close()


class Events:
    def __init__(self, db: Database, config: Config):
        self.db = db
        self.stream_seconds = float(config.get("events.stream_seconds"))
        self.heartbeat_seconds = float(config.get("events.heartbeat_seconds"))
        self.retry_ms = int(config.get("events.retry_ms"))
        self._slots = threading.BoundedSemaphore(int(config.get("events.max_streams")))
        self._follow_slots = threading.BoundedSemaphore(int(config.get("events.max_streams")))

    def _take(self, slots: threading.BoundedSemaphore) -> None:
        if not slots.acquire(blocking=False):
            raise ServiceUnavailable("events.too_many_streams", code="too_many_streams",
                                     headers={"Retry-After": str(max(1, self.retry_ms // 1000))})

    def open(self, project_id: uuid.UUID) -> Feed:
        """A feed of ``project_id``'s changes from now on (the caller has checked membership). Close it.
        Raises ServiceUnavailable when this process already serves its most streams, or the database is down."""
        self._take(self._slots)
        return Feed(self.db.url, project_id, self._slots.release)

    def follow_slot(self) -> Callable[[], None]:
        """Room for one more stream that follows something else (a console log); returns its release.
        Raises ServiceUnavailable when this process already follows ``events.max_streams``."""
        self._take(self._follow_slots)
        return self._follow_slots.release
