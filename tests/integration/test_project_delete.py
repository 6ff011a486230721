"""Deleting a project takes apart everything it owns (issue 10): its apps and their namespace on the cluster,
its mini PCs, its VPCs with their subnets and groups, its public IPs, its buckets with their objects in Swift —
in one job whose steps the operation shows — then the project. Another user's project is left alone.

Mini PCs on the compute stand-in, the host's networks on the network stand-in, apps on the in-memory cluster
stand-in, buckets on a real Swift."""
from __future__ import annotations

import psycopg
import pytest
from compute_fixtures import compute_overrides
from container_standin import StandinCluster
from network_standin import StandinNetwork
from psycopg.rows import dict_row
from swift_fixtures import storage_overrides

from minicloud.drivers.storage.base import NotFound
from minicloud.services.backends import Backends

APP = {"name": "blog", "image": "nginx:1.27", "port": 80}
OWNED = ("instances", "vpcs", "public_ips", "buckets", "apps", "keypairs", "memberships", "quotas")
IN_VPCS = ("subnets", "security_groups", "security_group_rules", "instance_security_groups", "network_acls",
           "network_acl_entries", "route_tables", "routes", "internet_gateways")  # no other project has a VPC


@pytest.fixture
def config(config, swift_server):
    return compute_overrides(config).with_overrides(storage_overrides(swift_server))


@pytest.fixture
def cluster():
    return StandinCluster()


@pytest.fixture
def backends(config, cloud, cluster):
    return Backends.from_config(config, compute=cloud.factory, network=StandinNetwork(), containers=cluster)


@pytest.fixture
def db(clean_db):
    with psycopg.connect(clean_db, autocommit=True, row_factory=dict_row) as conn:
        yield conn


def furnish(user, project, compute, work) -> dict:
    """In ``project``: an app, a mini PC in the default VPC, a public VPC (gateway, route table) with a subnet,
    a group and a mini PC, a public IP on that mini PC, a bucket with an object. Their ids."""
    def call(method, path, expected, **body):
        response = user.request(method, path, project_id=project, **({"json": body} if body else {}))
        assert response.status_code == expected, (path, response.json)
        return response.json

    app = call("POST", "/api/v1/apps", 202, **APP)
    first = call("POST", "/api/v1/instances", 202, name="first", template_id=compute["tid"]("nano"))
    vpc = call("POST", "/api/v1/vpcs", 201, name="lab", cidr="10.7.0.0/16")
    subnet = call("POST", f"/api/v1/vpcs/{vpc['id']}/subnets", 201, name="one", cidr="10.7.1.0/24")
    group = call("POST", "/api/v1/security-groups", 201, name="web", vpc_id=vpc["id"])
    call("POST", f"/api/v1/vpcs/{vpc['id']}/internet-gateway", 201)
    table = call("POST", f"/api/v1/vpcs/{vpc['id']}/route-tables", 201, name="public")
    call("POST", f"/api/v1/route-tables/{table['id']}/routes", 201, destination="0.0.0.0/0", target="internet_gateway")
    call("PUT", f"/api/v1/subnets/{subnet['id']}/route-table", 200, route_table_id=table["id"])
    second = call("POST", "/api/v1/instances", 202, name="second", template_id=compute["tid"]("nano"),
                  subnet_id=subnet["id"], security_group_ids=[group["id"]])
    work()
    address = call("POST", "/api/v1/public-ips", 201)
    call("POST", f"/api/v1/public-ips/{address['id']}/associate", 200, instance_id=second["id"])
    call("POST", "/api/v1/buckets", 201, name="files")
    stored = user.request("PUT", "/api/v1/buckets/files/objects/notes.txt", project_id=project, data=b"hello",
                          headers={"Content-Type": "text/plain"})
    assert stored.status_code == 201, stored.json
    return {"app": app["id"], "instances": {first["id"], second["id"]}, "vpc": vpc["id"], "address": address["id"]}


def count_of(db, table: str, project) -> int:
    return db.execute(f"SELECT count(*) AS n FROM {table} WHERE project_id = %s", (project,)).fetchone()["n"]


def live_domains(cloud) -> set[str]:
    return {name for domains in cloud.domains.values() for name in domains}


def namespace_objects(cluster, namespace: str) -> list:
    return [key for key in cluster.objects if namespace in (key[1], key[2])]


def test_deleting_a_project_takes_everything_it_owns_apart(auth, compute, work, services, cloud, cluster, db):
    alice = auth.user("alice")
    team = alice.post("/api/v1/projects", json={"name": "capstone"}).json["id"]
    made = furnish(alice, team, compute, work)
    namespace = services.apps.row(made["app"])["namespace"]
    account = db.execute("SELECT account FROM buckets WHERE project_id = %s", (team,)).fetchone()["account"]
    assert namespace_objects(cluster, namespace) and len(live_domains(cloud)) == 2
    assert services.backends.storage.container_stats(account, "files").object_count == 1

    accepted = alice.delete(f"/api/v1/projects/{team}")
    assert accepted.status_code == 202, accepted.json
    assert alice.get(f"/api/v1/projects/{team}").status_code == 200  # still there while the job waits
    work()

    operation = alice.get(f"/api/v1/operations/{accepted.json['operation_id']}").json
    assert operation["state"] == "succeeded", operation
    steps = operation["result"]["steps"]
    assert all(step["ok"] for step in steps), steps
    top = {step["step"]: step["deleted"] for step in steps if "vpc_id" not in step}
    assert list(top) == ["apps", "namespace", "instances", "public_ips", "buckets", "project"]
    assert top["apps"] == [made["app"]] and top["instances"] == []  # every mini PC is in a VPC subnet
    assert top["namespace"] == [namespace]
    assert top["public_ips"] == [made["address"]] and top["buckets"] == ["files"]
    cascades: dict[str, dict[str, list]] = {}  # one cascade per VPC, its mini PCs deleted in it
    for step in steps:
        if "vpc_id" in step:
            cascades.setdefault(step["vpc_id"], {})[step["step"]] = step["deleted"]
    assert len(cascades) == 2 and cascades[made["vpc"]]["vpc"] == [made["vpc"]]
    assert {pc for cascade in cascades.values() for pc in cascade["instances"]} == made["instances"]
    assert cascades[made["vpc"]]["public_ips"] == [made["address"]]  # taken off the mini PC first
    assert steps[-1] == {"step": "project", "deleted": [team], "ok": True}

    assert alice.get(f"/api/v1/projects/{team}").status_code == 404
    assert team not in {p["id"] for p in alice.get("/api/v1/projects").json["items"]}
    for table in OWNED:
        assert count_of(db, table, team) == 0, table
    for table in IN_VPCS:
        assert db.execute(f"SELECT count(*) AS n FROM {table}").fetchone()["n"] == 0, table
    assert live_domains(cloud) == set()
    assert namespace_objects(cluster, namespace) == []
    with pytest.raises(NotFound):
        services.backends.storage.container_stats(account, "files")
    assert services.backends.network.last_state.vpcs == ()  # the host was told: no network of it is left


def test_another_users_project_is_untouched(auth, compute, work, services, cloud, cluster, db):
    alice, bob = auth.user("alice"), auth.user("bob")
    team = alice.post("/api/v1/projects", json={"name": "capstone"}).json["id"]
    kept = bob.post("/api/v1/projects", json={"name": "garage"}).json["id"]
    furnish(alice, team, compute, work)
    theirs = furnish(bob, kept, compute, work)
    assert bob.delete(f"/api/v1/projects/{team}").status_code == 404  # not theirs to delete

    assert alice.delete(f"/api/v1/projects/{team}").status_code == 202
    work()

    assert bob.get(f"/api/v1/projects/{kept}").status_code == 200
    assert bob.get(f"/api/v1/apps/{theirs['app']}", project_id=kept).status_code == 200
    assert bob.get("/api/v1/buckets/files/objects/notes.txt", project_id=kept).data == b"hello"
    assert {i["id"] for i in bob.get("/api/v1/instances", project_id=kept).json["items"]
            if i["state"] != "deleted"} == theirs["instances"]
    assert len(live_domains(cloud)) == 2
    assert bob.get(f"/api/v1/public-ips/{theirs['address']}", project_id=kept).status_code == 200
    assert count_of(db, "vpcs", kept) == 2
    assert db.execute("SELECT count(*) AS n FROM subnets s JOIN vpcs v ON v.id = s.vpc_id WHERE v.project_id = %s",
                      (kept,)).fetchone()["n"] == 2
    assert namespace_objects(cluster, services.apps.row(theirs["app"])["namespace"])


def test_a_member_who_is_not_admin_cannot_delete_and_a_repeat_is_the_same_operation(auth, services):
    alice, bob = auth.user("alice"), auth.user("bob")
    team = alice.post("/api/v1/projects", json={"name": "capstone"}).json["id"]
    assert alice.post(f"/api/v1/projects/{team}/members", json={"username": "bob", "role": "user"}).status_code == 201
    refused = bob.delete(f"/api/v1/projects/{team}")
    assert refused.status_code == 403
    first = alice.delete(f"/api/v1/projects/{team}").json["operation_id"]
    assert alice.delete(f"/api/v1/projects/{team}").json["operation_id"] == first


def test_a_failing_step_keeps_the_project_and_a_new_delete_finishes(auth, compute, work, services, cloud, cluster,
                                                                   db):
    """The cluster does not answer: the apps step fails (after the retries), nothing after it is touched, the
    project stays; once the cluster is back, a new DELETE queues a new job that takes it all apart."""
    alice = auth.user("alice")
    team = alice.post("/api/v1/projects", json={"name": "capstone"}).json["id"]
    made = furnish(alice, team, compute, work)
    cluster.reachable = False
    first = alice.delete(f"/api/v1/projects/{team}").json["operation_id"]
    work()
    failed = alice.get(f"/api/v1/operations/{first}").json
    assert failed["state"] == "failed" and "step apps failed" in failed["last_error"]
    assert failed["result"]["steps"][-1]["step"] == "apps" and not failed["result"]["steps"][-1]["ok"]
    assert alice.get(f"/api/v1/projects/{team}").status_code == 200
    assert len(live_domains(cloud)) == 2 and count_of(db, "buckets", team) == 1  # what follows was not touched

    cluster.reachable = True
    second = alice.delete(f"/api/v1/projects/{team}").json["operation_id"]
    assert second != first
    work()
    assert alice.get(f"/api/v1/operations/{second}").json["state"] == "succeeded"
    assert alice.get(f"/api/v1/projects/{team}").status_code == 404
    assert live_domains(cloud) == set() and services.apps.row(made["app"]) is None


def test_what_is_made_during_the_delete_is_deleted_too(auth, compute, work, services, db, monkeypatch):
    """A bucket made after the buckets step: the last step refuses to drop the row over it (a guest or Swift
    data would be left behind), and the job runs again and takes that bucket too."""
    alice = auth.user("alice")
    team = alice.post("/api/v1/projects", json={"name": "capstone"}).json["id"]
    furnish(alice, team, compute, work)
    delete_bucket, made = services.storage.delete_bucket, []

    def delete_then_someone_creates(project_id, name, force=False):
        delete_bucket(project_id, name, force=force)
        if not made:
            made.append(services.storage.create_bucket(project_id, "late"))

    monkeypatch.setattr(services.storage, "delete_bucket", delete_then_someone_creates)
    accepted = alice.delete(f"/api/v1/projects/{team}").json["operation_id"]
    work()
    operation = alice.get(f"/api/v1/operations/{accepted}").json
    assert operation["state"] == "succeeded" and operation["attempts"] == 2, operation
    assert operation["result"]["steps"][-2] == {"step": "buckets", "deleted": ["late"], "ok": True}
    assert count_of(db, "buckets", team) == 0 and alice.get(f"/api/v1/projects/{team}").status_code == 404


# -- the console ---------------------------------------------------------------------------------------------
def form_post(client, path: str, data: dict | None = None):
    token = client.get_cookie("mc_csrf")
    if token is None:
        client.get("/login")
        token = client.get_cookie("mc_csrf")
    return client.post(path, data={"csrf_token": token.value, **(data or {})})


def test_the_console_queues_the_delete_and_says_so(client, auth, work):
    alice = auth.user("alice")
    team = alice.post("/api/v1/projects", json={"name": "capstone"}).json["id"]
    assert form_post(client, "/login", {"username": "alice", "password": "correct-horse"}).status_code == 303
    personal = client.get("/dashboard", headers={"Accept-Language": "en"}).get_data(as_text=True)
    assert 'id="project-delete"' not in personal  # a personal project has no delete button
    assert form_post(client, "/project", {"project_id": team}).status_code == 303
    assert f'action="/projects/{team}/delete"' in client.get("/dashboard").get_data(as_text=True)

    asked = form_post(client, f"/projects/{team}/delete", {"confirmed": "1", "confirm_name": "capston"})
    assert asked.status_code == 422 and 'name="confirm_name"' in asked.get_data(as_text=True)  # the name, exactly
    answered = form_post(client, f"/projects/{team}/delete", {"confirmed": "1", "confirm_name": "capstone"})
    assert answered.status_code == 303 and answered.headers["Location"].startswith("/dashboard?deleting=capstone")
    page = client.get(answered.headers["Location"], headers={"Accept-Language": "en"}).get_data(as_text=True)
    assert 'id="project-deleting"' in page and "The project &#34;capstone&#34; is being deleted" in page
    assert "&#34;alice&#34;" in page  # acting in the personal project again
    ko = client.get(answered.headers["Location"], headers={"Accept-Language": "ko"}).get_data(as_text=True)
    assert "프로젝트 &#34;capstone&#34;을(를) 삭제하고 있습니다" in ko
    work()
    assert alice.get(f"/api/v1/projects/{team}").status_code == 404
    assert form_post(client, f"/projects/{alice.personal_project}/delete").status_code == 409
