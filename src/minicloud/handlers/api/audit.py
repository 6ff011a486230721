"""/api/v1/audit: who did what (project admins: their project; global admins: everything)."""
from __future__ import annotations

from datetime import datetime

from minicloud.web.listing import list_query
from minicloud.web.schemas import INTEGER, STRING, TIME, UUID, nullable, obj, page_of

QUERY = list_query(
    action={"type": "string", "maxLength": 100},
    username={"type": "string", "maxLength": 64},
    result={"type": "string", "enum": ["success", "failure"]},
    since={"type": "string", "format": "date-time"},
    until={"type": "string", "format": "date-time"},
    all_projects={"type": "boolean", "default": False},
)

ENTRY = obj({
    "id": INTEGER, "at": TIME, "user_id": nullable(UUID), "username": nullable(STRING), "project_id": nullable(UUID),
    "action": {"type": "string", "description": "The operation, e.g. instances.create"},
    "method": STRING, "path": STRING, "target": nullable(STRING),
    "result": {"type": "string", "enum": ["success", "failure"]}, "status": INTEGER,
    "request_id": STRING, "address": nullable(STRING),
})
ENTRY_PAGE = page_of(ENTRY)


def _time(value):
    return datetime.fromisoformat(value.replace("Z", "+00:00")) if value else None


def list_entries(ctx):
    q = ctx.query()
    return ctx.respond(ctx.services.audit.search(
        ctx.principal, ctx.project, limit=q["limit"], cursor=q.get("cursor"), action=q.get("action"),
        username=q.get("username"), result=q.get("result"), since=_time(q.get("since")),
        until=_time(q.get("until")), all_projects=q["all_projects"],
    ))
