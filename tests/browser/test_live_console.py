"""Live pages and the terminal in a real browser (issue 11, items 3 and 4): headless Chromium against gunicorn.

- A mini PC list updates itself when the mini PC's state changes in another tab (server-sent events fed by
  PostgreSQL LISTEN/NOTIFY; no reload: a mark set in the page survives), and so does the dashboard.
- The terminal (system: a real tiny guest under qemu:///system and a real worker): the boot output
  streams in, Ctrl-C interrupts a running command, the arrow keys recall history, no password hash shows
  — neither on the page nor in the raw console log (the image masks it at the source) — and the SSH line
  says "stopped" once it is stopped, again without a reload.
Screenshots in Korean and English, 1280x900 and 390x844, go to screenshots/.
"""
from __future__ import annotations

import os
import re
import threading
import uuid
from pathlib import Path

import pytest
from serving import serve_app
from test_console_flow import PASSWORD, SHOTS, browser, server, shot, sign_up_and_log_in  # noqa: F401 - fixtures
from waiting import wait_for

pytestmark = pytest.mark.browser
SIZES = {"wide": {"width": 1280, "height": 900}, "narrow": {"width": 390, "height": 844}}
NO_RELOAD = "window.__stillTheSamePage"


def open_page(browser, locale: str, size: str = "wide", context=None):  # noqa: F811 - the fixture's value
    context = context or browser.new_context(locale=locale, viewport=SIZES[size])
    page = context.new_page()
    page.set_default_timeout(15_000)
    return page


def log_in(page, server: str, username: str) -> None:  # noqa: F811
    from playwright.sync_api import expect

    page.goto(server + "/login")
    page.fill("#username", username)
    page.fill("#password", PASSWORD)
    page.locator("form.stack button[type=submit]").click()
    expect(page).to_have_url(server + "/dashboard")


def csrf(page) -> dict:
    return {"X-CSRF-Token": page.locator('meta[name="csrf-token"]').get_attribute("content")}


@pytest.fixture
def catalogue(services, tmp_path):
    """The seeded templates and an image (its disk is never booted here: no worker runs)."""
    services.templates.seed()
    disk = tmp_path / "tiny.qcow2"
    disk.write_bytes(b"QFI\xfb")
    image = services.images.create({"name": "tiny", "disk_path": str(disk), "default_user": "student"})
    nano = services.db.fetchone("SELECT id FROM templates WHERE name = 'nano'")
    return {"image": str(image["id"]), "template": str(nano["id"])}


def test_a_list_updates_when_a_mini_pcs_state_changes_in_another_tab(server, browser, catalogue):  # noqa: F811
    from playwright.sync_api import expect

    page = open_page(browser, "ko-KR")
    sign_up_and_log_in(page, server, "live1", "Live One")
    made = page.request.post(server + "/api/v1/instances", headers=csrf(page), data={
        "name": "web1", "template_id": catalogue["template"], "image_id": catalogue["image"]})
    assert made.status == 202, made.text()
    instance = made.json()
    page.goto(server + "/mini-pcs")
    row = page.locator(f'tr[data-instance="{instance["id"]}"]')
    expect(row.locator(".badge")).to_have_text("대기 중")
    assert page.locator("noscript").count() == 1  # the meta refresh is only the no-JavaScript fallback
    page.evaluate(f"{NO_RELOAD} = true")

    other = open_page(browser, "ko-KR", context=page.context)  # another tab of the same session
    other.goto(server + f"/mini-pcs/{instance['id']}")
    gone = other.request.delete(server + f"/api/v1/instances/{instance['id']}", headers=csrf(other))
    assert gone.status == 202, gone.text()

    expect(row.locator(".badge")).to_have_text("삭제 중")  # without a reload:
    assert page.evaluate(NO_RELOAD) is True
    shot(page, "live-01-list-updated-ko")

    # a second mini PC, made in the other tab, appears in the list and on the dashboard by itself
    page.goto(server + "/dashboard")
    page.evaluate(f"{NO_RELOAD} = true")
    before = page.locator('[data-card="instances"]').inner_text()
    second = other.request.post(server + "/api/v1/instances", headers=csrf(other), data={
        "name": "web2", "template_id": catalogue["template"], "image_id": catalogue["image"]})
    assert second.status == 202, second.text()
    expect(page.locator('[data-card="instances"]')).not_to_have_text(before)
    assert page.evaluate(NO_RELOAD) is True
    for locale, size in (("ko-KR", "narrow"), ("en-US", "wide"), ("en-US", "narrow")):
        view = open_page(browser, locale, size)
        log_in(view, server, "live1")
        view.goto(server + "/mini-pcs")
        shot(view, f"live-01-list-{locale[:2]}-{size}")
        view.goto(server + f"/mini-pcs/{second.json()['id']}")
        expect(view.locator("#ssh-line")).to_contain_text("아직 접속할 수 없습니다" if locale == "ko-KR" else "Not reachable yet")
        shot(view, f"live-02-pending-{locale[:2]}-{size}")
        view.context.close()


def test_without_javascript_a_busy_list_refreshes_itself(server, browser, catalogue):  # noqa: F811
    page = browser.new_context(locale="en-US", java_script_enabled=False).new_page()
    sign_up_and_log_in(page, server, "live2", "Live Two")
    made = page.request.post(server + "/api/v1/instances", headers=csrf(page), data={
        "name": "web1", "template_id": catalogue["template"], "image_id": catalogue["image"]})
    assert made.status == 202
    page.goto(server + "/mini-pcs")
    assert page.locator('meta[http-equiv="refresh"]').count() == 1  # parsed as a tag when scripts are off
    page.goto(server + f"/mini-pcs/{made.json()['id']}")
    assert page.locator("#console").is_visible() and page.locator("#terminal").is_hidden()
    assert "Stopped" not in page.locator("#ssh-line").inner_text()
    assert "Not reachable yet" in page.locator("#ssh-line").inner_text()


# ---- the terminal, on a real guest ----------------------------------------------------------------

TERMINAL_TEXT = """() => {
  const term = window.minicloudTerminal, buffer = term.buffer.active, lines = [];
  for (let i = 0; i < buffer.length; i++) { lines.push(buffer.getLine(i).translateToString(true)); }
  return lines.join("\\n");
}"""


def terminal_text(page) -> str:
    return page.evaluate(TERMINAL_TEXT)


def wait_terminal(page, pattern: str, timeout: float = 60) -> str:
    try:
        return wait_for(lambda: terminal_text(page) if re.search(pattern, terminal_text(page)) else None,
                        timeout, f"{pattern!r} in the terminal", interval=0.3)
    except AssertionError as exc:
        raise AssertionError(f"{exc}; the terminal shows:\n{terminal_text(page)[-2000:]}") from None


@pytest.fixture(scope="module")
def guest_env(libvirt_uri, tmp_path_factory):
    from system.test_mini_pcs import destroy_domain, free_port_block, lv_open
    from libvirt_fixtures import remove_pool

    tag = uuid.uuid4().hex[:8]
    base = tmp_path_factory.mktemp(f"live-terminal-{tag}")
    base.chmod(0o755)
    env = {"uri": libvirt_uri, "base": base, "pool_name": f"mc-live-{tag}", "pool_path": str(base / "pool"),
           "log_dir": str(base / "console"), "port_start": free_port_block(4), "domains": set()}
    env["port_end"] = env["port_start"] + 3
    yield env
    conn = lv_open(libvirt_uri)
    try:
        for name in env["domains"]:
            destroy_domain(conn, name)
        remove_pool(conn, env["pool_name"])
    finally:
        conn.close()


def _settings(env: dict) -> dict:
    from system.test_mini_pcs import compute_settings
    return compute_settings(env)


@pytest.fixture
def config(config, request):
    if "guest_env" not in request.fixturenames:
        return config
    return config.with_overrides({**_settings(request.getfixturevalue("guest_env")), "database.pool_max": 12,
                                  "jobs.backoff_base_seconds": 0.5, "jobs.backoff_max_seconds": 2.0})


@pytest.fixture(scope="module")
def guest_server(database_url, guest_env, tmp_path_factory):
    env = dict(os.environ, DATABASE_URL=database_url, MINICLOUD_AUTH_BCRYPT_COST="4",
               MINICLOUD_AUTH_JWT_SECRET="test-secret-" + "x" * 40, MINICLOUD_SERVER_DEFAULT_LANGUAGE="en")
    for key, value in _settings(guest_env).items():
        env["MINICLOUD_" + key.replace(".", "_").upper()] = str(value)
    with serve_app(env, tmp_path_factory.mktemp("gunicorn-live")) as served:
        yield served.base_url


@pytest.fixture
def worker(config, services):
    from minicloud.jobs.worker import Worker

    running = Worker(config, services, name="live-terminal")
    thread = threading.Thread(target=running.run_forever, name=running.name, daemon=True)
    thread.start()
    yield running
    running.stop.set()
    running.wake.set()
    thread.join(timeout=120)


@pytest.mark.system
def test_the_terminal_sends_ctrl_c_and_arrows_to_a_real_guest(guest_server, guest_env, browser,  # noqa: F811
                                                              services, worker, tiny_image):
    from playwright.sync_api import expect

    base = guest_server
    services.templates.seed()
    image = services.images.create({
        "name": "tiny", "disk_path": str(tiny_image.disk), "kernel_path": str(tiny_image.kernel),
        "initrd_path": str(tiny_image.initrd), "cmdline": tiny_image.cmdline,
        "default_user": tiny_image.default_user, "min_disk_gib": 1})
    template = services.db.fetchone("SELECT id FROM templates WHERE name = 'nano'")["id"]
    page = open_page(browser, "en-US")
    typed = []  # every POST of keys the terminal made, with its answer
    page.on("response", lambda response: typed.append((response.request.post_data, response.status))
            if response.request.method == "POST" and response.url.endswith("/console") else None)
    sign_up_and_log_in(page, base, "term1", "Term One")
    made = page.request.post(base + "/api/v1/instances", headers=csrf(page), data={
        "name": "shell1", "template_id": str(template), "image_id": str(image["id"]),
        "password": "guest-password-1"})
    assert made.status == 202, made.text()
    instance_id = made.json()["id"]
    guest_env["domains"].add(f"mc-{instance_id}")
    try:
        page.goto(base + f"/mini-pcs/{instance_id}")
        page.evaluate(f"{NO_RELOAD} = true")
        expect(page.locator("#terminal")).to_be_visible()
        expect(page.locator("#console")).to_be_hidden()
        expect(page.locator("#operation")).to_be_visible()  # the create operation's steps, while it runs
        expect(page.locator("#state")).to_have_text("Running", timeout=180_000)  # the page updated itself
        shown = wait_terminal(page, r"MINICLOUD-READY", timeout=120)
        assert page.evaluate(NO_RELOAD) is True

        # no password hash: not in the terminal, and not even in the raw log (the image masks it itself)
        assert "passwd: ********" in shown and "$6$" not in shown
        raw = (Path(guest_env["log_dir"]) / f"mc-{instance_id}.log").read_text(errors="replace")
        assert "MINICLOUD-USER-DATA-BEGIN" in raw and "$6$" not in raw

        page.locator("#terminal").click()
        page.keyboard.type("sleep 600\r")
        wait_terminal(page, r"sleep 600\s*$", timeout=30)
        page.keyboard.press("Control+c")  # without it the shell would be busy for ten minutes
        page.keyboard.type("echo after-$((6*7))\r")
        wait_terminal(page, r"(?m)^after-42", timeout=60)
        page.keyboard.press("ArrowUp")  # the shell's history: the escape sequence reached the guest intact
        page.keyboard.press("Enter")
        wait_terminal(page, r"(?s)after-42.*after-42", timeout=60)
        assert "^C" in terminal_text(page)

        # the SSH ways from the student's own machine, each with a copy button
        page.context.grant_permissions(["clipboard-read", "clipboard-write"], origin=base)
        forwarded = page.locator("#ssh .way-forwarded")
        expect(forwarded.locator("code").first).to_have_text(re.compile(r"^ssh -J term1@127\.0\.0\.1 -p \d+ root@127\.0\.0\.1$"))
        forwarded.get_by_role("button", name="Copy command").click()
        expect(page.locator("#copy-status")).to_have_text("Copied to the clipboard.")
        assert page.evaluate("navigator.clipboard.readText()") == forwarded.locator("code").first.inner_text()
        for locale, size in (("en-US", "wide"), ("en-US", "narrow"), ("ko-KR", "wide"), ("ko-KR", "narrow")):
            view = open_page(browser, locale, size)
            log_in(view, base, "term1")
            view.goto(base + f"/mini-pcs/{instance_id}")
            wait_terminal(view, r"after-42", timeout=30)
            shot(view, f"live-terminal-{locale[:2]}-{size}")
            view.context.close()

        # stopped: the SSH line says so, live
        stopped = page.request.post(base + f"/api/v1/instances/{instance_id}/stop", headers=csrf(page))
        assert stopped.status == 202, stopped.text()
        expect(page.locator("#state")).to_have_text("Stopped", timeout=120_000)
        expect(page.locator("#ssh-line")).to_contain_text("Stopped — start the mini PC to connect")
        expect(page.locator("#operation")).to_contain_text("Stop the mini PC")
        assert page.evaluate(NO_RELOAD) is True
        shot(page, "live-terminal-en-stopped")
        print("keys sent:", typed)
        assert typed and all(status == 204 for _, status in typed), typed
    finally:
        page.request.delete(base + f"/api/v1/instances/{instance_id}", headers=csrf(page))
        wait_for(lambda: services.db.fetchone("SELECT state FROM instances WHERE id = %s",
                                              (instance_id,))["state"] == "deleted", 120, "the mini PC deleted")
