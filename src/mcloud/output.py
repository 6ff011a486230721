"""What a command prints: a rich table (or key/value card) for people, JSON for scripts (``--output json``).

Tables and messages go to stdout; progress displays and errors to stderr, so ``--output json`` is always
just the JSON. States are shown in the user's language in tables, as the API spells them in JSON.
"""
from __future__ import annotations

import json
from datetime import datetime
from collections.abc import Callable, Sequence
from typing import Any

from rich import box
from rich.table import Table

from mcloud.session import Session, escape

Column = tuple[str, "str | Callable[[dict], Any]"]


def value_of(item: dict, getter) -> Any:
    if callable(getter):
        return getter(item)
    value: Any = item
    for part in getter.split("."):
        value = value.get(part) if isinstance(value, dict) else None
    return value


TIMES = ("at", "created_at", "updated_at", "started_at", "finished_at", "last_used_at", "last_modified",
         "expires_at")


def local_time(value: str) -> str:
    """An API time (UTC, ISO-8601) in the user's time zone, to the second."""
    try:
        moment = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return value
    return moment.astimezone().strftime("%Y-%m-%d %H:%M:%S %Z")


def cell(session: Session, value: Any, header: str = "") -> str:
    if header == "acting":
        return str(value or "")
    if value is None or value == "":
        return "-"
    if header in TIMES and isinstance(value, str):
        return local_time(value)
    if isinstance(value, bool):
        return session.t("yes") if value else session.t("no")
    if header in ("state", "status", "result"):
        return session.t(f"state.{value}") if session.t(f"state.{value}") != f"state.{value}" else str(value)
    if isinstance(value, (list, tuple)):
        return ", ".join(str(v) for v in value) or "-"
    if isinstance(value, dict):
        return ", ".join(f"{k}={v}" for k, v in value.items()) or "-"
    return str(value)


def print_json(session: Session, data: Any) -> None:
    """Coloured on a terminal; plain (and exactly the API's data) when piped."""
    if session.out.is_terminal:
        session.out.print_json(json.dumps(data, ensure_ascii=False), indent=2)
    else:
        print(json.dumps(data, ensure_ascii=False, indent=2))


def show_list(session: Session, items: list[dict], columns: Sequence[Column], *, empty: str = "empty",
              json_data: Any = None) -> None:
    if session.json:
        print_json(session, items if json_data is None else json_data)
        return
    if not items:
        session.out.print(escape(session.t(empty)))
        return
    table = Table(box=box.SIMPLE_HEAD, show_edge=False, header_style="bold", pad_edge=False)
    for header, _ in columns:
        table.add_column(session.t(f"col.{header}"), overflow="fold")
    for item in items:
        table.add_row(*(escape(cell(session, value_of(item, getter), header)) for header, getter in columns))
    session.out.print(table)


def show_one(session: Session, item: dict, fields: Sequence[Column], *, title: str | None = None) -> None:
    if session.json:
        print_json(session, item)
        return
    table = Table(box=None, show_header=False, show_edge=False, pad_edge=False, title=escape(title) if title else None,
                  title_justify="left", title_style="bold")
    table.add_column(style="bold")
    table.add_column(overflow="fold")
    for header, getter in fields:
        table.add_row(escape(session.t(f"col.{header}")), escape(cell(session, value_of(item, getter), header)))
    session.out.print(table)


def done(session: Session, message: str, data: Any = None) -> None:
    """A one-line confirmation for people; the API's answer (or ``{}``) for scripts."""
    if session.json:
        print_json(session, data if data is not None else {})
    else:
        session.out.print(escape(message))
