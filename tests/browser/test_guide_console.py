"""The newcomer's guide and the audit log in a real browser (issue 11, items 5-7): the audit page in Korean
and English (words, times in the browser's zone, a badge on one line, the table inside its card on a phone),
the dashboard's first-run panel ticking off, the username error clearing as the name changes, the API
reference at normal size. Screenshots (ko + en, 1280x900 and 390x844) go to screenshots/."""
from __future__ import annotations

import os

import pytest
from serving import serve_app
from test_console_flow import SHOTS, PASSWORD, browser, shot, sign_up_and_log_in  # noqa: F401 - browser: a fixture

pytestmark = pytest.mark.browser
DESKTOP = {"width": 1280, "height": 900}
PHONE = {"width": 390, "height": 844}


@pytest.fixture(scope="module")
def server(database_url, tmp_path_factory):
    """gunicorn serving minicloud with no Kubernetes cluster anywhere (the apps card: not connected)."""
    home = tmp_path_factory.mktemp("home")
    env = {k: v for k, v in os.environ.items() if k not in ("KUBECONFIG", "KUBERNETES_SERVICE_HOST")}
    env.update(DATABASE_URL=database_url, MINICLOUD_AUTH_BCRYPT_COST="4", HOME=str(home),
               MINICLOUD_AUTH_JWT_SECRET="guide-browser-secret-" + "g" * 40, MINICLOUD_SERVER_DEFAULT_LANGUAGE="ko")
    with serve_app(env, tmp_path_factory.mktemp("gunicorn"), workers=2) as served:
        yield served.base_url


def page_in(browser, locale: str, zone: str, viewport=DESKTOP, javascript: bool = True):  # noqa: F811
    context = browser.new_context(locale=locale, timezone_id=zone, viewport=viewport, java_script_enabled=javascript)
    page = context.new_page()
    page.set_default_timeout(10_000)
    return page


def token(page, server: str, username: str) -> str:
    answer = page.request.post(server + "/api/v1/auth/login", data={"username": username, "password": PASSWORD})
    assert answer.status == 200, answer.text()
    return answer.json()["access_token"]


def one_line(locator) -> bool:
    """The element's box is one line of its text high (it did not wrap)."""
    return locator.evaluate("""el => {
        const cs = getComputedStyle(el), rect = el.getBoundingClientRect();
        const line = parseFloat(cs.lineHeight) || parseFloat(cs.fontSize) * 1.5;
        const extra = parseFloat(cs.paddingTop) + parseFloat(cs.paddingBottom)
                    + parseFloat(cs.borderTopWidth) + parseFloat(cs.borderBottomWidth);
        return rect.height <= line + extra + 1 && rect.height > 0;
    }""")


def test_the_audit_page_in_words_and_local_time_in_korean_and_english(server, browser, clean_db):  # noqa: F811
    from playwright.sync_api import expect

    page = page_in(browser, "ko-KR", "Asia/Seoul")
    sign_up_and_log_in(page, server, "minji", "김민지")
    bearer = {"Authorization": "Bearer " + token(page, server, "minji")}
    made = page.request.post(server + "/api/v1/keypairs", data={"name": "laptop"}, headers=bearer)
    assert made.status == 201, made.text()
    keypair_id = made.json()["id"]
    failed = page.context.request.post(server + "/api/v1/auth/login", data={"username": "minji", "password": "nope"})
    assert failed.status == 401

    page.goto(server + "/audit")
    table = page.locator("#audit-entries")
    expect(table).to_contain_text("키 페어를 만들었습니다")
    expect(table).to_contain_text("로그인했습니다")
    expect(table.locator(f'.audit-target[title="{keypair_id}"]')).to_have_text("laptop")  # by name, the id on hover
    first_time = table.locator("time").first
    expect(first_time).to_have_attribute("data-local", "1")
    expect(first_time).to_have_text(__import__("re").compile(r"^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d KST$"))
    failure = table.locator(".badge.failure").first
    expect(failure).to_have_text("실패")
    assert one_line(failure) and one_line(table.locator(".badge.success").first)
    shot(page, "guide-audit-ko-1280")

    # the search by words in the page's language
    page.fill("#q", "키 페어")
    page.get_by_role("button", name="필터").click()
    expect(table.locator("tbody tr")).to_have_count(1)
    expect(table).to_contain_text("키 페어를 만들었습니다")

    # in English, in New York: the same history in English words, the times in the browser's zone
    english = page_in(browser, "en-US", "America/New_York")
    english.context.add_cookies(page.context.cookies())
    english.goto(server + "/language/en?next=/audit")
    table = english.locator("#audit-entries")
    expect(table).to_contain_text("created a key pair")
    expect(table).to_contain_text("logged in")
    expect(table.locator("time").first).to_have_text(__import__("re").compile(r" UTC-[45]$"))
    assert one_line(table.locator(".badge.failure").first)
    shot(english, "guide-audit-en-1280")

    # on a phone the table scrolls inside its card; the page itself does not get wider
    phone = page_in(browser, "en-US", "America/New_York", PHONE)
    phone.context.add_cookies(english.context.cookies())
    phone.goto(server + "/audit")
    wrap = phone.locator(".audit-table")
    assert wrap.evaluate("el => el.scrollWidth > el.clientWidth")
    assert wrap.evaluate("el => el.getBoundingClientRect().right <= window.innerWidth")
    assert one_line(phone.locator(".badge.failure").first)
    shot(phone, "guide-audit-en-390")
    phone_ko = page_in(browser, "ko-KR", "Asia/Seoul", PHONE)
    phone_ko.context.add_cookies(page.context.cookies())
    phone_ko.goto(server + "/audit")
    assert one_line(phone_ko.locator(".badge.success").first)
    shot(phone_ko, "guide-audit-ko-390")


def test_the_first_run_panel_ticks_off_and_can_be_dismissed(server, browser, clean_db):  # noqa: F811
    from playwright.sync_api import expect

    page = page_in(browser, "ko-KR", "Asia/Seoul")
    sign_up_and_log_in(page, server, "junho", "이준호")
    panel = page.locator("#first-run")
    expect(panel).to_be_visible()
    expect(panel.locator("#first-run-keypair")).to_have_attribute("data-done", "no")
    expect(panel.locator("#first-run-keypair a")).to_have_attribute("href", "/key-pairs")
    expect(page.locator("#first-run-progress")).to_have_text("3개 중 0개 완료")
    expect(page.locator("#card-apps")).to_contain_text("연결되지 않음 — 관리자에게 문의하세요.")
    assert "card-not-connected" in page.locator("#card-apps").get_attribute("class")
    shot(page, "guide-dashboard-ko-1280")

    bearer = {"Authorization": "Bearer " + token(page, server, "junho")}
    assert page.request.post(server + "/api/v1/keypairs", data={"name": "home"}, headers=bearer).status == 201
    page.reload()
    expect(panel.locator("#first-run-keypair")).to_have_attribute("data-done", "yes")
    expect(panel.locator("#first-run-keypair s")).to_have_text("SSH 키 추가하기")  # ticked off
    expect(page.locator("#first-run-progress")).to_have_text("3개 중 1개 완료")
    expect(page.locator("#card-activity")).to_contain_text("키 페어를 만들었습니다")

    phone = page_in(browser, "en-US", "Asia/Seoul", PHONE)
    phone.context.add_cookies(page.context.cookies())
    phone.goto(server + "/language/en?next=/dashboard")
    expect(phone.locator("#first-run-progress")).to_have_text("1 of 3 done")
    expect(phone.locator("#card-activity")).to_contain_text("created a key pair")
    shot(phone, "guide-dashboard-en-390")
    wide = page_in(browser, "en-US", "Asia/Seoul")
    wide.context.add_cookies(phone.context.cookies())
    wide.goto(server + "/dashboard")
    shot(wide, "guide-dashboard-en-1280")
    phone_ko = page_in(browser, "ko-KR", "Asia/Seoul", PHONE)
    phone_ko.context.add_cookies(page.context.cookies())
    phone_ko.goto(server + "/dashboard")
    shot(phone_ko, "guide-dashboard-ko-390")

    # the apps section without a cluster: the deploy form, disabled, and who to ask
    for shown, lang in ((page, "ko"), (phone, "en")):
        shown.goto(server + "/apps")
        expect(shown.locator("#apps-unavailable")).to_contain_text(
            "관리자에게 문의하세요" if lang == "ko" else "ask your administrator")
        assert shown.locator("#apps-deploy-disabled input#name").is_disabled()
        shot(shown, f"guide-apps-not-connected-{lang}")
    page.goto(server + "/dashboard")
    page.get_by_role("button", name="안내 닫기").click()
    expect(page).to_have_url(server + "/dashboard")
    expect(page.locator("#first-run")).to_have_count(0)


def test_the_username_error_clears_when_the_name_changes(server, browser, clean_db):  # noqa: F811
    from playwright.sync_api import expect

    page = page_in(browser, "ko-KR", "Asia/Seoul")
    page.goto(server + "/signup")
    page.fill("#username", "ab")
    page.fill("#display_name", "Ab")
    page.fill("#password", PASSWORD)
    page.fill("#password_confirm", PASSWORD)
    page.get_by_role("button", name="가입하기").click()
    error = page.locator("#username-error")
    expect(error).to_be_visible()  # the server's message under the field
    expect(page.locator("#username")).to_have_attribute("aria-invalid", "true")
    shot(page, "guide-signup-error-ko")
    page.locator("#username").press("End")
    page.locator("#username").type("c")
    expect(error).to_have_count(0)
    expect(page.locator("#username")).not_to_have_attribute("aria-invalid", "true")
    shot(page, "guide-signup-error-cleared-ko")
    # the check button's "invalid" answer clears the same way
    page.fill("#username", "x")
    page.get_by_role("button", name="중복 확인").click()
    expect(page.locator("#username-status")).to_have_class(__import__("re").compile(r"\binvalid\b"))
    page.locator("#username").type("yz")
    expect(page.locator("#username-status")).to_have_text("")


def test_the_landing_page_and_the_docs_at_normal_size(server, browser, clean_db):  # noqa: F811
    from playwright.sync_api import expect

    for locale, lang in (("ko-KR", "ko"), ("en-US", "en")):
        for name, viewport in (("1280", DESKTOP), ("390", PHONE)):
            page = page_in(browser, locale, "Asia/Seoul", viewport)
            page.goto(server + f"/language/{lang}?next=/")
            expect(page.locator("#landing-signup")).to_be_visible()
            shot(page, f"guide-landing-{lang}-{name}")
    page = page_in(browser, "ko-KR", "Asia/Seoul")
    page.goto(server + "/docs")
    expect(page.locator("#op-instances-create").locator("xpath=..")).to_contain_text("미니 PC를 빌립니다")
    answers = page.locator(".docs-answers").first
    status, item = answers.locator(".http-status").first, answers.locator("li").first
    size = status.evaluate("el => parseFloat(getComputedStyle(el).fontSize)")
    assert size == item.evaluate("el => parseFloat(getComputedStyle(el).fontSize)") and size < 20
    assert one_line(status)
    expect(page.locator("#op-instances-list").locator("xpath=..").locator("pre.docs-cli")).to_have_text("mcloud pc list")
    page.locator("#op-instances-start").scroll_into_view_if_needed()
    page.screenshot(path=str(SHOTS / "guide-docs-ko-1280.png"))
    phone = page_in(browser, "en-US", "Asia/Seoul", PHONE)
    phone.goto(server + "/language/en?next=/docs")
    phone.locator("#op-instances-start").scroll_into_view_if_needed()
    phone.screenshot(path=str(SHOTS / "guide-docs-en-390.png"))
