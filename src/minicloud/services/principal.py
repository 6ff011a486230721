"""Who is calling, and in which project they act."""
from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from datetime import date, datetime

ROLE_RANK = {"viewer": 0, "user": 1, "admin": 2}


@dataclass(frozen=True)
class ProjectRef:
    id: uuid.UUID
    name: str
    role: str
    personal: bool = False

    def allows(self, needed: str) -> bool:
        return ROLE_RANK[self.role] >= ROLE_RANK[needed]


@dataclass
class Principal:
    """An authenticated user, with the projects they belong to and how they proved it."""

    user_id: uuid.UUID
    username: str
    display_name: str
    is_admin: bool
    projects: list[ProjectRef] = field(default_factory=list)
    email: str | None = None
    birthdate: date | None = None
    created_at: datetime | None = None
    via: str = "token"  # token | api_key | cookie
    jti: str | None = None
    expires_at: datetime | None = None

    def membership(self, project_id: uuid.UUID) -> ProjectRef | None:
        for project in self.projects:
            if project.id == project_id:
                return project
        return None

    @property
    def personal_project(self) -> ProjectRef | None:
        return next((p for p in self.projects if p.personal), self.projects[0] if self.projects else None)

    def as_dict(self) -> dict:
        return {
            "id": str(self.user_id),
            "username": self.username,
            "display_name": self.display_name,
            "is_admin": self.is_admin,
            "email": self.email,
            "birthdate": self.birthdate,
            "created_at": self.created_at,
        }


def projects_from_rows(rows: list[dict]) -> list[ProjectRef]:
    return [ProjectRef(uuid.UUID(str(r["id"])), r["name"], r["role"], bool(r["personal"])) for r in rows]
