"""Quotas bind a person, not only a project (issue 8, point 4): a user owns at most
quotas.projects_per_user projects (3 by default, their personal one included); a global administrator
changes it per user through the API and the admin page."""
from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

import pytest
from test_pages import html, page_login, post_form
from werkzeug.test import Client

MESSAGE_EN = "You can own at most 3 projects (your personal project counts). Delete one, or ask an administrator for more."
MESSAGE_KO = "프로젝트는 개인 프로젝트를 포함해 최대 3개까지 가질 수 있습니다. 프로젝트를 삭제하거나 관리자에게 한도를 늘려 달라고 요청해주세요."


@pytest.fixture
def root(auth, services):
    services.accounts.ensure_admin("root", "root-password-1")
    from conftest import User
    return User(auth.client, "root", auth.login("root", "root-password-1").json["access_token"])


def create(user, name, **headers):
    return user.post("/api/v1/projects", json={"name": name}, headers=headers)


def test_a_user_owns_at_most_three_projects_by_default(auth, work):
    alice = auth.user()
    assert [create(alice, n).status_code for n in ("one", "two")] == [201, 201]
    refused = create(alice, "three", **{"Accept-Language": "en"})
    assert refused.status_code == 403
    assert refused.json["error"] == {"code": "quota_exceeded", "message": MESSAGE_EN,
                                     "details": {"limit": 3, "owned": 3, "resource": "projects"}}
    assert create(alice, "three", **{"Accept-Language": "ko"}).json["error"]["message"] == MESSAGE_KO
    assert len(alice.get("/api/v1/projects").json["items"]) == 3
    # deleting one makes room again
    two = next(p["id"] for p in alice.get("/api/v1/projects").json["items"] if p["name"] == "two")
    assert alice.delete(f"/api/v1/projects/{two}").status_code == 202
    work()  # the project is gone once its delete job ran
    assert create(alice, "three").status_code == 201


def test_membership_in_others_projects_does_not_count(auth):
    alice, bob = auth.user("alice"), auth.user("bob")
    for name in ("b1", "b2"):
        project = create(bob, name).json["id"]
        assert bob.post(f"/api/v1/projects/{project}/members", json={"username": "alice", "role": "user"}).status_code == 201
    assert [create(alice, n).status_code for n in ("a1", "a2", "a3")] == [201, 201, 403]


def test_parallel_creates_cannot_slip_past_the_limit(auth, app):
    alice = auth.user()

    def attempt(n):
        return Client(app).post("/api/v1/projects", json={"name": f"p{n}"},
                                headers={"Authorization": f"Bearer {alice.token}"}).status_code

    with ThreadPoolExecutor(8) as pool:
        statuses = list(pool.map(attempt, range(10)))
    assert sorted(statuses) == [201, 201] + [403] * 8


def test_a_global_admin_changes_one_users_limit(auth, root):
    alice, bob = auth.user("alice"), auth.user("bob")
    me = alice.get(f"/api/v1/users/{alice.me['id']}/quotas").json
    assert me == {"user_id": alice.me["id"], "limits": {"projects": 3}, "usage": {"projects": 1}}
    assert alice.get(f"/api/v1/users/{bob.me['id']}/quotas").status_code == 404  # not anyone else's
    forbidden = alice.patch(f"/api/v1/users/{alice.me['id']}/quotas", json={"limits": {"projects": 9}})
    assert forbidden.status_code == 403

    raised = root.patch(f"/api/v1/users/{alice.me['id']}/quotas", json={"limits": {"projects": 5}})
    assert raised.status_code == 200 and raised.json["limits"] == {"projects": 5}
    assert [create(alice, f"a{n}").status_code for n in range(5)] == [201, 201, 201, 201, 403]
    assert [create(bob, f"b{n}").status_code for n in range(3)] == [201, 201, 403]  # bob keeps the default
    # lowering it below what she owns keeps her projects but lets her make no more
    assert root.patch(f"/api/v1/users/{alice.me['id']}/quotas", json={"limits": {"projects": 1}}).status_code == 200
    assert create(alice, "more").status_code == 403
    assert len(alice.get("/api/v1/projects").json["items"]) == 5


@pytest.mark.parametrize("limits, field", [({"projects": -1}, "limits.projects"), ({"cpus": 3}, "limits.cpus"),
                                           ({"projects": True}, "limits.projects"), ({}, "limits")])
def test_bad_limits_are_422(auth, root, limits, field):
    alice = auth.user()
    answer = root.patch(f"/api/v1/users/{alice.me['id']}/quotas", json={"limits": limits})
    assert answer.status_code == 422 and field in answer.json["error"]["details"]["fields"]


def test_unknown_user_is_404(root):
    assert root.get("/api/v1/users/00000000-0000-0000-0000-000000000000/quotas").status_code == 404
    assert root.patch("/api/v1/users/00000000-0000-0000-0000-000000000000/quotas",
                      json={"limits": {"projects": 2}}).status_code == 404


def test_the_user_list_shows_owned_and_allowed_projects(auth, root):
    alice = auth.user()
    create(alice, "team")
    users = {u["username"]: u for u in root.get("/api/v1/users").json["items"]}
    assert users["alice"]["projects_owned"] == 2 and users["alice"]["projects_limit"] == 3
    assert alice.get("/api/v1/users").status_code == 403


def test_the_admin_page_edits_a_users_limit(client, auth, services):
    services.accounts.ensure_admin("root", "root-password-1")
    alice = auth.user()
    page_login(client, "root", "root-password-1")
    page = html(client.get("/admin", headers={"Accept-Language": "en"}))
    assert 'aria-label="Projects alice may own"' in page
    saved = post_form(client, f"/admin/users/{alice.me['id']}/quotas", {"projects": "4"})
    assert saved.status_code == 303
    shown = html(client.get(saved.headers["Location"], headers={"Accept-Language": "ko"}))
    assert "alice님은 이제 프로젝트를 4개까지 가질 수 있습니다." in shown
    refused = post_form(client, f"/admin/users/{alice.me['id']}/quotas", {"projects": "-2"},
                        headers={"Accept-Language": "en"})
    assert refused.status_code == 422 and "must be a whole number of 0 or more" in html(refused)
    assert services.user_quotas.limits(alice.me["id"]) == {"projects": 4}


def test_the_per_user_limit_is_not_a_project_quota(auth):
    alice = auth.user()
    assert "projects_per_user" not in alice.get("/api/v1/quotas").json["limits"]
