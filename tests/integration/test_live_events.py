"""Live pages (issue 11, item 3): committed changes reach the acting project's event stream, and only its.

The triggers of migration 0010 NOTIFY on changes; GET /api/v1/events (and the console's GET /events)
LISTENs on a connection of its own and passes on the acting project's events as server-sent events.
"""
from __future__ import annotations

import json
import uuid

import psycopg
import pytest
from sse_reading import frames, next_event
from test_pages import page_login
from werkzeug.test import Client

from minicloud.db import queue
from minicloud.services.events import CHANNEL


@pytest.fixture
def config(config):
    return config.with_overrides({"events.heartbeat_seconds": 1.0, "events.stream_seconds": 30.0,
                                  "database.pool_max": 2})


def open_stream(app, path="/api/v1/events", headers=None):
    """The stream as frames, read as the server produces them (a client of its own: it stays open)."""
    response = Client(app).get(path, headers=headers or {}, buffered=False)
    assert response.status_code == 200, response.get_data(as_text=True)
    assert response.mimetype == "text/event-stream"
    assert response.headers["Cache-Control"] == "no-store"
    return response, frames(response.response)


def test_a_change_arrives_and_another_projects_change_does_not(app, auth):
    alice, bob = auth.user("alice"), auth.user("bob")
    response, stream = open_stream(app, headers=alice.headers())
    try:
        first = next(stream)
        assert first.retry == 3000  # EventSource waits this long before it reconnects
        bobs = bob.post("/api/v1/vpcs", json={"name": "bobs", "cidr": "10.9.0.0/16"})
        alices = alice.post("/api/v1/vpcs", json={"name": "lab", "cidr": "10.1.0.0/16"})
        assert bobs.status_code == alices.status_code == 201
        event = next_event(stream)  # bob's change was committed first: it would come first if it leaked
        assert event.json == {"kind": "vpcs", "id": alices.json["id"], "op": "INSERT"}
        assert bobs.json["id"] not in json.dumps([event.data])
    finally:
        response.close()


def test_the_stream_follows_the_project_named_in_x_project_id(app, auth):
    alice = auth.user("alice")
    team = alice.post("/api/v1/projects", json={"name": "team"}).json["id"]
    response, stream = open_stream(app, headers=alice.headers(team))
    try:
        alice.post("/api/v1/vpcs", json={"name": "mine", "cidr": "10.2.0.0/16"})  # the personal project
        vpc = alice.post("/api/v1/vpcs", project_id=team, json={"name": "teams", "cidr": "10.3.0.0/16"}).json
        assert next_event(stream).json["id"] == vpc["id"]
    finally:
        response.close()


def test_someone_elses_project_is_not_streamed(app, auth):
    alice, bob = auth.user("alice"), auth.user("bob")
    response = Client(app).get("/api/v1/events", headers=bob.headers(alice.personal_project))
    assert response.status_code in (403, 404)
    assert response.mimetype == "application/json"
    assert Client(app).get("/api/v1/events").status_code == 401


def test_the_console_stream_uses_the_session(app, client, auth):
    auth.user("alice")
    page_login(client, password="correct-horse")
    session = client.get_cookie("mc_session")
    stream_client = Client(app)
    stream_client.set_cookie(session.key, session.value)
    response = stream_client.get("/events", buffered=False)
    try:
        assert response.status_code == 200 and response.mimetype == "text/event-stream"
        assert next(frames(response.response)).retry == 3000
    finally:
        response.close()
    assert Client(app).get("/events").status_code in (302, 303, 401)  # no session: no stream


def test_the_stream_sends_heartbeats_and_ends_by_itself(app, auth, config, services):
    services.events.stream_seconds = 2.5
    alice = auth.user("alice")
    response, stream = open_stream(app, headers=alice.headers())
    seen = list(stream)  # ends: EventSource reconnects after retry:
    assert seen[0].retry == 3000
    assert any("heartbeat" in comment for frame in seen for comment in frame.comments)
    response.close()


def test_a_process_serves_a_bounded_number_of_streams(app, auth, services):
    alice = auth.user("alice")
    services.events._slots = __import__("threading").BoundedSemaphore(1)
    first, _ = open_stream(app, headers=alice.headers())
    try:
        refused = Client(app).get("/api/v1/events", headers=alice.headers())
        assert refused.status_code == 503 and refused.headers["Retry-After"] == "3"
        assert refused.json["error"]["code"] == "too_many_streams"
    finally:
        first.close()
    second, _ = open_stream(app, headers=alice.headers())  # the slot came back when the first ended
    second.close()


def notes(conn, timeout=0.5) -> list[dict]:
    return [json.loads(n.payload) for n in conn.notifies(timeout=timeout) if n.channel == CHANNEL]


def test_jobs_notify_on_state_and_progress_but_not_on_their_lease(database_url, services, auth):
    alice = auth.user("alice")
    project = uuid.UUID(alice.personal_project)
    with psycopg.connect(database_url, autocommit=True) as listener:
        listener.execute(f"LISTEN {CHANNEL}")
        with services.db.connection() as conn:
            job = queue.enqueue(conn, "test.noop", {"secret": "never-sent"}, project_id=project, target="x:1")
        assert notes(listener) == [{"project": str(project), "kind": "jobs", "id": str(job["id"]),
                                    "state": "queued", "op": "INSERT", "target": "x:1"}]
        with services.db.connection() as conn:
            claimed = queue.claim(conn, "w1", 30)
        assert [n["state"] for n in notes(listener)] == ["running"]
        with services.db.connection() as conn:
            assert queue.extend_lease(conn, claimed, "w1", 30)
        assert notes(listener) == []  # a heartbeat is no change anyone sees
        with services.db.connection() as conn:
            queue.record_progress(conn, claimed, "w1", {"steps": [{"step": "one", "ok": True}]})
        assert [n["state"] for n in notes(listener)] == ["running"]
        with services.db.connection() as conn:
            queue.succeed(conn, claimed, "w1", {"done": True})
        assert [n["state"] for n in notes(listener)] == ["succeeded"]


def test_a_rolled_back_change_is_never_announced(database_url, services, auth):
    alice = auth.user("alice")
    with psycopg.connect(database_url, autocommit=True) as listener:
        listener.execute(f"LISTEN {CHANNEL}")
        with pytest.raises(RuntimeError):
            with services.db.connection() as conn:
                conn.execute("INSERT INTO vpcs (project_id, name, cidr) VALUES (%s, 'gone', '10.5.0.0/16')",
                             (alice.personal_project,))
                raise RuntimeError("changed my mind")
        assert notes(listener) == []


def test_open_streams_hold_no_pooled_connection(app, auth, services, config):
    """Four streams open on a pool of two: the app still answers (a stream LISTENs on a connection of its own)."""
    alice = auth.user("alice")
    streams = [open_stream(app, headers=alice.headers()) for _ in range(4)]
    try:
        for _, stream in streams:
            assert next(stream).retry == 3000  # each is really streaming
        assert alice.get("/api/v1/vpcs").status_code == 200
        made = alice.post("/api/v1/vpcs", json={"name": "still", "cidr": "10.4.0.0/16"})
        assert made.status_code == 201
        assert all(next_event(stream).json["id"] == made.json["id"] for _, stream in streams)
    finally:
        for response, _ in streams:
            response.close()
