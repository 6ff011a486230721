"""How much does minicloud's web layer cost? (``make bench``)

Serves ``GET /api/v1/auth/me`` (token auth + one query) from minicloud and the
same work from a bare WSGI function (bench/bare_app.py) under identical
gunicorn settings, loads each in turn with ``wrk`` on loopback, and prints the
requests per second of both and the ratio minicloud / bare (the target is at
least 0.8). It starts and removes its own PostgreSQL (scripts/pg.sh).

On a small or shared machine wrk, PostgreSQL and the workers compete for the
same CPUs, and anything else running skews a single run; so the two servers are
measured in alternating rounds and the best round of each counts. It also
prints the CPU time the gunicorn workers spend per request, which other load
hardly disturbs: the difference is the cost of minicloud's web layer.

    .venv/bin/python bench/api_overhead.py [--duration 10] [--warmup 3] [--rounds 3] [--connections 8] [--workers 2]

A report, not a test: it exits 0 whatever the ratio (non-zero only when it
could not measure).
"""
from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))

JWT_SECRET = "bench-secret-" + "x" * 40
TARGET = 0.8


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start_postgres(workdir: Path) -> str:
    workdir.chmod(0o755)  # the server runs as "postgres" when we are root
    done = subprocess.run([str(ROOT / "scripts/pg.sh"), "start", str(workdir / "pg"), str(free_port())],
                          capture_output=True, text=True)
    if done.returncode != 0:
        raise RuntimeError(f"could not start PostgreSQL:\n{done.stderr}")
    return done.stdout.strip()


def make_token(url: str) -> tuple[str, str]:
    """Migrate, create a user through minicloud's services (bcrypt cost 4) and issue an access token."""
    from minicloud import config as config_module
    from minicloud.db import migrate
    from minicloud.services import Services

    migrate.upgrade(url)
    config = config_module.load(environ={}).with_overrides(
        {"database.url": url, "auth.bcrypt_cost": 4, "auth.jwt_secret": JWT_SECRET})
    services = Services.from_config(config)
    try:
        user = services.accounts.signup("bench", "bench-password-1", "Bench User", None, None, "en")
        token, _ = services.sessions.issue(user["id"])
    finally:
        services.close()
    return token, "bench"


def gunicorn_config(workdir: Path, workers: int) -> Path:
    """One settings file for both servers: sync workers, no access log, only warnings logged."""
    path = workdir / "gunicorn.conf.py"
    logging = {
        "version": 1,
        "disable_existing_loggers": False,
        "root": {"level": "WARNING", "handlers": ["error_console"]},
        "loggers": {"gunicorn.error": {"level": "WARNING", "handlers": ["error_console"], "propagate": False}},
    }
    path.write_text(
        f"workers = {workers}\n"
        "worker_class = 'sync'\n"
        "accesslog = None\n"
        "loglevel = 'warning'\n"
        "preload_app = False\n"
        f"logconfig_dict = {logging!r}\n"
    )
    return path


class Server:
    """A gunicorn serving ``app`` on a free loopback port; stopped by its PID."""

    def __init__(self, app: str, conf: Path, env: dict, log: Path):
        self.port = free_port()
        self.log = open(log, "w")
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "gunicorn", "-c", str(conf), "--chdir", str(ROOT),
             "--bind", f"127.0.0.1:{self.port}", app],
            env=env, stdout=self.log, stderr=subprocess.STDOUT, start_new_session=True,
        )
        self.url = f"http://127.0.0.1:{self.port}/api/v1/auth/me"

    def wait_ready(self, token: str, timeout: float = 30.0) -> dict:
        deadline = time.monotonic() + timeout
        request = urllib.request.Request(self.url, headers={"Authorization": f"Bearer {token}"})
        while True:
            if self.proc.poll() is not None:
                raise RuntimeError(f"gunicorn ({self.url}) exited early")
            try:
                with urllib.request.urlopen(request, timeout=5) as answer:
                    return json.load(answer)
            except OSError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.2)

    def worker_cpu_seconds(self) -> float:
        """User + system CPU time used so far by the gunicorn workers (the master's children)."""
        ticks = 0
        for entry in Path("/proc").iterdir():
            if not entry.name.isdigit():
                continue
            try:
                fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
            except OSError:
                continue
            if int(fields[1]) == self.proc.pid:  # after the name: state, ppid, ..., utime [11], stime [12]
                ticks += int(fields[11]) + int(fields[12])
        return ticks / os.sysconf("SC_CLK_TCK")

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)  # gunicorn's master stops its workers
            try:
                self.proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.log.close()


def wrk(url: str, token: str, seconds: int, connections: int, threads: int) -> tuple[float, int, str]:
    """Requests per second, the number of requests, and wrk's report."""
    out = subprocess.run(
        ["wrk", f"-t{threads}", f"-c{connections}", f"-d{seconds}s", "--latency",
         "-H", f"Authorization: Bearer {token}", url],
        capture_output=True, text=True, check=True,
    ).stdout
    if "Non-2xx or 3xx responses" in out:
        raise RuntimeError(f"some answers were errors:\n{out}")
    rate, count = re.search(r"Requests/sec:\s+([0-9.]+)", out), re.search(r"(\d+) requests in", out)
    if not (rate and count):
        raise RuntimeError(f"could not read wrk's output:\n{out}")
    return float(rate.group(1)), int(count.group(1)), out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--duration", type=int, default=10, help="seconds of measured load per round and server")
    parser.add_argument("--warmup", type=int, default=3, help="seconds of unmeasured load per server first")
    parser.add_argument("--rounds", type=int, default=3, help="alternating measured rounds per server")
    parser.add_argument("--connections", type=int, default=8)
    parser.add_argument("--threads", type=int, default=2, help="wrk threads")
    parser.add_argument("--workers", type=int, default=2, help="gunicorn workers (both servers)")
    parser.add_argument("--verbose", action="store_true", help="print wrk's report of every round")
    args = parser.parse_args(argv)

    if shutil.which("wrk") is None:
        print("bench: the load generator wrk is missing; run scripts/install-deps.sh (or apt-get install wrk)",
              file=sys.stderr)
        return 2

    workdir = Path(tempfile.mkdtemp(prefix="minicloud-bench-"))
    servers: dict[str, Server] = {}
    try:
        url = start_postgres(workdir)
        token, username = make_token(url)
        conf = gunicorn_config(workdir, args.workers)
        env = dict(os.environ, DATABASE_URL=url, MINICLOUD_AUTH_JWT_SECRET=JWT_SECRET,
                   PYTHONPATH=str(ROOT / "src"), PYTHONDONTWRITEBYTECODE="1")
        for name, app in (("bare", "bench.bare_app:application"), ("minicloud", "minicloud.wsgi:application")):
            servers[name] = Server(app, conf, env, workdir / f"{name}.log")
        for name, server in servers.items():
            me = server.wait_ready(token)
            if me.get("username") != username:
                raise RuntimeError(f"{name} answered {me!r}")
            if args.warmup:
                wrk(server.url, token, args.warmup, args.connections, args.threads)

        load_before = os.getloadavg()[0]
        rates: dict[str, list[float]] = {name: [] for name in servers}
        cpu: dict[str, list[float]] = {name: [] for name in servers}
        for round_no in range(args.rounds):
            for name in (list(servers) if round_no % 2 == 0 else list(reversed(servers))):
                server = servers[name]
                spent = server.worker_cpu_seconds()
                rate, count, report = wrk(server.url, token, args.duration, args.connections, args.threads)
                rates[name].append(rate)
                cpu[name].append((server.worker_cpu_seconds() - spent) / count * 1e6)
                if args.verbose:
                    print(f"--- round {round_no + 1}, {name}: {rate:.1f} requests/s, "
                          f"{cpu[name][-1]:.0f} µs worker CPU per request\n{report}")

        best = {name: max(values) for name, values in rates.items()}
        least_cpu = {name: min(values) for name, values in cpu.items()}
        ratio = best["minicloud"] / best["bare"]
        print(f"GET /api/v1/auth/me · gunicorn {args.workers} sync workers each · wrk -t{args.threads} "
              f"-c{args.connections} -d{args.duration}s · best of {args.rounds} alternating rounds "
              f"after {args.warmup}s warm-up · {os.cpu_count()} CPUs, load average {load_before:.2f}")
        for name, label in (("bare", "bare WSGI + psycopg"), ("minicloud", "minicloud")):
            runs = ", ".join(f"{r:.0f}" for r in rates[name])
            print(f"{label:20s}: {best[name]:8.1f} requests/s (rounds: {runs});"
                  f" worker CPU {least_cpu[name]:5.0f} µs/request")
        print(f"ratio minicloud/bare: {ratio:8.3f}   (target >= {TARGET}: {'met' if ratio >= TARGET else 'NOT met'})")
        print(f"web layer           : {least_cpu['minicloud'] - least_cpu['bare']:+8.0f} µs worker CPU/request"
              f" (CPU ratio bare/minicloud {least_cpu['bare'] / least_cpu['minicloud']:.3f})")
        return 0
    except (RuntimeError, OSError, subprocess.CalledProcessError) as exc:
        print(f"bench: could not measure: {exc}", file=sys.stderr)
        for server in servers.values():
            server.log.flush()
            tail = Path(server.log.name).read_text(errors="replace")[-3000:]
            print(f"--- {Path(server.log.name).name} (last lines)\n{tail}", file=sys.stderr)
        return 1
    finally:
        for server in servers.values():
            server.stop()
        subprocess.run([str(ROOT / "scripts/pg.sh"), "stop", str(workdir / "pg")], check=False)
        shutil.rmtree(workdir, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
