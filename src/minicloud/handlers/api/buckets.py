"""/api/v1/buckets: the acting project's buckets (Swift containers in the project's own Swift account)."""
from __future__ import annotations

from minicloud.errors import ValidationFailed
from minicloud.web.listing import list_query, page_args
from minicloud.web.schemas import COUNT, STRING, TIME, UUID, located, obj, page_of
from minicloud.web.validation import validate

LIST_QUERY = list_query()

CREATE_BODY = {
    "type": "object",
    "required": ["name"],
    "additionalProperties": False,
    "properties": {"name": {"type": "string", "minLength": 3, "maxLength": 63,
                            "pattern": r"^[a-z0-9][a-z0-9-]{1,61}[a-z0-9]$",
                            "x-message": "storage.bucket_name_invalid",
                            "x-required-message": "storage.bucket_name_invalid",
                            "description": "3–63 lowercase letters, digits and hyphens, starting and ending with a"
                                           " letter or digit; unique in the project"}},
}
DELETE_QUERY = {"type": "object", "properties": {
    "force": {"type": "string", "enum": ["true", "false"],
              "description": "true deletes every object first (otherwise a bucket holding objects is a 409)"}}}

BUCKET = obj({"id": UUID, "name": STRING, "object_count": COUNT,
              "bytes": {**COUNT, "description": "Bytes stored in its objects"}, "created_at": TIME})
BUCKET_PAGE = page_of(BUCKET)
CREATED = located(BUCKET)


def _create_body(ctx) -> dict:
    """The body checked against the schema; any problem with the name answers with the name rule."""
    data = ctx.json()
    try:
        return validate(data, ctx.route.body, ctx.t)
    except ValidationFailed as exc:
        if "name" in exc.fields:
            raise ValidationFailed({**exc.fields, "name": "storage.bucket_name_invalid"},
                                   key="storage.bucket_name_invalid") from None
        raise


def list_buckets(ctx):
    return ctx.respond(ctx.services.storage.list_buckets(ctx.project.id, **page_args(ctx)))


def create(ctx):
    body = _create_body(ctx)
    bucket = ctx.services.storage.create_bucket(ctx.project.id, body["name"])
    ctx.audit_target = bucket["name"]
    return ctx.respond(bucket, 201, {"Location": ctx.url_for("buckets.get", bucket=bucket["name"])})


def get(ctx, bucket):
    return ctx.respond(ctx.services.storage.get_bucket(ctx.project.id, bucket))


def delete(ctx, bucket):
    force = ctx.query().get("force") == "true"
    ctx.services.storage.delete_bucket(ctx.project.id, bucket, force=force)
    return ctx.respond(None, 204)
