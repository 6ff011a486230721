"""Helpers every command module uses: the session of this call, API errors turned into words and exit codes."""
from __future__ import annotations

import functools
from collections.abc import Callable

import typer

from mcloud.client import ApiFailure
from mcloud.session import CURRENT, Session


def session() -> Session:
    """The session the root options of this call made."""
    return CURRENT.get()


def report(sess: Session, failure: ApiFailure) -> None:
    """Print the API's error (in the user's language) with its field details, and exit with its code."""
    if failure.code == "not_found_by_name":
        lines = [sess.t("not_found_named", kind=sess.t(f"kind.{failure.details['kind']}"),
                        name=failure.details["name"])]
    elif failure.code == "ambiguous":
        lines = [sess.t("ambiguous", kind=sess.t(f"kind.{failure.details['kind']}"), name=failure.details["name"],
                        ids=", ".join(failure.details["ids"]))]
    elif failure.status == 0:
        lines = [sess.t("unreachable", detail=failure.message)]
    else:
        lines = failure.lines()
    from mcloud.session import escape

    sess.err.print(f"[bold red]{escape(sess.t('error'))}:[/] " + escape(lines[0]))
    for line in lines[1:]:
        sess.err.print(escape(line))
    raise typer.Exit(failure.exit_code)


def guarded(func: Callable) -> Callable:
    """A command whose ApiFailures end in a message and the exit code they mean (never a traceback)."""
    @functools.wraps(func)
    def run(*args, **kwargs):
        try:
            return func(*args, **kwargs)
        except ApiFailure as failure:
            report(session(), failure)
    return run


def command(group: typer.Typer, name: str, **kwargs) -> Callable[[Callable], Callable]:
    def register(func: Callable) -> Callable:
        group.command(name, **kwargs)(guarded(func))
        return func
    return register
