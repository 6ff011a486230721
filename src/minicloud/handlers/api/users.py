"""/api/v1/users: the accounts (global administrators), and the limits that bind a person."""
from __future__ import annotations

from minicloud.errors import NotFoundError
from minicloud.web.listing import list_query, page_args
from minicloud.web.schemas import BOOLEAN, COUNT, STRING, TIME, UUID, nullable, obj, page_of

LIST_QUERY = list_query()
QUOTAS_BODY = {
    "type": "object",
    "required": ["limits"],
    "additionalProperties": False,
    "properties": {
        "limits": {"type": "object", "additionalProperties": False, "minProperties": 1,
                   "description": "resource -> new limit",
                   "properties": {"projects": {"type": "integer", "minimum": 0, "maximum": 2147483647,
                                               "description": "Projects the user may own, the personal one included"}}},
    },
}


USER = obj({"id": UUID, "username": STRING, "display_name": STRING, "email": nullable(STRING), "is_admin": BOOLEAN,
            "disabled": BOOLEAN, "created_at": TIME,
            "projects_owned": {**COUNT, "description": "Projects the user owns, the personal one included"},
            "projects_limit": {**COUNT, "description": "How many they may own"}})
USER_PAGE = page_of(USER)
USER_QUOTAS = obj({"user_id": UUID, "limits": obj({"projects": COUNT}), "usage": obj({"projects": COUNT})})


def list_users(ctx):
    return ctx.respond(ctx.services.accounts.list_users(**page_args(ctx)))


def show_quotas(ctx, user_id):
    """The user's own limits and usage; global administrators see anyone's (404 for others' ids)."""
    if user_id != ctx.principal.user_id and not ctx.principal.is_admin:
        raise NotFoundError("user.not_found")
    return ctx.respond(ctx.services.user_quotas.show(user_id))


def update_quotas(ctx, user_id):
    ctx.audit_target = str(user_id)
    return ctx.respond(ctx.services.user_quotas.set_limits(user_id, ctx.body()["limits"]))
