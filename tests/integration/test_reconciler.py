"""The reconciler: the database follows what the hypervisor reports; orphans are listed, not deleted."""
import pytest
from compute_fixtures import compute_overrides

from minicloud.jobs.reconciler import reconcile
from minicloud.jobs.worker import JobContext


@pytest.fixture
def config(config):
    return compute_overrides(config)


@pytest.fixture
def run_pass(config, services):
    return lambda: reconcile(JobContext(config, "test", services))


def rent(auth, compute, work, name="pc1"):
    alice = auth.user("alice")
    created = alice.post("/api/v1/instances", json={"name": name, "template_id": compute["tid"]("nano")}).json
    work()
    return alice, created


def test_a_domain_destroyed_behind_our_back_is_noticed(auth, compute, cloud, work, run_pass):
    alice, pc = rent(auth, compute, work)
    del cloud.domains["test:///local"][f"mc-{pc['id']}"]
    [report] = run_pass()
    assert report["changed"] == [(pc["id"], "running", "error")]
    shown = alice.get(f"/api/v1/instances/{pc['id']}").json
    assert shown["state"] == "error" and "disappeared" in shown["status_reason"]
    assert shown["allowed_actions"] == ["start", "delete"]


def test_a_guest_that_powered_itself_off_becomes_stopped_and_back(auth, compute, cloud, work, run_pass):
    alice, pc = rent(auth, compute, work)
    domain = cloud.domains["test:///local"][f"mc-{pc['id']}"]
    domain["state"] = "shutoff"
    run_pass()
    assert alice.get(f"/api/v1/instances/{pc['id']}").json["state"] == "stopped"
    domain["state"] = "running"
    run_pass()
    assert alice.get(f"/api/v1/instances/{pc['id']}").json["state"] == "running"


def test_transitional_states_are_left_to_their_jobs(auth, compute, cloud, work, run_pass):
    alice, pc = rent(auth, compute, work)
    alice.post(f"/api/v1/instances/{pc['id']}/stop")  # stopping; its job has not run yet
    del cloud.domains["test:///local"][f"mc-{pc['id']}"]
    run_pass()
    assert alice.get(f"/api/v1/instances/{pc['id']}").json["state"] == "stopping"


def test_a_reboot_during_a_pass_is_not_undone_by_a_listing_that_saw_the_guest_off(auth, compute, cloud, work,
                                                                                   run_pass, services, monkeypatch):
    alice, pc = rent(auth, compute, work)
    domain = cloud.domains["test:///local"][f"mc-{pc['id']}"]
    real_driver_for = services.hosts.driver_for

    def driver_for(host):
        driver = real_driver_for(host)

        class RebootsRightAfterListing:  # running -> rebooting -> running again while the pass holds its listing
            def __getattr__(self, name):
                return getattr(driver, name)

            def list_domains(self):
                domain["state"] = "shutoff"  # the guest powered itself off, and the listing saw it so
                listing = driver.list_domains()
                assert alice.post(f"/api/v1/instances/{pc['id']}/reboot").status_code == 202
                work()  # the reboot starts it again
                return listing
        return RebootsRightAfterListing()

    monkeypatch.setattr(services.hosts, "driver_for", driver_for)
    [report] = run_pass()
    assert report["changed"] == []
    assert domain["state"] == "running"
    assert alice.get(f"/api/v1/instances/{pc['id']}").json["state"] == "running"  # not marked stopped


def test_a_stop_that_completes_during_a_pass_is_not_undone_by_its_listing(auth, compute, cloud, work, run_pass,
                                                                          services, monkeypatch):
    alice, pc = rent(auth, compute, work)
    real_driver_for = services.hosts.driver_for

    def driver_for(host):
        driver = real_driver_for(host)

        class StopsRightAfterListing:  # the worker's stop job runs between the listing and the pass's writes
            def __getattr__(self, name):
                return getattr(driver, name)

            def list_domains(self):
                listing = driver.list_domains()
                assert alice.post(f"/api/v1/instances/{pc['id']}/stop").status_code == 202
                work()
                return listing
        return StopsRightAfterListing()

    monkeypatch.setattr(services.hosts, "driver_for", driver_for)
    [report] = run_pass()
    assert report["changed"] == []
    assert alice.get(f"/api/v1/instances/{pc['id']}").json["state"] == "stopped"  # not flipped back to running


def test_orphans_are_listed_for_admins_and_one_listing_per_host(auth, compute, cloud, work, run_pass, services):
    alice, pc = rent(auth, compute, work)
    cloud.domains["test:///local"]["mc-left-behind"] = {"state": "running"}
    cloud.calls.clear()
    [report] = run_pass()
    assert report["orphan_domains"] == ["mc-left-behind"]
    assert report["orphan_volumes"] == ["mc-left-behind-disk.qcow2", "mc-left-behind-seed.iso"]  # the instance's own
    # volumes are not orphans
    assert [c[1] for c in cloud.calls].count("list_domains") == 1
    [row] = services.hosts.reports()
    assert row["reachable"] and row["orphan_domains"] == ["mc-left-behind"]
    assert "mc-left-behind" in cloud.domains["test:///local"]  # listed, never deleted automatically


def test_an_unreachable_host_is_reported_and_nothing_changes(auth, compute, cloud, work, run_pass, services):
    alice, pc = rent(auth, compute, work)
    del cloud.hosts["test:///local"]
    [report] = run_pass()
    assert report == {"host": "local", "reachable": False}
    assert alice.get(f"/api/v1/instances/{pc['id']}").json["state"] == "running"
    assert services.hosts.reports()[0]["reachable"] is False


def test_the_admin_page_lists_the_orphans(auth, compute, cloud, work, run_pass, services, client):
    from test_pages import page_login

    services.accounts.ensure_admin("root", "root-password-1")
    cloud.domains.setdefault("test:///local", {})["mc-left-behind"] = {"state": "running"}
    services.hosts.ensure_default()
    run_pass()
    page_login(client, "root", "root-password-1")
    page = client.get("/admin", headers={"Accept-Language": "en"}).get_data(as_text=True)
    assert "Orphan domains" in page and "<code>mc-left-behind</code>" in page
