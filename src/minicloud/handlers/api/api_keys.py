"""/api/v1/api-keys: keys for scripts and the CLI, shown once."""
from __future__ import annotations

from minicloud.web.listing import list_query, page_args
from minicloud.web.schemas import STRING, TIME, UUID, extended, nullable, obj, page_of

LIST_QUERY = list_query()

CREATE_BODY = {
    "type": "object",
    "required": ["name"],
    "additionalProperties": False,
    "properties": {"name": {"type": "string", "minLength": 1, "maxLength": 64}},
}

API_KEY = obj({"id": UUID, "name": STRING, "prefix": {"type": "string", "description": "The secret's first characters"},
               "created_at": TIME, "last_used_at": nullable(TIME), "revoked_at": nullable(TIME)})
KEY_PAGE = page_of(API_KEY)
NEW_KEY = extended(API_KEY, {"key": {"type": "string", "description": "The secret (mck_…); shown only in this answer"}})


def list_keys(ctx):
    return ctx.respond(ctx.services.api_keys.list_for(ctx.principal, **page_args(ctx)))


def create(ctx):
    key = ctx.services.api_keys.create(ctx.principal, ctx.body()["name"])
    ctx.audit_target = str(key["id"])
    return ctx.respond(key, 201)


def delete(ctx, key_id):
    ctx.services.api_keys.revoke(ctx.principal, key_id)
    return ctx.respond(None, 204)
