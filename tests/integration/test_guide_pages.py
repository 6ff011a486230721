"""A newcomer is guided, and the audit log reads like a history (issue 11, items 5-7): the landing page,
the first-run panel, grey cards for a backend not connected, the audit log in words with named and linked
targets, logins and a search by words, the dashboard's activity in the same words, /docs in Korean with
examples, and a share link's result reached by a redirect."""
from __future__ import annotations

import html as html_lib
import re

import pytest
from compute_fixtures import compute_overrides
from swift_fixtures import storage_overrides
from test_pages import html, page_login, post_form

from minicloud.services import Services

KO = {"Accept-Language": "ko"}
EN = {"Accept-Language": "en"}


@pytest.fixture
def config(config, swift_server):
    return compute_overrides(config.with_overrides(storage_overrides(swift_server)))


@pytest.fixture
def services(config, clean_db, backends, monkeypatch, tmp_path):
    """The real services, with no Kubernetes cluster anywhere (no kubeconfig, not in a pod)."""
    monkeypatch.setenv("HOME", str(tmp_path))
    monkeypatch.delenv("KUBECONFIG", raising=False)
    monkeypatch.delenv("KUBERNETES_SERVICE_HOST", raising=False)
    services = Services.from_config(config, backends)
    yield services
    services.close()


@pytest.fixture
def alice(client, auth):
    user = auth.user("alice")
    page_login(client, password="correct-horse")
    return user


def rent(client, compute, name="web1"):
    created = post_form(client, "/mini-pcs", {"name": name, "template_id": compute["tid"]("nano")})
    assert created.status_code == 303, html(created)
    return created.headers["Location"].rsplit("/", 1)[-1]


def audit_rows(page: str) -> list[str]:
    body = page.split('id="audit-entries"', 1)[1].split("<tbody>", 1)[1].split("</tbody>", 1)[0]
    return re.findall(r"<tr>(.*?)</tr>", body, flags=re.S)


# -- the landing page ----------------------------------------------------------------------------

def test_a_visitor_meets_a_landing_page_that_says_what_minicloud_is(client, auth):
    page = html(client.get("/", headers=KO))
    assert "배우기 위한 작은 클라우드" in page
    for feature in ("미니 PC", "네트워크", "앱", "버킷"):
        assert f"<h3>{feature}</h3>" in page
    assert 'id="landing-signup"' in page and 'href="/signup"' in page and 'href="/login"' in page
    assert 'id="landing-docs"' in page and 'href="/docs"' in page
    english = html(client.get("/", headers=EN))
    assert "A small cloud to learn with" in english and "<h3>Buckets</h3>" in english
    auth.signup("alice")
    page_login(client)
    assert client.get("/").headers["Location"] == "/dashboard"  # signed in: straight to work


# -- the audit log in words ----------------------------------------------------------------------

def test_the_audit_log_speaks_in_words_and_names_targets_with_a_link(client, alice, compute):
    pc = rent(client, compute, "web1")
    page = html(client.get("/audit", headers=KO))
    rows = audit_rows(page)
    created = next(row for row in rows if "미니 PC를 만들었습니다" in row)
    assert f'<a class="audit-target" href="/mini-pcs/{pc}" title="{pc}">web1</a>' in created  # the id on hover
    assert 'title="pages.instance_create"' in created and "<code>pages.instance_create</code>" not in page
    assert re.search(r'<time datetime="\d{4}-\d\d-\d\dT[0-9:.]+Z" data-seconds="1" title="[^"]+">'
                     r'\d{4}-\d\d-\d\d \d\d:\d\d:\d\d KST</time>', created)  # KST until time.js localizes it
    assert any("로그인했습니다" in row and "alice" in row for row in rows)  # the login is listed
    english = html(client.get("/audit", headers=EN))
    created = next(row for row in audit_rows(english) if "created a mini PC" in row)
    assert re.search(r"\d\d:\d\d:\d\d UTC</time>", created) and ">web1</a>" in created
    assert '<script src="/static/time.js" defer></script>' in english


def test_a_target_that_is_gone_keeps_its_id_without_a_link(client, alice, services):
    from minicloud.services.audit import AuditEntry
    gone = "7a0c2f1e-0000-4000-8000-00000000dead"
    services.audit.record(AuditEntry(action="instances.delete", method="DELETE", path=f"/api/v1/instances/{gone}",
                                     status=202, request_id="req-gone-0001", user_id=alice.me["id"],
                                     username="alice", project_id=alice.personal_project, target=gone))
    row = next(r for r in audit_rows(html(client.get("/audit", headers=EN))) if "deleted a mini PC" in r)
    assert f'<span class="audit-target" title="{gone}">{gone}</span>' in row and "<a " not in row


def test_the_audit_search_matches_the_words_of_the_page_language(client, alice, compute):
    rent(client, compute, "web1")
    korean = audit_rows(html(client.get("/audit", query_string={"q": "미니 PC"}, headers=KO)))
    assert korean and all("미니 PC" in row for row in korean)
    logins = audit_rows(html(client.get("/audit", query_string={"q": "로그인"}, headers=KO)))
    assert logins and all("로그인했습니다" in row for row in logins)
    english = audit_rows(html(client.get("/audit", query_string={"q": "Created a mini"}, headers=EN)))
    assert len(english) == 1 and "created a mini PC" in english[0]
    page = html(client.get("/audit", query_string={"q": "nothing says this"}, headers=EN))
    assert 'id="audit-entries"' not in page and "No audit entries match." in page
    suggestions = html(client.get("/audit", headers=KO)).split('<datalist id="audit-actions">')[1]
    assert '<option value="미니 PC를 만들었습니다">' in suggestions.split("</datalist>")[0]


def test_logins_and_failed_logins_are_listed_in_the_personal_project(client, auth, app):
    from conformance import ConformingClient
    auth.signup("alice")
    stranger = ConformingClient(app)
    assert post_form(stranger, "/login", {"username": "alice", "password": "wrong-password"}).status_code == 401
    assert post_form(stranger, "/login", {"username": "nobody", "password": "wrong-password"}).status_code == 401
    page_login(client)
    page = html(client.get("/audit", query_string={"q": "로그인"}, headers=KO))
    rows = audit_rows(page)
    failed = [row for row in rows if "badge failure" in row]
    assert len(failed) == 1 and "alice" in failed[0] and "401" in failed[0]  # not the attempt on "nobody"
    assert any("badge success" in row for row in rows)
    assert "개인 프로젝트의 감사 로그에 남습니다" in page
    post_form(client, "/logout", {})
    page_login(client)
    assert any("로그아웃했습니다" in row for row in audit_rows(html(client.get("/audit", headers=KO))))


# -- the dashboard -------------------------------------------------------------------------------

def dashboard_part(page: str, element_id: str) -> str:
    return page.split(f'id="{element_id}"', 1)[1].split("</section>", 1)[0]


def test_the_recent_activity_uses_the_audit_logs_words(client, alice, compute):
    pc = rent(client, compute, "web1")
    card = dashboard_part(html(client.get("/dashboard", headers=KO)), "card-activity")
    assert "미니 PC를 만들었습니다" in card and f'href="/mini-pcs/{pc}"' in card and "로그인했습니다" in card
    assert "<code>pages.login</code>" not in card and re.search(r"\d\d:\d\d KST</time>", card)
    card = dashboard_part(html(client.get("/dashboard", headers=EN)), "card-activity")
    assert "created a mini PC" in card and re.search(r"\d\d:\d\d UTC</time>", card)


def steps(page: str) -> dict[str, str]:
    return dict(re.findall(r'id="first-run-(instance|keypair|bucket)" data-done="(yes|no)"', page))


def test_the_first_run_panel_ticks_off_each_step_and_goes_when_all_are_done(client, alice, compute):
    page = html(client.get("/dashboard", headers=KO))
    assert steps(page) == {"instance": "no", "keypair": "no", "bucket": "no"}
    panel = dashboard_part(page, "first-run")
    assert 'href="/mini-pcs/new"' in panel and 'href="/key-pairs"' in panel and 'href="/storage"' in panel
    assert "3개 중 0개 완료" in panel
    assert alice.post("/api/v1/keypairs", json={"name": "laptop"}).status_code == 201
    page = html(client.get("/dashboard", headers=EN))
    assert steps(page) == {"instance": "no", "keypair": "yes", "bucket": "no"} and "1 of 3 done" in page
    assert post_form(client, "/storage", {"name": "notes"}).status_code == 303
    rent(client, compute)
    page = html(client.get("/dashboard", headers=KO))
    assert 'id="first-run"' not in page and 'id="card-activity"' in page


def test_the_first_run_panel_can_be_dismissed(client, alice):
    assert 'id="first-run"' in html(client.get("/dashboard"))
    response = post_form(client, "/dashboard/first-run", {})
    assert response.status_code == 303 and response.headers["Location"] == "/dashboard"
    assert 'id="first-run"' not in html(client.get("/dashboard"))


def test_a_backend_not_connected_is_a_grey_card_and_the_operator_learns_how_on_the_admin_page(client, alice,
                                                                                               services, auth):
    page = html(client.get("/dashboard", headers=KO))
    card = page.split('id="card-apps"', 1)[0].rsplit("<section", 1)[1] + dashboard_part(page, "card-apps")
    assert "card-not-connected" in card and "card-failed" not in card
    assert "연결되지 않음 — 관리자에게 문의하세요." in card and "card-error" not in card
    assert "KUBECONFIG" not in html(client.get("/apps", headers=EN))
    services.accounts.ensure_admin("root", "root-password-1")
    page_login(client, "root", "root-password-1")
    admin = html(client.get("/admin", headers=EN))
    assert 'id="admin-backends"' in admin and "How to connect one" in admin and "KUBECONFIG" in admin
    assert "KUBECONFIG" in client.get("/readyz").get_json()["backends"]["kubernetes"]["how"]


# -- /docs ---------------------------------------------------------------------------------------

def test_docs_in_korean_with_a_curl_and_a_cli_example(client):
    page = html_lib.unescape(html(client.get("/docs", headers=KO)))
    assert "미니 PC를 빌립니다: 202와 상태 pending으로 답하고 작업이 만듭니다" in page  # a summary
    assert "Rent a mini PC: answers 202" not in page
    assert "사설 주소 (RFC 1918), /16에서 /28" in page and "Private (RFC 1918)" not in page  # a field's rule
    start = page.split('id="op-instances-start"', 1)[1].split("</article>", 1)[0]
    assert 'curl -X POST "http://localhost/api/v1/instances/$INSTANCE_ID/start"' in start
    assert '-H "Authorization: Bearer $TOKEN"' in start and "mcloud pc start" in start
    listing = page.split('id="op-instances-list"', 1)[1].split("</article>", 1)[0]
    assert "<pre class=\"docs-cli\"><code>mcloud pc list</code></pre>" in listing
    login = page.split('id="op-auth-login"', 1)[1].split("</article>", 1)[0]
    assert "-d '{\"username\": \"alice\", \"password\": " in login
    assert "Authorization: Bearer $TOKEN" not in login  # public: no token
    english = html_lib.unescape(html(client.get("/docs", headers=EN)))
    assert "Rent a mini PC: answers 202 with state pending; a job builds it" in english
    assert '<span class="http-status">404</span>' in english and 'class="status-code"' not in english


# -- a share link: post/redirect/get -------------------------------------------------------------

def test_a_share_links_result_is_a_page_of_its_own_not_the_post(client, alice):
    assert post_form(client, "/storage", {"name": "notes"}).status_code == 303
    assert alice.request("PUT", "/api/v1/buckets/notes/objects/plan.txt", data=b"plan",
                         headers={"Content-Type": "text/plain"}).status_code == 201
    response = post_form(client, "/storage/notes/share", {"key": "plan.txt", "expires_in": "3600"}, headers=EN)
    assert response.status_code == 303
    location = response.headers["Location"]
    assert location == "/storage/notes?shared=plan.txt"
    page = html(client.get(location, headers=EN))
    url = html_lib.unescape(re.search(r'<input id="share-url" type="text" readonly value="([^"]+)"', page).group(1))
    assert "temp_url_sig=" in url and "Share link for plan.txt" in page
    again = html(client.get(location, headers=EN))  # a reload shows the same link; nothing is posted again
    assert url in html_lib.unescape(again)
    client.delete_cookie("mc_shared", path="/storage/")
    gone = html(client.get(location, headers=EN))
    assert 'id="share-result"' not in gone and 'id="share-gone"' in gone
    forged = html(client.get("/storage/notes?shared=other.txt", headers=EN))
    assert 'id="share-result"' not in forged
