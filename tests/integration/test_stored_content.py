"""What users store is served as a file, never as a page of the console's origin (issue 8, point 1):
every object answer — the logged-in download and the share link — is nosniff and CSP-sandboxed, and an
attachment unless it is a raster image, a PDF or plain text; text comes with its charset. Real Swift."""
from __future__ import annotations

from urllib.parse import urlsplit

import pytest
from swift_fixtures import storage_overrides
from werkzeug.test import Client

from minicloud.app import make_app
from minicloud.services import Services
from minicloud.services.backends import Backends
from minicloud.web.stored_content import served_type, text_charset

PAGE = b"<html><script>fetch('/api/v1/api-keys', {method: 'POST'})</script></html>"
KOREAN = "안녕하세요, 미니클라우드입니다.\n한글 파일이 깨지지 않아야 합니다.\n"


@pytest.fixture
def config(config, swift_server):
    return config.with_overrides(storage_overrides(swift_server))


@pytest.fixture
def alice(auth):
    user = auth.user("alice")
    assert user.post("/api/v1/buckets", json={"name": "files"}).status_code == 201
    return user


def put(alice, key, data, content_type):
    response = alice.request("PUT", f"/api/v1/buckets/files/objects/{key}", data=data,
                             headers={"Content-Type": content_type})
    assert response.status_code == 201, response.json


def shared(alice, client, key, query=""):
    url = alice.post(f"/api/v1/buckets/files/objects/{key}/share", json={"expires_in": 600}).json["url"]
    parts = urlsplit(url)
    response = client.get(parts.path + "?" + parts.query + query, headers={"Authorization": ""})
    assert response.status_code == 200, response.get_data(as_text=True)
    return response


def downloaded(alice, key, query=""):
    response = alice.get(f"/api/v1/buckets/files/objects/{key}{query}")
    assert response.status_code == 200
    return response


def assert_contained(response):
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    assert response.headers["Content-Security-Policy"] == "sandbox"
    assert response.headers["Referrer-Policy"] == "no-referrer"


@pytest.mark.parametrize("key, content_type", [
    ("page.html", "text/html"), ("page.htm", "text/html; charset=utf-8"), ("logo.svg", "image/svg+xml"),
    ("feed.xml", "application/xml"), ("data.xhtml", "application/xhtml+xml"), ("app.js", "text/javascript"),
    ("evil.png", "TEXT/HTML"),
])
def test_pages_scripts_and_xml_are_always_files(alice, client, key, content_type):
    put(alice, key, PAGE, content_type)
    for response in (downloaded(alice, key), shared(alice, client, key)):
        assert_contained(response)
        assert response.headers["Content-Disposition"].startswith("attachment;")
        assert f'filename="{key}"' in response.headers["Content-Disposition"]
        assert response.data == PAGE
    head = alice.request("HEAD", f"/api/v1/buckets/files/objects/{key}")
    assert_contained(head)
    assert head.headers["Content-Disposition"].startswith("attachment;")


@pytest.mark.parametrize("key, content_type", [("photo.png", "image/png"), ("scan.jpg", "image/jpeg"),
                                               ("paper.pdf", "application/pdf"), ("note.txt", "text/plain")])
def test_images_pdf_and_text_open_inline_unless_a_download_is_asked(alice, client, key, content_type):
    put(alice, key, b"\x89PNG not really", content_type)
    for response in (downloaded(alice, key), shared(alice, client, key)):
        assert_contained(response)
        assert response.headers["Content-Disposition"].startswith("inline;")
    for response in (downloaded(alice, key, "?download=1"), shared(alice, client, key, "&download=1")):
        assert_contained(response)
        assert response.headers["Content-Disposition"].startswith("attachment;")


def test_a_korean_text_is_served_with_its_charset(alice, client):
    put(alice, "인사.txt", KOREAN.encode("utf-8"), "text/plain")
    put(alice, "windows.txt", KOREAN.encode("cp949"), "text/plain")
    put(alice, "declared.txt", KOREAN.encode("utf-16"), "text/plain; charset=utf-16")
    for key, charset, encoding in (("인사.txt", "utf-8", "utf-8"), ("windows.txt", "euc-kr", "cp949"),
                                   ("declared.txt", "utf-16", "utf-16")):
        for response in (downloaded(alice, key), shared(alice, client, key)):
            assert response.headers["Content-Type"] == f"text/plain; charset={charset}"
            assert response.data.decode(encoding) == KOREAN
    ranged = alice.get("/api/v1/buckets/files/objects/인사.txt", headers={"Range": "bytes=0-2"})
    assert ranged.status_code == 206 and ranged.headers["Content-Type"] == "text/plain; charset=utf-8"
    assert ranged.data.decode("utf-8") == "안"


def test_share_links_point_at_the_public_base_url_when_one_is_set(auth, app, client):
    app.config = app.config.with_overrides({"storage.public_base_url": "https://files.minicloud.test/"})
    alice = auth.user("alice")
    assert alice.post("/api/v1/buckets", json={"name": "files"}).status_code == 201
    put(alice, "a.txt", b"hello", "text/plain")
    url = alice.post("/api/v1/buckets/files/objects/a.txt/share", json={"expires_in": 60}).json["url"]
    assert url.startswith("https://files.minicloud.test/shared/AUTH_")
    parts = urlsplit(url)  # that origin reaches this same server
    response = client.get(parts.path + "?" + parts.query, base_url="https://files.minicloud.test")
    assert response.status_code == 200 and response.data == b"hello"
    assert_contained(response)


def test_text_charset_and_served_type():
    assert text_charset(KOREAN.encode("utf-8")[:-1]) == "utf-8"  # a sample may end inside a character
    assert text_charset(KOREAN.encode("cp949")) == "euc-kr"
    assert text_charset(b"\xff\xfe\xfa") == "utf-8"
    assert served_type("text/csv", b"a,b\n") == "text/csv; charset=utf-8"
    assert served_type("text/plain; charset=ISO-8859-1", b"") == "text/plain; charset=ISO-8859-1"
    assert served_type("image/png", b"\x89PNG") == "image/png"
    assert served_type(None) == "application/octet-stream"


def test_share_links_work_after_the_temp_url_secret_changed_and_the_server_restarted(auth, config, backends, alice,
                                                                                    client):
    put(alice, "a.txt", b"before", "text/plain")
    assert shared(alice, client, "a.txt").data == b"before"
    rotated = config.with_overrides({"storage.temp_url_secret": "rotated-" + "y" * 40})
    restarted = Services.from_config(rotated, Backends.from_config(rotated, compute=backends.compute))
    try:  # the same bucket, served by a process that signs with the new secret
        again = Client(make_app(rotated, restarted))
        url = again.post("/api/v1/buckets/files/objects/a.txt/share", json={"expires_in": 600},
                         headers=alice.headers()).json["url"]
        parts = urlsplit(url)
        answer = again.get(parts.path + "?" + parts.query)
        assert answer.status_code == 200 and answer.data == b"before"
    finally:
        restarted.close()
