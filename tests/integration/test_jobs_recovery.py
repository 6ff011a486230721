"""Mini PC jobs under trouble (issue 9): a database that does not answer is retried, not an error of
the mini PC; a job given up after its last attempt never ended leaves no mini PC half-way."""
import psycopg
import pytest
from psycopg.rows import dict_row

from compute_fixtures import compute_overrides, run_ready_jobs
from minicloud.db.pool import Database
from minicloud.jobs.worker import Worker


@pytest.fixture
def config(config):
    return compute_overrides(config)


def stopped_pc(user, compute, work) -> str:
    pc = user.post("/api/v1/instances", json={"name": "pc1", "template_id": compute["tid"]("nano"),
                                              "image_id": str(compute["image"]["id"])}).json
    work()
    assert user.post(f"/api/v1/instances/{pc['id']}/stop").status_code == 202
    work()
    assert user.get(f"/api/v1/instances/{pc['id']}").json["state"] == "stopped"
    return pc["id"]


def unreachable_database() -> None:
    """What the services raise while PostgreSQL restarts: a pool that cannot get a connection."""
    database = Database("postgresql://minicloud@127.0.0.1:1/minicloud", timeout=0.5)
    try:
        database.ping()
    finally:
        database.close()


def test_a_database_blip_during_a_job_is_retried_and_the_mini_pc_starts(auth, compute, cloud, work):
    alice = auth.user("alice")
    pc = stopped_pc(alice, compute, work)
    cloud.fail_next("start", unreachable_database)
    started = alice.post(f"/api/v1/instances/{pc}/start").json
    work()
    assert alice.get(f"/api/v1/instances/{pc}").json["state"] == "running"
    operation = alice.get(f"/api/v1/operations/{started['operation_id']}").json
    assert operation["state"] == "succeeded" and operation["attempts"] == 2


def test_a_start_whose_last_attempt_never_ended_puts_the_mini_pc_in_error(auth, compute, config, services, work,
                                                                          clean_db):
    alice = auth.user("alice")
    pc = stopped_pc(alice, compute, work)
    started = alice.post(f"/api/v1/instances/{pc}/start").json
    with psycopg.connect(clean_db, autocommit=True, row_factory=dict_row) as conn:
        # its worker died during the last attempt: the job is running, its lease run out
        conn.execute("UPDATE jobs SET state = 'running', attempts = max_attempts, locked_by = 'dead',"
                     " locked_until = now() - interval '1 second' WHERE id = %s", (started["operation_id"],))
    assert run_ready_jobs(Worker(config, services, name="rescuer"), clean_db) == 1
    shown = alice.get(f"/api/v1/instances/{pc}").json
    assert shown["state"] == "error" and "start" in shown["allowed_actions"]
    assert "the worker running it stopped" in shown["status_reason"]
    assert alice.get(f"/api/v1/operations/{started['operation_id']}").json["state"] == "failed"
