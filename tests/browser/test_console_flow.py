"""The console in a real browser: headless Chromium (Debian's) against gunicorn serving minicloud.

Sign up, log in, see the dashboard, switch the language, log out — with JavaScript,
and the username check and sign-up once more without it. Screenshots go to screenshots/.
"""
from __future__ import annotations

import os
from pathlib import Path

import pytest
from serving import serve_app

pytestmark = pytest.mark.browser

ROOT = Path(__file__).resolve().parents[2]
SHOTS = ROOT / "screenshots"
CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync"]
PASSWORD = "correct-horse-battery"


@pytest.fixture(scope="module")
def server(database_url, tmp_path_factory):
    """gunicorn serving minicloud on a free loopback port; stopped (by its pid) afterwards."""
    env = dict(os.environ, DATABASE_URL=database_url, MINICLOUD_AUTH_BCRYPT_COST="4",
               MINICLOUD_AUTH_JWT_SECRET="browser-test-secret-" + "y" * 40, MINICLOUD_SERVER_DEFAULT_LANGUAGE="ko")
    with serve_app(env, tmp_path_factory.mktemp("gunicorn"), workers=2) as served:
        yield served.base_url


@pytest.fixture(scope="module")
def browser():
    if not CHROMIUM.exists():
        pytest.fail(f"{CHROMIUM} is missing: the browser tests need Debian's Chromium "
                    "(scripts/install-deps.sh, or: apt-get install -y --no-install-recommends chromium)")
    from playwright.sync_api import sync_playwright

    SHOTS.mkdir(exist_ok=True)
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        yield browser
        browser.close()


def new_page(browser, locale: str, javascript: bool = True):
    context = browser.new_context(locale=locale, java_script_enabled=javascript,
                                  viewport={"width": 1280, "height": 860})
    page = context.new_page()
    page.set_default_timeout(10_000)
    return page


def sign_up_and_log_in(page, server: str, username: str, display_name: str) -> None:
    """A user made through the API, then logged in through the console's form: the page is on the dashboard."""
    from playwright.sync_api import expect

    signed_up = page.request.post(server + "/api/v1/auth/signup", data={
        "username": username, "password": PASSWORD, "display_name": display_name})
    assert signed_up.status == 201, signed_up.text()
    page.goto(server + "/login")
    page.fill("#username", username)
    page.fill("#password", PASSWORD)
    page.locator("form.stack button[type=submit]").click()
    expect(page).to_have_url(server + "/dashboard")


def shot(page, name: str) -> None:
    page.screenshot(path=str(SHOTS / f"{name}.png"), full_page=True)


def test_sign_up_log_in_dashboard_language_log_out(server, browser, clean_db):
    from playwright.sync_api import expect

    page = new_page(browser, "ko-KR")
    page.goto(server + "/")  # a visitor meets the landing page, which leads to the login
    page.locator("#landing-login").click()
    expect(page).to_have_url(server + "/login")
    expect(page.locator("h1")).to_have_text("로그인")
    shot(page, "01-login-ko")

    # sign up (UC-01): the username check answers in place, without reloading the page
    page.get_by_role("link", name="회원가입").first.click()
    expect(page).to_have_url(server + "/signup")
    page.fill("#password", PASSWORD)  # a reload would empty this field
    page.fill("#username", "student1")
    page.get_by_role("button", name="중복 확인").click()
    expect(page.locator("#username-status")).to_contain_text("사용할 수 있는 아이디입니다")
    expect(page.locator("#password")).to_have_value(PASSWORD)
    page.fill("#password_confirm", PASSWORD)
    page.fill("#display_name", "Student One")
    page.fill("#email", "student1@example.com")
    page.fill("#birthdate", "2003-04-05")
    shot(page, "02-signup-ko")
    page.get_by_role("button", name="가입하기").click()

    # success goes to the login tab, with the username filled in
    expect(page).to_have_url(server + "/login?signed_up=1&username=student1")
    expect(page.locator(".notice.success")).to_contain_text("가입이 완료되었습니다")
    expect(page.locator("#username")).to_have_value("student1")
    page.fill("#password", "wrong-password")
    page.locator("form.stack button[type=submit]").click()
    expect(page.locator(".notice.error")).to_contain_text("아이디 또는 비밀번호가 올바르지 않습니다")
    page.fill("#password", PASSWORD)
    page.locator("form.stack button[type=submit]").click()

    # the dashboard, in Korean
    expect(page).to_have_url(server + "/dashboard")
    expect(page.locator("h1")).to_have_text("안녕하세요, Student One님")
    for card in ("project", "operations", "quotas", "activity"):
        expect(page.locator(f'[data-card="{card}"]')).to_be_visible()
    expect(page.locator('[data-card="quotas"] h2')).to_have_text("할당량")
    expect(page.get_by_role("link", name="대시보드", exact=True)).to_have_attribute("aria-current", "page")
    shot(page, "03-dashboard-ko")

    # switch to English: the same page comes back in English
    page.get_by_role("link", name="English").click()
    expect(page).to_have_url(server + "/dashboard")
    expect(page.locator("h1")).to_have_text("Hello, Student One")
    expect(page.locator('[data-card="quotas"] h2')).to_have_text("Quotas")
    expect(page.locator("html")).to_have_attribute("lang", "en")
    shot(page, "04-dashboard-en")

    page.get_by_role("link", name="Mini PCs").click()
    expect(page.locator("h1")).to_have_text("Mini PCs")
    expect(page.locator(".empty-state")).to_contain_text("No mini PCs yet")
    shot(page, "05-instances-en")
    page.get_by_role("link", name="Audit").click()
    expect(page.locator("h1")).to_have_text("Audit")
    expect(page.locator("main table")).to_contain_text("signed up")  # the sign-up, recorded in the personal project

    # a second project (through the API, as a script in the page would, with the token the page holds;
    # no script can read it from the cookie): the header offers a switcher
    assert "mc_csrf" not in page.evaluate("document.cookie")
    csrf = page.locator('meta[name="csrf-token"]').get_attribute("content")
    assert csrf == next(c["value"] for c in page.context.cookies() if c["name"] == "mc_csrf")
    created = page.request.post(server + "/api/v1/projects", data={"name": "team-lab"},
                                headers={"X-CSRF-Token": csrf})
    assert created.status == 201, created.text()
    page.goto(server + "/dashboard")
    page.select_option("#project-select", label="team-lab · admin")  # submits by itself with JavaScript
    expect(page.locator("h1 + .lead")).to_contain_text('"team-lab"')
    expect(page).to_have_url(server + "/dashboard")
    page.get_by_role("link", name="Audit", exact=True).click()
    expect(page.locator("table.data")).to_contain_text("created a project")
    expect(page.locator("table.data")).to_contain_text("student1")
    shot(page, "06-audit-en")
    page.goto(server + "/no-such-page")
    expect(page.locator("h1")).to_have_text("Page not found")
    expect(page.locator(".whoami")).to_contain_text("Student One")  # still signed in on the error page
    shot(page, "07-error-404-en")

    # log out: back to the login page, and the dashboard needs a login again
    page.get_by_role("button", name="Log out").click()
    expect(page).to_have_url(server + "/login?signed_out=1")
    expect(page.locator(".notice")).to_contain_text("You have logged out.")
    page.goto(server + "/dashboard")
    expect(page).to_have_url(server + "/login?next=/dashboard")

    # the name is now taken
    page.goto(server + "/signup")
    page.fill("#username", "student1")
    page.get_by_role("button", name="Check availability").click()
    expect(page.locator("#username-status")).to_contain_text("already taken")
    page.context.close()


def test_the_console_works_without_javascript(server, browser, clean_db):
    from playwright.sync_api import expect

    page = new_page(browser, "en-US", javascript=False)
    page.goto(server + "/signup")
    page.fill("#username", "nojs-user")
    page.fill("#display_name", "No Script")
    page.get_by_role("button", name="Check availability").click()  # a normal form post
    expect(page.locator("#username-status")).to_contain_text('"nojs-user" is available.')
    expect(page.locator("#display_name")).to_have_value("No Script")
    page.fill("#password", PASSWORD)
    page.fill("#password_confirm", PASSWORD + "-typo")  # the browser cannot catch this one; the server does
    page.get_by_role("button", name="Create account").click()
    expect(page.locator("#password_confirm-error")).to_contain_text("do not match")
    expect(page.locator("#username")).to_have_value("nojs-user")
    shot(page, "08-signup-errors-nojs")
    page.fill("#password", PASSWORD)
    page.fill("#password_confirm", PASSWORD)
    page.get_by_role("button", name="Create account").click()
    expect(page).to_have_url(server + "/login?signed_up=1&username=nojs-user")
    page.fill("#password", PASSWORD)
    page.get_by_role("button", name="Log in").last.click()
    expect(page.locator("h1")).to_have_text("Hello, No Script")
    page.get_by_role("link", name="한국어").click()
    expect(page.locator("h1")).to_have_text("안녕하세요, No Script님")
    page.get_by_role("button", name="로그아웃").click()
    expect(page).to_have_url(server + "/login?signed_out=1")
    page.context.close()
