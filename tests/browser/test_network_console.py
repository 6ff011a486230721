"""The Networks console in a real browser: headless Chromium against gunicorn. Create a VPC, two subnets and
a security group through the forms, open the VPC page with its topology drawing, and save screenshots in
Korean and English, wide (1280x900) and narrow (390x844), to screenshots/."""
from __future__ import annotations

import pytest
from test_console_flow import PASSWORD, SHOTS, browser, server, shot, sign_up_and_log_in  # noqa: F401 - fixtures

pytestmark = pytest.mark.browser
SIZES = {"wide": {"width": 1280, "height": 900}, "narrow": {"width": 390, "height": 844}}


def open_page(browser, locale: str, size: str):  # noqa: F811 - browser is the fixture's value
    context = browser.new_context(locale=locale, viewport=SIZES[size])
    page = context.new_page()
    page.set_default_timeout(10_000)
    return page


def log_in(page, server: str, username: str) -> None:  # noqa: F811
    from playwright.sync_api import expect

    page.goto(server + "/login")
    page.fill("#username", username)
    page.fill("#password", PASSWORD)
    page.locator("form.stack button[type=submit]").click()
    expect(page).to_have_url(server + "/dashboard")


def test_a_vpc_with_two_subnets_and_a_group_in_both_languages_and_sizes(server, browser, clean_db):  # noqa: F811
    from playwright.sync_api import expect

    page = open_page(browser, "en-US", "wide")
    sign_up_and_log_in(page, server, "netter", "Network Student")
    page.goto(server + "/networks")
    page.fill("#vpc-name", "lab")
    page.fill("#vpc-cidr", "10.0.0.0/16")
    page.locator("#vpc-create button[type=submit]").click()
    expect(page.locator("h1")).to_have_text("lab")
    vpc_url = page.url.split("?")[0]
    for name, cidr in (("web", "10.0.1.0/24"), ("db", "10.0.2.0/24")):
        page.fill("#subnet-name", name)
        page.fill("#subnet-cidr", cidr)
        page.locator("#subnet-create button[type=submit]").click()
        expect(page.locator(f'#subnet-table tr:has-text("{cidr}")')).to_contain_text("251")
    page.fill("#group-name", "web-servers")
    page.fill("#group-description", "HTTP from anywhere")
    page.locator("#group-create button[type=submit]").click()
    expect(page.locator("h1")).to_contain_text("web-servers")
    page.select_option("#rule-protocol", "tcp")
    page.fill("#rule-port-min", "80")
    page.fill("#rule-port-max", "80")
    page.locator("#rule-add button[type=submit]").click()
    expect(page.locator("#ingress-rules")).to_contain_text("80")
    shot(page, "networks-group-en-wide")
    page.context.close()

    for locale, lang in (("ko-KR", "ko"), ("en-US", "en")):
        for size in SIZES:
            page = open_page(browser, locale, size)
            log_in(page, server, "netter")
            page.goto(vpc_url)
            expect(page.locator("#topology svg:visible")).to_have_count(1)
            expect(page.locator("#subnet-table")).to_contain_text("10.0.2.0/24")
            expect(page.locator("#group-list")).to_contain_text("web-servers")
            shot(page, f"networks-vpc-{lang}-{size}")
            page.locator("#topology").screenshot(path=str(SHOTS / f"networks-topology-{lang}-{size}.png"))
            page.goto(server + "/networks")
            expect(page.locator("#vpcs")).to_contain_text("lab")
            shot(page, f"networks-list-{lang}-{size}")
            page.goto(server + "/mini-pcs/new")
            expect(page.locator("#subnet_id")).to_contain_text("lab / web (10.0.1.0/24")
            expect(page.locator("#security-groups")).to_contain_text("web-servers")
            shot(page, f"networks-rental-form-{lang}-{size}")
            page.context.close()
