"""scripts/swift.sh for real: a Swift on loopback that the reseller admin can use, stopped and started again."""
from __future__ import annotations

import os
import subprocess
import time
import urllib.request
from pathlib import Path

import pytest
import swiftclient
from conftest import free_port

pytestmark = pytest.mark.system

ROOT = Path(__file__).resolve().parents[2]
SWIFT_SH = ROOT / "scripts" / "swift.sh"


def swift_sh(command: str, folder: Path, port: int) -> subprocess.CompletedProcess:
    return subprocess.run(["bash", str(SWIFT_SH), command, str(folder)], capture_output=True, text=True,
                          timeout=180, stdin=subprocess.DEVNULL, env=dict(os.environ, SWIFT_PORT=str(port)))


def recorded_processes(folder: Path) -> list[tuple[str, int]]:
    lines = (folder / "run" / "pids").read_text().splitlines()
    return [(line.split()[0], int(line.split()[3])) for line in lines]


def gone(pid: int) -> bool:
    """Exited (a zombie counts: it holds no port and does no work)."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return True
    return stat.rsplit(")", 1)[1].split()[0] == "Z"


def healthcheck(port: int) -> str:
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/healthcheck", timeout=5) as response:
        return response.read().decode()


def test_start_stop_start_and_a_reseller_made_project_account(tmp_path):
    folder, port = tmp_path / "swift", free_port()
    try:
        started = time.monotonic()
        first = swift_sh("start", folder, port)
        assert first.returncode == 0, first.stdout + first.stderr
        info = dict(line.split("=", 1) for line in first.stdout.splitlines() if "=" in line)
        assert info["auth_url"] == f"http://127.0.0.1:{port}/auth/v1.0"
        assert info["user"] == "minicloud:reseller"
        key_file = Path(info["key_file"])
        assert key_file == folder / "reseller.key" and key_file.stat().st_mode & 0o777 == 0o600
        key = key_file.read_text().strip()
        assert len(key) >= 32
        print(f"\nswift.sh start from an empty folder: {time.monotonic() - started:.1f} s")

        assert healthcheck(port) == "OK"
        assert swift_sh("status", folder, port).returncode == 0
        processes = recorded_processes(folder)
        assert [name for name, _ in processes] == [
            "memcached", "account-server", "container-server", "object-server", "proxy-server",
            "container-updater", "object-updater"]

        # Already running: a quick success that changes nothing.
        again_started = time.monotonic()
        again = swift_sh("start", folder, port)
        assert again.returncode == 0 and "already running" in again.stderr
        assert time.monotonic() - again_started < 5
        assert recorded_processes(folder) == processes
        assert key_file.read_text().strip() == key

        # v1 auth as the reseller admin, who then creates and uses an account for a project.
        storage_url, token = swiftclient.get_auth(info["auth_url"], info["user"], key)
        assert storage_url == f"http://127.0.0.1:{port}/v1/AUTH_minicloud"
        project_url = storage_url.rsplit("/", 1)[0] + "/AUTH_project-one"
        project = swiftclient.Connection(preauthurl=project_url, preauthtoken=token, retries=0)
        project.put_container("photos")
        project.put_object("photos", "cat.txt", b"meow" * 1000, content_type="text/plain")
        headers, body = project.get_object("photos", "cat.txt")
        assert body == b"meow" * 1000 and headers["content-type"] == "text/plain"
        assert [c["name"] for c in project.get_account()[1]] == ["photos"]
        # The container-updater brings the account's statistics up to date within seconds.
        deadline = time.monotonic() + 15
        while project.head_account().get("x-account-bytes-used") != "4000":
            assert time.monotonic() < deadline, project.head_account()
            time.sleep(0.2)

        # stop ends exactly the processes it started, and the port is free again at once.
        stopped = swift_sh("stop", folder, port)
        assert stopped.returncode == 0, stopped.stdout + stopped.stderr
        assert [pid for _, pid in processes if not gone(pid)] == []
        assert swift_sh("status", folder, port).returncode == 1
        with pytest.raises(OSError):
            healthcheck(port)

        # start again (same folder, same ports): the data is still there.
        restarted_at = time.monotonic()
        restarted = swift_sh("start", folder, port)
        assert restarted.returncode == 0, restarted.stdout + restarted.stderr
        print(f"swift.sh start again after stop: {time.monotonic() - restarted_at:.1f} s")
        assert healthcheck(port) == "OK"
        storage_url, token = swiftclient.get_auth(info["auth_url"], info["user"], key)
        project = swiftclient.Connection(preauthurl=project_url, preauthtoken=token, retries=0)
        assert project.get_object("photos", "cat.txt")[1] == b"meow" * 1000
    finally:
        swift_sh("stop", folder, port)


def test_the_session_fixture_serves_and_comes_back_after_an_outage(swift_server):
    storage_url, token = swiftclient.get_auth(swift_server.auth_url, swift_server.user, swift_server.key)
    assert storage_url.startswith(swift_server.proxy_url + "/v1/")
    swift_server.stop()
    try:
        with pytest.raises(OSError):  # connection refused
            swiftclient.get_auth(swift_server.auth_url, swift_server.user, swift_server.key, retries=0)
    finally:
        swift_server.start()
    storage_url, token = swiftclient.get_auth(swift_server.auth_url, swift_server.user, swift_server.key)
    assert swiftclient.head_account(storage_url, token)["x-account-container-count"] is not None
