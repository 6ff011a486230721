"""Session fixture for tests that need a real OpenStack Swift: ``swift_server``.

Registered in tests/conftest.py through ``pytest_plugins``, so any test module can use it (and, for
storage driver tests with a ``driver`` fixture of their own, ``account`` and ``bucket``):

    @pytest.fixture
    def config(config, swift_server):
        return config.with_overrides(storage_overrides(swift_server))

``swift_server`` starts a private Swift with scripts/swift.sh in a temporary folder on free ports
(~4 s; the first run of all also installs Swift into .data/swift-venv, ~15 s) and stops it at the
end of the session. ``stop()`` and ``start()`` let an outage test take it down and bring it back.

MINICLOUD_TEST_SWIFT_DIR=.data/swift uses the Swift that scripts/swift.sh runs in that folder (started
there if it is not running; left as it was found at the end).
"""
from __future__ import annotations

import os
import shutil
import socket
import subprocess
import tempfile
import uuid
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
SWIFT_SH = ROOT / "scripts" / "swift.sh"
# The temp-URL secret the tests give minicloud (any fixed value works; never a real one).
TEST_TEMP_URL_SECRET = "test-temp-url-secret-" + "t" * 24


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@dataclass
class SwiftServer:
    """A Swift run by scripts/swift.sh in ``dir``; the proxy listens on ``port`` (loopback)."""

    dir: Path
    port: int | None = None
    auth_url: str = ""
    user: str = ""
    key: str = ""
    proxy_url: str = ""

    def _run(self, command: str, timeout: float = 180) -> subprocess.CompletedProcess:
        env = dict(os.environ)
        if self.port is not None:
            env["SWIFT_PORT"] = str(self.port)
        return subprocess.run(["bash", str(SWIFT_SH), command, str(self.dir)], capture_output=True,
                              text=True, timeout=timeout, stdin=subprocess.DEVNULL, env=env)

    def start(self) -> None:
        """Start it (quick when it runs already); returns once the proxy answers and v1 auth works."""
        done = self._run("start")
        if done.returncode != 0:
            raise RuntimeError(f"scripts/swift.sh start {self.dir} failed:\n{done.stdout}{done.stderr}")
        info = dict(line.split("=", 1) for line in done.stdout.splitlines() if "=" in line)
        self.auth_url, self.user, self.proxy_url = info["auth_url"], info["user"], info["proxy_url"]
        self.key = Path(info["key_file"]).read_text().strip()
        self.port = int(self.proxy_url.rsplit(":", 1)[1])

    def stop(self) -> None:
        """Stop it; returns once every one of its processes is gone."""
        done = self._run("stop", timeout=60)
        if done.returncode != 0:
            raise RuntimeError(f"scripts/swift.sh stop {self.dir} failed:\n{done.stdout}{done.stderr}")

    def running(self) -> bool:
        return self._run("status", timeout=30).returncode == 0


@pytest.fixture
def account(driver):
    """A new Swift account, ensured, of the module's storage ``driver`` fixture."""
    name = driver.account_for(uuid.uuid4().hex)
    driver.ensure_account(name)
    return name


@pytest.fixture
def bucket(driver, account):
    """A container "bucket" in ``account``."""
    driver.create_container(account, "bucket")
    return "bucket"


def read_all(download) -> bytes:
    """Every byte of an ObjectDownload, closed afterwards."""
    try:
        return b"".join(download.body)
    finally:
        download.close()


def chunks(data: bytes, size: int = 65536):
    """``data`` as an upload body of ``size`` pieces (a generator: it cannot be read twice)."""
    for at in range(0, len(data), size):
        yield data[at:at + size]


def storage_overrides(server: SwiftServer) -> dict:
    """Config overrides that point minicloud's [storage] at ``server``."""
    return {
        "storage.auth_url": server.auth_url,
        "storage.user": server.user,
        "storage.key": server.key,
        "storage.temp_url_secret": TEST_TEMP_URL_SECRET,
    }


def storage_environ(server: SwiftServer) -> dict[str, str]:
    """The same as MINICLOUD_STORAGE_* variables, for a minicloud served in a subprocess."""
    return {"MINICLOUD_" + key.replace(".", "_").upper(): str(value)
            for key, value in storage_overrides(server).items()}


@pytest.fixture(scope="session")
def swift_server():
    given = os.environ.get("MINICLOUD_TEST_SWIFT_DIR")
    if given:
        server = SwiftServer(Path(given).resolve())
        was_running = server.running()
        _start_or_fail(server)
        yield server
        if not was_running:
            server.stop()
        return
    with private_swift() as server:
        yield server


@contextmanager
def private_swift():
    """A Swift of its own in a temporary folder on a free port, stopped and removed afterwards (for a
    test that loads Swift enough to slow the session's one down, like the fuzzer)."""
    folder = Path(tempfile.mkdtemp(prefix="minicloud-swift-"))
    server = SwiftServer(folder / "swift", port=_free_port())
    _start_or_fail(server)
    try:
        yield server
    finally:
        server.stop()
        shutil.rmtree(folder, ignore_errors=True)


def _start_or_fail(server: SwiftServer) -> None:
    try:
        server.start()
    except (RuntimeError, subprocess.TimeoutExpired) as exc:
        server.stop()
        pytest.fail(f"the test Swift could not be started: {exc}", pytrace=False)
