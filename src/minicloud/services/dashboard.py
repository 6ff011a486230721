"""The dashboard (UC-05): independent cards, each loaded on its own.

A card whose loader raises is reported as unavailable ("Could not load") while
the others still show; later capabilities add their cards with ``add_card``.
"""
from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any, Callable

from minicloud.services.principal import Principal, ProjectRef

log = logging.getLogger("minicloud.dashboard")
Loader = Callable[[Principal, ProjectRef], dict]


@dataclass
class Card:
    name: str
    ok: bool
    data: dict

    def as_dict(self) -> dict:
        return {"name": self.name, "ok": self.ok, "data": self.data if self.ok else None}


class Dashboard:
    def __init__(self, services: Any):
        self.services = services
        self.loaders: dict[str, Loader] = {
            "project": self._project,
            "operations": self._operations,
            "quotas": self._quotas,
            "activity": self._activity,
        }

    def add_card(self, name: str, loader: Loader) -> None:
        self.loaders[name] = loader

    def cards(self, principal: Principal, project: ProjectRef) -> list[Card]:
        cards = []
        for name, loader in self.loaders.items():
            try:
                cards.append(Card(name, True, loader(principal, project)))
            except Exception:  # noqa: BLE001 - one card failing must not take the page down
                log.exception("dashboard card %s could not load", name)
                cards.append(Card(name, False, {}))
        return cards

    def _project(self, principal: Principal, project: ProjectRef) -> dict:
        return {"name": project.name, "role": project.role,
                "members": self.services.projects.member_count(project.id),
                "projects": len(principal.projects)}

    def _operations(self, principal: Principal, project: ProjectRef) -> dict:
        return self.services.operations.counts(project.id)

    def _quotas(self, principal: Principal, project: ProjectRef) -> dict:
        """The project's limits and what it uses now ({"limits", "usage"})."""
        return self.services.quotas.show(project.id)

    def _activity(self, principal: Principal, project: ProjectRef) -> dict:
        return {"events": self.services.audit.recent_for_user(principal.user_id)}
