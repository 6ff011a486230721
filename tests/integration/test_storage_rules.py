"""Storage rules that need no Swift: names and keys are checked before any Swift call, Swift's
answers are mapped to the API's errors, and the calls each operation made are recorded.

The driver is the in-memory stand-in of tests/storage_standin.py, which records what it was asked.
"""
from __future__ import annotations

import io

import pytest
from storage_standin import StandinSwift

from minicloud.services import Services
from minicloud.services.backends import Backends

NAME_KO = "버킷 이름은 소문자, 숫자, 하이픈(-)만 사용할 수 있습니다."
NAME_EN = "Bucket names may only use lowercase letters, digits and hyphens (-)."


@pytest.fixture
def swift():
    return StandinSwift()


@pytest.fixture
def services(config, clean_db, swift):
    services = Services.from_config(config, Backends.from_config(config, storage=swift))
    yield services
    services.close()


def test_bad_bucket_names_are_refused_before_swift_hears_anything(auth, swift):
    alice = auth.user("alice")
    for bad in ["ab", "Photos", "-photos", "photos-", "pho_tos", "a" * 64, "사진", ""]:
        for lang, message in (("ko", NAME_KO), ("en", NAME_EN)):
            answer = alice.post("/api/v1/buckets", json={"name": bad}, headers={"Accept-Language": lang})
            assert answer.status_code == 422, bad
            assert answer.json["error"]["details"]["fields"]["name"] == message
            assert answer.json["error"]["message"] == message
    assert swift.requests == []
    assert alice.post("/api/v1/buckets", json={"name": "a-1"}).status_code == 201
    assert alice.post("/api/v1/buckets", json={"name": "x" * 63}).status_code == 201


def test_bad_keys_are_refused_before_swift_hears_anything(auth, swift):
    alice = auth.user("alice")
    assert alice.post("/api/v1/buckets", json={"name": "docs"}).status_code == 201
    swift.requests.clear()
    too_long = "k" * 1025
    answer = alice.request("PUT", f"/api/v1/buckets/docs/objects/{too_long}", data=b"x")
    assert answer.status_code == 422 and "key" in answer.json["error"]["details"]["fields"]
    assert alice.request("PUT", "/api/v1/buckets/docs/objects/a%00b", data=b"x").status_code == 422
    assert swift.requests == []
    assert alice.request("PUT", "/api/v1/buckets/docs/objects/" + "가" * 341, data=b"x").status_code == 201


def test_swift_down_leaves_no_bucket_row_and_answers_503_in_both_languages(auth, swift, services):
    alice = auth.user("alice")
    swift.down = True
    answer = alice.post("/api/v1/buckets", json={"name": "photos"}, headers={"Accept-Language": "ko"})
    assert answer.status_code == 503
    assert answer.json["error"]["message"] == "스토리지 서비스에 연결할 수 없습니다."
    answer = alice.post("/api/v1/buckets", json={"name": "photos"})
    assert answer.json["error"]["message"] == "Cannot connect to the storage service."
    assert services.db.fetchone("SELECT count(*) AS n FROM buckets")["n"] == 0
    swift.down = False
    assert alice.post("/api/v1/buckets", json={"name": "photos"}).status_code == 201


def test_operations_record_their_swift_calls_and_keep_the_newest_fifty(auth, services):
    alice = auth.user("alice")
    project = alice.personal_project
    assert alice.post("/api/v1/buckets", json={"name": "logs"}).status_code == 201
    activity = services.storage.activity(project)
    assert activity[0]["operation"] == "create_bucket" and activity[0]["bucket"] == "logs"
    # the first request signs in; a new account gets its temp-URL key (POST) before its container
    assert [c["method"] for c in activity[0]["calls"]] == ["GET", "HEAD", "POST", "PUT"]
    for n in range(55):
        assert alice.request("PUT", f"/api/v1/buckets/logs/objects/n{n}", data=b"x").status_code == 201
    count = services.db.fetchone("SELECT count(*) AS n FROM storage_activity WHERE project_id = %s", (project,))
    assert count["n"] == 50
    newest = services.storage.activity(project, "logs", limit=1)[0]
    assert newest["key"] == "n54" and [c["method"] for c in newest["calls"]] == ["PUT", "HEAD"]


def test_a_chunked_upload_past_the_limit_is_aborted_with_413(config, auth, services, swift):
    services.config = config.with_overrides({"storage.max_object_bytes": 1000})
    services.storage.config = services.config
    alice = auth.user("alice")
    project = alice.personal_project
    assert alice.post("/api/v1/buckets", json={"name": "big"}).status_code == 201
    with pytest.raises(Exception) as failure:
        services.storage.put_object(project, "big", "huge.bin", io.BytesIO(b"x" * 5000), None, None)
    assert failure.value.status == 413
    assert swift.accounts[swift.account_for(project.replace("-", ""))]["big"] == {}
    assert services.db.fetchone("SELECT count(*) AS n FROM storage_uploads")["n"] == 0


def test_sync_repairs_figures_changed_behind_minicloud(auth, services, swift):
    alice = auth.user("alice")
    assert alice.post("/api/v1/buckets", json={"name": "drift"}).status_code == 201
    account = swift.account_for(alice.personal_project.replace("-", ""))
    swift.accounts[account]["drift"]["direct.bin"] = (b"x" * 777, "application/octet-stream")
    assert alice.get("/api/v1/quotas").json["usage"]["bucket_bytes"] == 0
    assert services.storage.sync() == 1
    assert alice.get("/api/v1/quotas").json["usage"]["bucket_bytes"] == 777
    swift.down = True
    assert services.storage.sync() == 0  # Swift unreachable: the pass stops, nothing changes
    assert alice.get("/api/v1/quotas").json["usage"]["bucket_bytes"] == 777


def test_a_streaming_route_leaves_the_form_csrf_check_to_its_handler(config, services, auth):
    """A multipart post to a ``streams_body`` route is not parsed before the handler runs; the handler
    checks the token itself with ctx.check_csrf."""
    from werkzeug.test import Client

    from minicloud.app import App
    from minicloud.web.router import Route
    from minicloud.routes import ROUTES

    seen = {}

    def handler(ctx):
        seen["pending"] = ctx.csrf_pending
        seen["form_parsed"] = "form" in ctx.request.__dict__
        ctx.check_csrf(ctx.request.headers.get("X-Test-Token"))
        return ctx.respond({"ok": True})

    route = Route("POST", "/test-stream", "test.stream", handler, api=False, streams_body=True)
    client = Client(App(config, services, [*ROUTES, route]))
    auth.client = client
    auth.user("alice")  # the API login also sets the browser session cookie on this client
    client.get("/dashboard")
    token = client.get_cookie("mc_csrf").value
    body = {"csrf_token": token, "file": (io.BytesIO(b"data"), "a.txt")}
    refused = client.post("/test-stream", data=body)
    assert refused.status_code == 403 and seen == {"pending": True, "form_parsed": False}
    body = {"csrf_token": token, "file": (io.BytesIO(b"data"), "a.txt")}
    assert client.post("/test-stream", data=body, headers={"X-Test-Token": token}).status_code == 200


def test_put_object_takes_an_iterable_of_chunks_too(auth, services, swift):
    alice = auth.user("alice")
    assert alice.post("/api/v1/buckets", json={"name": "parts"}).status_code == 201
    stored = services.storage.put_object(alice.personal_project, "parts", "joined.txt", iter([b"ab", b"cd"]), None, None)
    assert stored["size"] == 4 and stored["content_type"] == "text/plain"
    assert alice.get("/api/v1/buckets/parts/objects/joined.txt").data == b"abcd"


def test_a_reservation_left_by_a_crashed_upload_is_freed_by_the_sync_pass(auth, services):
    alice = auth.user("alice")
    project = alice.personal_project
    assert alice.post("/api/v1/buckets", json={"name": "big"}).status_code == 201
    services.quotas.set_limits(project, {"bucket_bytes": 1000})
    bucket_id = services.db.fetchone("SELECT id FROM buckets WHERE name = 'big'")["id"]
    # an upload whose server died: its reservation stays behind
    services.db.execute("INSERT INTO storage_uploads (project_id, bucket_id, object_key, bytes, started_at)"
                        " VALUES (%s, %s, 'lost.bin', 900, now() - interval '13 hours')", (project, bucket_id))
    assert alice.request("PUT", "/api/v1/buckets/big/objects/a.bin", data=b"x" * 500).status_code == 403
    services.storage.sync()
    assert alice.request("PUT", "/api/v1/buckets/big/objects/a.bin", data=b"x" * 500).status_code == 201
