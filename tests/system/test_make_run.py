"""`make run` for real: scripts/run.sh serves the console over HTTP and stops everything it started."""
from __future__ import annotations

import json
import os
import re
import signal
import socket
import subprocess
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest
from conftest import free_port

pytestmark = pytest.mark.system

ROOT = Path(__file__).resolve().parents[2]
RUN = ROOT / "scripts" / "run.sh"


def script_env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("MINICLOUD_") and k != "DATABASE_URL"}
    # Cheap hashing, and a secret in the environment so the test leaves configs/ alone.
    env.update(MINICLOUD_AUTH_BCRYPT_COST="4", MINICLOUD_AUTH_JWT_SECRET="run-test-secret-" + "x" * 40, **extra)
    return env


def http(method: str, url: str, body: dict | None = None, token: str | None = None) -> tuple[int, dict]:
    request = urllib.request.Request(url, method=method, data=json.dumps(body).encode() if body else None)
    if body is not None:
        request.add_header("Content-Type", "application/json")
    if token:
        request.add_header("Authorization", f"Bearer {token}")
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return response.status, json.loads(response.read() or b"null")
    except urllib.error.HTTPError as exc:
        return exc.code, json.loads(exc.read() or b"null")


def descendants(pid: int) -> dict[int, str]:
    """{pid: start time} of every process below ``pid`` (read from /proc)."""
    parents: dict[int, list[int]] = {}
    starts: dict[int, str] = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        fields = stat.rsplit(")", 1)[1].split()
        parents.setdefault(int(fields[1]), []).append(int(entry.name))
        starts[int(entry.name)] = fields[19]
    found, todo = {}, [pid]
    while todo:
        for child in parents.get(todo.pop(), []):
            found[child] = starts[child]
            todo.append(child)
    return found


def alive(pid: int, start: str) -> bool:
    """Is that very process (same start time) still there, zombie included?"""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    return stat.rsplit(")", 1)[1].split()[19] == start


def wait_for(predicate, timeout: float, what: str, proc: subprocess.Popen, log: Path):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return
        if proc.poll() is not None:
            pytest.fail(f"run.sh exited ({proc.returncode}) before {what}:\n{log.read_text()}")
        time.sleep(0.2)
    pytest.fail(f"timed out waiting for {what}:\n{log.read_text()}")


def test_make_run_serves_the_api_and_stops_everything_on_sigint(fresh_database, tmp_path):
    port = free_port()
    log = tmp_path / "run.log"
    with open(log, "wb") as out:
        proc = subprocess.Popen(["bash", str(RUN)], cwd=ROOT, stdout=out, stderr=subprocess.STDOUT,
                                stdin=subprocess.DEVNULL, start_new_session=True,
                                env=script_env(DATABASE_URL=fresh_database, MINICLOUD_SERVER_PORT=str(port)))
    base = f"http://127.0.0.1:{port}"
    try:
        wait_for(lambda: "minicloud is running" in log.read_text(), 180, "the server to come up", proc, log)
        output = log.read_text()
        assert f"http://127.0.0.1:{port}/" in output
        pids = dict((k, int(v)) for k, v in re.findall(r"\b(worker|web)=(\d+)", output))
        assert set(pids) == {"worker", "web"}, output
        assert "postgres=" not in output  # DATABASE_URL given: no cluster of its own
        admin_password = re.search(r"administrator \(new\): admin\s+password: (\S+)", output).group(1)

        assert http("GET", f"{base}/healthz") == (200, {"status": "ok"})
        status, ready = http("GET", f"{base}/readyz")
        assert status == 200 and ready["database"]["status"] == "ok"

        status, user = http("POST", f"{base}/api/v1/auth/signup",
                            {"username": "carol", "password": "correct-horse", "display_name": "Carol"})
        assert status == 201 and user["username"] == "carol"
        status, login = http("POST", f"{base}/api/v1/auth/login", {"username": "carol", "password": "correct-horse"})
        assert status == 200 and login["token_type"] == "Bearer"
        status, me = http("GET", f"{base}/api/v1/auth/me", token=login["access_token"])
        assert status == 200 and me["username"] == "carol" and me["is_admin"] is False
        assert [p["personal"] for p in me["projects"]] == [True]

        status, login = http("POST", f"{base}/api/v1/auth/login", {"username": "admin", "password": admin_password})
        assert status == 200
        assert http("GET", f"{base}/api/v1/auth/me", token=login["access_token"])[1]["is_admin"] is True

        started = descendants(proc.pid)
        assert {pids["worker"], pids["web"]} <= set(started)
        assert len(started) >= 4  # worker, gunicorn master and its two workers
    finally:
        if proc.poll() is None:
            os.kill(proc.pid, signal.SIGINT)
        try:
            proc.wait(timeout=40)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
            pytest.fail(f"run.sh did not stop within 40 s of SIGINT:\n{log.read_text()}")

    output = log.read_text()
    assert proc.returncode == 0, output
    assert "got SIGINT" in output and "minicloud: stopped" in output
    left = [pid for pid, start in started.items() if alive(pid, start)]
    assert left == [], f"still running after run.sh stopped: {left}\n{output}"
    with socket.socket() as s:  # the port is free again
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        s.bind(("127.0.0.1", port))


def test_make_run_says_clearly_when_the_port_is_busy(fresh_database):
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        done = subprocess.run(["bash", str(RUN)], cwd=ROOT, capture_output=True, text=True, timeout=60,
                              stdin=subprocess.DEVNULL,
                              env=script_env(DATABASE_URL=fresh_database, MINICLOUD_SERVER_PORT=str(port),
                                             MINICLOUD_SKIP_DEPS="1"))
    assert done.returncode == 1
    assert f"port {port} on 127.0.0.1 is busy" in done.stderr
    assert "MINICLOUD_SERVER_PORT=" in done.stderr


def test_install_deps_finds_everything_in_place_quickly():
    """After `make test` ran it, the set-up script has nothing left to do (and says so fast)."""
    started = time.monotonic()
    done = subprocess.run(["bash", str(ROOT / "scripts" / "install-deps.sh"), "--check"],
                          capture_output=True, text=True, timeout=60, stdin=subprocess.DEVNULL)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "up to date" in done.stdout
    assert time.monotonic() - started < 10
