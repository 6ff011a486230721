"""The mini PC terminal's output (issue 11, item 4): streamed as server-sent events, secrets masked.

GET /api/v1/instances/{id}/console/stream follows the console log server-side; what is typed goes to
POST /api/v1/instances/{id}/console as raw bytes (Ctrl-C, arrows, Tab intact).
"""
from __future__ import annotations

import pytest
from compute_fixtures import compute_overrides
from sse_reading import frames, next_event
from werkzeug.test import Client


HASH = "$6$rounds=4096$saltsalt$" + "Ab1/" * 20


@pytest.fixture
def config(config):
    return compute_overrides(config).with_overrides({"events.heartbeat_seconds": 1.0,
                                                     "events.stream_seconds": 30.0})


@pytest.fixture
def running(auth, compute, cloud, work):
    alice = auth.user("alice")
    made = alice.post("/api/v1/instances", json={"name": "pc1", "template_id": compute["tid"]("nano")})
    assert made.status_code == 202, made.json
    work()
    return alice, made.json["id"]


def open_console(app, user, instance_id, **headers):
    response = Client(app).get(f"/api/v1/instances/{instance_id}/console/stream",
                               headers=user.headers(**headers), buffered=False)
    assert response.status_code == 200, response.get_data(as_text=True)
    assert response.mimetype == "text/event-stream"
    return response, frames(response.response)


def test_output_streams_as_it_is_printed_with_keys_intact(app, running, cloud):
    alice, instance_id = running
    response, stream = open_console(app, alice, instance_id)
    try:
        assert next(stream).retry == 3000
        first = next_event(stream, "output")
        assert first.json["data"] == f"mc-{instance_id} login: "
        for keys in ("\x03", "\x1b[A", "\t", "ls -l\r"):  # Ctrl-C, arrow up, Tab, a line
            assert alice.post(f"/api/v1/instances/{instance_id}/console", json={"input": keys}).status_code == 204
        seen = ""
        while "ls -l\r" not in seen:
            seen += next_event(stream, "output").json["data"]
        assert seen == "\x03\x1b[A\tls -l\r"  # raw: the escape sequence is not stripped from the terminal
        assert cloud.typed[f"mc-{instance_id}"] == ["\x03", "\x1b[A", "\t", "ls -l\r"]
    finally:
        response.close()


def test_a_reconnection_resumes_where_the_last_event_was(app, running):
    alice, instance_id = running
    response, stream = open_console(app, alice, instance_id)
    first = next_event(stream, "output")
    response.close()
    alice.post(f"/api/v1/instances/{instance_id}/console", json={"input": "after\r"})
    again, stream = open_console(app, alice, instance_id, **{"Last-Event-ID": first.id})
    try:
        assert next_event(stream, "output").json["data"] == "after\r"  # nothing repeated, nothing lost
    finally:
        again.close()


def test_a_hash_on_the_console_is_masked_in_the_stream_and_the_text_console(app, running):
    alice, instance_id = running
    line = f"    passwd: {HASH}\r\n"
    assert alice.post(f"/api/v1/instances/{instance_id}/console", json={"input": line}).status_code == 204
    response, stream = open_console(app, alice, instance_id)
    try:
        shown = next_event(stream, "output").json["data"]
    finally:
        response.close()
    assert "passwd: ********" in shown and "$6$" not in shown and "saltsalt" not in shown
    text = alice.get(f"/api/v1/instances/{instance_id}/console").json["output"]
    assert "passwd: ********" in text and "saltsalt" not in text


def test_another_projects_console_is_not_found(app, running, auth):
    _, instance_id = running
    bob = auth.user("bob")
    response = Client(app).get(f"/api/v1/instances/{instance_id}/console/stream", headers=bob.headers())
    assert response.status_code == 404 and response.mimetype == "application/json"


def test_history_asks_the_new_terminal_nothing_but_live_output_may(app, running):
    alice, instance_id = running
    alice.post(f"/api/v1/instances/{instance_id}/console", json={"input": "~ # \x1b[6n"})
    response, stream = open_console(app, alice, instance_id)
    try:
        history = next_event(stream, "output").json["data"]
        assert history.endswith("~ # ") and "\x1b[6n" not in history  # no answer typed into the shell for it
        alice.post(f"/api/v1/instances/{instance_id}/console", json={"input": "\x1b[6n"})
        assert next_event(stream, "output").json["data"] == "\x1b[6n"  # now a question: the terminal answers
    finally:
        response.close()


def test_a_new_stream_can_resume_from_an_offset_in_the_query(app, running):
    alice, instance_id = running
    response, stream = open_console(app, alice, instance_id)
    first = next_event(stream, "output")
    response.close()
    alice.post(f"/api/v1/instances/{instance_id}/console", json={"input": "later\r"})
    response = Client(app).get(f"/api/v1/instances/{instance_id}/console/stream?from={first.id}",
                               headers=alice.headers(), buffered=False)
    try:
        assert next_event(frames(response.response), "output").json["data"] == "later\r"
    finally:
        response.close()
    refused = Client(app).get(f"/api/v1/instances/{instance_id}/console/stream?from=-1", headers=alice.headers())
    assert refused.status_code == 422 and refused.json["error"]["details"]["fields"].keys() == {"from"}
