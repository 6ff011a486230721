"""Readiness: the database, plus every configured backend, each reported on its own."""
from __future__ import annotations

from typing import Callable

from minicloud.db.pool import Database

Check = Callable[[], dict]


class Health:
    """Backends register a check returning a dict (raising means "unavailable")."""

    def __init__(self, db: Database):
        self.db = db
        self.checks: dict[str, Check] = {}

    def register(self, name: str, check: Check) -> None:
        self.checks[name] = check

    def readiness(self) -> tuple[bool, dict]:
        """(ready, report): ready means the database answers; backends are reported, not required."""
        report: dict = {}
        try:
            self.db.ping()
            report["database"] = {"status": "ok"}
            ready = True
        except Exception as exc:  # noqa: BLE001 - any failure means "not ready"
            report["database"] = {"status": "unavailable", "error": type(exc).__name__}
            ready = False
        backends = {}
        for name, check in self.checks.items():
            try:
                backends[name] = {"status": "ok", **check()}
            except Exception as exc:  # noqa: BLE001
                backends[name] = {"status": "unavailable", "error": str(exc)[:200]}
        report["backends"] = backends
        return ready, report
