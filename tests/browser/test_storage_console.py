"""The storage pages in a real browser: headless Chromium against gunicorn, minicloud on a real Swift.

Create a bucket (the name rule answers as one types), upload a file through the JavaScript path
(PUT to the API with a progress bar that reaches 100 %), see it listed, download it, and make a
share link that a browser without a session can fetch. Screenshots go to screenshots/.
"""
from __future__ import annotations

import os

import pytest
from serving import serve_app
from swift_fixtures import storage_environ
from test_console_flow import browser, new_page, shot, sign_up_and_log_in  # noqa: F401 - browser: a fixture

pytestmark = pytest.mark.browser


@pytest.fixture(scope="module")
def storage_server(database_url, swift_server, tmp_path_factory):
    """gunicorn serving minicloud on a free loopback port with the test Swift; stopped by its pid afterwards."""
    env = dict(os.environ, DATABASE_URL=database_url, MINICLOUD_AUTH_BCRYPT_COST="4",
               MINICLOUD_AUTH_JWT_SECRET="browser-test-secret-" + "z" * 40, MINICLOUD_SERVER_DEFAULT_LANGUAGE="ko")
    env.update(storage_environ(swift_server))
    with serve_app(env, tmp_path_factory.mktemp("gunicorn-storage"), workers=2) as served:
        yield served.base_url


def test_bucket_upload_with_progress_download_and_share(storage_server, browser, clean_db, tmp_path):  # noqa: F811
    from playwright.sync_api import expect

    server = storage_server
    page = new_page(browser, "ko-KR")
    sign_up_and_log_in(page, server, "storer", "Storage Student")
    expect(page.locator('[data-card="storage"] #card-storage-buckets')).to_have_text("0")

    # the bucket list and its create form: the name rule answers as one types, in Korean
    page.get_by_role("link", name="스토리지", exact=True).click()
    expect(page.locator("h1")).to_have_text("스토리지")
    expect(page.locator(".empty-state")).to_contain_text("아직 버킷이 없습니다")
    page.fill("#bucket-name", "My_Photos")
    expect(page.locator("#bucket-name-error")).to_have_text("버킷 이름은 소문자, 숫자, 하이픈(-)만 사용할 수 있습니다.")
    shot(page, "storage-01-name-rule-ko")
    page.get_by_role("button", name="생성하기").click()  # refused in the browser: nothing is sent
    expect(page).to_have_url(server + "/storage")
    page.fill("#bucket-name", "photos-2025")
    expect(page.locator("#bucket-name-error")).to_have_text("")
    page.get_by_role("button", name="생성하기").click()
    expect(page).to_have_url(server + "/storage?created=photos-2025")
    expect(page.locator("#storage-done")).to_contain_text("버킷 photos-2025을(를) 생성했습니다.")
    expect(page.locator("#usage-buckets")).to_have_text("버킷: 10개 중 1개")

    # upload through JavaScript: PUT to the API, the progress bar reaches 100 %, the listing reloads
    page.get_by_role("link", name="photos-2025").click()
    expect(page.locator("h1")).to_have_text("photos-2025")
    content = os.urandom(24 * 1024 * 1024)
    page.fill("#upload-prefix", "trips/2025/")
    (tmp_path / "jeju.bin").write_bytes(content)
    page.set_input_files("#upload-file", str(tmp_path / "jeju.bin"))
    with page.expect_request(lambda r: r.method == "PUT" and "/api/v1/buckets/photos-2025/objects/" in r.url) as put:
        page.get_by_role("button", name="업로드").click()
    assert put.value.url == server + "/api/v1/buckets/photos-2025/objects/trips/2025/jeju.bin"
    expect(page.locator("#upload-progress")).to_have_js_property("value", 100)
    expect(page.locator("#upload-status")).to_contain_text("jeju.bin을(를) 업로드했습니다.")
    shot(page, "storage-02-upload-progress-ko")
    expect(page).to_have_url(server + "/storage/photos-2025?prefix=trips%2F2025%2F&uploaded=jeju.bin")
    row = page.locator('tr[data-key="trips/2025/jeju.bin"]')
    expect(row).to_contain_text("24.0 MiB")
    expect(page.locator(".breadcrumb")).to_contain_text("trips")

    # download it: the same bytes
    with page.expect_download() as download:
        row.get_by_role("link", name="다운로드").click()
    assert download.value.suggested_filename == "jeju.bin"
    with open(download.value.path(), "rb") as fh:
        assert fh.read() == content

    # a share link for 7 days, shown ready to copy, which works without a session
    row.locator("select[name=expires_in]").select_option(label="7일")
    row.get_by_role("button", name="공유 링크").click()
    expect(page.locator("#share-result")).to_contain_text("jeju.bin의 공유 링크입니다")
    url = page.locator("#share-url").input_value()
    assert url.startswith(server + "/shared/") and "temp_url_sig=" in url
    page.locator("#underneath summary").click()
    expect(page.locator("#underneath")).to_contain_text("put_object")
    shot(page, "storage-03-share-link-ko")
    stranger = browser.new_context()
    fetched = stranger.request.get(url)
    assert fetched.status == 200 and fetched.body() == content
    stranger.close()

    # the folder view from the root, and the dashboard's card
    page.locator(".breadcrumb").get_by_role("link", name="photos-2025").click()
    expect(page.locator('tr[data-prefix="trips/"]')).to_be_visible()
    page.get_by_role("link", name="English").click()
    expect(page.locator("#objects")).to_contain_text("Folder")
    shot(page, "storage-04-bucket-en")
    page.goto(server + "/dashboard")
    expect(page.locator("#card-storage-buckets")).to_have_text("1")
    expect(page.locator("#card-storage-bytes")).to_have_text("24.0 MiB")
    shot(page, "storage-05-dashboard-en")
    page.context.close()


def test_upload_form_without_javascript(storage_server, browser, clean_db, tmp_path):  # noqa: F811
    """The plain multipart form as Chromium sends it (csrf_token, prefix, file), streamed by the server."""
    from playwright.sync_api import expect

    server = storage_server
    page = new_page(browser, "en-US", javascript=False)
    sign_up_and_log_in(page, server, "nojs-storer", "No Script")
    page.goto(server + "/storage")
    page.fill("#bucket-name", "plain-form")
    page.get_by_role("button", name="Create").click()
    expect(page.locator("#storage-done")).to_contain_text("Bucket plain-form was created.")
    page.get_by_role("link", name="plain-form").click()
    (tmp_path / "notes.txt").write_text("written without a script\n")
    page.fill("#upload-prefix", "docs")
    page.set_input_files("#upload-file", str(tmp_path / "notes.txt"))
    page.get_by_role("button", name="Upload").click()
    expect(page).to_have_url(server + "/storage/plain-form?prefix=docs%2F&uploaded=notes.txt")
    expect(page.locator("#storage-done")).to_have_text("notes.txt was uploaded.")
    expect(page.locator('tr[data-key="docs/notes.txt"]')).to_contain_text("text/plain")
    shot(page, "storage-06-upload-nojs-en")
    page.context.close()
