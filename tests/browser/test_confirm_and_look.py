"""Nothing irreversible on one click, a line saying what was done, and a console that reads well on a phone
(issue 11), in headless Chromium against gunicorn with a real Swift.

With JavaScript a delete asks in a dialog (cancel keeps the thing; a bucket with files and a project need
their name typed); without it the same click lands on a confirmation page and nothing is deleted until it
is confirmed. A flash message says what a form did, in Korean and English. At 390×844 the header folds into
a menu button and a row's delete button stays in view. Screenshots go to screenshots/look-*.png.
"""
from __future__ import annotations

import os

import pytest
from serving import serve_app
from swift_fixtures import storage_environ
from test_console_flow import browser, new_page, server, shot, sign_up_and_log_in  # noqa: F401 - fixtures

pytestmark = pytest.mark.browser
PHONE = {"width": 390, "height": 844}
DESKTOP = {"width": 1280, "height": 900}


@pytest.fixture(scope="module")
def look_server(database_url, swift_server, tmp_path_factory):
    """gunicorn serving minicloud on a free loopback port with the test Swift; stopped by its pid afterwards."""
    env = dict(os.environ, DATABASE_URL=database_url, MINICLOUD_AUTH_BCRYPT_COST="4",
               MINICLOUD_AUTH_JWT_SECRET="browser-test-secret-" + "l" * 40, MINICLOUD_SERVER_DEFAULT_LANGUAGE="ko")
    env.update(storage_environ(swift_server))
    with serve_app(env, tmp_path_factory.mktemp("gunicorn-look"), workers=2) as served:
        yield served.base_url


def api(page, base: str, method: str, path: str, headers=None, **kwargs):
    """An API call with the page's session and its CSRF token, as the console's own scripts make them."""
    token = page.locator('meta[name="csrf-token"]').get_attribute("content")
    response = page.request.fetch(base + path, method=method, headers={"X-CSRF-Token": token, **(headers or {})},
                                  **kwargs)
    assert response.status < 300, response.text()
    return response


def bucket_with_files(page, base: str, bucket: str, *keys: str) -> None:
    api(page, base, "POST", "/api/v1/buckets", data={"name": bucket})
    for key in keys:
        api(page, base, "PUT", f"/api/v1/buckets/{bucket}/objects/{key}", data=b"hello " + key.encode(),
            headers={"Content-Type": "text/plain"})


def sized(page, viewport: dict):
    page.set_viewport_size(viewport)
    return page


def test_a_delete_asks_in_a_dialog_and_cancel_keeps_the_thing(look_server, browser, clean_db):  # noqa: F811
    from playwright.sync_api import expect

    base = look_server
    page = sized(new_page(browser, "ko-KR"), DESKTOP)
    sign_up_and_log_in(page, base, "asker", "Asker")
    bucket_with_files(page, base, "class-notes", "week1.txt", "week2.txt")
    page.goto(base + "/storage/class-notes")
    row = page.locator('tr[data-key="week1.txt"]')
    dialog = page.locator("#confirm-dialog")

    # cancel: the dialog closes and the file is still there, also after a reload
    row.get_by_role("button", name="삭제").click()
    expect(dialog).to_be_visible()
    expect(dialog.locator("h2")).to_have_text("오브젝트 week1.txt을(를) 삭제할까요?")
    expect(page.locator("#confirm-dialog-typed")).to_be_hidden()
    shot(page, "look-01-dialog-ko")
    dialog.get_by_role("button", name="취소").click()
    expect(dialog).to_be_hidden()
    page.reload()
    expect(row).to_be_visible()

    # Esc cancels too
    row.get_by_role("button", name="삭제").click()
    expect(dialog).to_be_visible()
    page.keyboard.press("Escape")
    expect(dialog).to_be_hidden()
    expect(row).to_be_visible()

    # confirm: deleted
    row.get_by_role("button", name="삭제").click()
    dialog.get_by_role("button", name="삭제").click()
    expect(page.locator("#storage-done")).to_contain_text("week1.txt")
    expect(row).to_have_count(0)
    expect(page.locator('tr[data-key="week2.txt"]')).to_be_visible()

    # a bucket that holds a file: its name must be typed before the button works
    page.locator("#bucket-delete input[name=force]").check()
    page.locator("#bucket-delete button").click()
    expect(dialog.locator("h2")).to_have_text("버킷 class-notes을(를) 삭제할까요?")
    ok = page.locator("#confirm-dialog-ok")
    expect(ok).to_be_disabled()
    page.fill("#confirm-dialog-name", "class-note")
    expect(ok).to_be_disabled()
    page.keyboard.press("Enter")  # a near miss submits nothing
    expect(dialog).to_be_visible()
    page.fill("#confirm-dialog-name", "class-notes")
    expect(ok).to_be_enabled()
    shot(page, "look-02-dialog-typed-ko")
    ok.click()
    expect(page).to_have_url(base + "/storage?deleted=class-notes")
    expect(page.locator("#storage-done")).to_contain_text("class-notes")
    page.context.close()


def test_without_javascript_the_delete_lands_on_a_confirmation_page(look_server, browser, clean_db):  # noqa: F811
    from playwright.sync_api import expect

    base = look_server
    page = sized(new_page(browser, "en-US", javascript=False), DESKTOP)
    sign_up_and_log_in(page, base, "plain", "Plain Page")
    page.goto(base + "/storage")
    page.fill("#bucket-name", "no-script")
    page.get_by_role("button", name="Create").click()
    page.get_by_role("link", name="no-script").click()
    page.set_input_files("#upload-file", files=[{"name": "essay.txt", "mimeType": "text/plain", "buffer": b"essay"}])
    page.get_by_role("button", name="Upload").click()
    row = page.locator('tr[data-key="essay.txt"]')
    expect(row).to_be_visible()

    row.get_by_role("button", name="Delete").click()
    expect(page.locator("h1")).to_have_text("Delete object essay.txt?")
    expect(page.locator(".lead")).to_have_text("This cannot be undone.")
    shot(page, "look-03-confirm-page-en")
    page.get_by_role("link", name="Cancel").click()
    expect(page).to_have_url(base + "/storage/no-script")
    expect(row).to_be_visible()
    row.get_by_role("button", name="Delete").click()
    page.locator("#confirm-submit").click()
    expect(page.locator("#storage-done")).to_have_text("essay.txt was deleted.")
    expect(row).to_have_count(0)

    # an empty bucket: asked, not typed
    page.locator("#bucket-delete button").click()
    expect(page.locator("h1")).to_have_text("Delete bucket no-script?")
    expect(page.locator("#confirm_name")).to_have_count(0)
    page.locator("#confirm-submit").click()
    expect(page).to_have_url(base + "/storage?deleted=no-script")

    # the phone menu opens without JavaScript too (a <details>)
    page.set_viewport_size(PHONE)
    storage_link = page.get_by_role("link", name="Storage", exact=True)
    expect(storage_link).to_be_hidden()
    page.locator("#navmenu > summary").click()
    expect(storage_link).to_be_visible()
    shot(page, "look-16-menu-open-nojs-phone-en")
    page.context.close()


def test_a_bucket_with_files_without_javascript_needs_its_name(look_server, browser, clean_db):  # noqa: F811
    from playwright.sync_api import expect

    base = look_server
    setup = sized(new_page(browser, "ko-KR"), DESKTOP)
    sign_up_and_log_in(setup, base, "typist", "Typist")
    bucket_with_files(setup, base, "thesis", "draft.txt")
    state = setup.context.storage_state()
    setup.context.close()
    context = browser.new_context(locale="ko-KR", java_script_enabled=False, viewport=DESKTOP, storage_state=state)
    page = context.new_page()
    page.goto(base + "/storage/thesis")
    page.locator("#bucket-delete input[name=force]").check()
    page.locator("#bucket-delete button").click()
    expect(page.locator("h1")).to_have_text("버킷 thesis을(를) 삭제할까요?")
    expect(page.locator("#confirm-detail")).to_have_text("이 버킷에는 오브젝트 1개가 들어 있으며 모두 함께 삭제됩니다.")
    page.fill("#confirm_name", "thesi")
    page.locator("#confirm-submit").click()
    expect(page.locator("#confirm_name-error")).to_have_text(
        "입력한 이름이 thesis과(와) 다릅니다. 이름을 정확히 입력해주세요.")
    shot(page, "look-04-confirm-typed-error-ko")
    page.goto(base + "/storage/thesis")
    expect(page.locator('tr[data-key="draft.txt"]')).to_be_visible()  # nothing was deleted
    page.locator("#bucket-delete input[name=force]").check()
    page.locator("#bucket-delete button").click()
    page.fill("#confirm_name", "thesis")
    page.locator("#confirm-submit").click()
    expect(page).to_have_url(base + "/storage?deleted=thesis")
    context.close()


def test_flash_after_an_action_in_korean_and_english_and_a_project_needs_its_name(
        look_server, browser, clean_db):  # noqa: F811
    from playwright.sync_api import expect

    base = look_server
    page = sized(new_page(browser, "ko-KR"), DESKTOP)
    sign_up_and_log_in(page, base, "flasher", "Flash Student")
    team = api(page, base, "POST", "/api/v1/projects", data={"name": "capstone"}).json()["id"]
    page.goto(base + "/dashboard")
    page.select_option("#project-select", team)  # submits itself
    flash = page.locator("#flash")
    expect(flash).to_have_text("프로젝트 capstone(으)로 전환했습니다.")
    expect(flash).to_have_attribute("role", "status")
    shot(page, "look-05-flash-ko")
    page.reload()
    expect(flash).to_have_count(0)  # once only

    page.get_by_role("link", name="English").click()
    personal = page.locator("#project-select option").first.get_attribute("value")
    page.select_option("#project-select", personal)
    expect(flash).to_contain_text("Switched to project")
    page.select_option("#project-select", team)
    expect(flash).to_have_text("Switched to project capstone.")
    shot(page, "look-06-flash-en")

    # the project's delete: the dialog wants the name typed
    page.locator("#project-delete button").click()
    dialog = page.locator("#confirm-dialog")
    expect(dialog.locator("h2")).to_have_text("Delete project capstone?")
    expect(page.locator("#confirm-dialog-ok")).to_be_disabled()
    page.fill("#confirm-dialog-name", "capstone")
    page.locator("#confirm-dialog-ok").click()
    expect(page.locator("#project-deleting")).to_contain_text("capstone")
    page.context.close()


def test_the_phone_layout_has_a_menu_and_row_actions_in_view(look_server, browser, clean_db):  # noqa: F811
    from playwright.sync_api import expect

    base = look_server
    page = sized(new_page(browser, "ko-KR"), PHONE)
    sign_up_and_log_in(page, base, "phoner", "Phone Student")
    bucket_with_files(page, base, "a-rather-long-bucket-name-for-a-phone", "lecture-notes-week-one-final.txt")
    menu = page.locator("#navmenu > summary")
    nav_link = page.get_by_role("link", name="스토리지", exact=True)
    expect(menu).to_be_visible()
    expect(nav_link).to_be_hidden()
    shot(page, "look-07-dashboard-phone-ko")
    menu.click()
    expect(nav_link).to_be_visible()
    shot(page, "look-08-menu-open-phone-ko")
    nav_link.click()
    expect(page).to_have_url(base + "/storage")
    expect(nav_link).to_be_hidden()  # a new page: the menu is folded again

    page.get_by_role("link", name="a-rather-long-bucket-name-for-a-phone").click()
    delete = page.locator('tr[data-key="lecture-notes-week-one-final.txt"]').get_by_role("button", name="삭제")
    expect(delete).to_be_visible()
    box = delete.bounding_box()
    assert box is not None and box["x"] >= 0 and box["x"] + box["width"] <= PHONE["width"], box
    shot(page, "look-09-bucket-phone-ko")
    delete.click()
    expect(page.locator("#confirm-dialog")).to_be_visible()
    dialog_box = page.locator("#confirm-dialog").bounding_box()
    assert dialog_box["x"] >= 0 and dialog_box["x"] + dialog_box["width"] <= PHONE["width"], dialog_box
    shot(page, "look-10-dialog-phone-ko")
    page.locator("#confirm-dialog-cancel").click()

    # the same in English, and the desktop header shows the navigation without a menu button
    menu.click()
    page.get_by_role("link", name="English").click()
    expect(page.locator("h1")).to_have_text("a-rather-long-bucket-name-for-a-phone")
    shot(page, "look-11-bucket-phone-en")
    page.set_viewport_size(DESKTOP)
    expect(menu).to_be_hidden()
    expect(page.get_by_role("link", name="Storage", exact=True)).to_be_visible()
    shot(page, "look-12-bucket-desktop-en")
    page.goto(base + "/dashboard")
    shot(page, "look-13-dashboard-desktop-en")
    page.context.close()


def test_a_vpc_delete_needs_its_name_and_a_subnet_delete_asks_on_a_phone(server, browser, clean_db):  # noqa: F811
    from playwright.sync_api import expect

    base = server

    page = sized(new_page(browser, "en-US"), PHONE)
    sign_up_and_log_in(page, base, "vpc-owner", "VPC Owner")
    page.goto(base + "/networks")
    page.fill("#vpc-name", "lab")
    page.fill("#vpc-cidr", "10.0.0.0/16")
    page.locator("#vpc-create button[type=submit]").click()
    expect(page.locator("h1")).to_have_text("lab")
    page.fill("#subnet-name", "web")
    page.fill("#subnet-cidr", "10.0.1.0/24")
    page.locator("#subnet-create button[type=submit]").click()
    row = page.locator('#subnet-table tr:has-text("10.0.1.0/24")')
    delete = row.get_by_role("button", name="Delete")
    expect(delete).to_be_visible()
    box = delete.bounding_box()
    assert box["x"] >= 0 and box["x"] + box["width"] <= PHONE["width"], box  # in view without scrolling sideways
    shot(page, "look-14-vpc-phone-en")
    delete.click()
    expect(page.locator("#confirm-dialog h2")).to_have_text("Delete subnet web?")
    page.locator("#confirm-dialog-cancel").click()
    expect(row).to_be_visible()
    delete.click()
    page.locator("#confirm-dialog-ok").click()
    expect(page.locator("#networks-done")).to_contain_text("web")
    expect(row).to_have_count(0)

    sized(page, DESKTOP)
    page.locator("#vpc-delete-link").click()
    page.locator("#delete-plain").click()
    expect(page.locator("#confirm-dialog h2")).to_have_text("Delete VPC lab?")
    expect(page.locator("#confirm-dialog-ok")).to_be_disabled()
    page.fill("#confirm-dialog-name", "LAB")
    expect(page.locator("#confirm-dialog-ok")).to_be_disabled()
    page.fill("#confirm-dialog-name", "lab")
    shot(page, "look-15-vpc-dialog-typed-en")
    page.locator("#confirm-dialog-ok").click()
    expect(page).to_have_url(base + "/networks?done=vpc_deleted&name=lab")
    expect(page.locator("#networks-done")).to_contain_text("lab")
    page.context.close()
