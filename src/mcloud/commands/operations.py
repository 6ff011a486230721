"""mcloud op show | wait: a slow operation (a job) by its id."""
from __future__ import annotations

import typer

from mcloud.base import command, session
from mcloud.output import show_one
from mcloud.waiting import TIMEOUT_OPTION, wait_operation

app = typer.Typer(help="Slow operations (jobs): show, wait", no_args_is_help=True)

DETAIL = [("id", "id"), ("kind", "kind"), ("state", "state"), ("target", "target"),
          ("attempts", lambda o: f"{o['attempts']}/{o['max_attempts']}"), ("last_error", "last_error"),
          ("created_at", "created_at"), ("started_at", "started_at"), ("finished_at", "finished_at")]


@command(app, "show", help="The state of an operation")
def show(operation_id: str = typer.Argument(..., help="Its id (the operation_id of a 202 answer)")):
    sess = session()
    show_one(sess, sess.client().get(f"/operations/{operation_id}"), DETAIL)


@command(app, "wait", help="Wait until the operation has finished (exit 1 failed, 7 timed out)")
def wait(operation_id: str = typer.Argument(..., help="Its id"), timeout: float = TIMEOUT_OPTION):
    sess = session()
    show_one(sess, wait_operation(sess, operation_id, timeout), DETAIL)
