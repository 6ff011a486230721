"""The browser console, driven through WSGI: sign-up, login, language, dashboard cards, roles, static files."""
from __future__ import annotations

import re
from urllib.parse import parse_qs, urlsplit

import pytest
from conformance import ConformingClient
from container_standin import StandinCluster
from storage_standin import StandinSwift
from werkzeug.test import Client

from minicloud.app import make_app
from minicloud.services import Services
from minicloud.services.audit import AuditEntry
from minicloud.services.backends import Backends

PASSWORD = "correct-horse"


def csrf_token(client: Client) -> str:
    """The CSRF token of this browser (a page visit issues the cookie when there is none)."""
    cookie = client.get_cookie("mc_csrf")
    if cookie is None:
        page = client.get("/login")
        token = re.search(r'name="csrf_token" value="([^"]+)"', page.get_data(as_text=True)).group(1)
        assert client.get_cookie("mc_csrf").value == token
        return token
    return cookie.value


def post_form(client: Client, path: str, data: dict, **kwargs):
    return client.post(path, data={"csrf_token": csrf_token(client), **data}, **kwargs)


def page_login(client: Client, username="alice", password=PASSWORD, headers=None, **fields):
    return post_form(client, "/login", {"username": username, "password": password, **fields}, headers=headers)


def html(response) -> str:
    return response.get_data(as_text=True)


def signup_form(client, **fields):
    data = {"username": "alice", "password": PASSWORD, "password_confirm": PASSWORD,
            "display_name": "Alice Kim", "email": "", "birthdate": ""}
    data.update(fields)
    return post_form(client, "/signup", data)


# -- language ------------------------------------------------------------------
def test_login_page_follows_accept_language(client):
    ko = client.get("/login", headers={"Accept-Language": "ko-KR,ko;q=0.9"})
    assert ko.status_code == 200 and ko.mimetype == "text/html"
    assert '<html lang="ko">' in html(ko) and '<meta charset="utf-8">' in html(ko)
    assert "아이디" in html(ko) and "비밀번호" in html(ko)
    en = client.get("/login", headers={"Accept-Language": "en-US,en;q=0.9"})
    assert '<html lang="en">' in html(en)
    assert "Username" in html(en) and "Password" in html(en) and "아이디" not in html(en)


def test_language_switch_cookie_wins_over_accept_language(client):
    switched = client.get("/language/ko?next=/login", headers={"Accept-Language": "en"})
    assert switched.status_code == 303 and switched.headers["Location"] == "/login"
    assert client.get_cookie("mc_lang").value == "ko"
    page = client.get("/login", headers={"Accept-Language": "en"})
    assert '<html lang="ko">' in html(page) and "아이디" in html(page)
    client.get("/language/en", headers={"Accept-Language": "ko"})
    assert '<html lang="en">' in html(client.get("/login", headers={"Accept-Language": "ko"}))


def test_language_switch_rejects_unknown_languages_and_foreign_redirects(client):
    assert client.get("/language/fr").status_code == 404
    for evil in ("//evil.example/", "https://evil.example/", "/\\evil.example", "evil"):
        response = client.get("/language/en", query_string={"next": evil})
        assert response.headers["Location"] == "/", evil


def test_header_offers_the_language_switch_as_plain_links(client, auth):
    page = html(client.get("/login"))
    assert 'href="/language/ko?next=%2Flogin"' in page and 'href="/language/en?next=%2Flogin"' in page
    assert "한국어" in page and "English" in page
    # after a form post, the links lead back to a page that can be fetched
    auth.signup("alice")
    failed = html(page_login(client, password="wrong-password"))
    assert 'href="/language/ko?next=%2Flogin"' in failed
    client.get("/login")
    no_page = html(post_form(client, "/project", {"project_id": "nope"}))
    assert 'href="/language/ko?next=%2F"' in no_page


# -- sign-up -------------------------------------------------------------------
def test_signup_through_the_form_creates_the_user_and_goes_to_login(client, services):
    client.get("/signup")
    response = signup_form(client, email="alice@example.com", birthdate="2001-02-03")
    assert response.status_code == 303
    location = urlsplit(response.headers["Location"])
    assert location.path == "/login" and parse_qs(location.query)["signed_up"] == ["1"]
    assert services.accounts.username_available("alice") is False
    login_page = client.get(response.headers["Location"])
    assert "Your account is ready" in html(login_page) and 'value="alice"' in html(login_page)
    assert page_login(client).headers["Location"] == "/dashboard"


def test_signup_page_shows_the_rules(client):
    page = html(client.get("/signup", headers={"Accept-Language": "ko"}))
    assert "3~32자" in page and "8자 이상" in page and "중복 확인" in page
    page = html(client.get("/signup", headers={"Accept-Language": "en"}))
    assert "3 to 32 characters" in page and "At least 8 characters" in page and "Check availability" in page


def test_username_check_without_javascript(client, auth):
    auth.signup("alice")
    taken = signup_form(client, action="check", username="Alice", display_name="Someone", email="s@example.com")
    assert taken.status_code == 200
    assert "is already taken" in html(taken)
    assert 'value="Someone"' in html(taken) and 'value="s@example.com"' in html(taken)
    assert PASSWORD not in html(taken)  # passwords are never sent back
    free = signup_form(client, action="check", username="bob")
    assert "&#34;bob&#34; is available" in html(free)
    assert services_user_count(client) == 1  # checking does not sign up
    invalid = signup_form(client, action="check", username="x!")
    assert "Use 3 to 32 characters" in html(invalid)


def services_user_count(client) -> int:
    return len(client.application.services.accounts.list_users()["items"])


def test_signup_errors_are_shown_under_the_fields(client, auth):
    bad = signup_form(client, username="ab", password="short", password_confirm="other", display_name="")
    assert bad.status_code == 422
    page = html(bad)
    assert "Use 3 to 32 characters" in page and "at least 8 characters" in page
    assert "do not match" in page and "Enter your name" in page
    assert 'value="ab"' in page and "short" not in page
    invalid = html(signup_form(client, email="not-an-email", birthdate="2001-02-30"))
    assert "must be an email address" in invalid and "must be a date (YYYY-MM-DD)" in invalid
    future = html(signup_form(client, birthdate="2999-01-01"))
    assert future.count('class="field-error"') == 1
    auth.signup("alice")
    taken = signup_form(client, username="alice")
    assert taken.status_code == 409 and "already taken" in html(taken)


def test_signup_javascript_is_local_and_optional(client):
    page = html(client.get("/signup"))
    assert 'data-username-check="/api/v1/auth/username-available"' in page
    assert '<script src="/static/console.js" defer></script>' in page
    assert not re.search(r'(src|href)="(https?:)?//', page)
    script = client.get("/static/console.js")
    assert script.status_code == 200 and "username-available" in html(script)


# -- CSRF and login ------------------------------------------------------------------
def test_form_post_without_csrf_token_is_403(client, auth):
    auth.signup("alice")
    client.get("/login")  # has the cookie, but the form lacks the field
    response = client.post("/login", data={"username": "alice", "password": PASSWORD})
    assert response.status_code == 403 and "text/html" in response.content_type
    assert "did not come from this site" in html(response)
    forged = client.post("/login", data={"username": "alice", "password": PASSWORD, "csrf_token": "abc.def"})
    assert forged.status_code == 403
    fresh = ConformingClient(client.application)  # a field but no cookie
    assert fresh.post("/login", data={"username": "alice", "password": PASSWORD,
                                      "csrf_token": csrf_token(client)}).status_code == 403


def test_wrong_password_is_a_401_page_with_the_message(client, auth):
    auth.signup("alice")
    response = page_login(client, password="wrong-password", headers={"Accept-Language": "ko"})
    assert response.status_code == 401
    assert "아이디 또는 비밀번호가 올바르지 않습니다." in html(response)
    assert 'value="alice"' in html(response)
    assert client.get_cookie("mc_session") is None


def test_too_many_failures_is_a_429_page(client, auth, config):
    auth.signup("alice")
    for _ in range(int(config.get("auth.login_max_failures"))):
        page_login(client, password="wrong-password")
    response = page_login(client)
    assert response.status_code == 429 and "Too many failed sign-in attempts" in html(response)
    assert response.headers["Retry-After"]


def test_login_redirects_only_to_local_paths(client, auth):
    auth.signup("alice")
    assert page_login(client, next="/audit?x=1").headers["Location"] == "/audit?x=1"
    for evil in ("//evil.example/x", "https://evil.example/", "/\\evil.example"):
        assert page_login(client, next=evil).headers["Location"] == "/dashboard"


def test_home_is_the_landing_page_for_visitors_and_the_dashboard_once_signed_in(client, auth):
    landing = client.get("/")
    assert landing.status_code == 200 and 'href="/signup"' in html(landing)  # tests/integration/test_guide_pages.py
    auth.signup("alice")
    page_login(client)
    assert client.get("/").headers["Location"] == "/dashboard"
    assert client.get("/login").headers["Location"] == "/dashboard"


# -- dashboard -----------------------------------------------------------------
def test_dashboard_requires_login(client):
    response = client.get("/dashboard")
    assert response.status_code == 303
    assert response.headers["Location"] == "/login?next=/dashboard"
    form = html(client.get(response.headers["Location"]))
    assert 'name="next" value="/dashboard"' in form


def test_dashboard_renders_every_card_and_the_greeting(client, auth, services):
    services.storage.driver = StandinSwift()  # the storage card needs a Swift: this test is about the page
    services.apps.driver = StandinCluster()   # and the apps card a cluster
    auth.signup("alice", display_name="Alice Kim")
    page_login(client)
    post_form(client, "/project", {"project_id": client.get("/api/v1/auth/me").json["projects"][0]["id"]})
    response = client.get("/dashboard", headers={"Accept-Language": "en"})
    assert response.status_code == 200
    page = html(response)
    assert "Hello, Alice Kim" in page
    for card in ("project", "operations", "quotas", "activity"):
        assert f'data-card="{card}"' in page
    assert "Could not load" not in page
    assert "Mini PCs" in page and "16384 MiB" in page  # a quota row
    assert "pages.switch_project" in page  # recent activity
    assert 'action="/logout"' in page and "Log out" in page
    ko = html(client.get("/dashboard", headers={"Accept-Language": "ko"}))
    assert "안녕하세요, Alice Kim님" in ko and "할당량" in ko


@pytest.fixture
def broken_client(config, clean_db):
    backends = Backends.from_config(config, storage=StandinSwift(), containers=StandinCluster())
    services = Services.from_config(config, backends)

    def failing(principal, project):
        raise RuntimeError("kubernetes is down")

    services.dashboard.add_card("broken", failing)
    services.dashboard.loaders["quotas"] = failing
    yield ConformingClient(make_app(config, services))
    services.close()


def test_a_failing_card_shows_could_not_load_while_the_others_render(broken_client):
    broken_client.post("/api/v1/auth/signup", json={"username": "alice", "password": PASSWORD,
                                                    "display_name": "Alice"})
    page_login(broken_client)
    response = broken_client.get("/dashboard", headers={"Accept-Language": "en"})
    assert response.status_code == 200
    page = html(response)
    cards = dict(re.findall(r'data-card="(\w+)".*?</h2>\s*(.*?)</section>', page, re.S))
    assert set(cards) == {"project", "operations", "quotas", "activity", "instances", "storage", "apps", "networks",
                          "broken"}
    assert "Could not load" in cards["broken"] and "Could not load" in cards["quotas"]
    for healthy in ("project", "operations", "activity", "storage", "apps", "networks"):
        assert "Could not load" not in cards[healthy]
    assert "kubernetes is down" not in page
    ko = html(broken_client.get("/dashboard", headers={"Accept-Language": "ko"}))
    assert ko.count("정보를 불러올 수 없습니다") == 2


def test_an_unexpected_page_error_shows_the_request_id(config, clean_db):
    services = Services.from_config(config)
    try:
        def explode(principal, project):
            raise RuntimeError("secret internals")

        services.dashboard.cards = explode
        client = ConformingClient(make_app(config, services))
        client.post("/api/v1/auth/signup", json={"username": "alice", "password": PASSWORD, "display_name": "A"})
        page_login(client)
        response = client.get("/dashboard")
        assert response.status_code == 500 and "text/html" in response.content_type
        assert response.headers["X-Request-Id"] in html(response)
        assert "secret internals" not in html(response) and "Traceback" not in html(response)
    finally:
        services.close()


# -- logout --------------------------------------------------------------------
def test_logout_revokes_the_session(client, auth):
    auth.signup("alice")
    page_login(client)
    old = client.get_cookie("mc_session").value
    assert client.get("/dashboard").status_code == 200
    response = post_form(client, "/logout", {})
    assert response.status_code == 303 and response.headers["Location"].startswith("/login")
    assert client.get_cookie("mc_session") is None
    client.set_cookie("mc_session", old)
    again = client.get("/dashboard")
    assert again.status_code == 303 and again.headers["Location"].startswith("/login")
    assert client.get("/api/v1/auth/me", headers={"Authorization": f"Bearer {old}"}).status_code == 401


def test_logout_needs_the_csrf_token(client, auth):
    auth.signup("alice")
    page_login(client)
    assert client.post("/logout").status_code == 403
    assert client.get("/dashboard").status_code == 200


# -- roles, projects, sections -------------------------------------------------
def test_viewer_sees_pages_but_not_the_audit(client, auth):
    alice = auth.user("alice")
    project = alice.personal_project
    assert alice.post(f"/api/v1/projects/{project}/members", json={"username": "bob", "role": "viewer"}).status_code \
        == 404  # bob does not exist yet
    auth.signup("bob")
    assert alice.post(f"/api/v1/projects/{project}/members",
                      json={"username": "bob", "role": "viewer"}).status_code == 201
    client.delete_cookie("mc_session")
    page_login(client, "bob")
    dashboard = html(client.get("/dashboard"))
    assert 'id="project-select"' in dashboard  # two projects: the switcher shows
    assert "&#34;bob&#34;" in dashboard  # and he starts in his own project
    switched = post_form(client, "/project", {"project_id": project, "next": "/mini-pcs"})
    assert switched.status_code == 303 and switched.headers["Location"] == "/mini-pcs"
    for path in ("/dashboard", "/mini-pcs", "/networks", "/storage"):
        response = client.get(path)
        assert response.status_code == 200, path
        assert 'href="/audit"' not in html(response)
    assert "viewer" in html(client.get("/dashboard"))
    denied = client.get("/audit")
    assert denied.status_code == 403 and "(viewer)" in html(denied)
    assert client.get("/admin").status_code == 403
    # in his own project bob is admin and reads its audit log
    post_form(client, "/project", {"project_id": next(p["id"] for p in bob_projects(client) if p["name"] == "bob")})
    own = client.get("/audit")
    assert own.status_code == 200 and 'href="/audit"' in html(own)


def bob_projects(client):
    return client.get("/api/v1/auth/me").json["projects"]


def test_switching_to_a_foreign_or_malformed_project_fails(client, auth):
    auth.signup("alice")
    other = auth.user("carol").personal_project
    client.delete_cookie("mc_session")
    page_login(client)
    assert post_form(client, "/project", {"project_id": other}).status_code == 404
    assert post_form(client, "/project", {"project_id": "nope"}).status_code == 400
    assert 'id="project-select"' not in html(client.get("/dashboard"))  # one project: no switcher


def test_the_networks_section_is_the_vpc_console(client, auth):
    auth.signup("alice")
    page_login(client)
    page = html(client.get("/networks", headers={"Accept-Language": "en"}))
    assert "<h1>Networks</h1>" in page and 'id="vpc-create"' in page
    korean = html(client.get("/networks", headers={"Accept-Language": "ko"}))
    assert "VPC 만들기" in korean


def test_audit_page_filters_and_pages(client, auth, services):
    alice = auth.user("alice")
    project = alice.personal_project
    user_id = alice.me["id"]
    for i in range(60):
        services.audit.record(AuditEntry(action="test.thing", method="POST", path=f"/x/{i}",
                                         status=201 if i % 2 else 409,
                                         request_id=f"req-{i:08d}", user_id=user_id, username="alice",
                                         project_id=project, target=f"t{i}"))
    client.delete_cookie("mc_session")
    page_login(client)
    first = html(client.get("/audit?action=test.thing"))
    assert first.count("<tr>") == 51  # header + 50 rows
    assert "/x/59" in first and "/x/9<" not in first
    next_url = re.search(r'rel="next" href="([^"]+)"', first).group(1).replace("&amp;", "&")
    assert "action=test.thing" in next_url
    second = html(client.get(next_url))
    assert second.count("<tr>") == 11 and "/x/0<" in second and 'rel="next"' not in second
    failures = html(client.get("/audit?action=test.thing&result=failure"))
    assert failures.count("<tr>") == 31 and "/x/1<" not in failures
    assert client.get("/audit?cursor=%%%").status_code == 400


def test_admin_page_lists_users_for_global_admins_only(client, auth, services):
    auth.signup("alice")
    services.accounts.ensure_admin("root", "admin-password")
    page_login(client, "alice")
    assert 'href="/admin"' not in html(client.get("/dashboard"))
    assert client.get("/admin").status_code == 403
    client.delete_cookie("mc_session")
    page_login(client, "root", "admin-password")
    page = html(client.get("/admin", headers={"Accept-Language": "en"}))
    assert "<code>alice</code>" in page and "<code>root</code>" in page and "administrator" in page
    assert 'href="/admin"' in page


# -- static files and error pages -----------------------------------------------
def test_static_files_are_served_with_a_cache_header(client):
    response = client.get("/static/minicloud.css")
    assert response.status_code == 200 and response.mimetype == "text/css"
    assert "max-age=" in response.headers["Cache-Control"]
    assert "http://" not in html(response) and "https://" not in html(response)  # no external assets


@pytest.mark.parametrize("path", ["/static/../app.py", "/static/%2e%2e/app.py", "/static/..%2fapp.py",
                                  "/static/%2e%2e%2f%2e%2e%2fpyproject.toml", "/static//etc/passwd",
                                  "/static/nothing.css"])
def test_static_path_traversal_is_404(client, path):
    response = client.get(path)
    assert response.status_code == 404
    assert "import" not in html(response)


def test_unknown_page_is_a_localized_404_page(client):
    response = client.get("/no-such-page", headers={"Accept-Language": "ko"})
    assert response.status_code == 404 and "text/html" in response.content_type
    assert "찾을 수 없습니다." in html(response) and '<html lang="ko">' in html(response)
    assert response.headers["Content-Security-Policy"].startswith("default-src 'self'")
