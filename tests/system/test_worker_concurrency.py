"""One worker runs jobs side by side (issue 9): a create completes while another mini PC's stop
is still waiting on a guest that ignores ACPI shutdown.

Real parts: PostgreSQL, libvirt's qemu:///system with the real driver, the tiny image. The guest is
made deaf to the power button the way a user could: through the serial console, ``killall acpid``
(busybox's acpid is what powers the tiny image off on ACPI shutdown). Its stop then waits up to
``compute.stop_timeout_seconds``; this test ends that wait itself by destroying the domain through
libvirt once it has seen what it came for.
"""
from __future__ import annotations

import threading

import libvirt
import pytest

from minicloud.jobs.worker import Worker
from test_mini_pcs import CREATE_TIMEOUT, cloud_api, config, lv_domain_state, lv_open, mini_env  # noqa: F401
from waiting import wait_for

pytestmark = pytest.mark.system
STOP_TIMEOUT = 900  # longer than this test: the stop is still waiting when the other create is done


def job_of(mc, instance_id, kind: str) -> dict | None:
    with mc.db() as conn:
        return conn.execute("SELECT * FROM jobs WHERE target = %s AND kind = %s ORDER BY created_at DESC LIMIT 1",
                            (str(instance_id), kind)).fetchone()


def test_a_create_completes_while_another_mini_pcs_stop_waits_on_its_guest(cloud_api, tiny_image):  # noqa: F811
    mc = cloud_api
    image = mc.register_image(tiny_image)
    mc.template("pico", vcpus=1, ram_mib=256, disk_gib=1)
    worker = Worker(mc.config.with_overrides({"compute.stop_timeout_seconds": STOP_TIMEOUT}), mc.services,
                    name="the-only-worker")  # one worker, with the default jobs.concurrency, as `make run` starts
    thread = threading.Thread(target=worker.run_forever, name=worker.name, daemon=True)
    thread.start()
    mc.workers.append((worker, thread))

    deaf = mc.create("deaf", "pico", image)["id"]
    mc.wait_state(deaf, "running")
    mc.wait_console(deaf, r"MINICLOUD-READY", timeout=CREATE_TIMEOUT)
    typed = mc.user.post(f"/api/v1/instances/{deaf}/console", json={"input": "killall acpid; echo ACPI-$((6*7))\r"})
    assert typed.status_code == 204, typed.json
    mc.wait_console(deaf, r"ACPI-42", timeout=60)  # the shell ran it (the echo of the typing shows no 42)

    domain = f"mc-{deaf}"
    try:
        assert mc.user.post(f"/api/v1/instances/{deaf}/stop").json["state"] == "stopping"
        wait_for(lambda: (job_of(mc, deaf, "instance.stop") or {}).get("state") == "running", 60,
                 "the stop job to be running")

        quick = mc.create("quick", "pico", image)["id"]
        mc.wait_state(quick, "running")
        mc.wait_console(quick, r"MINICLOUD-READY", timeout=CREATE_TIMEOUT)

        # the create ran and ended inside the stop's wait: the guest still runs, its stop still waits
        stop_job, create_job = job_of(mc, deaf, "instance.stop"), job_of(mc, quick, "instance.create")
        assert create_job["state"] == "succeeded" and create_job["locked_by"] is None
        assert stop_job["state"] == "running" and stop_job["locked_by"] == worker.name
        assert stop_job["started_at"] < create_job["started_at"]
        assert mc.get(deaf).json["state"] == "stopping"
        assert lv_domain_state(mc.uri, domain) == libvirt.VIR_DOMAIN_RUNNING
        assert "MINICLOUD-POWEROFF" not in mc.console(deaf)  # the guest really ignored the shutdown
    finally:
        conn = lv_open(mc.uri)  # end the stop's wait: the guest would never power off by itself
        try:
            dom = conn.lookupByName(domain)
            if dom.isActive():
                dom.destroy()
        finally:
            conn.close()
    mc.wait_state(deaf, "stopped", timeout=60)
    # the instance turns stopped inside the job; the job itself is marked done a moment later
    assert wait_for(lambda: job_of(mc, deaf, "instance.stop")["state"] == "succeeded", 30, "the stop job to finish")
