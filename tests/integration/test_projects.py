"""Projects (workspaces), members, roles and the acting project."""
import uuid


def test_personal_project_is_default_and_listed(auth):
    alice = auth.user()
    projects = alice.get("/api/v1/projects").json["items"]
    assert len(projects) == 1 and projects[0]["personal"] and projects[0]["role"] == "admin"


def test_create_project_makes_creator_admin(auth):
    alice = auth.user()
    response = alice.post("/api/v1/projects", json={"name": "capstone", "description": "team 3"})
    assert response.status_code == 201
    assert response.headers["Location"] == f"/api/v1/projects/{response.json['id']}"
    assert response.json["role"] == "admin"
    assert alice.post("/api/v1/projects", json={"name": "Capstone"}).status_code == 409
    assert {p["name"] for p in alice.get("/api/v1/projects").json["items"]} == {"alice", "capstone"}


def test_another_users_project_is_not_found(auth):
    alice, bob = auth.user("alice"), auth.user("bob")
    project = alice.post("/api/v1/projects", json={"name": "secret"}).json["id"]
    assert bob.get(f"/api/v1/projects/{project}").status_code == 404
    assert bob.get(f"/api/v1/projects/{project}/members").status_code == 404
    assert bob.delete(f"/api/v1/projects/{project}").status_code == 404
    # acting in it through the header is not possible either
    response = bob.get("/api/v1/audit", project_id=project)
    assert response.status_code == 404
    assert response.json["error"]["message"] == "Project not found."


def test_bad_project_header_is_400(auth):
    alice = auth.user()
    assert alice.get("/api/v1/audit", headers={"X-Project-Id": "nope"}).status_code == 400


def _team(auth):
    alice, bob, carol = auth.user("alice"), auth.user("bob"), auth.user("carol")
    project = alice.post("/api/v1/projects", json={"name": "team"}).json["id"]
    assert alice.post(f"/api/v1/projects/{project}/members",
                      json={"username": "bob", "role": "user"}).status_code == 201
    assert alice.post(f"/api/v1/projects/{project}/members",
                      json={"username": "carol", "role": "viewer"}).status_code == 201
    return project, alice, bob, carol


def test_members_and_roles(auth):
    project, alice, bob, carol = _team(auth)
    members = {m["username"]: m["role"] for m in alice.get(f"/api/v1/projects/{project}/members").json["items"]}
    assert members == {"alice": "admin", "bob": "user", "carol": "viewer"}
    assert {p["name"]: p["role"] for p in bob.me["projects"]}["team"] == "user"
    # duplicate, unknown user, bad role
    assert alice.post(f"/api/v1/projects/{project}/members", json={"username": "bob", "role": "user"}).status_code == 409
    assert alice.post(f"/api/v1/projects/{project}/members", json={"username": "zed", "role": "user"}).status_code == 404
    bad = alice.post(f"/api/v1/projects/{project}/members", json={"username": "bob", "role": "owner"})
    assert bad.status_code == 422 and "role" in bad.json["error"]["details"]["fields"]


def test_only_project_admins_manage_members(auth):
    project, alice, bob, carol = _team(auth)
    response = bob.post(f"/api/v1/projects/{project}/members", json={"username": "carol", "role": "admin"})
    assert response.status_code == 403
    assert response.json["error"]["code"] == "forbidden"
    bob_id = bob.me["id"]
    assert carol.patch(f"/api/v1/projects/{project}/members/{bob_id}", json={"role": "viewer"}).status_code == 403
    assert alice.patch(f"/api/v1/projects/{project}/members/{bob_id}", json={"role": "viewer"}).status_code == 200
    assert {p["name"]: p["role"] for p in bob.me["projects"]}["team"] == "viewer"
    assert alice.delete(f"/api/v1/projects/{project}/members/{bob_id}").status_code == 204
    assert bob.get(f"/api/v1/projects/{project}").status_code == 404


def test_owner_stays_admin(auth):
    project, alice, bob, carol = _team(auth)
    alice_id = alice.me["id"]
    assert alice.patch(f"/api/v1/projects/{project}/members/{alice_id}", json={"role": "user"}).status_code == 409
    assert alice.delete(f"/api/v1/projects/{project}/members/{alice_id}").status_code == 409


def test_viewer_cannot_mutate_in_the_acting_project(auth, app):
    """A route in the acting project that writes needs at least the user role."""
    from werkzeug.test import Client

    from minicloud.app import App
    from minicloud.web.router import Route
    from minicloud.routes import ROUTES

    def write(ctx):
        return ctx.respond({"project": str(ctx.project.id), "role": ctx.project.role}, 201)

    project, alice, bob, carol = _team(auth)
    test_app = App(app.config, app.services, ROUTES + [Route("POST", "/api/v1/things", "test.write", write)])
    client = Client(test_app)
    headers = lambda user: {"Authorization": f"Bearer {user.token}", "X-Project-Id": project}  # noqa: E731
    denied = client.post("/api/v1/things", headers=headers(carol))
    assert denied.status_code == 403
    assert denied.json["error"]["message"] == "Your role in this project (viewer) does not allow this."
    allowed = client.post("/api/v1/things", headers=headers(bob))
    assert allowed.status_code == 201 and allowed.json == {"project": project, "role": "user"}


def test_viewer_can_read(auth):
    project, alice, bob, carol = _team(auth)
    assert carol.get(f"/api/v1/projects/{project}").status_code == 200
    assert carol.get(f"/api/v1/projects/{project}/members").status_code == 200


def test_personal_project_cannot_be_deleted_but_others_can(auth, work):
    alice = auth.user()
    assert alice.delete(f"/api/v1/projects/{alice.personal_project}").status_code == 409
    team = alice.post("/api/v1/projects", json={"name": "team"}).json["id"]
    response = alice.delete(f"/api/v1/projects/{team}")
    assert response.status_code == 202
    operation = response.json["operation_id"]
    assert response.json["project_id"] == team
    assert response.headers["Location"] == f"/api/v1/operations/{operation}"
    assert alice.get(f"/api/v1/projects/{team}").status_code == 200  # visible until the job's last step
    again = alice.delete(f"/api/v1/projects/{team}")  # a repeat while the job waits: the same operation
    assert again.status_code == 202 and again.json["operation_id"] == operation
    work()
    assert alice.get(f"/api/v1/projects/{team}").status_code == 404
    done = alice.get(f"/api/v1/operations/{operation}").json
    assert done["state"] == "succeeded", done
    assert [step["step"] for step in done["result"]["steps"]] == [
        "apps", "namespace", "instances", "public_ips", "buckets", "project"]
    assert done["result"]["steps"][-1]["deleted"] == [team]
    assert done["result"]["steps"][1]["deleted"] == []  # no cluster, no app: no namespace to delete


def test_global_admin_sees_any_project(auth, services):
    alice = auth.user()
    services.accounts.ensure_admin("root", "root-password-1")
    root = auth.client.post("/api/v1/auth/login", json={"username": "root", "password": "root-password-1"}).json
    project = alice.personal_project
    response = auth.client.get(f"/api/v1/projects/{project}",
                               headers={"Authorization": f"Bearer {root['access_token']}"})
    assert response.status_code == 200 and response.json["name"] == "alice"


def test_unknown_project_id(auth):
    alice = auth.user()
    assert alice.get(f"/api/v1/projects/{uuid.uuid4()}").status_code == 404


def test_a_member_change_on_a_project_deleted_meanwhile_is_404(auth, services, monkeypatch):
    alice, bob = auth.user("alice"), auth.user("bob")
    project = alice.post("/api/v1/projects", json={"name": "team"}).json["id"]
    assert alice.post(f"/api/v1/projects/{project}/members", json={"username": "bob", "role": "user"}).status_code == 201
    resolve = services.projects.resolve

    def resolve_then_delete(principal, project_id):  # another request deletes it right after the role check
        ref = resolve(principal, project_id)
        services.db.execute("DELETE FROM projects WHERE id = %s", (project_id,))
        return ref

    monkeypatch.setattr(services.projects, "resolve", resolve_then_delete)
    assert alice.delete(f"/api/v1/projects/{project}/members/{bob.me['id']}").status_code == 404
