"""minicloud served by gunicorn in a subprocess on a free loopback port, for tests that need real HTTP."""
from __future__ import annotations

import subprocess
import sys
import time
import urllib.request
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import pytest
from conftest import free_port

ROOT = Path(__file__).resolve().parents[1]
START_SECONDS = 30


@dataclass(frozen=True)
class Served:
    """A running gunicorn: where it answers, its master process and its log file."""

    base_url: str
    port: int
    proc: subprocess.Popen
    log_path: Path

    def log_tail(self) -> str:
        return self.log_path.read_text(errors="replace")[-3000:]


def gunicorn_argv(port: int, workers: int, threads: int | None, timeout: int | None) -> list[str]:
    argv = [sys.executable, "-m", "gunicorn", "-c", str(ROOT / "configs/gunicorn.conf.py"),
            "--bind", f"127.0.0.1:{port}", "--workers", str(workers)]
    if threads is not None:
        argv += ["--threads", str(threads)]
    if timeout is not None:
        argv += ["--timeout", str(timeout)]
    return argv + ["--access-logfile", "-", "minicloud.wsgi:application"]


def answers_healthz(base_url: str) -> bool:
    try:
        with urllib.request.urlopen(base_url + "/healthz", timeout=1) as response:
            return response.status == 200
    except OSError:
        return False


@contextmanager
def serve_app(env: dict, log_dir: Path, *, workers: int = 2, threads: int | None = None,
              timeout: int | None = None, ready: Callable[[Served], bool] | None = None,
              stop_seconds: float = 10) -> Iterator[Served]:
    """gunicorn serving minicloud with ``env``, its log in ``log_dir``/gunicorn.log; stopped by its pid.

    Yields once /healthz answers 200 and ``ready`` (if given) holds; fails the test, with the log's
    tail, when gunicorn exits first or is not ready within 30 s.
    """
    port = free_port()
    log_path = log_dir / "gunicorn.log"
    # never the host's own minicloud networks: a test that enforces VPCs says so and names its own tables
    env = {"MINICLOUD_NETWORK_ENFORCEMENT": "off", "MINICLOUD_NETWORK_STATE_DIR": str(log_dir / "network"), **env}
    with open(log_path, "wb") as log:
        proc = subprocess.Popen(gunicorn_argv(port, workers, threads, timeout),
                                cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT)
    served = Served(f"http://127.0.0.1:{port}", port, proc, log_path)
    try:
        deadline = time.monotonic() + START_SECONDS
        while not (answers_healthz(served.base_url) and (ready is None or ready(served))):
            if proc.poll() is not None:
                pytest.fail(f"gunicorn exited with {proc.returncode}:\n{served.log_tail()}")
            if time.monotonic() > deadline:
                pytest.fail(f"gunicorn was not ready (/healthz) within {START_SECONDS} s:\n{served.log_tail()}")
            time.sleep(0.2)
        yield served
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=stop_seconds)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
