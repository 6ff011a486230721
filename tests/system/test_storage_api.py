"""The storage API on a real Swift: buckets, objects streamed both ways, share links, quotas, isolation.

Every request goes through the WSGI app to the local Swift that tests/swift_fixtures.py runs.
"""
from __future__ import annotations

import hashlib
import io
import threading
import time
from urllib.parse import quote, urlsplit

import pytest
from swift_fixtures import storage_overrides
from werkzeug.test import Client

pytestmark = pytest.mark.system

MAX_OBJECT = 256 * 1024


@pytest.fixture
def config(config, swift_server):
    return config.with_overrides({**storage_overrides(swift_server), "storage.max_object_bytes": MAX_OBJECT,
                                  "database.pool_max": 12})


def objects_url(bucket: str, key: str = "") -> str:
    return f"/api/v1/buckets/{bucket}/objects" + (f"/{quote(key)}" if key else "")


def put(user, bucket, key, data: bytes, **kw):
    return user.request("PUT", objects_url(bucket, key), data=data, **kw)


@pytest.fixture
def alice(auth):
    user = auth.user("alice")
    assert user.post("/api/v1/buckets", json={"name": "photos"}).status_code == 201
    return user


def test_create_list_get_and_the_name_rules(auth):
    alice = auth.user("alice")
    created = alice.post("/api/v1/buckets", json={"name": "my-photos-1"})
    assert created.status_code == 201
    assert created.json["name"] == "my-photos-1" and created.json["object_count"] == 0 and created.json["bytes"] == 0
    assert created.headers["Location"] == "/api/v1/buckets/my-photos-1"
    ko = alice.post("/api/v1/buckets", json={"name": "My_Photos"}, headers={"Accept-Language": "ko"})
    assert ko.status_code == 422
    assert ko.json["error"]["details"]["fields"]["name"] == "버킷 이름은 소문자, 숫자, 하이픈(-)만 사용할 수 있습니다."
    en = alice.post("/api/v1/buckets", json={"name": "-x-"})
    assert en.json["error"]["details"]["fields"]["name"] == \
        "Bucket names may only use lowercase letters, digits and hyphens (-)."
    dup = alice.post("/api/v1/buckets", json={"name": "my-photos-1"}, headers={"Accept-Language": "ko"})
    assert dup.status_code == 409 and dup.json["error"]["message"] == "이미 사용 중인 버킷 이름입니다."
    dup = alice.post("/api/v1/buckets", json={"name": "my-photos-1"})
    assert dup.json["error"]["message"] == "This bucket name is already in use."
    listing = alice.get("/api/v1/buckets").json
    assert listing["next"] is None and [b["name"] for b in listing["items"]] == ["my-photos-1"]
    assert set(listing["items"][0]) >= {"name", "object_count", "bytes", "created_at"}
    assert alice.get("/api/v1/buckets/my-photos-1").json["name"] == "my-photos-1"
    assert alice.get("/api/v1/buckets/nothing-here").status_code == 404


def test_upload_download_head_and_delete_an_object(alice, services):
    data = b"hello, swift\n" * 1000
    uploaded = put(alice, "photos", "notes/hello.txt", data)
    assert uploaded.status_code == 201
    assert uploaded.json["key"] == "notes/hello.txt" and uploaded.json["size"] == len(data)
    assert uploaded.json["etag"] == hashlib.md5(data).hexdigest()
    assert uploaded.json["content_type"].startswith("text/plain")  # guessed from the key
    got = alice.get(objects_url("photos", "notes/hello.txt"))
    assert got.status_code == 200 and got.data == data
    assert got.headers["Content-Length"] == str(len(data)) and got.headers["Accept-Ranges"] == "bytes"
    assert got.headers["ETag"].strip('"') == hashlib.md5(data).hexdigest() and got.headers["Last-Modified"]
    bucket = alice.get("/api/v1/buckets/photos").json
    assert bucket["object_count"] == 1 and bucket["bytes"] == len(data)

    head = alice.request("HEAD", objects_url("photos", "notes/hello.txt"))
    assert head.status_code == 200 and head.data == b"" and head.headers["Content-Length"] == str(len(data))
    assert [c["method"] for c in services.storage.last_calls()] == ["HEAD"]  # no GET to Swift for a HEAD

    typed = put(alice, "photos", "raw", b"{}", headers={"Content-Type": "application/json"})
    assert typed.json["content_type"] == "application/json"
    assert put(alice, "photos", "blob", b"\x00\x01").json["content_type"] == "application/octet-stream"

    assert alice.delete(objects_url("photos", "notes/hello.txt")).status_code == 204
    assert alice.get(objects_url("photos", "notes/hello.txt")).status_code == 404
    assert alice.delete(objects_url("photos", "notes/hello.txt")).status_code == 404
    assert alice.request("HEAD", objects_url("photos", "notes/hello.txt")).status_code == 404


def test_keys_are_any_utf8_and_dot_dot_is_just_a_name(alice):
    for key in ("../x", "폴더/보고서 2024.pdf", "a b+c%d?e#f", "x" * 1024):
        assert put(alice, "photos", key, key.encode()).status_code == 201, key
        assert alice.get(objects_url("photos", key)).data == key.encode()
    assert put(alice, "photos", "x" * 1025, b"x").status_code == 422
    keys = [o["key"] for o in alice.get(objects_url("photos") + "?limit=500").json["items"]]
    assert "../x" in keys and "폴더/보고서 2024.pdf" in keys


def test_overwriting_a_key_does_not_count_twice(alice):
    put(alice, "photos", "same", b"a" * 1000)
    put(alice, "photos", "same", b"b" * 300)
    bucket = alice.get("/api/v1/buckets/photos").json
    assert bucket["object_count"] == 1 and bucket["bytes"] == 300
    assert alice.get("/api/v1/quotas").json["usage"]["bucket_bytes"] == 300


def test_folder_view_and_pagination(alice):
    for key in ("a.txt", "docs/1.txt", "docs/2.txt", "docs/deep/3.txt", "img/x.png", "z.txt"):
        assert put(alice, "photos", key, b"x").status_code == 201
    top = alice.get(objects_url("photos") + "?delimiter=/").json
    assert [o["key"] for o in top["items"]] == ["a.txt", "z.txt"] and top["prefixes"] == ["docs/", "img/"]
    docs = alice.get(objects_url("photos") + "?delimiter=/&prefix=docs/").json
    assert [o["key"] for o in docs["items"]] == ["docs/1.txt", "docs/2.txt"] and docs["prefixes"] == ["docs/deep/"]
    assert set(docs["items"][0]) == {"key", "size", "etag", "content_type", "last_modified"}
    seen, cursor = [], None
    while True:
        page = alice.get(objects_url("photos") + "?limit=4" + (f"&cursor={cursor}" if cursor else "")).json
        seen += [o["key"] for o in page["items"]]
        cursor = page["next"]
        if cursor is None:
            break
    assert seen == ["a.txt", "docs/1.txt", "docs/2.txt", "docs/deep/3.txt", "img/x.png", "z.txt"]
    assert alice.get(objects_url("photos") + "?limit=0").status_code == 422
    assert alice.get(objects_url("photos") + "?limit=1001").status_code == 422


def test_range_304_and_download_disposition(alice):
    data = bytes(range(256)) * 4
    put(alice, "photos", "보고서 2024.bin", data)
    url = objects_url("photos", "보고서 2024.bin")
    part = alice.get(url, headers={"Range": "bytes=10-19"})
    assert part.status_code == 206 and part.data == data[10:20]
    assert part.headers["Content-Range"] == f"bytes 10-19/{len(data)}"
    etag = alice.get(url).headers["ETag"]
    assert alice.get(url, headers={"If-None-Match": etag}).status_code == 304
    assert alice.get(url, headers={"If-None-Match": '"other"'}).status_code == 200
    assert alice.get(url, headers={"Range": "bytes=5000-6000"}).status_code == 416
    disposition = alice.get(url + "?download=1").headers["Content-Disposition"]
    assert disposition.startswith("attachment;")
    assert "filename*=UTF-8''%EB%B3%B4%EA%B3%A0%EC%84%9C%202024.bin" in disposition
    # a binary file is a file whether or not the download was asked for (only images, PDF and text open inline)
    assert alice.get(url).headers["Content-Disposition"] == disposition


def test_delete_bucket_refuses_while_it_holds_objects_unless_forced(alice):
    for n in range(3):
        put(alice, "photos", f"o{n}", b"x")
    busy = alice.delete("/api/v1/buckets/photos", headers={"Accept-Language": "ko"})
    assert busy.status_code == 409 and busy.json["error"]["code"] == "bucket_not_empty"
    assert "버킷에 아직 객체가 있습니다" in busy.json["error"]["message"]
    assert alice.delete("/api/v1/buckets/photos?force=true").status_code == 204
    assert alice.get("/api/v1/buckets/photos").status_code == 404
    assert alice.post("/api/v1/buckets", json={"name": "empty"}).status_code == 201
    assert alice.delete("/api/v1/buckets/empty").status_code == 204
    assert alice.get("/api/v1/buckets").json["items"] == []


def test_another_project_cannot_see_or_read_a_bucket_even_with_the_same_name(alice, auth):
    put(alice, "photos", "secret.txt", b"alice's")
    bob = auth.user("bob")
    assert bob.get("/api/v1/buckets").json["items"] == []
    assert bob.get("/api/v1/buckets/photos").status_code == 404
    assert bob.get(objects_url("photos")).status_code == 404
    assert bob.get(objects_url("photos", "secret.txt")).status_code == 404
    assert bob.delete("/api/v1/buckets/photos?force=true").status_code == 404
    assert bob.post("/api/v1/buckets", json={"name": "photos"}).status_code == 201  # his own, in his own account
    assert bob.get(objects_url("photos", "secret.txt")).status_code == 404
    assert bob.get(objects_url("photos")).json["items"] == []
    assert bob.get(objects_url("photos", "secret.txt"), project_id=alice.personal_project).status_code in (403, 404)
    assert alice.get(objects_url("photos", "secret.txt")).data == b"alice's"


def test_a_viewer_reads_but_cannot_write(alice, auth):
    put(alice, "photos", "a.txt", b"x")
    vera = auth.user("vera")
    project = alice.personal_project
    added = alice.post(f"/api/v1/projects/{project}/members", json={"username": "vera", "role": "viewer"})
    assert added.status_code in (200, 201)
    assert [b["name"] for b in vera.get("/api/v1/buckets", project_id=project).json["items"]] == ["photos"]
    assert vera.get(objects_url("photos", "a.txt"), project_id=project).data == b"x"
    for method, path, kw in (("PUT", objects_url("photos", "b.txt"), {"data": b"y"}),
                             ("DELETE", objects_url("photos", "a.txt"), {}),
                             ("POST", "/api/v1/buckets", {"json": {"name": "mine"}}),
                             ("DELETE", "/api/v1/buckets/photos", {}),
                             ("POST", objects_url("photos", "a.txt") + "/share", {"json": {}})):
        answer = vera.request(method, path, project_id=project, **kw)
        assert answer.status_code == 403 and answer.json["error"]["code"] == "role_forbids", (method, path)
    assert alice.get(objects_url("photos", "a.txt")).data == b"x"


def test_share_link_works_without_login_then_expires_and_tampering_fails(alice, app):
    data = b"shared bytes " * 100
    put(alice, "photos", "docs/공유.txt", data)
    shared = alice.post(objects_url("photos", "docs/공유.txt") + "/share", json={"expires_in": 60})
    assert shared.status_code == 201 and shared.json["expires_in"] == 60 and shared.json["expires_at"]
    url = urlsplit(shared.json["url"])
    assert url.scheme == "http" and url.netloc == "localhost" and url.path.startswith("/shared/AUTH_")
    visitor = Client(app)  # no login at all
    got = visitor.get(f"{url.path}?{url.query}")
    assert got.status_code == 200 and got.data == data
    part = visitor.get(f"{url.path}?{url.query}", headers={"Range": "bytes=0-5"})
    assert part.status_code == 206 and part.data == data[:6]
    assert visitor.get(f"{url.path}?{url.query}", headers={"If-None-Match": got.headers["ETag"]}).status_code == 304

    sig_at = url.query.index("temp_url_sig=") + len("temp_url_sig=sha256:")
    flipped = "0" if url.query[sig_at + 3] != "0" else "1"
    tampered = url.query[:sig_at + 3] + flipped + url.query[sig_at + 4:]
    refused = visitor.get(f"{url.path}?{tampered}", headers={"Accept-Language": "en"})
    assert refused.status_code == 403 and "This share link has expired or is not valid." in refused.text
    assert "text/html" in refused.content_type
    assert visitor.get(url.path).status_code == 403  # no signature at all

    assert alice.post(objects_url("photos", "docs/공유.txt") + "/share", json={"expires_in": 0}).status_code == 422
    assert alice.post(objects_url("photos", "docs/공유.txt") + "/share",
                      json={"expires_in": 10 ** 9}).status_code == 422
    assert alice.post(objects_url("photos", "missing") + "/share", json={}).status_code == 404
    short = urlsplit(alice.post(objects_url("photos", "docs/공유.txt") + "/share",
                                json={"expires_in": 1}).json["url"])
    time.sleep(2.5)
    expired = visitor.get(f"{short.path}?{short.query}", headers={"Accept-Language": "ko"})
    assert expired.status_code == 403 and "이 공유 링크는 만료되었거나 유효하지 않습니다." in expired.text

    alice.delete(objects_url("photos", "docs/공유.txt"))
    assert visitor.get(f"{url.path}?{url.query}").status_code == 404


def test_bucket_count_quota(alice, services):
    services.quotas.set_limits(alice.personal_project, {"buckets": 2})
    assert alice.post("/api/v1/buckets", json={"name": "second"}).status_code == 201
    over = alice.post("/api/v1/buckets", json={"name": "third"})
    assert over.status_code == 403 and over.json["error"]["code"] == "quota_exceeded"
    assert "bucket limit (2)" in over.json["error"]["message"]
    assert alice.get("/api/v1/quotas").json["usage"]["buckets"] == 2


def test_byte_quota_and_two_concurrent_uploads_that_together_exceed_it(alice, services, app):
    project = alice.personal_project
    services.quotas.set_limits(project, {"bucket_bytes": 100_000})
    assert put(alice, "photos", "first", b"x" * 40_000).status_code == 201
    over = put(alice, "photos", "big", b"x" * 70_000)
    assert over.status_code == 403 and over.json["error"]["code"] == "quota_exceeded"
    assert "storage quota" in over.json["error"]["message"]
    assert alice.get(objects_url("photos", "big")).status_code == 404  # nothing was sent

    results, barrier = [], threading.Barrier(2)

    def upload(name):
        client = Client(app)
        barrier.wait()
        answer = client.open(objects_url("photos", name), method="PUT", data=io.BytesIO(b"y" * 40_000),
                             headers={**alice.headers(), "Content-Length": "40000"})
        results.append(answer.status_code)

    threads = [threading.Thread(target=upload, args=(f"racer{n}",)) for n in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(results) == [201, 403]
    usage = alice.get("/api/v1/quotas").json
    assert usage["usage"]["bucket_bytes"] == 80_000 and usage["limits"]["bucket_bytes"] == 100_000
    assert services.db.fetchone("SELECT count(*) AS n FROM storage_uploads")["n"] == 0
    assert put(alice, "photos", "first", b"z" * 55_000).status_code == 403  # a full-length reservation


def test_a_chunked_upload_beyond_the_quota_is_aborted(alice, services):
    services.quotas.set_limits(alice.personal_project, {"bucket_bytes": 50_000})
    answer = alice.request("PUT", objects_url("photos", "chunked"), input_stream=io.BytesIO(b"c" * 60_000),
                           environ_overrides={"wsgi.input_terminated": True})
    assert answer.status_code == 403 and answer.json["error"]["code"] == "quota_exceeded"
    assert alice.get(objects_url("photos", "chunked")).status_code == 404
    fits = alice.request("PUT", objects_url("photos", "chunked"), input_stream=io.BytesIO(b"c" * 30_000),
                         environ_overrides={"wsgi.input_terminated": True})
    assert fits.status_code == 201 and fits.json["size"] == 30_000
    assert alice.get(objects_url("photos", "chunked")).data == b"c" * 30_000


def test_the_largest_object_is_configurable(alice):
    big = put(alice, "photos", "big", b"x" * (MAX_OBJECT + 1))
    assert big.status_code == 413
    chunked = alice.request("PUT", objects_url("photos", "big"), input_stream=io.BytesIO(b"x" * (MAX_OBJECT + 1)),
                            environ_overrides={"wsgi.input_terminated": True})
    assert chunked.status_code == 413
    assert alice.get(objects_url("photos", "big")).status_code == 404
    assert put(alice, "photos", "big", b"x" * MAX_OBJECT).status_code == 201


def test_quotas_show_storage_usage_and_activity_records_swift_calls(alice, services):
    put(alice, "photos", "a", b"x" * 1234)
    quotas = alice.get("/api/v1/quotas").json
    assert quotas["usage"]["buckets"] == 1 and quotas["usage"]["bucket_bytes"] == 1234
    assert "bucket_bytes" in quotas["limits"]
    [latest] = services.storage.activity(alice.personal_project, "photos", limit=1)
    assert latest["operation"] == "put_object" and latest["key"] == "a"
    assert [(c["method"], c["status"]) for c in latest["calls"]][:1] == [("PUT", 201)]
    assert all("AUTH_tk" not in c["path"] for a in services.storage.activity(alice.personal_project, limit=50)
               for c in a["calls"])


def test_api_writes_with_the_session_cookie_need_the_csrf_header(alice, client):
    """The API login also set the browser's session cookie on this client: it now acts like a browser."""
    assert client.get("/dashboard").status_code == 200
    token = client.get_cookie("mc_csrf").value
    refused = client.open(objects_url("photos", "c"), method="PUT", data=b"x")
    assert refused.status_code == 403 and refused.json["error"]["code"] == "csrf_failed"
    ok = client.open(objects_url("photos", "c"), method="PUT", data=b"x", headers={"X-CSRF-Token": token})
    assert ok.status_code == 201
