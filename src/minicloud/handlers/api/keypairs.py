"""/api/v1/keypairs: SSH public keys of the acting project (imported, or generated with the private key shown once)."""
from __future__ import annotations

from minicloud.web.listing import list_query, page_args
from minicloud.web.schemas import STRING, TIME, UUID, extended, obj, page_of

LIST_QUERY = list_query()

CREATE_BODY = {
    "type": "object",
    "required": ["name"],
    "additionalProperties": False,
    "properties": {
        "name": {"type": "string", "minLength": 1, "maxLength": 64, "pattern": r"^[A-Za-z0-9][A-Za-z0-9._@-]*$"},
        "public_key": {"type": "string", "maxLength": 16384,
                       "description": "An OpenSSH public key line; leave it out to have an ed25519 pair generated"},
    },
}

KEYPAIR = obj({"id": UUID, "project_id": UUID, "name": STRING, "public_key": STRING,
               "fingerprint": {"type": "string", "description": "SHA256:… as ssh-keygen -l prints it"},
               "created_at": TIME})
KEYPAIR_PAGE = page_of(KEYPAIR)
NEW_KEYPAIR = extended(KEYPAIR, {"private_key": {
    "type": "string", "description": "Only for a generated pair, and only in this answer (OpenSSH format)"}},
    optional=("private_key",))


def list_keypairs(ctx):
    return ctx.respond(ctx.services.keypairs.list(ctx.project.id, **page_args(ctx)))


def create(ctx):
    body = ctx.body()
    keypair = ctx.services.keypairs.create(ctx.project.id, body["name"], body.get("public_key"))
    ctx.audit_target = str(keypair["id"])
    return ctx.respond(keypair, 201, {"Cache-Control": "no-store"})


def delete(ctx, keypair_id):
    ctx.services.keypairs.delete(ctx.project.id, keypair_id)
    return ctx.respond(None, 204)
