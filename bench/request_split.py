"""Where one request's time goes inside a minicloud worker, measured in-process (for bench/api_overhead.py).

minicloud's WSGI application and the bare one (bench/bare_app.py) are called directly with the same
WSGI environ — no server, no load generator, no network — in alternating blocks, so the difference of
their CPU time per request is the web layer's cost without wrk, gunicorn and PostgreSQL competing for
the CPUs. A second pass wraps minicloud's stages with a clock that keeps each stage's own wall time (its
time minus that of the stages inside it; ``perf_counter_ns``, which costs ~0.1 µs a read, where a
thread CPU clock costs ~1 µs here). Every stage but the principal query only computes, so its wall
time is its CPU time; the query's includes waiting for PostgreSQL's answer:

- token check: ``sessions.authenticate`` itself (the JWT's signature and claims, the Principal built);
- principal query: the database round trips made during the request (for ``/auth/me``, that one query);
- routing and dispatch: ``App._dispatch`` itself (path, route match, auth and role checks);
- handler: the route's handler itself; JSON encode: ``jsonio.dumps``; audit: ``App._audit``;
- the rest: ``App.__call__`` itself and the WSGI answer (request and response objects, headers, body).

The wrapped pass costs a little more per request than the plain one (two clock reads and a call per
stage); its total is printed beside the split.
"""
from __future__ import annotations

import gc
import io
import statistics
import time
from collections import defaultdict
from dataclasses import replace
from typing import Callable

STAGES = ("token check", "principal query", "routing and dispatch", "handler", "JSON encode", "audit", "the rest")


class StageClock:
    """Per stage, the wall nanoseconds spent in it and not in a stage inside it."""

    def __init__(self) -> None:
        self.spent: dict[str, int] = defaultdict(int)
        self._open: list[list[int]] = []  # per open stage: its start, the time of the stages inside it

    def wrap(self, stage: str, function: Callable) -> Callable:
        def timed(*args, **kwargs):
            self._open.append([time.perf_counter_ns(), 0])
            try:
                return function(*args, **kwargs)
            finally:
                start, inner = self._open.pop()
                spent = time.perf_counter_ns() - start
                self.spent[stage] += spent - inner
                if self._open:
                    self._open[-1][1] += spent
        return timed


def environ_for(path: str, token: str) -> Callable[[], dict]:
    """A fresh WSGI environ for ``GET path`` with the bearer token, as gunicorn would build it."""
    base = {
        "REQUEST_METHOD": "GET", "PATH_INFO": path, "RAW_URI": path, "QUERY_STRING": "", "SCRIPT_NAME": "",
        "SERVER_NAME": "127.0.0.1", "SERVER_PORT": "8080", "SERVER_PROTOCOL": "HTTP/1.1",
        "REMOTE_ADDR": "127.0.0.1", "REMOTE_PORT": "40000", "HTTP_HOST": "127.0.0.1:8080",
        "HTTP_AUTHORIZATION": f"Bearer {token}", "HTTP_USER_AGENT": "wrk", "wsgi.url_scheme": "http",
        "wsgi.version": (1, 0), "wsgi.multithread": False, "wsgi.multiprocess": True, "wsgi.run_once": False,
    }

    def fresh() -> dict:
        environ = dict(base)
        environ["wsgi.input"] = io.BytesIO(b"")
        environ["wsgi.errors"] = io.StringIO()
        return environ
    return fresh


def call(application, environ: dict) -> str:
    """One request through ``application``: its status line (the body is read and closed, as a server does)."""
    answer = []
    body = application(environ, lambda status, headers, exc_info=None: answer.append(status))
    try:
        for _ in body:
            pass
    finally:
        if hasattr(body, "close"):
            body.close()
    return answer[0]


def per_request(application, environ: Callable[[], dict], count: int) -> tuple[float, float]:
    """Microseconds of this thread's CPU and of wall time per request over ``count`` requests."""
    cpu, wall = time.thread_time_ns(), time.perf_counter_ns()
    for _ in range(count):
        call(application, environ())
    return (time.thread_time_ns() - cpu) / count / 1000, (time.perf_counter_ns() - wall) / count / 1000


def instrument(app, clock: StageClock) -> Callable:
    """Wrap ``app``'s stages with ``clock`` (on this instance only); returns the wrapped WSGI callable."""
    from minicloud.web import jsonio
    from minicloud.web.router import Router

    app._dispatch = clock.wrap("routing and dispatch", app._dispatch)
    app._audit = clock.wrap("audit", app._audit)
    app.services.sessions.authenticate = clock.wrap("token check", app.services.sessions.authenticate)
    for method in ("fetchone", "fetchall", "execute"):
        setattr(app.services.db, method, clock.wrap("principal query", getattr(app.services.db, method)))
    app.router = Router([replace(route, handler=clock.wrap("handler", route.handler)) for route in app.router.routes])
    jsonio.dumps = clock.wrap("JSON encode", jsonio.dumps)
    return clock.wrap("the rest", app)


def measure(minicloud_app, bare_app, environ: Callable[[], dict], requests: int, rounds: int) -> dict:
    """Alternating rounds of ``requests`` calls to each, then one instrumented round of minicloud:
    {"bare": [CPU µs...], "minicloud": [CPU µs...], "split": {stage: wall µs}, "instrumented": wall µs}."""
    for application in (bare_app, minicloud_app):  # warm-up: imports, the pools' first connections, caches
        status = call(application, environ())
        if not status.startswith("200"):
            raise RuntimeError(f"in-process request answered {status}")
        per_request(application, environ, max(requests // 10, 10))
    cpu: dict[str, list[float]] = {"bare": [], "minicloud": []}
    gc.collect()
    for round_no in range(rounds):
        order = (("bare", bare_app), ("minicloud", minicloud_app))
        for name, application in (order if round_no % 2 == 0 else reversed(order)):
            cpu[name].append(per_request(application, environ, requests)[0])
    clock = StageClock()
    wrapped = instrument(minicloud_app, clock)
    _, instrumented = per_request(wrapped, environ, requests)
    split = {stage: clock.spent[stage] / requests / 1000 for stage in STAGES}
    return {**cpu, "split": split, "instrumented": instrumented}


def report(result: dict, requests: int, rounds: int) -> list[str]:
    bare, mini = statistics.median(result["bare"]), statistics.median(result["minicloud"])
    lines = [f"in-process (the WSGI callables called directly, {rounds} alternating rounds of {requests} requests;"
             f" median CPU µs/request):",
             f"  bare {bare:6.0f}   minicloud {mini:6.0f}   web layer {mini - bare:+5.0f} µs"
             f"   (rounds bare: {', '.join(f'{v:.0f}' for v in result['bare'])};"
             f" minicloud: {', '.join(f'{v:.0f}' for v in result['minicloud'])})",
             f"  where minicloud's time goes (one instrumented round: {result['instrumented']:.0f} µs/request"
             f" wall, the clock included):"]
    total = sum(result["split"].values()) or 1
    for stage, spent in result["split"].items():
        note = "  (wall: includes waiting for PostgreSQL)" if stage == "principal query" else ""
        lines.append(f"    {stage:22s} {spent:7.1f} µs {spent / total:6.1%}{note}")
    web = sum(spent for stage, spent in result["split"].items() if stage not in ("token check", "principal query"))
    lines.append(f"    {'web layer (the rest)':22s} {web:7.1f} µs   (routing, handler, JSON, audit, the rest)")
    return lines
