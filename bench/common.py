"""What the benchmarks share: free loopback ports, a PostgreSQL of their own, a user's access token,
and child processes logging to a file, stopped by their PID.

The benchmarks run as ``.venv/bin/python bench/X.py``, so this folder is on ``sys.path`` and they
``import common``; importing it puts the checkout's ``src/`` there too (for ``import minicloud``).
"""
from __future__ import annotations

import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT / "src") not in sys.path:
    sys.path.insert(0, str(ROOT / "src"))

BENCH_USER = "bench"
BENCH_PASSWORD = "bench-password-1"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start_postgres(workdir: Path) -> str:
    """scripts/pg.sh start in ``workdir``/pg on a free port: the database URL."""
    workdir.chmod(0o755)  # the server runs as "postgres" when we are root
    done = subprocess.run([str(ROOT / "scripts/pg.sh"), "start", str(workdir / "pg"), str(free_port())],
                          capture_output=True, text=True)
    if done.returncode != 0:
        raise RuntimeError(f"could not start PostgreSQL:\n{done.stderr}")
    return done.stdout.strip()


def stop_postgres(workdir: Path) -> None:
    subprocess.run([str(ROOT / "scripts/pg.sh"), "stop", str(workdir / "pg")], check=False)


def make_token(url: str, jwt_secret: str) -> str:
    """Migrate, create BENCH_USER through minicloud's services (bcrypt cost 4) and issue an access token."""
    from minicloud import config as config_module
    from minicloud.db import migrate
    from minicloud.services import Services

    migrate.upgrade(url)
    config = config_module.load(environ={}).with_overrides(
        {"database.url": url, "auth.bcrypt_cost": 4, "auth.jwt_secret": jwt_secret})
    services = Services.from_config(config)
    try:
        user = services.accounts.signup(BENCH_USER, BENCH_PASSWORD, "Bench User", None, None)
        token, _ = services.sessions.issue(user["id"])
    finally:
        services.close()
    return token


class Proc:
    """A child process in a session of its own, its output in a log file; stopped by its PID (TERM, then KILL)."""

    stop_seconds = 30

    def __init__(self, name: str, argv: list[str], env: dict, log: Path):
        self.name = name
        self.log = open(log, "w")
        self.proc = subprocess.Popen(argv, env=env, cwd=ROOT, stdout=self.log, stderr=subprocess.STDOUT,
                                     start_new_session=True)

    def alive(self) -> bool:
        return self.proc.poll() is None

    def wait_http(self, request: str | urllib.request.Request, timeout: float = 30.0) -> bytes:
        """Repeat ``request`` until it answers with success, as long as the process lives: the body."""
        deadline = time.monotonic() + timeout
        while True:
            if not self.alive():
                raise RuntimeError(f"{self.name} exited early (exit code {self.proc.returncode})")
            try:
                with urllib.request.urlopen(request, timeout=5) as answer:
                    return answer.read()
            except OSError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.2)

    def stop(self) -> None:
        if self.alive():
            self.proc.send_signal(signal.SIGTERM)  # a gunicorn master stops its workers
            try:
                self.proc.wait(timeout=self.stop_seconds)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.log.close()

    def tail(self) -> str:
        if not self.log.closed:
            self.log.flush()
        return Path(self.log.name).read_text(errors="replace")[-3000:]
