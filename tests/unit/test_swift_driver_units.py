"""SwiftDriver pieces that need no Swift: names in URLs, temp-URL signatures, settings, an absent Swift, a Swift
that refuses the credentials (tests/failing_swift.py)."""
from __future__ import annotations

import hashlib
import hmac
import socket
import time
from urllib.parse import quote

import pytest
from failing_swift import FailingSwift

from minicloud import config as config_module
from minicloud.drivers.storage.base import StorageUnavailable
from minicloud.drivers.storage.swift import SwiftDriver, SwiftSettings, derive_temp_url_key
from minicloud.drivers.storage.swift_wire import keep_dot_segments, mask_path


def closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def driver_for(auth_url: str = "http://127.0.0.1:1/auth/v1.0", **settings) -> SwiftDriver:
    return SwiftDriver(SwiftSettings(auth_url, "u:r", **{"key": "k", **settings}))


@pytest.mark.parametrize("key, sent", [
    ("a b.txt", "a%20b.txt"),
    ("100%/x?y#z", "100%25/x%3Fy%23z"),
    ("../x", "%2E%2E/x"),
    ("a/./b/../c", "a/%2E/b/%2E%2E/c"),
    ("..a/b../...", "..a/b../..."),
    ("사진/고양이.jpg", "%EC%82%AC%EC%A7%84/%EA%B3%A0%EC%96%91%EC%9D%B4.jpg"),
])
def test_keys_become_paths_that_nothing_can_reinterpret(key, sent):
    """swiftclient quotes the name; the dot segments are encoded on top, the query is left alone."""
    assert keep_dot_segments(f"/v1/AUTH_mcab/c/{quote(key)}?marker=./..") == f"/v1/AUTH_mcab/c/{sent}?marker=./.."


def test_signatures_are_masked_in_recorded_paths():
    path = "/v1/AUTH_mcx/c/o?temp_url_sig=0123abcd&temp_url_expires=1700000000"
    assert mask_path(path) == "/v1/AUTH_mcx/c/o?temp_url_sig=***&temp_url_expires=1700000000"
    assert mask_path("/v1/AUTH_mcx/c?format=json") == "/v1/AUTH_mcx/c?format=json"


def test_temp_url_quotes_the_key_and_signs_it_unquoted_with_the_account_key():
    """Swift's tempurl check: HMAC-SHA256 of "GET\n<expires>\n<unquoted path>" with the account's key, hex."""
    url = driver_for(temp_url_secret="s").temp_url("AUTH_mcab", "photos", "../a b?.jpg", 1_900_000_000)
    path, _, query = url.partition("?")
    assert path == "/v1/AUTH_mcab/photos/%2E%2E/a%20b%3F.jpg"
    expected = hmac.new(derive_temp_url_key("s", "AUTH_mcab").encode(),
                        b"GET\n1900000000\n/v1/AUTH_mcab/photos/../a b?.jpg", hashlib.sha256).hexdigest()
    assert query == f"temp_url_sig={expected}&temp_url_expires=1900000000"


def test_each_account_gets_its_own_temp_url_key():
    a, b = derive_temp_url_key("secret", "AUTH_mca"), derive_temp_url_key("secret", "AUTH_mcb")
    assert a != b and len(a) == 64
    assert a == derive_temp_url_key("secret", "AUTH_mca")
    assert a != derive_temp_url_key("other", "AUTH_mca")


def test_account_names_follow_the_reseller_prefix():
    assert driver_for(reseller_prefix="AUTH_").account_for("0123abcd") == "AUTH_mc0123abcd"
    assert driver_for(reseller_prefix="TEST_").account_for("0123abcd") == "TEST_mc0123abcd"


def test_from_config_reads_a_relative_key_file_under_the_project_root(tmp_path):
    (tmp_path / "swift").mkdir()
    (tmp_path / "swift" / "reseller.key").write_text("s3cret\n")
    base = config_module.load()
    config = config_module.Config(base.with_overrides({
        "storage.key": "", "storage.key_file": "swift/reseller.key", "storage.temp_url_secret": "",
    }).values, root=tmp_path)
    driver = SwiftDriver.from_config(config)
    assert driver._reseller_key() == "s3cret"
    assert driver.settings.key_file == tmp_path / "swift" / "reseller.key"
    # the temp-URL keys are derived from the reseller key when no secret is set, and stable
    assert driver._secret() == SwiftDriver.from_config(config)._secret()


def test_building_contacts_nothing_and_an_absent_swift_is_unavailable():
    port = closed_port()
    started = time.monotonic()
    driver = driver_for(f"http://127.0.0.1:{port}/auth/v1.0", key="SeCrEtKeY", timeout=2)
    assert time.monotonic() - started < 0.1
    with pytest.raises(StorageUnavailable) as caught:
        driver.create_container("AUTH_mcab", "photos")
    assert caught.value.status is None
    calls = driver.last_calls
    assert [(c.method, c.path, c.status) for c in calls] == [("GET", "/auth/v1.0", None)]
    # the key never appears anywhere the console could show
    assert "SeCrEtKeY" not in repr(calls)


def test_a_missing_key_file_is_unavailable_not_a_crash_and_no_request_is_made(tmp_path):
    driver = driver_for(key="", key_file=tmp_path / "missing.key")
    with pytest.raises(StorageUnavailable):
        driver.account_stats("AUTH_mcab")
    assert driver.last_calls == []


def test_temp_urls_derived_from_an_unreadable_key_file_are_unavailable_then_follow_the_key(tmp_path):
    key_file = tmp_path / "reseller.key"
    driver = driver_for(key="", key_file=key_file)
    with pytest.raises(StorageUnavailable):
        driver.temp_url("AUTH_mcab", "photos", "a.txt", 1_900_000_000)
    key_file.write_text("first key\n")
    url = driver.temp_url("AUTH_mcab", "photos", "a.txt", 1_900_000_000)
    assert url == driver.temp_url("AUTH_mcab", "photos", "a.txt", 1_900_000_000)
    # a rotated reseller key gives every account another key: the links made before no longer match
    key_file.write_text("rotated key\n")
    assert driver_for(key="", key_file=key_file).temp_url("AUTH_mcab", "photos", "a.txt", 1_900_000_000) != url
    # a set temp_url_secret does not depend on the reseller key at all
    assert (driver_for(key="one", temp_url_secret="s").temp_url("AUTH_mcab", "photos", "a.txt", 1)
            == driver_for(key="two", temp_url_secret="s").temp_url("AUTH_mcab", "photos", "a.txt", 1))


@pytest.mark.parametrize("refusal", [401, 403])
def test_refused_credentials_are_unavailable_and_the_sign_in_shows_the_refusal(refusal):
    with FailingSwift(auth_status=refusal) as swift:
        driver = driver_for(swift.auth_url, timeout=2)
        for call in (driver.healthcheck, lambda: driver.head_object("AUTH_mcab", "photos", "a.txt")):
            with pytest.raises(StorageUnavailable) as caught:
                call()
            assert caught.value.status == refusal
            assert [(c.method, c.path, c.status) for c in driver.last_calls] == [("GET", "/auth/v1.0", refusal)]
