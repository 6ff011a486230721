"""The storage console pages (UC-04) against a real Swift: buckets, the object browser, the streamed
upload form, delete, share links, roles, languages, and Swift being down."""
from __future__ import annotations

import io
import os
import re
from html import unescape

import pytest
from conformance import ConformingClient
from swift_fixtures import storage_overrides
from test_pages import csrf_token, html, page_login, post_form
from werkzeug.test import EnvironBuilder


@pytest.fixture
def config(config, swift_server):
    return config.with_overrides(storage_overrides(swift_server))


@pytest.fixture
def alice(client, auth):
    user = auth.user("alice")
    page_login(client, password="correct-horse")
    return user


KO = {"Accept-Language": "ko"}
EN = {"Accept-Language": "en"}


def make_bucket(client, name="photos"):
    response = post_form(client, "/storage", {"name": name})
    assert response.status_code == 303, html(response)
    return response


def put(alice, bucket, key, data=b"hello", content_type="text/plain"):
    response = alice.request("PUT", f"/api/v1/buckets/{bucket}/objects/{key}", data=data,
                             headers={"Content-Type": content_type})
    assert response.status_code == 201, response.json
    return response


def upload_form(client, bucket, filename, data, prefix="", headers=None):
    """The console's upload form as a browser sends it: csrf_token, prefix, then the file."""
    return client.post(f"/storage/{bucket}/upload", headers=headers or {},
                       data={"csrf_token": csrf_token(client), "prefix": prefix,
                             "file": (io.BytesIO(data), filename, "text/plain")})


def objects_table(page: str) -> str:
    """The object browser's table (not the underneath panel, which names keys too)."""
    match = re.search(r'<table class="data" id="objects">.*?</table>', page, re.S)
    return match.group(0) if match else ""


def field_error(page: str) -> str:
    match = re.search(r'<p class="field-error" id="bucket-name-error"[^>]*>(.*?)</p>', page, re.S)
    return unescape(match.group(1).strip()) if match else ""


# -- the bucket list -------------------------------------------------------------------------------
def test_empty_list_in_korean_and_english(client, alice):
    ko = html(client.get("/storage", headers=KO))
    assert "<h1>스토리지</h1>" in ko and "아직 버킷이 없습니다" in ko and "새 버킷 생성" in ko
    assert "버킷: 10개 중 0개" in ko and "10.0 GiB 중 0 B 사용" in ko
    assert '<meter id="usage-bar"' in ko and 'max="10737418240" value="0"' in ko
    en = html(client.get("/storage", headers=EN))
    assert "<h1>Storage</h1>" in en and "No buckets yet" in en and "Create a bucket" in en
    assert "Buckets: 0 of 10" in en and "0 B of 10.0 GiB used" in en
    # the same name rule as the server, for the browser; storage.js only on storage pages
    assert 'pattern="[a-z0-9][a-z0-9\\-]{1,61}[a-z0-9]"' in en and 'minlength="3" maxlength="63"' in en
    assert '<script src="/static/storage.js" defer></script>' in en
    assert "storage.js" not in html(client.get("/mini-pcs", headers=EN))


def test_the_html_pattern_is_the_servers_rule():
    from minicloud.services.storage_rules import valid_bucket_name

    rule = re.compile(r"[a-z0-9][a-z0-9\-]{1,61}[a-z0-9]")
    for name in ("abc", "my-project-backup-2025", "a" * 63, "ab", "a" * 64, "Abc", "-ab", "ab-", "a_b", "a.b",
                 "가나다", "ab c", "0-0"):
        assert bool(rule.fullmatch(name)) == valid_bucket_name(name), name


def test_invalid_name_is_shown_next_to_the_field(client, alice):
    response = post_form(client, "/storage", {"name": "My_Bucket"}, headers=KO)
    assert response.status_code == 422
    page = html(response)
    assert field_error(page) == "버킷 이름은 소문자, 숫자, 하이픈(-)만 사용할 수 있습니다."
    assert 'value="My_Bucket"' in page and 'aria-invalid="true"' in page
    en = post_form(client, "/storage", {"name": "ab"}, headers=EN)
    assert en.status_code == 422
    assert field_error(html(en)) == "Bucket names may only use lowercase letters, digits and hyphens (-)."
    assert client.get("/api/v1/buckets").json["items"] == []  # nothing was created


def test_create_then_the_list_shows_it_and_a_taken_name_is_409(client, alice):
    created = make_bucket(client, "my-project-backup-2025")
    assert created.headers["Location"] == "/storage?created=my-project-backup-2025"
    page = html(client.get(created.headers["Location"], headers=KO))
    assert "버킷 my-project-backup-2025을(를) 생성했습니다." in page
    assert '<a href="/storage/my-project-backup-2025">my-project-backup-2025</a>' in page
    assert "버킷: 10개 중 1개" in page
    again = post_form(client, "/storage", {"name": "my-project-backup-2025"}, headers=KO)
    assert again.status_code == 409
    assert field_error(html(again)) == "이미 사용 중인 버킷 이름입니다."


def test_list_shows_objects_bytes_and_the_usage_bar(client, alice):
    make_bucket(client, "docs")
    put(alice, "docs", "a.txt", b"x" * 1500)
    put(alice, "docs", "b.txt", b"y" * 600)
    page = html(client.get("/storage", headers=EN))
    row = re.search(r'<tr data-bucket="docs">(.*?)</tr>', page, re.S).group(1)
    cells = [unescape(c.strip()) for c in re.findall(r"<td>(.*?)</td>", row, re.S)]
    assert cells[1] == "2" and cells[2] == "2.1 KiB"
    assert re.match(r"<time datetime=\"\d{4}-\d\d-\d\dT", cells[3])
    assert 'value="2100"' in page and "2.1 KiB of 10.0 GiB used" in page


# -- the object browser ---------------------------------------------------------------------------
def test_folders_breadcrumbs_and_objects(client, alice):
    make_bucket(client, "site")
    put(alice, "site", "index.html", b"<h1>hi</h1>", "text/html")
    put(alice, "site", "photos/2024/beach.jpg", b"jpg", "image/jpeg")
    put(alice, "site", "photos/cat.png", b"png" * 700, "image/png")
    root = objects_table(html(client.get("/storage/site", headers=EN)))
    assert '<tr class="folder" data-prefix="photos/">' in root
    assert 'href="/storage/site?prefix=photos%2F"' in root
    assert '<tr class="object" data-key="index.html">' in root and "text/html" in root
    assert 'href="/api/v1/buckets/site/objects/index.html?download=1"' in root
    assert "beach.jpg" not in root and "cat.png" not in root
    photos_page = html(client.get("/storage/site?prefix=photos/", headers=EN))
    crumbs = re.search(r'<nav class="breadcrumb".*?</nav>', photos_page, re.S).group(0)
    photos = objects_table(photos_page)
    assert 'href="/storage/site">site</a>' in crumbs
    assert 'href="/storage/site?prefix=photos%2F" aria-current="page">photos</a>' in crumbs
    assert '<tr class="folder" data-prefix="photos/2024/">' in photos and ">📁</span> 2024/</a>" in photos
    cat = re.search(r'<tr class="object" data-key="photos/cat.png">(.*?)</tr>', photos, re.S).group(1)
    assert ">cat.png</a>" in cat and "2.1 KiB" in cat and "image/png" in cat
    assert "index.html" not in photos
    deeper = html(client.get("/storage/site?prefix=photos/2024/", headers=KO))
    assert "beach.jpg" in objects_table(deeper) and "image/jpeg" in objects_table(deeper)
    assert 'aria-current="page">2024</a>' in deeper
    # the download link works with the session cookie
    download = client.get("/api/v1/buckets/site/objects/photos/2024/beach.jpg?download=1")
    assert download.status_code == 200 and download.data == b"jpg"
    assert "attachment" in download.headers["Content-Disposition"]


def test_pages_follow_the_next_cursor(client, alice):
    make_bucket(client, "many")
    for n in range(5):
        put(alice, "many", f"f{n}.txt", b"n")
    first = objects_table(html(client.get("/storage/many?limit=2")))
    assert re.findall(r'data-key="([^"]+)"', first) == ["f0.txt", "f1.txt"]
    seen = []
    url = "/storage/many?limit=2"
    while url:
        page = html(client.get(url))
        seen += re.findall(r'data-key="([^"]+)"', objects_table(page))
        nxt = re.search(r'id="next-page" href="([^"]+)"', page)
        url = unescape(nxt.group(1)) if nxt else None
    assert seen == [f"f{n}.txt" for n in range(5)]


def test_missing_or_foreign_bucket_is_a_404_page(client, alice, app):
    from conftest import Auth

    bob = Auth(ConformingClient(app)).user("bob")
    assert bob.post("/api/v1/buckets", json={"name": "secret"}).status_code == 201
    response = client.get("/storage/secret", headers=EN)
    assert response.status_code == 404 and '<html lang="en">' in html(response)


# -- the streamed upload form ---------------------------------------------------------------------
def test_the_test_client_sends_csrf_prefix_then_file():
    builder = EnvironBuilder(method="POST", data={"csrf_token": "t", "prefix": "p/",
                                                   "file": (io.BytesIO(b"x"), "a.txt")})
    body = builder.get_environ()["wsgi.input"].read()
    assert body.index(b'name="csrf_token"') < body.index(b'name="prefix"') < body.index(b'name="file"')


def test_upload_form_streams_the_file_into_the_folder(client, alice):
    make_bucket(client, "uploads")
    data = bytes(range(256)) * 4096  # 1 MiB, every byte value
    response = upload_form(client, "uploads", "report.bin", data, prefix="reports/2025")
    assert response.status_code == 303
    assert response.headers["Location"] == "/storage/uploads?prefix=reports%2F2025%2F&uploaded=report.bin"
    page = html(client.get(response.headers["Location"], headers=KO))
    assert "report.bin을(를) 업로드했습니다." in page and 'data-key="reports/2025/report.bin"' in page
    assert "1.0 MiB" in page
    stored = client.get("/api/v1/buckets/uploads/objects/reports/2025/report.bin")
    assert stored.status_code == 200 and stored.data == data
    # a browser that sends a path as the file name: only the name is kept
    again = upload_form(client, "uploads", "Users/kim/notes.txt", b"notes")
    assert again.status_code == 303
    assert client.get("/api/v1/buckets/uploads/objects/notes.txt").data == b"notes"


def test_upload_form_needs_its_csrf_field_and_a_file(client, alice):
    make_bucket(client, "uploads")
    forged = client.post("/storage/uploads/upload", data={"csrf_token": "forged", "prefix": "",
                                                          "file": (io.BytesIO(b"evil"), "evil.txt")})
    assert forged.status_code == 403
    assert client.get("/api/v1/buckets/uploads/objects/evil.txt").status_code == 404
    empty = client.post("/storage/uploads/upload", headers=EN,
                        data={"csrf_token": csrf_token(client), "prefix": "", "file": (io.BytesIO(b""), "")})
    assert empty.status_code == 422 and "Choose a file to upload." in html(empty)


def test_upload_errors_are_shown_on_the_page(client, alice, services):
    make_bucket(client, "small")
    services.quotas.set_limits(alice.personal_project, {"bucket_bytes": 1000})
    over = upload_form(client, "small", "big.bin", b"z" * 5000, headers=KO)
    assert over.status_code == 403
    assert "이 업로드는 프로젝트의 스토리지 할당량을 초과합니다." in html(over)
    assert '<html lang="ko">' in html(over) and 'id="upload-form"' in html(over)  # still the bucket page
    assert client.get("/api/v1/buckets/small/objects/big.bin").status_code == 404


class TestObjectSizeLimit:
    @pytest.fixture
    def config(self, config):
        return config.with_overrides({"storage.max_object_bytes": 2000})

    def test_too_large_upload_is_a_413_message(self, client, alice):
        make_bucket(client, "small")
        response = upload_form(client, "small", "big.bin", b"z" * 5000, headers=EN)
        assert response.status_code == 413
        assert "The object is too large (at most 2000 bytes)." in html(response)
        assert client.get("/api/v1/buckets/small/objects/big.bin").status_code == 404


# -- delete, share, delete bucket -----------------------------------------------------------------
def test_delete_an_object(client, alice):
    make_bucket(client, "trash")
    put(alice, "trash", "old/a.txt")
    put(alice, "trash", "old/b.txt")
    asked = post_form(client, "/storage/trash/delete-object", {"key": "old/a.txt", "prefix": "old/"}, headers=EN)
    assert asked.status_code == 200 and "Delete object old/a.txt?" in html(asked)
    assert client.get("/api/v1/buckets/trash/objects/old/a.txt").status_code == 200  # asked, not deleted
    response = post_form(client, "/storage/trash/delete-object", {"key": "old/a.txt", "prefix": "old/", "confirmed": "1"})
    assert response.status_code == 303
    assert response.headers["Location"] == "/storage/trash?prefix=old%2F&deleted=a.txt"
    page = html(client.get(response.headers["Location"], headers=EN))
    assert "a.txt was deleted." in page and 'data-key="old/a.txt"' not in page and 'data-key="old/b.txt"' in page
    assert client.get("/api/v1/buckets/trash/objects/old/a.txt").status_code == 404
    missing = post_form(client, "/storage/trash/delete-object", {"key": "old/a.txt", "prefix": "old/", "confirmed": "1"},
                        headers=EN)
    assert missing.status_code == 404 and 'id="storage-error"' in html(missing)


def test_share_link_is_shown_and_works_without_logging_in(client, alice, app):
    make_bucket(client, "public")
    put(alice, "public", "docs/한글 파일.txt", b"shared bytes")
    response = post_form(client, "/storage/public/share",
                         {"key": "docs/한글 파일.txt", "prefix": "docs/", "expires_in": "86400"}, headers=KO)
    assert response.status_code == 303  # post/redirect/get: a reload does not post again
    location = response.headers["Location"]
    assert location.startswith("/storage/public?") and "temp_url" not in location  # the link is not in the URL
    page = html(client.get(location, headers=KO))
    assert "공유 링크입니다" in page
    url = unescape(re.search(r'<input id="share-url" type="text" readonly value="([^"]+)"', page).group(1))
    assert url.startswith("http://localhost/shared/") and "temp_url_sig=" in url
    assert 'data-key="docs/한글 파일.txt"' in page  # the browser at the same folder
    stranger = ConformingClient(app)
    fetched = stranger.get(url.removeprefix("http://localhost"))
    assert fetched.status_code == 200 and fetched.data == b"shared bytes"
    tampered = stranger.get(url.removeprefix("http://localhost").replace("temp_url_sig=", "temp_url_sig=0"))
    assert tampered.status_code in (401, 403)
    # the owner's underneath panel lists the visitor's download, with the signature masked
    signature = re.search(r"temp_url_sig=([^&]+)", url).group(1)
    panel = html(client.get("/storage/public?prefix=docs/", headers=EN)).split('id="underneath"')[1]
    assert "<code>shared_download</code>" in panel and signature not in panel and signature not in unescape(panel)


def test_delete_bucket_needs_force_while_it_holds_objects(client, alice):
    make_bucket(client, "full")
    put(alice, "full", "a.txt")
    refused = post_form(client, "/storage/full/delete", {}, headers=EN)
    assert refused.status_code == 409
    assert "Tick “Also delete every object in it”" in html(refused)
    asked = post_form(client, "/storage/full/delete", {"force": "1", "confirmed": "1"}, headers=EN)
    assert asked.status_code == 422 and "To confirm, type the name full exactly." in html(asked)  # it holds a file
    assert client.get("/storage/full").status_code == 200
    forced = post_form(client, "/storage/full/delete", {"force": "1", "confirmed": "1", "confirm_name": "full"})
    assert forced.status_code == 303 and forced.headers["Location"] == "/storage?deleted=full"
    assert "Bucket full was deleted." in html(client.get(forced.headers["Location"], headers=EN))
    assert client.get("/storage/full").status_code == 404


# -- underneath, roles, dashboard, Swift down -----------------------------------------------------
def test_underneath_shows_the_swift_requests_without_tokens(client, alice):
    make_bucket(client, "under")
    upload_form(client, "under", "a.txt", b"abc")
    page = html(client.get("/storage/under", headers=EN))
    panel = re.search(r'<details class="underneath" id="underneath">.*?</details>', page, re.S).group(0)
    assert "<code>put_object</code>" in panel and "<code>create_bucket</code>" in panel
    assert re.search(r"PUT /v1/AUTH_\w+/under/a.txt → 201 \(\d+(\.\d+)? ms\)", panel), panel
    assert re.search(r"PUT /v1/AUTH_\w+/under → 20[12]", panel), panel
    assert "AUTH_tk" not in page and "X-Auth-Token" not in page and "temp_url_sig" not in panel


def test_viewer_browses_and_downloads_but_sees_no_write_controls(client, alice, auth, app):
    team = alice.post("/api/v1/projects", json={"name": "team"}).json["id"]
    assert alice.post("/api/v1/buckets", json={"name": "shared-docs"}, project_id=team).status_code == 201
    assert alice.request("PUT", "/api/v1/buckets/shared-docs/objects/readme.txt", project_id=team,
                         data=b"read me").status_code == 201
    auth.signup("bob")
    assert alice.post(f"/api/v1/projects/{team}/members",
                      json={"username": "bob", "role": "viewer"}).status_code == 201
    bob = ConformingClient(app)
    page_login(bob, "bob", password="correct-horse")
    assert post_form(bob, "/project", {"project_id": team, "next": "/storage"}).status_code == 303
    listing = html(bob.get("/storage", headers=EN))
    assert "shared-docs" in listing and 'id="bucket-create"' not in listing
    assert "creating, uploading and deleting need the user role" in listing
    page = html(bob.get("/storage/shared-docs", headers=EN))
    assert 'data-key="readme.txt"' in page and "?download=1" in page
    for control in ('id="upload-form"', 'action="/storage/shared-docs/share"', "/delete-object", 'id="bucket-delete"'):
        assert control not in page, control
    assert bob.get("/api/v1/buckets/shared-docs/objects/readme.txt").data == b"read me"
    refused = bob.post("/storage/shared-docs/upload", data={"csrf_token": csrf_token(bob), "prefix": "",
                                                            "file": (io.BytesIO(b"no"), "no.txt")})
    assert refused.status_code == 403


def test_dashboard_card_shows_buckets_and_bytes(client, alice):
    make_bucket(client, "one")
    make_bucket(client, "two")
    put(alice, "one", "a.bin", b"a" * 3072)
    page = html(client.get("/dashboard", headers=KO))
    card = re.search(r'<section class="card" id="card-storage".*?</section>', page, re.S).group(0)
    assert "<h2 id=\"card-storage-title\">스토리지</h2>" in card
    assert '<dd id="card-storage-buckets">2</dd>' in card and '<dd id="card-storage-bytes">3.0 KiB</dd>' in card


def test_swift_down_shows_the_message_in_the_layout_then_recovers(client, alice, swift_server):
    make_bucket(client, "steady")
    put(alice, "steady", "a.txt")
    swift_server.stop()
    try:
        bucket_page = client.get("/storage/steady", headers=KO)
        assert bucket_page.status_code == 503
        page = html(bucket_page)
        assert "스토리지 서비스에 연결할 수 없습니다." in page
        assert '<nav class="mainnav"' in page and "<h1>steady</h1>" in page  # the normal layout
        listing = client.get("/storage", headers=EN)
        assert listing.status_code == 200 and "steady" in html(listing)  # from the database
        create = post_form(client, "/storage", {"name": "later"}, headers=EN)
        assert create.status_code == 503 and "Cannot connect to the storage service." in html(create)
        upload = upload_form(client, "steady", "b.txt", b"b", headers=EN)
        assert upload.status_code == 503 and "Cannot connect to the storage service." in html(upload)
        dashboard = html(client.get("/dashboard", headers=EN))
        assert '<section class="card card-failed" id="card-storage"' in dashboard
        assert '<section class="card" id="card-project"' in dashboard  # the other cards still show
    finally:
        swift_server.start()
    assert client.get("/storage/steady").status_code == 200
    assert make_bucket(client, "later").status_code == 303
    assert '<section class="card" id="card-storage"' in html(client.get("/dashboard"))


def test_upload_form_never_holds_the_file_in_memory(client, alice, tmp_path):
    """64 MiB through the form: Python's peak allocations stay a small fraction of the file."""
    import tracemalloc

    make_bucket(client, "big")
    path = tmp_path / "big.bin"
    block = os.urandom(1024 * 1024)
    with open(path, "wb") as fh:
        for _ in range(64):
            fh.write(block)
    with open(path, "rb") as fh:
        builder = EnvironBuilder(path="/storage/big/upload", method="POST",
                                 data={"csrf_token": csrf_token(client), "prefix": "", "file": (fh, "big.bin")})
        environ = builder.get_environ()  # the test client spools the body to a temporary file
    tracemalloc.start()
    try:
        response = client.open(environ)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert response.status_code == 303, html(response)
    print(f"upload form: peak Python allocations {peak / 2**20:.2f} MiB for 64 MiB")
    assert peak < 8 * 1024 * 1024, f"peak Python allocations {peak / 2**20:.1f} MiB"
    head = client.head("/api/v1/buckets/big/objects/big.bin")
    assert head.status_code == 200 and int(head.headers["Content-Length"]) == 64 * 1024 * 1024
