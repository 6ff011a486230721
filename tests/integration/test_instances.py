"""Mini PCs through the API: create -> job -> running, validation, the state machine, quotas under
concurrency, ownership and roles, placement over several hosts and GPUs, driver failures and retries.

The compute driver is the stand-in of tests/compute_standin.py (passed as ``Backends.compute``
by the ``backends`` fixture); everything else — API, services, PostgreSQL,
the job queue and worker — is real.
"""
from __future__ import annotations

import threading

import pytest
from conformance import ConformingClient

from compute_fixtures import compute_overrides
from minicloud.drivers.compute.base import ComputeError, HostUnavailable

QUOTA_EN = "The resources assigned to you are exceeded, so the mini PC cannot be rented."
QUOTA_KO = "할당된 리소스를 초과하여 미니 PC 대여가 불가능합니다."


@pytest.fixture
def config(config):
    return compute_overrides(config)


def create(user, compute, name="pc1", template="nano", project_id=None, **extra):
    return user.post("/api/v1/instances", json={"name": name, "template_id": compute["tid"](template), **extra},
                     project_id=project_id)


def test_create_answers_202_pending_and_the_worker_brings_it_to_running(auth, compute, cloud, work, services):
    alice = auth.user("alice")
    response = create(alice, compute, name="Web-1", password="s3cret-pass", user_data="#cloud-config\n")
    assert response.status_code == 202, response.json
    body = response.json
    assert body["state"] == "pending" and body["name"] == "Web-1" and body["hostname"] == "web-1"
    assert response.headers["Location"] == f"/api/v1/instances/{body['id']}"
    assert body["template"]["name"] == "nano" and body["image"]["name"] == "tiny"
    assert (body["vcpus"], body["ram_mib"], body["disk_gib"]) == (1, 512, 5)
    assert "password" not in str(body) and "password_hash" not in body
    operation = alice.get(f"/api/v1/operations/{body['operation_id']}").json
    assert operation["kind"] == "instance.create" and operation["state"] == "queued"

    assert work() == 2  # the build, and the one network.apply its NIC queued
    shown = alice.get(f"/api/v1/instances/{body['id']}").json
    assert shown["state"] == "running" and shown["status_reason"] is None
    assert shown["host"]["name"] == "local"
    assert shown["connect"] == {"addresses": ["127.0.0.1"], "ssh": "ssh -p 22000 student@127.0.0.1"}
    assert f"<name>mc-{body['id']}</name>" in shown["artefacts"]["domain_xml"]
    assert "passwd: ********" in shown["artefacts"]["user_data"] and "$6$" not in str(shown)
    assert shown["allowed_actions"] == ["stop", "reboot", "delete"]
    spec = cloud.domains["test:///local"][f"mc-{body['id']}"]["spec"]
    assert spec.hostname == "web-1" and spec.password_hash.startswith("$6$") and spec.nic.ssh_port == 22000
    assert spec.user_data == "#cloud-config\n"
    assert alice.get(f"/api/v1/operations/{body['operation_id']}").json["state"] == "succeeded"
    # the stored hash is SHA-512 crypt of the password, and nothing else is stored
    row = services.db.fetchone("SELECT password_hash FROM instances WHERE id = %s", (body["id"],))
    import crypt  # noqa: F401 - deprecated but present in 3.11
    assert crypt.crypt("s3cret-pass", row["password_hash"]) == row["password_hash"]

    listing = alice.get("/api/v1/instances").json
    assert [i["id"] for i in listing["items"]] == [body["id"]] and listing["next"] is None
    assert alice.get("/api/v1/instances?state=stopped").json["items"] == []


def test_a_second_instance_gets_the_next_ssh_port_and_names_are_unique(auth, compute, work):
    alice = auth.user("alice")
    assert create(alice, compute, name="a").status_code == 202
    assert create(alice, compute, name="b").status_code == 202
    duplicate = create(alice, compute, name="A")
    assert duplicate.status_code == 409 and duplicate.json["error"]["code"] == "name_taken"
    work()
    ssh = sorted(i["connect"]["ssh"] for i in alice.get("/api/v1/instances").json["items"])
    assert ssh == ["ssh -p 22000 student@127.0.0.1", "ssh -p 22001 student@127.0.0.1"]


def test_validation_messages_in_english_and_korean(auth, compute):
    alice = auth.user("alice")
    tid = compute["tid"]("nano")
    missing = alice.post("/api/v1/instances", json={"template_id": tid})
    assert missing.status_code == 422
    assert missing.json["error"]["message"] == "Enter a name for the mini PC."
    assert missing.json["error"]["details"]["fields"] == {"name": "Enter a name for the mini PC."}
    blank = alice.post("/api/v1/instances", json={"name": "", "template_id": tid}, headers={"Accept-Language": "ko"})
    assert blank.status_code == 422 and blank.json["error"]["message"] == "미니 PC 이름을 입력해주세요."
    for bad in ("-web", "web_1", "a" * 64, "웹서버"):
        response = alice.post("/api/v1/instances", json={"name": bad, "template_id": tid})
        assert response.status_code == 422, bad
        assert response.json["error"]["details"]["fields"].keys() == {"name"}
    unknown = alice.post("/api/v1/instances", json={"name": "pc", "template_id": "00000000-0000-0000-0000-000000000000"})
    assert unknown.status_code == 422 and "template_id" in unknown.json["error"]["details"]["fields"]
    short = alice.post("/api/v1/instances", json={"name": "pc", "template_id": tid, "password": "short"})
    assert short.status_code == 422 and "password" in short.json["error"]["details"]["fields"]


def test_what_the_service_refuses_is_named_under_its_field_in_the_callers_language(auth, compute, services,
                                                                                  tmp_path):
    alice = auth.user("alice")
    disk = tmp_path / "big.qcow2"
    disk.write_bytes(b"QFI\xfb")
    big = services.images.create({"name": "big", "disk_path": str(disk), "min_disk_gib": 50})
    body = {"name": "pc", "template_id": compute["tid"]("nano"), "image_id": str(big["id"])}
    english = alice.post("/api/v1/instances", json=body)
    assert english.status_code == 422
    assert english.json["error"]["details"]["fields"] == {"template_id": "This image needs a disk of at least 50 GiB."}
    korean = alice.post("/api/v1/instances", json=body, headers={"Accept-Language": "ko"})
    assert korean.json["error"]["details"]["fields"] == {"template_id": "이 이미지에는 최소 50 GiB 디스크가 필요합니다."}
    assert korean.json["error"]["message"] == "이 이미지에는 최소 50 GiB 디스크가 필요합니다."
    stranger = alice.post("/api/v1/instances", headers={"Accept-Language": "ko"}, json={
        "name": "pc", "template_id": compute["tid"]("nano"), "image_id": str(compute["image"]["id"]),
        "keypair_id": "00000000-0000-0000-0000-000000000000"})
    assert stranger.status_code == 422 and stranger.json["error"]["details"]["fields"] == {
        "keypair_id": "키 페어를 찾을 수 없습니다."}


def test_a_key_pair_must_belong_to_the_project_and_reaches_the_guest(auth, compute, cloud, work):
    alice, bob = auth.user("alice"), auth.user("bob")
    bobs = bob.post("/api/v1/keypairs", json={"name": "bob"}).json
    refused = create(alice, compute, keypair_id=str(bobs["id"]))
    assert refused.status_code == 422 and refused.json["error"]["message"] == "Key pair not found."
    mine = alice.post("/api/v1/keypairs", json={"name": "laptop"}).json
    created = create(alice, compute, keypair_id=str(mine["id"])).json
    work()
    spec = cloud.domains["test:///local"][f"mc-{created['id']}"]["spec"]
    assert spec.ssh_keys == (mine["public_key"],)
    assert alice.get(f"/api/v1/instances/{created['id']}").json["keypair"]["name"] == "laptop"


def test_the_state_machine_through_every_action(auth, compute, cloud, work, services):
    alice = auth.user("alice")
    pc = create(alice, compute).json
    url = f"/api/v1/instances/{pc['id']}"
    early = alice.post(f"{url}/stop")
    assert early.status_code == 409 and early.json["error"]["code"] == "invalid_state"
    assert early.json["error"]["details"]["allowed"] == ["delete"]
    assert "delete" in early.json["error"]["message"]
    work()
    wrong = alice.post(f"{url}/start")
    assert wrong.status_code == 409 and wrong.json["error"]["details"] == {
        "state": "running", "action": "start", "allowed": ["stop", "reboot", "delete"]}
    assert alice.post(f"{url}/resize", json={"template_id": compute["tid"]("small")}).status_code == 409

    stopping = alice.post(f"{url}/stop")
    assert stopping.status_code == 202 and stopping.json["state"] == "stopping"
    assert stopping.headers["Location"] == url
    assert alice.post(f"{url}/stop").status_code == 409  # already on its way
    work()
    assert alice.get(url).json["state"] == "stopped"
    assert cloud.domains["test:///local"][f"mc-{pc['id']}"]["state"] == "shutoff"

    resized = alice.post(f"{url}/resize", json={"template_id": compute["tid"]("medium")})
    assert resized.status_code == 202 and resized.json["state"] == "resizing"
    work()
    shown = alice.get(url).json
    assert shown["state"] == "stopped" and (shown["vcpus"], shown["ram_mib"]) == (2, 2048)
    assert shown["template"]["name"] == "medium" and "<vcpu>2</vcpu>" in shown["artefacts"]["domain_xml"]
    assert cloud.calls_of("resize")[-1][2] == f"mc-{pc['id']}"

    assert alice.post(f"{url}/start").json["state"] == "starting"
    work()
    assert alice.get(url).json["state"] == "running"
    assert alice.post(f"{url}/reboot").json["state"] == "rebooting"
    work()
    assert alice.get(url).json["state"] == "running" and cloud.calls_of("reboot")

    renamed = alice.patch(url, json={"name": "renamed"})
    assert renamed.status_code == 200 and renamed.json["name"] == "renamed"
    assert alice.patch(url, json={"name": ""}).json["error"]["message"] == "Enter a name for the mini PC."

    deleting = alice.delete(url)
    assert deleting.status_code == 202 and deleting.json["state"] == "deleting"
    assert deleting.json["allowed_actions"] == []
    assert alice.delete(url).status_code == 409
    work()
    assert alice.get(url).status_code == 404
    assert f"mc-{pc['id']}" not in cloud.domains["test:///local"]
    assert alice.get("/api/v1/quotas").json["usage"] == {"instances": 0, "vcpus": 0, "ram_mib": 0, "disk_gib": 0,
                                                           "buckets": 0, "bucket_bytes": 0, "apps": 0}
    assert create(alice, compute, name="renamed").status_code == 202  # the name is free again


def test_delete_while_pending_never_builds(auth, compute, cloud, work):
    alice = auth.user("alice")
    pc = create(alice, compute).json
    assert alice.delete(f"/api/v1/instances/{pc['id']}").status_code == 202
    work()
    assert alice.get(f"/api/v1/instances/{pc['id']}").status_code == 404
    assert cloud.calls_of("create") == []


def test_resize_growth_is_checked_against_the_quota(auth, admin, compute, work):
    alice = auth.user("alice")
    project = alice.personal_project
    admin.patch("/api/v1/quotas", json={"project_id": project, "limits": {"vcpus": 2}})
    pc = create(alice, compute, template="small").json
    work()
    alice.post(f"/api/v1/instances/{pc['id']}/stop")
    work()
    refused = alice.post(f"/api/v1/instances/{pc['id']}/resize", json={"template_id": compute["tid"]("large")})
    assert refused.status_code == 403 and refused.json["error"]["code"] == "quota_exceeded"
    assert alice.get(f"/api/v1/instances/{pc['id']}").json["state"] == "stopped"
    assert alice.post(f"/api/v1/instances/{pc['id']}/resize",
                      json={"template_id": compute["tid"]("medium")}).status_code == 202


def test_twenty_parallel_creates_against_a_quota_of_three(auth, admin, compute, app):
    alice = auth.user("alice")
    project = alice.personal_project
    answer = admin.patch("/api/v1/quotas", json={"project_id": project, "limits": {"instances": 3}})
    assert answer.status_code == 200 and answer.json["limits"]["instances"] == 3
    results, barrier = [], threading.Barrier(20)

    def rent(n):
        client = ConformingClient(app)
        barrier.wait()
        response = client.post("/api/v1/instances", json={"name": f"pc{n}", "template_id": compute["tid"]("nano")},
                               headers={"Authorization": f"Bearer {alice.token}"})
        results.append((response.status_code, response.json))

    threads = [threading.Thread(target=rent, args=(n,)) for n in range(20)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    statuses = sorted(status for status, _ in results)
    assert statuses == [202] * 3 + [403] * 17
    refused = [body for status, body in results if status == 403]
    assert {b["error"]["code"] for b in refused} == {"quota_exceeded"}
    assert {b["error"]["message"] for b in refused} == {QUOTA_EN}
    assert len(alice.get("/api/v1/instances").json["items"]) == 3
    korean = alice.post("/api/v1/instances", json={"name": "more", "template_id": compute["tid"]("nano")},
                        headers={"Accept-Language": "ko"})
    assert korean.status_code == 403 and korean.json["error"]["message"] == QUOTA_KO
    assert korean.json["error"]["details"]["exceeded"] == ["instances"]


def test_quotas_show_limits_and_usage_and_only_admins_change_them(auth, admin, compute, work):
    alice = auth.user("alice")
    quotas = alice.get("/api/v1/quotas").json
    assert quotas["limits"]["instances"] == 5 and "buckets" in quotas["limits"]
    assert quotas["usage"] == {"instances": 0, "vcpus": 0, "ram_mib": 0, "disk_gib": 0, "buckets": 0, "bucket_bytes": 0, "apps": 0}
    create(alice, compute, template="medium")
    assert alice.get("/api/v1/quotas").json["usage"] == {"instances": 1, "vcpus": 2, "ram_mib": 2048, "disk_gib": 20,
                                                         "buckets": 0, "bucket_bytes": 0, "apps": 0}
    project = alice.personal_project
    assert alice.patch("/api/v1/quotas", json={"project_id": project, "limits": {"vcpus": 99}}).status_code == 403
    bad = admin.patch("/api/v1/quotas", json={"project_id": project, "limits": {"gold": 1, "vcpus": -1}})
    assert bad.status_code == 422 and set(bad.json["error"]["details"]["fields"]) == {"gold", "vcpus"}
    vcpus_only = admin.patch("/api/v1/quotas", json={"project_id": project, "limits": {"vcpus": 2}})
    assert vcpus_only.status_code == 200 and vcpus_only.json["limits"]["vcpus"] == 2
    over = create(alice, compute, name="pc2", template="nano")
    assert over.status_code == 403 and over.json["error"]["details"]["exceeded"] == ["vcpus"]


def test_another_projects_instance_is_not_found_and_viewers_cannot_act(auth, compute, work):
    alice, bob, carol = auth.user("alice"), auth.user("bob"), auth.user("carol")
    team = alice.post("/api/v1/projects", json={"name": "team"}).json["id"]
    alice.post(f"/api/v1/projects/{team}/members", json={"username": "carol", "role": "viewer"})
    pc = create(alice, compute, project_id=team).json
    work()
    url = f"/api/v1/instances/{pc['id']}"
    assert bob.get(url).status_code == 404
    assert bob.post(f"{url}/stop").status_code == 404
    assert bob.delete(url).status_code == 404
    assert alice.get(url).status_code == 404  # not in her personal project
    assert alice.get(url, project_id=team).status_code == 200
    assert carol.get(url, project_id=team).json["state"] == "running"
    denied = carol.post(f"{url}/stop", project_id=team)
    assert denied.status_code == 403 and denied.json["error"]["code"] == "role_forbids"
    assert create(carol, compute, name="mine", project_id=team).status_code == 403


def test_a_driver_error_ends_in_error_with_a_localized_reason(auth, compute, cloud, work, services):
    alice = auth.user("alice")
    cloud.fail_next("create", ComputeError("the base image is not a qcow2 file"))
    pc = create(alice, compute).json
    work()
    shown = alice.get(f"/api/v1/instances/{pc['id']}").json
    assert shown["state"] == "error"
    assert shown["status_reason"] == ("The mini PC could not be rented. Please try again shortly."
                                      " (the base image is not a qcow2 file)")
    korean = alice.get(f"/api/v1/instances/{pc['id']}", headers={"Accept-Language": "ko"}).json
    assert korean["status_reason"] == "미니 PC 대여에 실패했습니다. 잠시 후 다시 시도해주세요. (the base image is not a qcow2 file)"
    operation = alice.get(f"/api/v1/operations/{pc['operation_id']}").json
    assert operation["state"] == "failed" and operation["attempts"] == 1
    assert shown["allowed_actions"] == ["start", "delete"]
    assert alice.delete(f"/api/v1/instances/{pc['id']}").status_code == 202
    work()
    assert alice.get(f"/api/v1/instances/{pc['id']}").status_code == 404


def test_an_unreachable_host_is_retried(auth, compute, cloud, work):
    alice = auth.user("alice")
    cloud.fail_next("create", HostUnavailable("cannot connect to libvirtd"), HostUnavailable("still down"))
    pc = create(alice, compute).json
    work()
    shown = alice.get(f"/api/v1/instances/{pc['id']}").json
    assert shown["state"] == "running"
    operation = alice.get(f"/api/v1/operations/{pc['operation_id']}").json
    assert operation["state"] == "succeeded" and operation["attempts"] == 3
    assert len(cloud.calls_of("create")) == 3


def test_a_host_down_on_every_attempt_ends_in_error(auth, compute, cloud, work, services):
    alice = auth.user("alice")
    cloud.fail_next("create", *[HostUnavailable("libvirtd is not running")] * 10)
    pc = create(alice, compute).json
    work()
    shown = alice.get(f"/api/v1/instances/{pc['id']}").json
    assert shown["state"] == "error" and "libvirtd is not running" in shown["status_reason"]
    assert alice.get(f"/api/v1/operations/{pc['operation_id']}").json["attempts"] == 5


def test_a_job_run_again_after_a_crash_converges(auth, compute, cloud, work, services):
    """The worker died after the domain was created: the re-run finds the host and finishes."""
    alice = auth.user("alice")
    cloud.fail_next("addresses", RuntimeError("worker killed here"))
    pc = create(alice, compute).json
    work()
    assert alice.get(f"/api/v1/instances/{pc['id']}").json["state"] == "running"
    assert [c[0] for c in cloud.calls_of("create")] == ["test:///local"] * 2  # the same host both times
    assert services.db.fetchone("SELECT count(*) AS n FROM instances WHERE host_id IS NOT NULL")["n"] == 1


def test_placement_prefers_the_most_free_memory_and_respects_capacity(auth, admin, compute, cloud, work, services):
    alice = auth.user("alice")
    admin.patch("/api/v1/quotas", json={"project_id": alice.personal_project,
                                        "limits": {"instances": 20, "vcpus": 100, "ram_mib": 100000, "disk_gib": 1000}})
    cloud.add_host("test:///big", vcpus=2, ram_mib=6144)
    cloud.add_host("test:///tiny", vcpus=1, ram_mib=1024)
    for name, uri in (("big", "test:///big"), ("tiny", "test:///tiny")):
        assert admin.post("/api/v1/hosts", json={"name": name, "uri": uri}).status_code == 201
    local = next(h for h in admin.get("/api/v1/hosts").json["items"] if h["name"] == "local")
    assert admin.patch(f"/api/v1/hosts/{local['id']}", json={"enabled": False}).json["enabled"] is False
    # big: 6144 MiB, 2 vCPUs (x4 ratio = 8); tiny: 1024 MiB. large = 4 vCPUs / 4096 MiB fits only big.
    placed = []
    for n, template in enumerate(["large", "small", "nano", "nano"]):
        pc = create(alice, compute, name=f"pc{n}", template=template).json
        work()
        placed.append(alice.get(f"/api/v1/instances/{pc['id']}").json)
    assert [p["state"] for p in placed] == ["running"] * 4
    # after "large", big has 2048 MiB free and tiny 1024: "small" goes to big (1024 left); the two nanos then
    # find 1024 free on each, so one lands on each host
    hosts = [p["host"]["name"] for p in placed]
    assert hosts[0] == "big" and hosts[1] == "big"
    assert sorted(hosts[2:]) == ["big", "tiny"]
    usage = {h["name"]: h for h in admin.get("/api/v1/hosts").json["items"]}
    assert usage["big"]["ram_mib_used"] == 4096 + 1024 + 512 and usage["tiny"]["ram_mib_used"] == 512
    full = create(alice, compute, name="toobig", template="medium").json
    work()
    shown = alice.get(f"/api/v1/instances/{full['id']}").json
    assert shown["state"] == "error" and "no enabled host has room" in shown["status_reason"]
    assert shown["host"] is None


def test_gpu_templates_go_only_where_enough_gpus_are_free(auth, admin, compute, cloud, work, services):
    alice = auth.user("alice")
    admin.patch("/api/v1/quotas", json={"project_id": alice.personal_project,
                                        "limits": {"instances": 20, "vcpus": 100, "ram_mib": 100000, "disk_gib": 1000}})
    cloud.add_host("test:///roomy", vcpus=32, ram_mib=65536)  # lots of memory, no GPU
    cloud.add_host("test:///gpu", vcpus=8, ram_mib=16384, gpus=2)
    for name, uri in (("roomy", "test:///roomy"), ("gpu", "test:///gpu")):
        admin.post("/api/v1/hosts", json={"name": name, "uri": uri})
    first, second, third = (create(alice, compute, name=f"g{n}", template="gpu-small").json for n in range(3))
    plain = create(alice, compute, name="plain", template="small").json
    work()
    shown = {i["name"]: i for i in alice.get("/api/v1/instances").json["items"]}
    assert shown["g0"]["host"]["name"] == "gpu" and shown["g1"]["host"]["name"] == "gpu"
    assert shown["plain"]["host"]["name"] == "roomy"  # most free memory
    assert shown["g2"]["state"] == "error"
    assignments = services.db.fetchall("SELECT address, instance_id FROM gpu_assignments ORDER BY address")
    assert [a["address"] for a in assignments] == ["0000:01:00.0", "0000:02:00.0"]
    assert len({a["instance_id"] for a in assignments}) == 2
    spec = cloud.domains["test:///gpu"][f"mc-{first['id']}"]["spec"]
    assert len(spec.gpus) == 1 and spec.gpus[0].vendor == "NVIDIA"
    assert "<hostdev" in alice.get(f"/api/v1/instances/{first['id']}").json["artefacts"]["domain_xml"]
    # deleting a GPU mini PC frees its GPU for the next one
    alice.delete(f"/api/v1/instances/{second['id']}")
    work()
    assert services.db.fetchone("SELECT count(*) AS n FROM gpu_assignments")["n"] == 1
    again = create(alice, compute, name="g3", template="gpu-small").json
    work()
    assert alice.get(f"/api/v1/instances/{again['id']}").json["host"]["name"] == "gpu"
    assert third and plain


def test_network_mode_uses_the_isolated_network(auth, compute, cloud, work, services):
    services.networking.config = services.config.with_overrides({"compute.network_mode": "network"})
    alice = auth.user("alice")
    pc = create(alice, compute).json
    work()
    spec = cloud.domains["test:///local"][f"mc-{pc['id']}"]["spec"]
    assert spec.nic.mode == "network" and spec.nic.network == "minicloud-isolated"
    assert spec.nic.mac.startswith("52:54:00:")
    assert alice.get(f"/api/v1/instances/{pc['id']}").json["connect"] == {"addresses": [], "ssh": None}
    cloud.leases[f"mc-{pc['id']}"] = ["10.77.0.12"]  # the guest got its DHCP lease after boot
    shown = alice.get(f"/api/v1/instances/{pc['id']}").json
    assert shown["addresses"] == ["10.77.0.12"]
    assert shown["connect"] == {"addresses": ["10.77.0.12"], "ssh": "ssh student@10.77.0.12"}


def test_list_is_paginated(auth, compute):
    alice = auth.user("alice")
    for n in range(5):
        assert create(alice, compute, name=f"pc{n}").status_code == 202
    first = alice.get("/api/v1/instances?limit=2").json
    assert [i["name"] for i in first["items"]] == ["pc4", "pc3"] and first["next"]
    second = alice.get(f"/api/v1/instances?limit=2&cursor={first['next']}").json
    third = alice.get(f"/api/v1/instances?limit=2&cursor={second['next']}").json
    assert [i["name"] for i in second["items"] + third["items"]] == ["pc2", "pc1", "pc0"]
    assert third["next"] is None
    assert alice.get("/api/v1/instances?cursor=bogus").status_code == 400
    assert alice.get("/api/v1/instances?state=nope").status_code == 422


def test_dashboard_card_and_readiness(auth, compute, cloud, work, services, client):
    alice = auth.user("alice")
    create(alice, compute)
    create(alice, compute, name="pc2")
    work()
    card = services.dashboard.loaders["instances"](None, services.projects.resolve(
        services.sessions.authenticate(alice.token, "token"), None))
    assert card["running"] == 2 and card["total"] == 2
    ready = client.get("/readyz")
    assert ready.status_code == 200
    assert ready.json["backends"]["libvirt"] == {"status": "ok", "uri": "test:///local", "domain_type": "qemu"}


def test_readiness_stays_200_when_libvirt_is_down(services, client, cloud):
    cloud.hosts.clear()
    ready = client.get("/readyz")
    assert ready.status_code == 200 and ready.json["backends"]["libvirt"]["status"] == "unavailable"


def test_console_log_comes_from_the_driver(auth, compute, cloud, work, services):
    alice = auth.user("alice")
    pc = create(alice, compute).json
    project = services.projects.resolve(services.sessions.authenticate(alice.token, "token"), None)
    assert services.instances.console_log(project, pc["id"]) == ""  # not placed yet
    work()
    assert services.instances.console_log(project, pc["id"]) == f"mc-{pc['id']} login: "
    cloud.hosts.clear()  # libvirtd stops answering: its log file is still read
    assert services.instances.console_log(project, pc["id"]) == f"mc-{pc['id']} login: "
    cloud.fail_next("console_log", ComputeError("Could not read the console log"))
    assert services.instances.console_log(project, pc["id"]) == ""  # no log rather than an error


def test_a_failed_delete_can_be_retried_and_a_failing_create_does_not_undo_a_delete(auth, compute, cloud, work):
    alice = auth.user("alice")
    pc = create(alice, compute).json
    work()
    url = f"/api/v1/instances/{pc['id']}"
    cloud.fail_next("delete", ComputeError("the overlay volume is busy"))
    alice.delete(url)
    work()
    shown = alice.get(url).json
    assert shown["state"] == "error" and shown["status_reason"] == "The mini PC could not be deleted. (the overlay volume is busy)"
    assert alice.delete(url).status_code == 202
    work()
    assert alice.get(url).status_code == 404

    # a create that fails after the user asked for deletion leaves the deletion to finish
    other = create(alice, compute, name="pc2").json

    def delete_meanwhile_then_fail():
        assert alice.delete(f"/api/v1/instances/{other['id']}").json["state"] == "deleting"
        raise ComputeError("the disk could not be created")

    cloud.fail_next("create", delete_meanwhile_then_fail)
    work()
    assert alice.get(f"/api/v1/instances/{other['id']}").status_code == 404
    assert cloud.calls_of("delete")[-1][2] == f"mc-{other['id']}"
