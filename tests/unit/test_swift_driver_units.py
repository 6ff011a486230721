"""SwiftDriver pieces that need no Swift: names in URLs, temp-URL signatures, settings, an absent Swift."""
from __future__ import annotations

import base64
import socket
import time
from pathlib import Path

import pytest
from swiftclient.utils import generate_temp_url

from minicloud import config as config_module
from minicloud.drivers.storage.base import StorageUnavailable
from minicloud.drivers.storage.swift import (
    SwiftDriver,
    derive_temp_url_key,
    mask_path,
    quote_name,
    sign_temp_url,
)


def closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.mark.parametrize("key, quoted", [
    ("a b.txt", "a%20b.txt"),
    ("100%/x?y#z", "100%25/x%3Fy%23z"),
    ("../x", "%2E%2E/x"),
    ("a/./b/../c", "a/%2E/b/%2E%2E/c"),
    ("..a/b..", "..a/b.."),
    ("사진/고양이.jpg", "%EC%82%AC%EC%A7%84/%EA%B3%A0%EC%96%91%EC%9D%B4.jpg"),
])
def test_keys_become_paths_that_nothing_can_reinterpret(key, quoted):
    assert quote_name(key) == quoted


def test_signatures_are_masked_in_recorded_paths():
    path = "/v1/AUTH_mcx/c/o?temp_url_sig=sha256:abc-_&temp_url_expires=1700000000"
    assert mask_path(path) == "/v1/AUTH_mcx/c/o?temp_url_sig=***&temp_url_expires=1700000000"
    assert mask_path("/v1/AUTH_mcx/c?format=json") == "/v1/AUTH_mcx/c?format=json"


def test_temp_url_signature_is_the_one_swift_computes():
    """python-swiftclient signs the same HMAC-SHA256 (as hex); ours is Swift's ``sha256:<base64url>`` form."""
    key, path, expires = "k3y", "/v1/AUTH_mcab/photos/사진 1.jpg", 1_900_000_000
    ours = sign_temp_url(key, "GET", path, expires)
    assert ours.startswith("sha256:")
    encoded = ours.removeprefix("sha256:")
    raw = base64.urlsafe_b64decode(encoded + "=" * (-len(encoded) % 4))
    reference = generate_temp_url(path, expires, key, "GET", absolute=True, digest="sha256")
    assert f"temp_url_sig={raw.hex()}&" in reference


def test_each_account_gets_its_own_temp_url_key():
    a, b = derive_temp_url_key("secret", "AUTH_mca"), derive_temp_url_key("secret", "AUTH_mcb")
    assert a != b and len(a) == 64
    assert a == derive_temp_url_key("secret", "AUTH_mca")
    assert a != derive_temp_url_key("other", "AUTH_mca")


def test_temp_url_path_quotes_the_key_and_signs_it_unquoted():
    driver = SwiftDriver("http://127.0.0.1:1/auth/v1.0", "u:r", key="k", temp_url_secret="s")
    url = driver.temp_url("AUTH_mcab", "photos", "../a b?.jpg", 1_900_000_000)
    path, _, query = url.partition("?")
    assert path == "/v1/AUTH_mcab/photos/%2E%2E/a%20b%3F.jpg"
    expected = sign_temp_url(derive_temp_url_key("s", "AUTH_mcab"), "GET", "/v1/AUTH_mcab/photos/../a b?.jpg",
                             1_900_000_000)
    assert query == f"temp_url_sig={expected}&temp_url_expires=1900000000"


def test_account_names_follow_the_reseller_prefix():
    driver = SwiftDriver("http://127.0.0.1:1/auth/v1.0", "u:r", key="k", reseller_prefix="AUTH_")
    assert driver.account_for("0123abcd") == "AUTH_mc0123abcd"


def test_from_config_reads_a_relative_key_file_under_the_project_root(tmp_path):
    (tmp_path / "swift").mkdir()
    (tmp_path / "swift" / "reseller.key").write_text("s3cret\n")
    base = config_module.load()
    config = config_module.Config(base.with_overrides({
        "storage.key": "", "storage.key_file": "swift/reseller.key", "storage.temp_url_secret": "",
    }).values, root=tmp_path)
    driver = SwiftDriver.from_config(config)
    assert driver._reseller_key() == "s3cret"
    assert Path(driver._key_file) == tmp_path / "swift" / "reseller.key"
    # the temp-URL keys are derived from the reseller key when no secret is set, and stable
    assert driver._secret() == SwiftDriver.from_config(config)._secret()


def test_building_contacts_nothing_and_an_absent_swift_is_unavailable():
    port = closed_port()
    started = time.monotonic()
    driver = SwiftDriver(f"http://127.0.0.1:{port}/auth/v1.0", "u:r", key="SeCrEtKeY", timeout=2)
    assert time.monotonic() - started < 0.1
    with pytest.raises(StorageUnavailable) as caught:
        driver.create_container("AUTH_mcab", "photos")
    assert caught.value.status is None
    calls = driver.last_calls
    assert [(c.method, c.path, c.status) for c in calls] == [("GET", "/auth/v1.0", None)]
    # the key never appears anywhere the console could show
    assert "SeCrEtKeY" not in repr(calls)


def test_a_missing_key_file_is_unavailable_not_a_crash(tmp_path):
    driver = SwiftDriver("http://127.0.0.1:1/auth/v1.0", "u:r", key_file=tmp_path / "missing.key")
    with pytest.raises(StorageUnavailable):
        driver.account_stats("AUTH_mcab")
