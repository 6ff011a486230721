"""The account console in a real browser (headless Chromium against gunicorn), in Korean and in English: key pairs
(import one from the rental form and find it chosen there; generate one and receive its private key once, as a
download), API keys (the secret shown once, then gone; revoked), projects (create, rename, add a member, change
their role, the delete plan), renaming a mini PC, choosing the image at rental, and the dashboard's used / limit.
Screenshots of every page, wide (1280x900) and narrow (390x844), go to screenshots/account-*.png."""
from __future__ import annotations

import re

import pytest
from test_console_flow import PASSWORD, SHOTS, browser, server, sign_up_and_log_in  # noqa: F401 - fixtures

from minicloud.services.keypairs import generate_ed25519

pytestmark = pytest.mark.browser
LANGS = [("ko-KR", "ko"), ("en-US", "en")]
WIDE, NARROW = {"width": 1280, "height": 900}, {"width": 390, "height": 844}
SAID = {
    "ko": {"imported_back": "미니 PC 빌리기로 돌아가기", "no_keys": "아직 키 페어가 없습니다", "once": "이 화면에서만",
           "key_shown_once": "한 번만 보여 드립니다", "revoked": "API 키를 폐기했습니다", "created": "프로젝트를 만들었습니다",
           "renamed": "프로젝트 이름을 바꿨습니다", "added": "멤버로 추가했습니다", "role_changed": "역할을 바꿨습니다",
           "user": "사용자", "pc_renamed": "미니 PC 이름을 바꿨습니다", "quota": "할당량", "no_keypair_yet": "아직 키 페어가 없습니다"},
    "en": {"imported_back": "Back to renting a mini PC", "no_keys": "No key pairs yet", "once": "only time",
           "key_shown_once": "shown only this once", "revoked": "Revoked the API key", "created": "Created the project",
           "renamed": "Renamed the project to", "added": "as a member", "role_changed": "Changed the role of",
           "user": "User", "pc_renamed": "Renamed the mini PC to", "quota": "Quotas", "no_keypair_yet": "no key pair yet"},
}


@pytest.fixture
def catalog(services, tmp_path):
    """Templates and two images to rent from (what an administrator registers)."""
    services.templates.seed()
    images = {}
    for name, os_name, user in (("tiny", "CirrOS", "student"), ("alpine", "Alpine Linux", "alpine")):
        disk = tmp_path / f"{name}.qcow2"
        disk.write_bytes(b"QFI\xfb")
        images[name] = services.images.create({"name": name, "disk_path": str(disk), "os": os_name,
                                               "default_user": user})
    return images


def open_page(browser, locale: str):  # noqa: F811 - browser is the fixture's value
    context = browser.new_context(locale=locale, viewport=WIDE, accept_downloads=True)
    page = context.new_page()
    page.set_default_timeout(10_000)
    return page


def shots(page, name: str, lang: str) -> None:
    """The page as it is now, wide and narrow."""
    for size, viewport in (("wide", WIDE), ("narrow", NARROW)):
        page.set_viewport_size(viewport)
        page.screenshot(path=str(SHOTS / f"account-{name}-{lang}-{size}.png"), full_page=True)
    page.set_viewport_size(WIDE)


def rent(page, server: str, name: str, image: str | None = None) -> str:  # noqa: F811
    """Rent a mini PC through the form (the nano template: 1 vCPU); the detail page's URL."""
    from playwright.sync_api import expect

    page.goto(server + "/mini-pcs/new")
    page.fill("#name", name)
    page.locator("label.choice", has_text="nano").locator('input[name="template_id"]').check()
    if image:
        page.locator("#image-picker label", has_text=image).locator("input").check()
    page.locator("form.stack button[type=submit].primary").click()
    expect(page.locator("h1")).to_contain_text(name)
    return page.url


@pytest.mark.parametrize("locale, lang", LANGS)
def test_key_pairs_imported_from_the_rental_form_and_generated_once(server, browser, clean_db, catalog,  # noqa: F811
                                                                    locale, lang):
    from playwright.sync_api import expect

    said = SAID[lang]
    page = open_page(browser, locale)
    sign_up_and_log_in(page, server, f"keys-{lang}", "Key Student")
    page.goto(server + "/mini-pcs/new")
    expect(page.locator("#keypair-hint")).to_contain_text(said["no_keypair_yet"])
    expect(page.locator("#image-picker")).to_contain_text("alpine")
    expect(page.locator("#image-picker")).to_contain_text("Alpine Linux")
    shots(page, "rental-form", lang)
    page.fill("#name", "keeps-my-typing")  # what was typed survives the detour to the key pairs page
    page.locator("label.choice", has_text="nano").locator('input[name="template_id"]').check()
    page.fill("#user_data", "#cloud-config\nhostname: kept\n")
    page.locator("#add-keypair").click()
    expect(page.locator("#keypairs-empty")).to_contain_text(said["no_keys"])
    expect(page.locator("#back-to-rental")).to_contain_text(said["imported_back"])
    shots(page, "keypairs-empty", lang)

    # a bad key is refused in place, what was typed kept; a good one goes back to the rental form, chosen
    page.fill("#import-name", "laptop")
    page.fill("#public_key", "ssh-ed25519 not-a-key")
    page.locator("#keypair-import button[type=submit]").click()
    expect(page.locator("#public_key-error")).to_be_visible()
    expect(page.locator("#import-name")).to_have_value("laptop")
    shots(page, "keypairs-refused", lang)
    page.fill("#public_key", generate_ed25519("me@laptop")[1])
    page.locator("#keypair-import button[type=submit]").click()
    expect(page).to_have_url(re.compile(r"/mini-pcs/new\?keypair_id="))
    expect(page.locator("#keypair_id option:checked")).to_contain_text("laptop (SHA256:")
    expect(page.locator("#name")).to_have_value("keeps-my-typing")
    expect(page.locator("label.choice", has_text="nano").locator('input[name="template_id"]')).to_be_checked()
    expect(page.locator("#user_data")).to_have_value("#cloud-config\nhostname: kept\n")

    # generate a pair: the private key comes once, as a file
    page.goto(server + "/key-pairs")
    page.fill("#generate-name", "made-here")
    page.locator("#keypair-generate button[type=submit]").click()
    expect(page.locator("#shown-once")).to_contain_text(said["once"])
    shots(page, "keypair-generated", lang)
    with page.expect_download() as caught:
        page.locator("#private-key-download button").click()
    download = caught.value
    assert download.suggested_filename == "made-here.pem"
    with open(download.path(), encoding="ascii") as fh:
        private = fh.read()
    assert private.startswith("-----BEGIN OPENSSH PRIVATE KEY-----") and "END OPENSSH PRIVATE KEY" in private

    page.goto(server + "/key-pairs")
    expect(page.locator('#keypairs tr[data-keypair="made-here"]')).to_contain_text("SHA256:")
    expect(page.locator('#keypairs tr[data-keypair="laptop"]')).to_be_visible()
    assert "PRIVATE KEY" not in page.content()
    shots(page, "keypairs", lang)
    page.locator('#keypairs tr[data-keypair="laptop"] button.danger').click()
    page.locator("#confirm-dialog-ok").click()  # the delete asks first
    expect(page.locator("#done")).to_contain_text("laptop")
    expect(page.locator('#keypairs tr[data-keypair="laptop"]')).to_have_count(0)
    page.context.close()


@pytest.mark.parametrize("locale, lang", LANGS)
def test_an_api_key_is_shown_once_and_revoked(server, browser, clean_db, locale, lang):  # noqa: F811
    from playwright.sync_api import expect

    said = SAID[lang]
    page = open_page(browser, locale)
    sign_up_and_log_in(page, server, f"apikeys-{lang}", "Script Student")
    page.get_by_role("link", name="API 키" if lang == "ko" else "API keys", exact=True).click()
    expect(page.locator("#api-keys-empty")).to_be_visible()
    page.fill("#key-name", "laptop cli")
    page.locator("#api-key-create button[type=submit]").click()
    expect(page.locator("#new-key")).to_contain_text(said["key_shown_once"])
    secret = page.locator("#new-key-secret").input_value()
    assert secret.startswith("mck_")
    shots(page, "api-key-created", lang)
    answered = page.request.get(server + "/api/v1/auth/me", headers={"Authorization": f"Bearer {secret}"})
    assert answered.status == 200 and answered.json()["username"] == f"apikeys-{lang}"

    page.goto(server + "/api-keys")  # the secret is gone for good: only its first characters are listed
    row = page.locator('#api-keys tr[data-api-key="laptop cli"]')
    expect(row).to_contain_text(secret[:12])
    assert secret not in page.content()
    shots(page, "api-keys", lang)
    row.locator("button.danger").click()
    page.locator("#confirm-dialog-ok").click()  # the revoke asks first
    expect(page.locator("#done")).to_contain_text(said["revoked"])
    expect(page.locator("#api-keys-empty")).to_be_visible()
    refused = page.request.get(server + "/api/v1/auth/me", headers={"Authorization": f"Bearer {secret}"})
    assert refused.status == 401
    page.context.close()


@pytest.mark.parametrize("locale, lang", LANGS)
def test_a_project_is_created_renamed_and_shared_with_a_member(server, browser, clean_db, locale, lang):  # noqa: F811
    from playwright.sync_api import expect

    said = SAID[lang]
    page = open_page(browser, locale)
    made = page.request.post(server + "/api/v1/auth/signup", data={
        "username": f"bob-{lang}", "password": PASSWORD, "display_name": "Bob Park"})
    assert made.status == 201
    sign_up_and_log_in(page, server, f"owner-{lang}", "Team Owner")
    page.get_by_role("link", name="프로젝트" if lang == "ko" else "Projects", exact=True).click()
    expect(page.locator(f'#projects tr[data-project="owner-{lang}"]')).to_be_visible()
    page.fill("#project-name", "lab-team")
    page.fill("#project-description", "OS course, week 3")
    page.locator("#project-create button[type=submit]").click()
    expect(page.locator("#done")).to_contain_text(said["created"])
    expect(page.locator("#project-title")).to_contain_text("lab-team")

    page.fill("#rename-name", "os-lab")
    page.locator("#project-rename button[type=submit]").click()
    expect(page.locator("#done")).to_contain_text(said["renamed"])
    expect(page.locator("#project-title")).to_contain_text("os-lab")

    page.fill("#member-username", "nobody-here")
    page.select_option("#member-role", "viewer")
    page.locator("#member-add button[type=submit]").click()
    expect(page.locator("#member-username-error")).to_contain_text("nobody-here")
    expect(page.locator("#member-role")).to_have_value("viewer")
    page.fill("#member-username", f"bob-{lang}")
    page.locator("#member-add button[type=submit]").click()
    expect(page.locator("#done")).to_contain_text(said["added"])
    bob = page.locator(f'#member-table tr[data-member="bob-{lang}"]')
    expect(bob.locator("select")).to_have_value("viewer")
    bob.locator("select").select_option("user")
    bob.locator("button", has_text=re.compile("역할 변경|Change role")).click()
    expect(page.locator("#done")).to_contain_text(said["role_changed"])
    expect(page.locator(f'#member-table tr[data-member="bob-{lang}"] select')).to_have_value("user")
    shots(page, "project", lang)

    page.locator("#delete-plan-link").click()
    expect(page.locator("#delete-plan")).to_contain_text(f"bob-{lang}")
    expect(page.locator('#delete-plan li[data-kind="project"]')).to_contain_text("os-lab")
    shots(page, "project-delete", lang)
    page.goto(server + "/projects")
    expect(page.locator('#projects tr[data-project="os-lab"]')).to_be_visible()
    shots(page, "projects", lang)
    page.context.close()


@pytest.mark.parametrize("locale, lang", LANGS)
def test_renting_with_a_chosen_image_renaming_and_the_quota_card(server, browser, clean_db, catalog, services,  # noqa: F811
                                                                 locale, lang):
    from playwright.sync_api import expect

    said = SAID[lang]
    page = open_page(browser, locale)
    sign_up_and_log_in(page, server, f"renter-{lang}", "Renter")
    detail = rent(page, server, "web1", image="alpine")
    expect(page.locator("#instance-image")).to_have_text("alpine")
    # no worker runs here: the mini PC is put at rest, as if its job had built and stopped it
    services.db.execute("UPDATE instances SET state = 'stopped' WHERE name = 'web1'")
    page.goto(detail)
    page.locator(".rename-box summary").click()
    page.fill("#rename-name", "api-server")
    page.locator("#instance-rename button[type=submit]").click()
    expect(page.locator("#done")).to_contain_text(said["pc_renamed"])
    expect(page.locator("h1")).to_contain_text("api-server")
    shots(page, "instance-renamed", lang)

    page.goto(server + "/dashboard")
    card = page.locator('[data-card="quotas"]')
    expect(card.locator("h2")).to_have_text(said["quota"])
    expect(card.locator('li[data-quota="instances"]')).to_contain_text("1 / 5")
    expect(card.locator('li[data-quota="vcpus"] meter')).to_have_attribute("value", "1")
    shots(page, "dashboard", lang)
    page.context.close()


def test_the_account_pages_work_without_javascript(server, browser, clean_db):  # noqa: F811
    from playwright.sync_api import expect

    context = browser.new_context(locale="ko-KR", viewport=WIDE, java_script_enabled=False, accept_downloads=True)
    page = context.new_page()
    page.set_default_timeout(10_000)
    sign_up_and_log_in(page, server, "nojs-keys", "No Script")
    page.goto(server + "/key-pairs")
    page.fill("#generate-name", "plain")
    page.locator("#keypair-generate button[type=submit]").click()
    with page.expect_download() as caught:
        page.locator("#private-key-download button").click()
    assert caught.value.suggested_filename == "plain.pem"
    page.goto(server + "/api-keys")
    page.fill("#key-name", "ci")
    page.locator("#api-key-create button[type=submit]").click()
    expect(page.locator("#new-key-secret")).to_have_value(re.compile(r"^mck_"))
    page.goto(server + "/api-keys")
    page.locator('#api-keys tr[data-api-key="ci"] button.danger').click()
    expect(page.locator("#confirm-title")).to_be_visible()  # without JavaScript: the confirmation page
    page.locator("#confirm-submit").click()
    expect(page.locator("#done")).to_contain_text("API 키를 폐기했습니다: ci")
    context.close()
