"""The storage driver contract (drivers/storage/base.py), held by the real SwiftDriver against the session's
private Swift (``swift_server``) and by every stand-in under tests/ (tests/storage_standin.py): the same
tests, so a stand-in cannot disagree with the driver."""
from __future__ import annotations

import hashlib
import io
import re
import socket
import time
import uuid
from datetime import datetime
from email.utils import parsedate_to_datetime

import pytest
from failing_swift import FailingSwift
from storage_standin import StandinSwift
from swift_fixtures import chunks, read_all

from minicloud.drivers.storage.base import (MAX_DOWNLOAD_PIECE, ContainerNotEmpty, NotFound, StorageError,
                                            StorageUnavailable, TempUrlRejected)
from minicloud.drivers.storage.swift import SwiftDriver, SwiftSettings

MiB = 1024 * 1024
KEYS = ["../x", "a b?#%&+.txt", "사진/고양이 1.jpg", "dir//double", "가" * 341 + "a"]


def _closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(params=[pytest.param("swift", marks=pytest.mark.system), "standin"])
def kind(request):
    return request.param


@pytest.fixture
def driver(kind, request):
    if kind == "swift":
        server = request.getfixturevalue("swift_server")
        return SwiftDriver(SwiftSettings(server.auth_url, server.user, key=server.key, timeout=5))
    return StandinSwift()


@pytest.fixture
def unreachable(kind):
    """A driver of the same kind whose Swift cannot be reached."""
    if kind == "swift":
        return SwiftDriver(SwiftSettings(f"http://127.0.0.1:{_closed_port()}/auth/v1.0", "u:r", key="k", timeout=2))
    standin = StandinSwift()
    standin.down = True
    return standin


@pytest.fixture
def answering_503(kind):
    """A driver of the same kind whose Swift signs in but then answers every request with 503."""
    if kind == "swift":
        with FailingSwift(status=503) as failing:
            yield SwiftDriver(SwiftSettings(failing.auth_url, "u:r", key="k", timeout=2))
        return
    standin = StandinSwift()
    standin.answering = 503
    yield standin


# ---- accounts ------------------------------------------------------------------------------------

def test_accounts_are_per_project_ensured_once_and_empty_until_used(driver):
    first, second = driver.account_for(uuid.uuid4().hex), driver.account_for(uuid.uuid4().hex)
    assert first.startswith("AUTH_mc") and first != second
    assert driver.account_stats(first) == {"containers": 0, "objects": 0, "bytes": 0}  # missing: empty
    driver.ensure_account(first)
    driver.ensure_account(first)  # repeat: safe
    assert driver.account_stats(first) == {"containers": 0, "objects": 0, "bytes": 0}

    driver.ensure_account(second)
    driver.create_container(first, "photos")
    driver.create_container(second, "photos")
    driver.put_object(first, "photos", "secret.txt", b"first's", 7, None)
    assert driver.head_object(second, "photos", "secret.txt") is None
    assert driver.list_objects(second, "photos").objects == []


def test_healthcheck_answers_with_a_url(driver):
    assert driver.healthcheck()["url"].startswith("http")


# ---- containers ----------------------------------------------------------------------------------

def test_container_lifecycle_and_a_non_empty_one_is_kept(driver, account):
    assert driver.create_container(account, "docs") is True
    assert driver.create_container(account, "docs") is False  # repeat: safe, not created again
    stats = driver.container_stats(account, "docs")
    assert (stats.name, stats.object_count, stats.bytes_used) == ("docs", 0, 0)

    driver.put_object(account, "docs", "a.txt", b"12345", 5, None)
    driver.put_object(account, "docs", "b.txt", b"123", 3, None)
    stats = driver.container_stats(account, "docs")
    assert (stats.object_count, stats.bytes_used) == (2, 8)
    with pytest.raises(ContainerNotEmpty) as caught:
        driver.delete_container(account, "docs")
    assert caught.value.status == 409
    assert driver.container_stats(account, "docs").object_count == 2  # left as it was

    driver.delete_object(account, "docs", "a.txt")
    driver.delete_object(account, "docs", "b.txt")
    driver.delete_container(account, "docs")
    driver.delete_container(account, "docs")  # repeat: safe
    with pytest.raises(NotFound):
        driver.container_stats(account, "docs")
    with pytest.raises(NotFound):
        driver.list_objects(account, "docs")


# ---- objects -------------------------------------------------------------------------------------

@pytest.mark.parametrize("key", KEYS, ids=lambda k: k[:10])
def test_any_utf8_key_round_trips(driver, account, bucket, key):
    data = key.encode() * 3
    info = driver.put_object(account, bucket, key, io.BytesIO(data), len(data), "application/x-test")
    assert (info.key, info.size, info.etag, info.content_type) == (
        key, len(data), hashlib.md5(data).hexdigest(), "application/x-test")
    assert parsedate_to_datetime(info.last_modified).year >= 2026

    head = driver.head_object(account, bucket, key)
    assert (head.key, head.size, head.etag, head.content_type) == (key, len(data), info.etag, "application/x-test")
    assert parsedate_to_datetime(head.last_modified).year >= 2026
    download = driver.get_object(account, bucket, key)
    assert download.status == 200 and download.headers["Content-Length"] == str(len(data))
    assert download.headers["Content-Type"] == "application/x-test"
    assert read_all(download) == data
    (entry,) = driver.list_objects(account, bucket).objects
    assert (entry.key, entry.size, entry.etag, entry.content_type) == (key, len(data), info.etag,
                                                                       "application/x-test")
    assert datetime.fromisoformat(entry.last_modified).year >= 2026

    assert driver.delete_object(account, bucket, key) is True
    assert driver.delete_object(account, bucket, key) is False  # repeat: safe
    assert driver.head_object(account, bucket, key) is None
    with pytest.raises(NotFound):
        driver.get_object(account, bucket, key)


def test_dot_segments_are_names_not_paths(driver, account, bucket):
    driver.put_object(account, bucket, "a/../x", b"dots", 4, None)
    driver.put_object(account, bucket, "x", b"plain", 5, None)
    assert read_all(driver.get_object(account, bucket, "a/../x")) == b"dots"
    assert read_all(driver.get_object(account, bucket, "x")) == b"plain"
    assert [o.key for o in driver.list_objects(account, bucket).objects] == ["a/../x", "x"]


def test_a_missing_container_has_no_objects(driver, account):
    assert driver.head_object(account, "nowhere", "a") is None
    assert driver.delete_object(account, "nowhere", "a") is False
    with pytest.raises(NotFound):
        driver.get_object(account, "nowhere", "a")
    with pytest.raises(NotFound):
        driver.put_object(account, "nowhere", "a", chunks(b"x" * 1000), None, None)
    with pytest.raises(NotFound):
        driver.put_object(account, "nowhere", "a", b"x", 1, None)
    with pytest.raises(NotFound):
        driver.container_stats(account, "nowhere")  # and none was made on the way


def test_bytes_of_the_wrong_length_are_refused_before_any_request(driver, account):
    with pytest.raises(StorageError) as caught:
        driver.put_object(account, "nowhere", "a", b"four", 5, None)
    assert caught.value.status == 400 and driver.last_calls == []


def test_content_type_is_kept_or_guessed_from_the_key(driver, account, bucket):
    assert driver.put_object(account, bucket, "page.html", b"<p>", 3, None).content_type == "text/html"
    assert driver.head_object(account, bucket, "page.html").content_type == "text/html"
    assert driver.put_object(account, bucket, "data", b"{}", 2, None).content_type == "application/octet-stream"
    driver.put_object(account, bucket, "data", b"{}", 2, "application/json")  # repeat with other type: overwrite
    assert driver.head_object(account, bucket, "data").content_type == "application/json"


@pytest.mark.parametrize("given", ["text/plain\n", "tëxt/plain", "   "], ids=["newline", "non-ascii", "blank"])
def test_a_content_type_that_is_not_printable_ascii_counts_as_none(driver, account, bucket, given):
    assert driver.put_object(account, bucket, "page.html", b"<p>", 3, given).content_type == "text/html"
    assert driver.head_object(account, bucket, "page.html").content_type == "text/html"


def test_listing_pages_with_prefix_delimiter_marker_and_limit(driver, account, bucket):
    names = ["a/1", "a/2", "a/sub/3", "b/1", "c", "d", "사진"]
    for name in reversed(names):
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
    assert [o.key for o in driver.list_objects(account, bucket, prefix="a/").objects] == ["a/1", "a/2", "a/sub/3"]
    assert [o.key for o in driver.list_objects(account, bucket, marker="c").objects] == ["d", "사진"]

    top = driver.list_objects(account, bucket, delimiter="/")
    assert (top.prefixes, [o.key for o in top.objects], top.next_marker) == (["a/", "b/"], ["c", "d", "사진"], None)
    folder = driver.list_objects(account, bucket, prefix="a/", delimiter="/")
    assert folder.prefixes == ["a/sub/"] and [o.key for o in folder.objects] == ["a/1", "a/2"]

    walked, marker = [], ""
    while True:  # one entry per page: a folder is never repeated
        page = driver.list_objects(account, bucket, delimiter="/", marker=marker, limit=1)
        walked += page.prefixes + [o.key for o in page.objects]
        if page.next_marker is None:
            break
        marker = page.next_marker
    assert walked == ["a/", "b/", "c", "d", "사진"]


def test_range_gives_206_if_none_match_gives_304_and_a_bad_range_416(driver, account, bucket):
    data = bytes(range(256)) * 4
    info = driver.put_object(account, bucket, "bytes.bin", data, len(data), None)

    part = driver.get_object(account, bucket, "bytes.bin", range_header="bytes=10-19")
    assert part.status == 206 and part.headers["Content-Range"] == "bytes 10-19/1024"
    assert read_all(part) == data[10:20]
    assert read_all(driver.get_object(account, bucket, "bytes.bin", range_header="bytes=-3")) == data[-3:]

    same = driver.get_object(account, bucket, "bytes.bin", if_none_match=f'"{info.etag}"')
    assert same.status == 304 and read_all(same) == b""
    assert same.headers["ETag"].strip('"') == info.etag
    changed = driver.get_object(account, bucket, "bytes.bin", if_none_match='"0123"')
    assert changed.status == 200 and read_all(changed) == data
    anything = driver.get_object(account, bucket, "bytes.bin", if_none_match="*")
    assert anything.status == 304 and read_all(anything) == b""

    with pytest.raises(StorageError) as caught:
        driver.get_object(account, bucket, "bytes.bin", range_header="bytes=5000-")
    assert caught.value.status == 416


# ---- streaming -----------------------------------------------------------------------------------

@pytest.mark.parametrize("length", ["known", "chunked"])
def test_bodies_stream_both_ways_in_bounded_chunks(driver, account, bucket, length):
    data = hashlib.sha256(b"seed").digest() * (9 * MiB // 32) + b"tail"
    size = len(data) if length == "known" else None
    info = driver.put_object(account, bucket, "big.bin", chunks(data), size, None)
    assert info.size == len(data) and info.etag == hashlib.md5(data).hexdigest()

    download = driver.get_object(account, bucket, "big.bin")
    got = list(download.body)
    download.close()
    download.close()  # twice: fine
    assert b"".join(got) == data and len(got) > 1 and max(map(len, got)) <= MAX_DOWNLOAD_PIECE


def test_a_download_closed_early_leaves_the_driver_working(driver, account, bucket):
    data = b"z" * (3 * MiB)
    driver.put_object(account, bucket, "large.bin", io.BytesIO(data), len(data), None)
    for _ in range(5):
        download = driver.get_object(account, bucket, "large.bin")
        assert next(iter(download.body))
        download.close()
    assert read_all(driver.get_object(account, bucket, "large.bin")) == data


@pytest.mark.parametrize("length", ["known", "chunked"])
def test_an_aborted_upload_leaves_nothing_and_its_error_propagates(driver, account, bucket, length):
    driver.put_object(account, bucket, "kept.txt", b"old content", 11, "text/plain")
    boom = RuntimeError("the client went away")

    def body():
        yield b"new " * 50_000
        yield b"more " * 50_000
        raise boom

    for key in ("kept.txt", "fresh.txt"):
        with pytest.raises(RuntimeError) as caught:
            driver.put_object(account, bucket, key, body(), 1_000_000 if length == "known" else None, None)
        assert caught.value is boom
    assert read_all(driver.get_object(account, bucket, "kept.txt")) == b"old content"
    assert driver.head_object(account, bucket, "fresh.txt") is None
    assert [o.key for o in driver.list_objects(account, bucket).objects] == ["kept.txt"]


@pytest.mark.parametrize("body, length", [
    (lambda: io.BytesIO(b"only this"), 100), (lambda: iter([b"only this"]), 100),
    (lambda: iter([b"x" * 60, b"y" * 60]), 100), (lambda: iter([b"x" * 100, b"y"]), 100),
    (lambda: iter([b"x" * 100, b"", b"y"]), 100), (lambda: iter([b"y"]), 0)],
    ids=["short-file", "short-iterable", "long-iterable", "one-byte-past-its-length",
         "past-its-length-after-an-empty-piece", "anything-for-an-empty-length"])
def test_a_body_that_is_not_its_length_is_refused_and_leaves_the_object_as_it_was(driver, account, bucket, body,
                                                                                   length):
    driver.put_object(account, bucket, "kept.bin", b"old", 3, None)
    for key in ("wrong.bin", "kept.bin"):
        with pytest.raises(StorageError) as caught:
            driver.put_object(account, bucket, key, body(), length, None)
        assert caught.value.status == 400
    assert driver.head_object(account, bucket, "wrong.bin") is None
    assert read_all(driver.get_object(account, bucket, "kept.bin")) == b"old"


def test_a_body_of_exactly_its_length_is_stored_whatever_its_pieces(driver, account, bucket):
    for key, pieces in (("whole", [b"x" * 100]), ("trailing-empty", [b"x" * 100, b""]), ("empty", [])):
        length = sum(map(len, pieces))
        assert driver.put_object(account, bucket, key, iter(pieces), length, None).size == length
        assert read_all(driver.get_object(account, bucket, key)) == b"".join(pieces)


# ---- temp URLs -----------------------------------------------------------------------------------

def test_temp_urls_open_one_object_until_they_expire(driver, account, bucket):
    key = "사진/shared file?.txt"
    driver.put_object(account, bucket, key, b"shared bytes", 12, "text/plain")
    driver.put_object(account, bucket, "other.txt", b"other", 5, "text/plain")
    expires_at = int(time.time()) + 2
    url = driver.temp_url(account, bucket, key, expires_at)
    assert url == driver.temp_url(account, bucket, key, expires_at)  # repeat: the same URL
    assert url.startswith(f"/v1/{account}/{bucket}/%EC%82%AC%EC%A7%84/shared%20file%3F.txt?")
    signature = re.search(r"temp_url_sig=([^&]+)", url).group(1)

    assert read_all(driver.get_temp_url(url)) == b"shared bytes"
    part = driver.get_temp_url(url, range_header="bytes=0-5")
    assert part.status == 206 and read_all(part) == b"shared"
    assert all(signature not in call.path for call in driver.last_calls)

    tampered = url.replace(signature, ("0" if signature[0] != "0" else "1") + signature[1:])
    another_key = url.replace("shared%20file%3F.txt", "other.txt")
    later = url.replace("temp_url_expires=", "temp_url_expires=9")
    for refused in (tampered, another_key, later):
        with pytest.raises(TempUrlRejected):
            driver.get_temp_url(refused)

    time.sleep(max(0.0, expires_at - time.time() + 1.1))
    with pytest.raises(TempUrlRejected):
        driver.get_temp_url(url)


def test_a_temp_url_of_a_deleted_object_is_not_found(driver, account, bucket):
    driver.put_object(account, bucket, "gone.txt", b"x", 1, None)
    url = driver.temp_url(account, bucket, "gone.txt", int(time.time()) + 60)
    driver.delete_object(account, bucket, "gone.txt")
    with pytest.raises(NotFound):
        driver.get_temp_url(url)


# ---- what the console shows, and Swift down ----------------------------------------------------

def test_every_request_is_recorded_the_sign_in_first_and_a_known_account_needs_none(driver):
    account = driver.account_for(uuid.uuid4().hex)
    driver.ensure_account(account)  # a fresh driver: it signs in first
    assert [(c.method, c.path, c.status) for c in driver.last_calls] == [
        ("GET", "/auth/v1.0", 200), ("HEAD", f"/v1/{account}", 200), ("POST", f"/v1/{account}", 204)]
    driver.ensure_account(account)
    assert driver.last_calls == []
    driver.create_container(account, "bucket")
    assert [(c.method, c.path, c.status) for c in driver.last_calls] == [("PUT", f"/v1/{account}/bucket", 201)]


def test_each_call_is_recorded_for_the_underneath_panel(driver, account, bucket):
    driver.put_object(account, bucket, "a b.txt", b"hi", 2, None)
    assert ("PUT", 201) in [(c.method, c.status) for c in driver.last_calls]
    assert any(c.path.endswith("/bucket/a b.txt") or c.path.endswith("/bucket/a%20b.txt") for c in driver.last_calls)
    driver.head_object(account, bucket, "a b.txt")
    assert [c.method for c in driver.last_calls][-1] == "HEAD"
    assert all(c.ms >= 0 and c.as_dict()["method"] == c.method for c in driver.last_calls)


@pytest.mark.parametrize("outage, status", [("unreachable", None), ("answering_503", 503)])
def test_a_swift_down_is_unavailable_for_every_call_and_the_last_call_says_why(request, kind, outage, status):
    """No answer: the last call recorded has status None; a 5xx answer: that status (on the error too)."""
    driver = request.getfixturevalue(outage)
    account = driver.account_for(uuid.uuid4().hex)
    url = driver.temp_url(account, "bucket", "a.txt", int(time.time()) + 60)  # contacts nothing
    calls = [
        lambda: driver.ensure_account(account),
        lambda: driver.healthcheck(),
        lambda: driver.account_stats(account),
        lambda: driver.create_container(account, "bucket"),
        lambda: driver.container_stats(account, "bucket"),
        lambda: driver.delete_container(account, "bucket"),
        lambda: driver.list_objects(account, "bucket"),
        lambda: driver.put_object(account, "bucket", "a.txt", io.BytesIO(b"abc"), 3, None),
        lambda: driver.put_object(account, "bucket", "a.txt", b"abc", 3, None),
        lambda: driver.head_object(account, "bucket", "a.txt"),
        lambda: driver.get_object(account, "bucket", "a.txt"),
        lambda: driver.delete_object(account, "bucket", "a.txt"),
        lambda: driver.get_temp_url(url),
    ]
    for call in calls:
        with pytest.raises(StorageUnavailable) as caught:
            call()
        assert caught.value.status == status
        assert driver.last_calls and driver.last_calls[-1].status == status
