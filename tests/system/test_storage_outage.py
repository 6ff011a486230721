"""Swift stopped: the storage API answers 503 with its message (never a trace), nothing is half-recorded,
the dashboard still shows every other card; Swift started again: the same app works without a restart."""
from __future__ import annotations

import re

import pytest
from swift_fixtures import storage_overrides

pytestmark = pytest.mark.system

KO = "스토리지 서비스에 연결할 수 없습니다."
EN = "Cannot connect to the storage service."


@pytest.fixture
def config(config, swift_server):
    return config.with_overrides({**storage_overrides(swift_server), "storage.timeout_seconds": 3.0})


def cards(page: str) -> dict[str, str]:
    return dict(re.findall(r'data-card="(\w+)".*?</h2>\s*(.*?)</section>', page, re.S))


def test_swift_down_is_503_everywhere_and_back_up_works_with_the_same_app(auth, client, services, swift_server):
    alice = auth.user("alice")
    assert alice.post("/api/v1/buckets", json={"name": "photos"}).status_code == 201
    assert alice.request("PUT", "/api/v1/buckets/photos/objects/a.txt", data=b"before").status_code == 201
    client.get("/dashboard")  # the API login set the session cookie: this client is also a browser
    assert "Could not load" not in cards(client.get("/dashboard").get_data(as_text=True))["storage"]

    swift_server.stop()
    try:
        calls = [("POST", "/api/v1/buckets", {"json": {"name": "during"}}),
                 ("GET", "/api/v1/buckets/photos", {}),
                 ("GET", "/api/v1/buckets/photos/objects", {}),
                 ("PUT", "/api/v1/buckets/photos/objects/b.txt", {"data": b"during"}),
                 ("GET", "/api/v1/buckets/photos/objects/a.txt", {}),
                 ("DELETE", "/api/v1/buckets/photos/objects/a.txt", {}),
                 ("POST", "/api/v1/buckets/photos/objects/a.txt/share", {"json": {}}),
                 ("DELETE", "/api/v1/buckets/photos?force=true", {})]
        for method, path, kw in calls:
            for lang, message in (("ko", KO), ("en", EN)):
                answer = alice.request(method, path, headers={"Accept-Language": lang}, **kw)
                assert answer.status_code == 503, (method, path, answer.data)
                assert answer.json["error"]["message"] == message
                assert answer.json["error"]["code"] == "storage_unavailable"
                assert "Traceback" not in answer.text
        head = alice.request("HEAD", "/api/v1/buckets/photos/objects/a.txt")
        assert head.status_code == 503 and head.data == b""

        # nothing half-recorded: no bucket row, no reservation left, the listing still answers from the database
        assert [b["name"] for b in alice.get("/api/v1/buckets").json["items"]] == ["photos"]
        assert services.db.fetchone("SELECT count(*) AS n FROM storage_uploads")["n"] == 0
        usage = alice.get("/api/v1/quotas").json["usage"]
        assert usage["buckets"] == 1 and usage["bucket_bytes"] == len(b"before")

        # the dashboard renders; only the storage card says it cannot load
        page = client.get("/dashboard", headers={"Accept-Language": "en"})
        assert page.status_code == 200
        shown = cards(page.get_data(as_text=True))
        assert "Could not load" in shown["storage"]
        for other in ("project", "operations", "quotas", "activity"):
            assert "Could not load" not in shown[other], other
        ready = client.get("/readyz")
        assert ready.status_code == 200 and ready.json["backends"]["swift"]["status"] == "unavailable"
    finally:
        swift_server.start()

    assert alice.get("/api/v1/buckets/photos/objects/a.txt").data == b"before"
    assert alice.request("PUT", "/api/v1/buckets/photos/objects/b.txt", data=b"after").status_code == 201
    assert alice.post("/api/v1/buckets", json={"name": "during"}).status_code == 201
    assert "Could not load" not in cards(client.get("/dashboard").get_data(as_text=True))["storage"]
    assert client.get("/readyz").json["backends"]["swift"]["status"] == "ok"
    assert alice.get("/api/v1/buckets/photos").json["object_count"] == 2
