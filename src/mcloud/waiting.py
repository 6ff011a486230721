"""``--wait``: follow a slow operation (GET /api/v1/operations/{id}) with a live display on stderr."""
from __future__ import annotations

import time
from collections.abc import Callable

import typer
from rich.progress import Progress, SpinnerColumn, TextColumn, TimeElapsedColumn

from mcloud import exitcodes
from mcloud.client import ApiFailure
from mcloud.session import Session, escape

POLL_SECONDS = 0.5
FINISHED = ("succeeded", "failed")


def _progress(session: Session) -> Progress:
    return Progress(SpinnerColumn(), TextColumn("{task.description}"), TimeElapsedColumn(), console=session.err,
                    transient=not session.err.is_terminal)


def wait_operation(session: Session, operation_id: str, timeout: float) -> dict:
    """The operation once it has finished; exits 1 when it failed, 7 past ``timeout`` seconds."""
    client = session.client()
    deadline = time.monotonic() + timeout
    with _progress(session) as progress:
        task = progress.add_task(session.t("wait.starting"), total=None)
        while True:
            op = client.get(f"/operations/{operation_id}")
            progress.update(task, description=escape(session.t(
                "wait.operation", kind=op["kind"], state=session.t(f"state.{op['state']}"),
                attempt=op["attempts"], max=op["max_attempts"])))
            if op["state"] in FINISHED:
                break
            if time.monotonic() > deadline:
                progress.stop()
                session.fail(session.t("wait.timed_out", seconds=int(timeout), id=operation_id), exitcodes.TIMED_OUT)
            time.sleep(POLL_SECONDS)
    if op["state"] == "failed":
        session.fail(session.t("wait.failed", kind=op["kind"], error=op.get("last_error") or "-"),
                     exitcodes.API_REFUSED)
    session.err.print(escape(session.t("wait.succeeded", kind=op["kind"])))
    return op


def wait_until(session: Session, read: Callable[[], dict | None], finished: Callable[[dict | None], bool],
               describe: Callable[[dict | None], str], timeout: float, what: str) -> dict | None:
    """Poll ``read`` (None when the resource is gone) until ``finished``; exits 7 past ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    with _progress(session) as progress:
        task = progress.add_task(session.t("wait.starting"), total=None)
        while True:
            try:
                current = read()
            except ApiFailure as failure:
                if failure.status != 404:
                    raise
                current = None
            progress.update(task, description=escape(describe(current)))
            if finished(current):
                return current
            if time.monotonic() > deadline:
                progress.stop()
                session.fail(session.t("wait.timed_out", seconds=int(timeout), id=what), exitcodes.TIMED_OUT)
            time.sleep(POLL_SECONDS)


WAIT_OPTION = typer.Option(False, "--wait", "-w", help="Follow the operation until it has finished")
TIMEOUT_OPTION = typer.Option(300.0, "--timeout", help="Seconds --wait waits before giving up (exit 7)")
