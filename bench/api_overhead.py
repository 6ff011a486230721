"""How much does minicloud's web layer cost? (``make bench``)

Serves ``GET /api/v1/auth/me`` (token auth + one query) from minicloud and the
same work from a bare WSGI function (bench/bare_app.py) under identical
gunicorn settings, loads each in turn with ``wrk`` on loopback, and prints the
requests per second of both and the ratio minicloud / bare (the target is at
least 0.8). It starts and removes its own PostgreSQL (scripts/pg.sh).

On a small or shared machine wrk, PostgreSQL and the workers compete for the
same CPUs, and anything else running skews a single run; so the two servers are
measured in many short alternating rounds, each round both servers back to
back; the headline is the median of the rounds' own ratios, beside the ratios
of the best and of the median rounds (a best-round ratio is decided by one
lucky round of either server: it swung by a tenth between identical runs). It also prints the CPU
time the gunicorn workers spend per request: the difference is the cost of
minicloud's web layer, plus the noise of wrk and PostgreSQL sharing the CPUs.

So the same request is then measured in-process (bench/request_split.py): both
WSGI callables called directly, in alternating rounds, their CPU time per
request compared, and minicloud's split by stage (token check, principal query,
routing and dispatch, handler, JSON encode, audit, the rest).

    .venv/bin/python bench/api_overhead.py [--duration 5] [--warmup 3] [--rounds 8] [--connections 8] [--workers 2]
                                           [--split-requests 2000] [--split-rounds 5]

A report, not a test: it exits 0 whatever the ratio (non-zero only when it
could not measure).
"""
from __future__ import annotations

import argparse
import importlib
import json
import os
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import urllib.request
from pathlib import Path

import request_split
from common import BENCH_USER, ROOT, Proc, free_port, make_token, start_postgres, stop_postgres

JWT_SECRET = "bench-secret-" + "x" * 40
TARGET = 0.8


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


class Server(Proc):
    """A gunicorn serving ``app`` on a free loopback port; stopped by its PID."""

    stop_seconds = 15

    def __init__(self, name: str, app: str, conf: Path, env: dict, log: Path):
        self.port = free_port()
        super().__init__(name, [sys.executable, "-m", "gunicorn", "-c", str(conf), "--chdir", str(ROOT),
                                "--bind", f"127.0.0.1:{self.port}", app], env, log)
        self.url = f"http://127.0.0.1:{self.port}/api/v1/auth/me"

    def wait_ready(self, token: str) -> dict:
        request = urllib.request.Request(self.url, headers={"Authorization": f"Bearer {token}"})
        return json.loads(self.wait_http(request))

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


def in_process_split(env: dict, token: str, requests: int, rounds: int) -> list[str]:
    """Both applications built in this process with the servers' settings; bench/request_split.py's report."""
    from minicloud import config as config_module
    from minicloud.app import make_app

    os.environ.update(DATABASE_URL=env["DATABASE_URL"], MINICLOUD_AUTH_JWT_SECRET=JWT_SECRET)
    bare = importlib.import_module("bare_app")
    app = make_app(config_module.load())
    try:
        environ = request_split.environ_for("/api/v1/auth/me", token)
        result = request_split.measure(app, bare.application, environ, requests, rounds)
    finally:
        app.services.close()
        bare.pool.close()
    return request_split.report(result, requests, rounds)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--duration", type=int, default=5, help="seconds of measured load per round and server")
    parser.add_argument("--warmup", type=int, default=3, help="seconds of unmeasured load per server first")
    parser.add_argument("--rounds", type=int, default=8, help="alternating measured rounds per server")
    parser.add_argument("--connections", type=int, default=8)
    parser.add_argument("--threads", type=int, default=2, help="wrk threads")
    parser.add_argument("--workers", type=int, default=2, help="gunicorn workers (both servers)")
    parser.add_argument("--split-requests", type=int, default=2000, help="requests per in-process round")
    parser.add_argument("--split-rounds", type=int, default=5, help="alternating in-process rounds per callable")
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
        token = make_token(url, JWT_SECRET)
        conf = gunicorn_config(workdir, args.workers)
        env = dict(os.environ, DATABASE_URL=url, MINICLOUD_AUTH_JWT_SECRET=JWT_SECRET,
                   PYTHONPATH=str(ROOT / "src"), PYTHONDONTWRITEBYTECODE="1")
        for name, app in (("bare", "bench.bare_app:application"), ("minicloud", "minicloud.wsgi:application")):
            servers[name] = Server(name, app, conf, env, workdir / f"{name}.log")
        for name, server in servers.items():
            me = server.wait_ready(token)
            if me.get("username") != BENCH_USER:
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
        median = {name: statistics.median(values) for name, values in rates.items()}
        least_cpu = {name: min(values) for name, values in cpu.items()}
        median_cpu = {name: statistics.median(values) for name, values in cpu.items()}
        ratio = best["minicloud"] / best["bare"]
        paired = statistics.median(m / b for m, b in zip(rates["minicloud"], rates["bare"]))
        print(f"GET /api/v1/auth/me · gunicorn {args.workers} sync workers each · wrk -t{args.threads} "
              f"-c{args.connections} -d{args.duration}s · {args.rounds} alternating rounds "
              f"after {args.warmup}s warm-up · {os.cpu_count()} CPUs, load average {load_before:.2f}")
        for name, label in (("bare", "bare WSGI + psycopg"), ("minicloud", "minicloud")):
            runs = ", ".join(f"{r:.0f}" for r in rates[name])
            print(f"{label:20s}: best {best[name]:7.1f}, median {median[name]:7.1f} requests/s (rounds: {runs});"
                  f" worker CPU least {least_cpu[name]:4.0f}, median {median_cpu[name]:4.0f} µs/request")
        print(f"ratio minicloud/bare: {paired:8.3f} median of the rounds' own ratios"
              f"   (target >= {TARGET}: {'met' if paired >= TARGET else 'NOT met'}); {ratio:.3f} best rounds,"
              f" {median['minicloud'] / median['bare']:.3f} median rounds")
        print(f"web layer           : {least_cpu['minicloud'] - least_cpu['bare']:+8.0f} µs worker CPU/request"
              f" (CPU ratio bare/minicloud {least_cpu['bare'] / least_cpu['minicloud']:.3f};"
              f" medians {median_cpu['minicloud'] - median_cpu['bare']:+.0f} µs)")
        for line in in_process_split(env, token, args.split_requests, args.split_rounds):
            print(line)
        return 0
    except (RuntimeError, OSError, subprocess.CalledProcessError) as exc:
        print(f"bench: could not measure: {exc}", file=sys.stderr)
        for server in servers.values():
            print(f"--- {server.name}.log (last lines)\n{server.tail()}", file=sys.stderr)
        return 1
    finally:
        for server in servers.values():
            server.stop()
        stop_postgres(workdir)
        shutil.rmtree(workdir, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
