"""SwiftDriver against a real Swift (the ``swift_server`` fixture: scripts/swift.sh on loopback).

The outage test stops and restarts the session's Swift: it stays the last test of this module.
"""
from __future__ import annotations

import dataclasses
import hashlib
import http.client
import io
import logging
import re
import threading
import time
import uuid
from urllib.parse import urlsplit

import pytest
import swiftclient.client as swiftclient

from minicloud.drivers.storage.base import (
    ContainerNotEmpty,
    NotFound,
    StorageError,
    StorageUnavailable,
    TempUrlRejected,
)
from minicloud.drivers.storage.swift import SwiftDriver, SwiftSettings
from waiting import wait_for

pytestmark = pytest.mark.system

KEYS = [
    "../x",
    "a b c.txt",
    "100%.txt",
    "what?.txt",
    "#tag",
    "사진/고양이 1.jpg",
    "dir//double",
    "가" * 341 + "a",  # 1024 bytes of UTF-8
]


@pytest.fixture
def driver(swift_server):
    return SwiftDriver(SwiftSettings(swift_server.auth_url, swift_server.user, key=swift_server.key, timeout=5))


@pytest.fixture
def account(driver):
    name = driver.account_for(uuid.uuid4().hex)
    driver.ensure_account(name)
    return name


@pytest.fixture
def bucket(driver, account):
    driver.create_container(account, "bucket")
    return "bucket"


def read_all(download) -> bytes:
    try:
        return b"".join(download.body)
    finally:
        download.close()


def chunks(data: bytes, size: int = 65536):
    for i in range(0, len(data), size):
        yield data[i:i + size]


def plain_client_auth(swift_server) -> tuple[str, str]:
    """(storage URL, token) of the reseller admin, from python-swiftclient."""
    return swiftclient.get_auth(swift_server.auth_url, swift_server.user, swift_server.key)


def account_url(swift_server, account: str) -> str:
    storage_url, _ = plain_client_auth(swift_server)
    return storage_url[: storage_url.rfind("/v1/")] + f"/v1/{account}"


# ---- accounts: one per project, isolated by Swift ------------------------------------------------

def test_each_project_has_its_own_swift_account(driver, swift_server):
    first, second = driver.account_for(uuid.uuid4().hex), driver.account_for(uuid.uuid4().hex)
    assert first.startswith("AUTH_mc") and first != second
    for account in (first, second):
        driver.ensure_account(account)
        assert driver.create_container(account, "photos") is True
    driver.put_object(first, "photos", "secret.txt", b"first's data", 12, "text/plain")

    assert driver.list_objects(second, "photos").objects == []
    assert driver.head_object(second, "photos", "secret.txt") is None
    with pytest.raises(NotFound):
        driver.get_object(second, "photos", "secret.txt")
    assert read_all(driver.get_object(first, "photos", "secret.txt")) == b"first's data"

    # Real Swift accounts, as a plain Swift client sees them: each has its own containers and a temp-URL key.
    _, token = plain_client_auth(swift_server)
    keys = set()
    for account, expected in ((first, ["secret.txt"]), (second, [])):
        url = account_url(swift_server, account)
        headers = swiftclient.head_account(url, token)
        keys.add(headers["x-account-meta-temp-url-key"])
        _, listing = swiftclient.get_container(url, token, "photos")
        assert [row["name"] for row in listing] == expected
    assert len(keys) == 2


def test_ensure_account_is_idempotent_and_free_once_known(driver, swift_server):
    account = driver.account_for(uuid.uuid4().hex)
    assert driver.account_stats(account) == {"containers": 0, "objects": 0, "bytes": 0}  # not created yet
    driver.ensure_account(account)
    assert [c.method for c in driver.last_calls if c.path.startswith("/v1/")] == ["HEAD", "POST"]
    driver.ensure_account(account)
    assert driver.last_calls == []  # known ready in this process: no request
    other_process = SwiftDriver(SwiftSettings(swift_server.auth_url, swift_server.user, key=swift_server.key))
    other_process.ensure_account(account)
    assert [c.method for c in other_process.last_calls if c.path.startswith("/v1/")] == ["HEAD"]


# ---- containers --------------------------------------------------------------------------------

def test_container_lifecycle_and_409_while_not_empty(driver, account):
    assert driver.create_container(account, "docs") is True
    assert driver.create_container(account, "docs") is False
    stats = driver.container_stats(account, "docs")
    assert (stats.name, stats.object_count, stats.bytes_used) == ("docs", 0, 0)

    driver.put_object(account, "docs", "a.txt", b"12345", 5, "text/plain")
    driver.put_object(account, "docs", "b.txt", b"123", 3, "text/plain")
    stats = driver.container_stats(account, "docs")
    assert (stats.object_count, stats.bytes_used) == (2, 8)

    with pytest.raises(ContainerNotEmpty) as caught:
        driver.delete_container(account, "docs")
    assert caught.value.status == 409
    assert driver.delete_object(account, "docs", "a.txt") is True
    assert driver.delete_object(account, "docs", "a.txt") is False
    driver.delete_object(account, "docs", "b.txt")
    driver.delete_container(account, "docs")
    driver.delete_container(account, "docs")  # already gone: fine
    with pytest.raises(NotFound):
        driver.container_stats(account, "docs")
    with pytest.raises(NotFound):
        driver.list_objects(account, "docs")
    with pytest.raises(NotFound):
        driver.put_object(account, "docs", "c.txt", chunks(b"x" * 100_000), None, None)


def test_account_stats_count_containers_objects_and_bytes(driver, account, bucket, swift_server):
    driver.put_object(account, bucket, "one", b"x" * 100, 100, None)
    driver.create_container(account, "second")
    # Swift fills account totals asynchronously (container-updater): they catch up within seconds.
    stats = wait_for(lambda: (s := driver.account_stats(account))["bytes"] == 100 and s, 15, "account totals")
    assert stats == {"containers": 2, "objects": 1, "bytes": 100}


# ---- objects -----------------------------------------------------------------------------------

@pytest.mark.parametrize("key", KEYS, ids=lambda k: k[:12])
def test_any_utf8_key_round_trips(driver, account, bucket, key):
    data = key.encode() * 3
    info = driver.put_object(account, bucket, key, io.BytesIO(data), len(data), "application/x-test")
    assert (info.key, info.size, info.etag) == (key, len(data), hashlib.md5(data).hexdigest())

    head = driver.head_object(account, bucket, key)
    assert (head.key, head.size, head.etag, head.content_type) == (key, len(data), info.etag, "application/x-test")
    download = driver.get_object(account, bucket, key)
    assert download.status == 200
    assert download.headers["Content-Length"] == str(len(data))
    assert read_all(download) == data
    assert [o.key for o in driver.list_objects(account, bucket).objects] == [key]

    assert driver.delete_object(account, bucket, key) is True
    assert driver.head_object(account, bucket, key) is None
    with pytest.raises(NotFound):
        driver.get_object(account, bucket, key)


def test_dot_segments_are_names_not_paths(driver, account, bucket):
    driver.put_object(account, bucket, "../x", b"dots", 4, None)
    driver.put_object(account, bucket, "x", b"plain", 5, None)
    assert read_all(driver.get_object(account, bucket, "../x")) == b"dots"
    assert read_all(driver.get_object(account, bucket, "x")) == b"plain"
    assert sorted(o.key for o in driver.list_objects(account, bucket).objects) == ["../x", "x"]


def test_content_type_is_kept_or_guessed_from_the_key(driver, account, bucket):
    assert driver.put_object(account, bucket, "page.html", b"<p>", 3, None).content_type == "text/html"
    assert driver.head_object(account, bucket, "page.html").content_type == "text/html"
    driver.put_object(account, bucket, "data", b"{}", 2, "application/json")
    assert driver.head_object(account, bucket, "data").content_type == "application/json"
    listed = {o.key: o for o in driver.list_objects(account, bucket).objects}
    assert listed["data"].content_type == "application/json"
    assert listed["data"].size == 2 and listed["data"].etag == hashlib.md5(b"{}").hexdigest()
    assert listed["data"].last_modified[:2] == "20"


def test_listing_with_prefix_delimiter_and_marker_pages(driver, account, bucket):
    names = ["a/1", "a/2", "a/sub/3", "b/1", "c", "d", "사진"]
    for name in names:
        driver.put_object(account, bucket, name, b"", 0, None)

    seen, marker, pages = [], "", 0
    while True:
        page = driver.list_objects(account, bucket, marker=marker, limit=3)
        seen += [o.key for o in page.objects]
        pages += 1
        if page.next_marker is None:
            break
        marker = page.next_marker
    assert seen == names and pages == 3

    top = driver.list_objects(account, bucket, delimiter="/")
    assert top.prefixes == ["a/", "b/"] and [o.key for o in top.objects] == ["c", "d", "사진"]
    folder = driver.list_objects(account, bucket, prefix="a/", delimiter="/")
    assert folder.prefixes == ["a/sub/"] and [o.key for o in folder.objects] == ["a/1", "a/2"]

    walked, marker = [], ""
    while True:  # one entry per page: folders are not repeated
        page = driver.list_objects(account, bucket, delimiter="/", marker=marker, limit=1)
        walked += page.prefixes + [o.key for o in page.objects]
        if page.next_marker is None:
            break
        marker = page.next_marker
    assert walked == ["a/", "b/", "c", "d", "사진"]


def test_range_gives_206_and_if_none_match_gives_304(driver, account, bucket):
    data = bytes(range(256)) * 4
    info = driver.put_object(account, bucket, "bytes.bin", data, len(data), None)

    part = driver.get_object(account, bucket, "bytes.bin", range_header="bytes=10-19")
    assert part.status == 206
    assert part.headers["Content-Range"] == "bytes 10-19/1024"
    assert read_all(part) == data[10:20]

    same = driver.get_object(account, bucket, "bytes.bin", if_none_match=f'"{info.etag}"')
    assert same.status == 304 and read_all(same) == b""
    assert same.headers["ETag"].strip('"') == info.etag
    changed = driver.get_object(account, bucket, "bytes.bin", if_none_match='"0123"')
    assert changed.status == 200 and read_all(changed) == data

    with pytest.raises(StorageError) as caught:
        driver.get_object(account, bucket, "bytes.bin", range_header="bytes=5000-")
    assert caught.value.status == 416
    assert driver.head_object(account, bucket, "bytes.bin").size == 1024  # the driver still works


def test_chunked_upload_streams_and_downloads_back(driver, account, bucket):
    data = hashlib.sha256(b"seed").digest() * (3 * 65536 // 32 * 16 + 7)  # ~3 MiB, not a chunk multiple
    info = driver.put_object(account, bucket, "big.bin", chunks(data, 100_000), None, "application/octet-stream")
    assert info.size == len(data) and info.etag == hashlib.md5(data).hexdigest()
    assert [c.status for c in driver.last_calls if c.method == "PUT"] == [201]

    download = driver.get_object(account, bucket, "big.bin")
    digest, pieces = hashlib.md5(), 0
    for piece in download.body:
        digest.update(piece)
        pieces += 1
    download.close()
    assert digest.hexdigest() == info.etag and pieces > 1


@pytest.mark.parametrize("length", ["known", "chunked"])
def test_an_exception_in_the_body_aborts_the_upload_and_propagates(driver, account, bucket, length):
    driver.put_object(account, bucket, "kept.txt", b"old content", 11, "text/plain")
    boom = RuntimeError("the client went away")

    def body():
        yield b"new " * 50_000
        yield b"more " * 50_000
        raise boom

    size = 1_000_000 if length == "known" else None
    for key in ("kept.txt", "fresh.txt"):
        with pytest.raises(RuntimeError) as caught:
            driver.put_object(account, bucket, key, body(), size, "text/plain")
        assert caught.value is boom
    assert read_all(driver.get_object(account, bucket, "kept.txt")) == b"old content"
    assert driver.head_object(account, bucket, "fresh.txt") is None
    assert [o.key for o in driver.list_objects(account, bucket).objects] == ["kept.txt"]


def test_a_body_shorter_than_its_length_stores_nothing(driver, account, bucket):
    with pytest.raises(StorageError) as caught:
        driver.put_object(account, bucket, "short.bin", io.BytesIO(b"only this"), 100, None)
    assert caught.value.status == 400
    assert driver.head_object(account, bucket, "short.bin") is None


def test_closing_a_download_early_releases_the_connection(driver, account, bucket):
    data = b"z" * (4 * 1024 * 1024)
    driver.put_object(account, bucket, "large.bin", data, len(data), None)
    for _ in range(20):
        download = driver.get_object(account, bucket, "large.bin")
        assert len(next(iter(download.body))) > 0
        download.close()
        download.close()  # twice is fine
    assert driver.head_object(account, bucket, "large.bin").size == len(data)
    assert read_all(driver.get_object(account, bucket, "large.bin", range_header="bytes=-3")) == b"zzz"


def test_one_driver_serves_many_threads(driver, account, bucket):
    errors, calls = [], {}

    def work(n: int):
        try:
            key = f"thread-{n}"
            payload = f"payload {n} ".encode() * 5000
            for _ in range(5):
                driver.put_object(account, bucket, key, chunks(payload, 7000), None, None)
                assert read_all(driver.get_object(account, bucket, key)) == payload
            calls[n] = driver.last_calls
        except Exception as exc:  # noqa: BLE001 - reported below
            errors.append(exc)

    threads = [threading.Thread(target=work, args=(n,)) for n in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    for n, thread_calls in calls.items():
        assert [c.method for c in thread_calls] == ["GET"]
        assert thread_calls[0].path.endswith(f"/bucket/thread-{n}")
    assert len(driver.list_objects(account, bucket).objects) == 8


# ---- temp URLs ----------------------------------------------------------------------------------

def test_temp_url_downloads_without_a_token_until_it_expires(driver, account, bucket, swift_server):
    driver.put_object(account, bucket, "사진/shared file?.txt", b"shared bytes", 12, "text/plain")
    url = driver.temp_url(account, bucket, "사진/shared file?.txt", int(time.time()) + 3)
    signature = re.search(r"temp_url_sig=([0-9a-f]{64})&", url).group(1)  # HMAC-SHA256, hex
    assert url.startswith(f"/v1/{account}/{bucket}/")

    assert read_all(driver.get_temp_url(url)) == b"shared bytes"
    assert [(c.method, c.status) for c in driver.last_calls] == [("GET", 200)]
    assert "temp_url_sig=***&" in driver.last_calls[0].path and signature not in driver.last_calls[0].path
    part = driver.get_temp_url(url, range_header="bytes=0-5")
    assert part.status == 206 and read_all(part) == b"shared"

    # Anyone can use it: a bare HTTP client, no token.
    proxy = urlsplit(swift_server.proxy_url)
    conn = http.client.HTTPConnection(proxy.hostname, proxy.port, timeout=5)
    conn.request("GET", url)
    response = conn.getresponse()
    assert (response.status, response.read()) == (200, b"shared bytes")
    conn.close()

    tampered = url.replace(signature, ("0" if signature[0] != "0" else "1") + signature[1:], 1)
    with pytest.raises(TempUrlRejected):
        driver.get_temp_url(tampered)
    other_key = url.replace("shared%20file", "other%20file", 1)
    with pytest.raises(TempUrlRejected):
        driver.get_temp_url(other_key)
    later = url.replace("temp_url_expires=", "temp_url_expires=9", 1)
    with pytest.raises(TempUrlRejected):
        driver.get_temp_url(later)

    time.sleep(max(0.0, int(url.rsplit("=", 1)[1]) - time.time() + 1.1))
    with pytest.raises(TempUrlRejected) as caught:
        driver.get_temp_url(url)
    assert caught.value.status == 401


def test_temp_url_of_a_deleted_object_is_not_found(driver, account, bucket):
    driver.put_object(account, bucket, "gone.txt", b"x", 1, None)
    url = driver.temp_url(account, bucket, "gone.txt", int(time.time()) + 60)
    driver.delete_object(account, bucket, "gone.txt")
    with pytest.raises(NotFound):
        driver.get_temp_url(url)


def test_temp_url_of_another_account_does_not_open_this_one(driver, bucket, account):
    other = driver.account_for(uuid.uuid4().hex)
    driver.ensure_account(other)
    driver.put_object(account, bucket, "mine.txt", b"mine", 4, None)
    forged = driver.temp_url(other, bucket, "mine.txt", int(time.time()) + 60).replace(other, account, 1)
    with pytest.raises(TempUrlRejected):
        driver.get_temp_url(forged)


# ---- what the console shows ----------------------------------------------------------------------

def test_last_calls_show_each_request_and_never_the_token(swift_server):
    driver = SwiftDriver(SwiftSettings(swift_server.auth_url, swift_server.user, key=swift_server.key))
    account = driver.account_for(uuid.uuid4().hex)
    driver.ensure_account(account)
    first = driver.last_calls
    assert [(c.method, c.path, c.status) for c in first[:1]] == [("GET", "/auth/v1.0", 200)]
    assert [(c.method, c.path) for c in first[1:]] == [("HEAD", f"/v1/{account}"), ("POST", f"/v1/{account}")]
    assert all(c.ms > 0 for c in first)

    driver.create_container(account, "photos")
    driver.put_object(account, "photos", "a b/c?.txt", b"hi", 2, None)
    assert [c.as_dict()["path"] for c in driver.last_calls] == [f"/v1/{account}/photos/a%20b/c%3F.txt"]
    assert [c.status for c in driver.last_calls] == [201]
    driver.list_objects(account, "photos", prefix="a b/", delimiter="/")
    (listing,) = driver.last_calls
    assert listing.method == "GET" and "prefix=a%20b/" in listing.path and "delimiter=/" in listing.path

    token = driver._auth.token
    everything = repr([c.as_dict() for c in first + driver.last_calls])
    assert token not in everything and swift_server.key not in everything


def test_failed_requests_log_neither_the_token_nor_the_key(driver, account, bucket, swift_server, caplog):
    caplog.set_level(logging.DEBUG)  # everything, as an operator chasing a problem might set it
    driver.healthcheck()
    assert driver.head_object(account, bucket, "missing") is None
    with pytest.raises(NotFound):
        driver.get_object(account, bucket, "missing")
    token = driver._auth.token
    logged = caplog.text
    assert "/missing" in logged  # the requests themselves are logged (urllib3), their secrets are not
    assert token not in logged and token[:10] not in logged
    assert swift_server.key[:8] not in logged


def test_a_forgotten_token_is_renewed_once(driver, account, bucket):
    forgotten = "AUTH_tk" + "0" * 32  # as if memcached restarted
    driver.put_object(account, bucket, "before.txt", b"bytes", 5, None)
    driver._auth = dataclasses.replace(driver._auth, token=forgotten)
    driver.put_object(account, bucket, "again.txt", b"bytes", 5, None)  # bytes: sent again
    assert [(c.method, c.path.split("/")[-1], c.status) for c in driver.last_calls] == [
        ("PUT", "again.txt", 401), ("GET", "v1.0", 200), ("PUT", "again.txt", 201)]

    # A streamed body is spent by the time Swift says 401: that upload is unavailable (nothing stored),
    # the next one goes with the new token.
    driver._auth = dataclasses.replace(driver._auth, token=forgotten)
    with pytest.raises(StorageUnavailable):
        driver.put_object(account, bucket, "after.txt", chunks(b"streamed" * 10_000), None, None)
    assert [(c.method, c.status) for c in driver.last_calls] == [("PUT", 401), ("GET", 200)]
    assert driver.head_object(account, bucket, "after.txt") is None
    driver.put_object(account, bucket, "after.txt", chunks(b"streamed" * 10_000), None, None)
    assert [(c.method, c.status) for c in driver.last_calls] == [("PUT", 201)]
    assert read_all(driver.get_object(account, bucket, "after.txt")) == b"streamed" * 10_000


def test_the_token_is_renewed_before_swift_says_it_expires(driver, account, bucket):
    driver.head_object(account, bucket, "warm-up")
    driver._auth = dataclasses.replace(driver._auth, expires_at=time.monotonic() - 1)
    driver.put_object(account, bucket, "streamed.txt", chunks(b"s" * 100_000), None, None)
    assert [(c.method, c.status) for c in driver.last_calls] == [("GET", 200), ("PUT", 201)]


def test_healthcheck_answers_with_the_proxy_url(driver, swift_server):
    assert driver.healthcheck() == {"url": swift_server.proxy_url.rstrip("/")}
    assert [c.path for c in driver.last_calls] == ["/auth/v1.0", "/healthcheck"]


# ---- outage (keep last: it stops the session's Swift for a moment) --------------------------------

def test_swift_down_is_unavailable_and_the_same_driver_recovers(driver, account, bucket, swift_server):
    driver.put_object(account, bucket, "before.txt", b"before", 6, None)

    # Restarted between two calls: the kept-alive connection is dead (a new one is opened) and tempauth
    # forgot the token (renewed once).
    swift_server.stop()
    swift_server.start()
    assert read_all(driver.get_object(account, bucket, "before.txt")) == b"before"
    path = f"/v1/{account}/{bucket}/before.txt"
    assert [(c.method, c.path, c.status) for c in driver.last_calls] == [
        ("GET", path, 401), ("GET", "/auth/v1.0", 200), ("GET", path, 200)]

    big = b"q" * (32 * 1024 * 1024)
    driver.put_object(account, bucket, "big.bin", big, len(big), None)
    download = driver.get_object(account, bucket, "big.bin")
    received = len(next(iter(download.body)))
    swift_server.stop()
    try:
        with pytest.raises(StorageUnavailable):  # the stream broke: never a silently short download
            for piece in download.body:
                received += len(piece)
        assert received < len(big)
        download.close()

        started = time.monotonic()
        attempts = [
            lambda: driver.head_object(account, bucket, "before.txt"),
            lambda: driver.get_object(account, bucket, "before.txt"),
            lambda: driver.put_object(account, bucket, "during.txt", chunks(b"x" * 100_000), None, None),
            lambda: driver.list_objects(account, bucket),
            lambda: driver.create_container(account, "another"),
            lambda: driver.healthcheck(),
            lambda: driver.ensure_account(driver.account_for(uuid.uuid4().hex)),
        ]
        for attempt in attempts:
            with pytest.raises(StorageUnavailable):
                attempt()
            assert driver.last_calls and driver.last_calls[-1].status is None
        assert time.monotonic() - started < 10  # refused at once, not a timeout per call
    finally:
        swift_server.start()

    assert read_all(driver.get_object(account, bucket, "before.txt")) == b"before"
    driver.put_object(account, bucket, "after.txt", chunks(b"y" * 100_000), None, None)
    assert driver.head_object(account, bucket, "after.txt").size == 100_000
    assert driver.healthcheck()["url"]
