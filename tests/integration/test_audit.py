"""The audit log: every mutating request is recorded; project admins and global admins read it."""

import uuid



def test_mutations_are_recorded_with_who_what_and_result(auth):
    alice = auth.user()
    team = alice.post("/api/v1/projects", json={"name": "team"}, headers={"X-Request-Id": "req-create-team"}).json
    alice.post(f"/api/v1/projects/{team['id']}/members", json={"username": "ghost", "role": "user"})
    entries = alice.get("/api/v1/audit", project_id=team["id"]).json["items"]
    assert [(e["action"], e["result"], e["status"]) for e in entries] == [
        ("projects.add_member", "failure", 404),
        ("projects.create", "success", 201),
    ]
    created = entries[1]
    assert created["username"] == "alice" and created["target"] == team["id"]
    assert created["request_id"] == "req-create-team" and created["at"].endswith("Z")


def test_login_attempts_are_recorded(auth, services):
    alice = auth.user()
    auth.login(password="wrong-password")
    page = services.audit.search(_admin(services), None, limit=10, all_projects=True)
    actions = [(e["action"], e["username"], e["result"]) for e in page["items"]]
    assert ("auth.login", "alice", "failure") in actions
    assert ("auth.login", "alice", "success") in actions
    assert ("auth.signup", "alice", "success") in actions
    assert alice.get("/api/v1/audit").status_code == 200


def _admin(services):
    from minicloud.services.principal import Principal

    return Principal(user_id=None, username="root", display_name="root", is_admin=True)


def test_reads_are_not_recorded(auth):
    alice = auth.user()
    alice.get("/api/v1/projects")
    alice.get("/api/v1/auth/me")
    actions = [e["action"] for e in alice.get("/api/v1/audit").json["items"]]
    assert "projects.list" not in actions and "auth.me" not in actions


def test_non_admin_members_cannot_read_the_log(auth):
    alice, bob = auth.user("alice"), auth.user("bob")
    team = alice.post("/api/v1/projects", json={"name": "team"}).json["id"]
    alice.post(f"/api/v1/projects/{team}/members", json={"username": "bob", "role": "user"})
    assert bob.get("/api/v1/audit", project_id=team).status_code == 403
    assert bob.get("/api/v1/audit", project_id=team, query_string={"all_projects": "true"}).status_code == 403


def test_project_admin_sees_only_their_project(auth):
    alice, bob = auth.user("alice"), auth.user("bob")
    bob.post("/api/v1/projects", json={"name": "bobs"})
    alice.post("/api/v1/projects", json={"name": "alices"})
    seen = alice.get("/api/v1/audit").json["items"] + alice.get(
        "/api/v1/audit", project_id=alice.me["projects"][1]["id"]).json["items"]
    assert all(e["username"] == "alice" for e in seen)


def test_global_admin_sees_everything_filtered_and_paginated(auth, services):
    services.accounts.ensure_admin("root", "root-password-1")
    root = auth.client
    token = auth.login("root", "root-password-1").json["access_token"]
    alice = auth.user("alice")
    services.user_quotas.set_limits(alice.me["id"], {"projects": 6})
    for n in range(5):
        assert alice.post("/api/v1/projects", json={"name": f"p{n}"}).status_code == 201
    headers = {"Authorization": f"Bearer {token}"}
    first = root.get("/api/v1/audit?all_projects=true&action=projects.create&limit=2", headers=headers).json
    assert [e["action"] for e in first["items"]] == ["projects.create"] * 2 and first["next"]
    second = root.get(f"/api/v1/audit?all_projects=true&action=projects.create&limit=2&cursor={first['next']}",
                      headers=headers).json
    third = root.get(f"/api/v1/audit?all_projects=true&action=projects.create&limit=2&cursor={second['next']}",
                     headers=headers).json
    names = [e["target"] for e in first["items"] + second["items"] + third["items"]]
    assert len(names) == len(set(names)) == 5 and third["next"] is None
    failures = root.get("/api/v1/audit?all_projects=true&result=failure", headers=headers).json["items"]
    assert all(e["result"] == "failure" for e in failures)
    assert root.get("/api/v1/audit?cursor=%%%", headers=headers).status_code == 422  # not base64: the pattern
    assert root.get("/api/v1/audit?cursor=eyJ4IjoxfQ", headers=headers).status_code == 400  # base64, wrong key
    assert root.get("/api/v1/audit?limit=501", headers=headers).status_code == 422


def test_signup_and_login_are_linked_to_the_user(auth):
    alice = auth.user()
    entries = alice.get("/api/v1/audit").json["items"]
    signup = next(e for e in entries if e["action"] == "auth.signup")
    assert signup["user_id"] == alice.me["id"] and signup["project_id"] == alice.personal_project


def test_deleting_a_project_is_recorded(auth, services, work):
    alice = auth.user("alice")
    project = alice.post("/api/v1/projects", json={"name": "gone"}).json["id"]
    assert alice.delete(f"/api/v1/projects/{project}").status_code == 202
    sql = "SELECT project_id, target, status FROM audit_log WHERE action = 'projects.delete'"
    assert services.db.fetchone(sql) == {"project_id": uuid.UUID(project), "target": project, "status": 202}
    work()  # the job deletes the project: the entry stays, of no project
    assert services.db.fetchone(sql) == {"project_id": None, "target": project, "status": 202}
