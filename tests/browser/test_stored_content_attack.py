"""The stored-content attack, repeated in headless Chromium (issue 8, point 1).

A page uploaded to a bucket whose script tries to mint an API key in the account of whoever opens it
(with the CSRF token read from the cookie, or scraped from a console page) is opened through its share
link and through the logged-in download, by a signed-in victim. Nothing of it runs: it arrives as a
file (Content-Disposition: attachment), and were it shown, the sandbox CSP would keep it scriptless and
originless. The victim's account has no API key afterwards, and a Korean text opens as Korean.
"""
from __future__ import annotations

import pytest
from test_console_flow import browser, new_page, shot, sign_up_and_log_in  # noqa: F401 - browser: a fixture
from test_storage_console import storage_server  # noqa: F401 - a fixture

pytestmark = pytest.mark.browser

ATTACK = """<!doctype html><title>innocent</title><h1 id="said">a page</h1>
<script>
(async () => {
  document.title = "ran";
  let token = decodeURIComponent((document.cookie.match(/(?:^|; )mc_csrf=([^;]*)/) || [])[1] || "");
  if (!token) {
    const console = await (await fetch("/dashboard", {credentials: "include"})).text();
    token = (console.match(/name="csrf-token" content="([^"]+)"/) || [])[1] || "";
  }
  const made = await fetch("/api/v1/api-keys", {method: "POST", credentials: "include",
    headers: {"Content-Type": "application/json", "X-CSRF-Token": token}, body: JSON.stringify({name: "stolen"})});
  document.title = "ran:" + made.status;
})();
</script>"""
SVG = ('<svg xmlns="http://www.w3.org/2000/svg"><script>fetch("/api/v1/api-keys", {method: "POST"});'
       'document.title = "ran"</script></svg>')
KOREAN = "안녕하세요. 공유 링크로 열어도 한글이 그대로 보여야 합니다."


def token(page) -> str:
    """The CSRF token the console page gives its own scripts."""
    return page.locator('meta[name="csrf-token"]').get_attribute("content")


def make_bucket(page, server, name):
    made = page.request.post(server + "/api/v1/buckets", data={"name": name}, headers={"X-CSRF-Token": token(page)})
    assert made.status == 201, made.text()


def upload(page, server, bucket, key, body, content_type):
    answer = page.request.put(f"{server}/api/v1/buckets/{bucket}/objects/{key}", data=body,
                              headers={"Content-Type": content_type, "X-CSRF-Token": token(page)})
    assert answer.status == 201, answer.text()


def share(page, server, bucket, key):
    answer = page.request.post(f"{server}/api/v1/buckets/{bucket}/objects/{key}/share", data={"expires_in": 600},
                               headers={"X-CSRF-Token": token(page)})
    assert answer.status == 201, answer.text()
    return answer.json()["url"]


def open_as_file(page, url):
    """Navigate to ``url``: the browser must save it as a file, rendering nothing."""
    with page.expect_download() as download:
        page.evaluate("url => { window.location.href = url; }", url)
    return download.value


def api_keys(page, server):
    answer = page.request.get(server + "/api/v1/api-keys")
    assert answer.status == 200
    return answer.json()["items"]


def test_an_uploaded_page_runs_nothing_for_a_signed_in_victim(storage_server, browser, clean_db):  # noqa: F811
    server = storage_server
    mallory = new_page(browser, "en-US")
    sign_up_and_log_in(mallory, server, "mallory", "Mallory")
    make_bucket(mallory, server, "traps")
    upload(mallory, server, "traps", "invite.html", ATTACK, "text/html")
    upload(mallory, server, "traps", "logo.svg", SVG, "image/svg+xml")
    upload(mallory, server, "traps", "cat.png", ATTACK, "image/png")  # a page that says it is an image
    links = {key: share(mallory, server, "traps", key) for key in ("invite.html", "logo.svg", "cat.png")}

    victim = new_page(browser, "ko-KR")
    sign_up_and_log_in(victim, server, "victim", "Victim")
    assert "mc_csrf" not in victim.evaluate("document.cookie")  # HttpOnly: no script reads it
    for key in ("invite.html", "logo.svg"):
        saved = open_as_file(victim, links[key])
        assert saved.suggested_filename == key
    victim.goto(links["cat.png"])  # an image opens inline, as an image (nosniff): not as the page it holds
    assert victim.title() != "ran" and not victim.title().startswith("ran:")
    assert victim.locator("#said").count() == 0
    victim.goto(server + "/dashboard")
    assert victim.title() != "ran"

    # the victim's own download of the same page, while logged in, through the console's object browser
    make_bucket(victim, server, "mine")
    upload(victim, server, "mine", "invite.html", ATTACK, "text/html")
    victim.goto(server + "/storage/mine")
    with victim.expect_download() as download:
        victim.locator('tr[data-key="invite.html"]').get_by_role("link").first.click()
    assert download.value.suggested_filename == "invite.html"
    saved = open_as_file(victim, server + "/api/v1/buckets/mine/objects/invite.html")  # without ?download=1
    assert saved.suggested_filename == "invite.html"
    shot(victim, "storage-07-after-the-attack-ko")

    assert api_keys(victim, server) == []
    assert api_keys(mallory, server) == []
    victim.context.close()
    mallory.context.close()


def test_a_shared_korean_text_reads_as_korean(storage_server, browser, clean_db):  # noqa: F811
    server = storage_server
    page = new_page(browser, "ko-KR")
    sign_up_and_log_in(page, server, "writer", "Writer")
    make_bucket(page, server, "notes")
    upload(page, server, "notes", "인사.txt", KOREAN.encode("utf-8"), "text/plain")
    upload(page, server, "notes", "windows.txt", KOREAN.encode("cp949"), "text/plain")
    stranger = new_page(browser, "en-US")
    for key in ("인사.txt", "windows.txt"):
        stranger.goto(share(page, server, "notes", key))
        assert stranger.locator("body").inner_text().strip() == KOREAN
    shot(stranger, "storage-08-shared-korean-text")
    stranger.context.close()
    page.context.close()
