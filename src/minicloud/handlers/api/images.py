"""/api/v1/images: base disks to boot mini PCs from (everyone reads; administrators register and change them)."""
from __future__ import annotations

from minicloud.web.listing import list_query, page_args
from minicloud.web.schemas import BOOLEAN, COUNT, STRING, TIME, UUID, located, nullable, obj, page_of

LIST_QUERY = list_query()

_PATH = {"type": "string", "minLength": 1, "maxLength": 4096}
_FIELDS = {
    "disk_path": {**_PATH, "description": "A qcow2 file on the server"},
    "kernel_path": {**_PATH, "description": "For direct kernel boot"},
    "initrd_path": _PATH,
    "cmdline": {"type": "string", "maxLength": 4096},
    "default_user": {"type": "string", "minLength": 1, "maxLength": 32, "pattern": r"^[a-z_][a-z0-9_-]*$"},
    "os": {"type": "string", "maxLength": 64},
    "min_disk_gib": {"type": "integer", "minimum": 0, "maximum": 65536},
    "enabled": {"type": "boolean"},
}
CREATE_BODY = {
    "type": "object",
    "required": ["name", "disk_path"],
    "additionalProperties": False,
    "properties": {"name": {"type": "string", "minLength": 1, "maxLength": 63, "pattern": r"^[a-z0-9][a-z0-9._-]*$"},
                   **_FIELDS, "default_user": {**_FIELDS["default_user"], "default": "student"}},
}
UPDATE_BODY = {"type": "object", "additionalProperties": False, "properties": _FIELDS}

IMAGE = obj({"id": UUID, "name": STRING, "disk_path": STRING, "kernel_path": nullable(STRING),
             "initrd_path": nullable(STRING), "cmdline": nullable(STRING), "default_user": STRING, "os": STRING,
             "min_disk_gib": COUNT, "enabled": BOOLEAN, "created_at": TIME},
            optional=("disk_path", "kernel_path", "initrd_path", "cmdline"),
            description="The files on the server and the kernel command line are shown to administrators only")
IMAGE_PAGE = page_of(IMAGE)
CREATED = located(IMAGE)


def list_images(ctx):
    return ctx.respond(ctx.services.images.list(ctx.principal, **page_args(ctx)))


def create(ctx):
    image = ctx.services.images.create(ctx.body())
    ctx.audit_target = str(image["id"])
    return ctx.respond(image, 201, {"Location": ctx.url_for("images.update", image_id=image["id"])})


def update(ctx, image_id):
    return ctx.respond(ctx.services.images.update(image_id, ctx.body()))
