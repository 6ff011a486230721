"""Nothing irreversible on one click, and a line saying what was done (issue 11), through the console's forms.

A delete without ``confirmed=1`` (or with a missing or wrong typed name where one is asked) is answered by the
confirmation page and deletes nothing; the page posts the same fields again. A flash message set by a form
is shown once on the page its redirect leads to, in that page's language, and a forged one is ignored.
Also: the favicon, the icon sprite holding every icon the templates use, one word per state."""
from __future__ import annotations

import json
import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
EN = {"Accept-Language": "en"}
KO = {"Accept-Language": "ko"}


def form_post(client, path: str, data: dict | None = None, headers=None):
    token = client.get_cookie("mc_csrf")
    if token is None:
        client.get("/login")
        token = client.get_cookie("mc_csrf")
    return client.post(path, data={"csrf_token": token.value, **(data or {})}, headers=headers or {})


def logged_in_with_team(client, auth, name="capstone") -> str:
    alice = auth.user("alice")
    team = alice.post("/api/v1/projects", json={"name": name}).json["id"]
    assert form_post(client, "/login", {"username": "alice", "password": "correct-horse"}).status_code == 303
    return team


def project_names(client) -> list[str]:
    return [p["name"] for p in client.get("/api/v1/projects").json["items"]]


def text(response) -> str:
    return response.get_data(as_text=True)


def audited(services, action: str) -> list[int]:
    rows = services.db.fetchall("SELECT status FROM audit_log WHERE action = %s ORDER BY id", (action,))
    return [row["status"] for row in rows]


def test_a_project_delete_asks_for_the_typed_name_and_deletes_nothing_until_it_matches(client, auth, services):
    team = logged_in_with_team(client, auth)
    asked = form_post(client, f"/projects/{team}/delete", {"note": '"><script>alert(1)</script>'}, headers=EN)
    page = text(asked)
    assert asked.status_code == 200 and "Delete project capstone?" in page
    assert 'name="confirm_name"' in page and "To confirm, type the name capstone exactly." in page
    assert f'action="/projects/{team}/delete"' in page and 'name="confirmed" value="1"' in page
    assert 'href="/dashboard" id="confirm-cancel"' in page
    # the other fields go along again, escaped
    assert 'name="note" value="&#34;&gt;&lt;script&gt;alert(1)&lt;/script&gt;"' in page and "<script>alert" not in page
    for wrong in ({"confirmed": "1"}, {"confirmed": "1", "confirm_name": "capstone2"},
                  {"confirmed": "1", "confirm_name": "Capstone"}, {"confirm_name": "capstone"}):
        again = form_post(client, f"/projects/{team}/delete", wrong, headers=KO)
        assert again.status_code in (200, 422) and 'id="confirm-form"' in text(again)
        if "confirmed" in wrong:
            assert again.status_code == 422
            assert "입력한 이름이 capstone과(와) 다릅니다" in text(again)
    assert "capstone" in project_names(client)
    assert audited(services, "pages.project_delete") == []  # asking is not an action in the history
    done = form_post(client, f"/projects/{team}/delete", {"confirmed": "1", "confirm_name": " capstone "})
    assert done.status_code == 303 and done.headers["Location"].startswith("/dashboard")
    assert audited(services, "pages.project_delete") == [303]


def test_the_confirmation_page_is_in_korean_and_names_what_goes_with_it(client, auth):
    team = logged_in_with_team(client, auth, "team-blue")
    page = text(form_post(client, f"/projects/{team}/delete", headers=KO))
    assert "프로젝트 team-blue을(를) 삭제할까요?" in page and "이 작업은 되돌릴 수 없습니다." in page
    assert 'id="confirm-detail"' in page and "버킷(파일 포함)이 모두 함께 삭제됩니다" in page
    assert ">취소<" in page and "삭제</button>" in page


def test_a_flash_says_what_was_done_once_in_the_pages_language(client, auth):
    team = logged_in_with_team(client, auth)
    switched = form_post(client, "/project", {"project_id": team, "next": "/mini-pcs"})
    assert switched.status_code == 303 and switched.headers["Location"] == "/mini-pcs"
    cookie = client.get_cookie("mc_flash")
    assert cookie is not None and "capstone" not in cookie.value  # a signed key and name, not page text
    shown = text(client.get("/mini-pcs", headers=KO))
    assert re.search(r'<div class="flash notice info" role="status" id="flash">.*프로젝트 capstone\(으\)로 전환했습니다\.',
                     shown, re.S)
    assert 'id="flash"' not in text(client.get("/mini-pcs", headers=KO))  # once only
    form_post(client, "/project", {"project_id": team})
    assert "Switched to project capstone." in text(client.get("/dashboard", headers=EN))


def test_a_forged_or_broken_flash_cookie_shows_nothing(client, auth):
    logged_in_with_team(client, auth)
    for value in ("eyJrIjoibG9vayJ9.0123456789abcdef0123456789abcdef", "garbage", "...."):
        client.set_cookie("mc_flash", value)
        page = client.get("/dashboard", headers=EN)
        assert page.status_code == 200 and 'id="flash"' not in text(page)


def test_the_favicon_is_served_where_browsers_ask(client):
    ico = client.get("/favicon.ico")
    assert ico.status_code == 200 and ico.mimetype == "image/png" and ico.data.startswith(b"\x89PNG")
    svg = client.get("/static/favicon.svg")
    assert svg.status_code == 200 and b"<svg" in svg.data
    page = text(client.get("/login"))
    assert 'rel="icon" href="/static/favicon.svg"' in page and 'href="/favicon.ico"' in page


def test_every_icon_the_templates_use_is_in_the_sprite(client):
    sprite = text(client.get("/static/icons.svg"))
    defined = set(re.findall(r'<symbol id="i-([a-z-]+)"', sprite))
    used = set()
    for template in (ROOT / "templates").rglob("*.html"):
        source = template.read_text()
        used |= set(re.findall(r'icon\("([a-z-]+)"', source))
        used |= set(re.findall(r'"/[a-z-]+": "([a-z-]+)"', source))  # the navigation's icons
    used |= {"ok", "busy", "off", "bad", "info"}  # the state badges' tones
    assert used and used <= defined, used - defined


def test_one_word_per_state_in_both_languages():
    for lang in ("ko", "en"):
        words = {}
        for path in (ROOT / "src/minicloud/locales" / lang).glob("*.json"):
            words.update(json.loads(path.read_text()))
        states = {key.split(".", 1)[1]: value for key, value in words.items() if key.startswith("state.")}
        for state in ("pending", "building", "running", "stopping", "stopped", "starting", "rebooting",
                      "resizing", "deleting", "error"):
            assert words[f"card.instances.{state}"] == states[state], (lang, state)
        for app_status in ("PENDING", "RUNNING", "STOPPED", "DELETING"):
            assert words[f"apps_console.status.{app_status}"] == states[app_status.lower()], (lang, app_status)
        assert words["operation.state.running"] == states["running"]
