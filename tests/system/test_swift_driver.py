"""SwiftDriver against a real Swift (the ``swift_server`` fixture: scripts/swift.sh on loopback).

The outage test stops and restarts the session's Swift: it stays the last test of this module.
"""
from __future__ import annotations

import dataclasses
import http.client
import logging
import re
import threading
import time
import uuid
from urllib.parse import urlsplit

import pytest
import swiftclient.client as swiftclient

from minicloud.drivers.storage.base import (
    NotFound,
    StorageUnavailable,
    TempUrlRejected,
)
from minicloud.drivers.storage.swift import SwiftDriver, SwiftSettings
from swift_fixtures import chunks, read_all
from waiting import wait_for

pytestmark = pytest.mark.system


@pytest.fixture
def driver(swift_server):
    return SwiftDriver(SwiftSettings(swift_server.auth_url, swift_server.user, key=swift_server.key, timeout=5))


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


def test_account_stats_count_containers_objects_and_bytes(driver, account, bucket, swift_server):
    driver.put_object(account, bucket, "one", b"x" * 100, 100, None)
    driver.create_container(account, "second")
    # Swift fills account totals asynchronously (container-updater): they catch up within seconds.
    stats = wait_for(lambda: (s := driver.account_stats(account))["bytes"] == 100 and s, 15, "account totals")
    assert stats == {"containers": 2, "objects": 1, "bytes": 100}


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

def test_a_temp_url_opens_the_object_to_anyone_and_its_signature_is_never_shown(driver, account, bucket,
                                                                                 swift_server):
    driver.put_object(account, bucket, "사진/shared file?.txt", b"shared bytes", 12, "text/plain")
    url = driver.temp_url(account, bucket, "사진/shared file?.txt", int(time.time()) + 60)
    signature = re.search(r"temp_url_sig=([0-9a-f]{64})&", url).group(1)  # HMAC-SHA256, hex

    assert read_all(driver.get_temp_url(url)) == b"shared bytes"
    assert [(c.method, c.status) for c in driver.last_calls] == [("GET", 200)]
    assert "temp_url_sig=***&" in driver.last_calls[0].path and signature not in driver.last_calls[0].path

    # Anyone can use it: a bare HTTP client, no token.
    proxy = urlsplit(swift_server.proxy_url)
    conn = http.client.HTTPConnection(proxy.hostname, proxy.port, timeout=5)
    conn.request("GET", url)
    response = conn.getresponse()
    assert (response.status, response.read()) == (200, b"shared bytes")
    conn.close()


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

    # An empty body is read to its end before the PUT: it is sent again like bytes.
    driver._auth = dataclasses.replace(driver._auth, token=forgotten)
    assert driver.put_object(account, bucket, "empty.txt", iter([b""]), 0, None).size == 0
    assert [(c.method, c.status) for c in driver.last_calls] == [("PUT", 401), ("GET", 200), ("PUT", 201)]
    assert driver.head_object(account, bucket, "empty.txt").size == 0


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
