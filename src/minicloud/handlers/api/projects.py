"""/api/v1/projects: workspaces and their members."""
from __future__ import annotations

from minicloud.services.projects import ROLES
from minicloud.web.listing import list_query, page_args
from minicloud.web.schemas import BOOLEAN, STRING, TIME, UUID, array, extended, located, obj, page_of

CREATE_BODY = {
    "type": "object",
    "required": ["name"],
    "additionalProperties": False,
    "properties": {
        "name": {"type": "string", "minLength": 1, "maxLength": 64},
        "description": {"type": "string", "maxLength": 500, "default": ""},
    },
}
MEMBER_BODY = {
    "type": "object",
    "required": ["username", "role"],
    "additionalProperties": False,
    "properties": {"username": {"type": "string", "maxLength": 64}, "role": {"type": "string", "enum": list(ROLES)}},
}
UPDATE_BODY = {
    "type": "object",
    "additionalProperties": False,
    "properties": {
        "name": {"type": "string", "minLength": 1, "maxLength": 64},
        "description": {"type": "string", "maxLength": 500},
    },
}
LIST_QUERY = list_query()
ROLE_BODY = {
    "type": "object",
    "required": ["role"],
    "additionalProperties": False,
    "properties": {"role": {"type": "string", "enum": list(ROLES)}},
}

ROLE = {"type": "string", "enum": list(ROLES)}
PROJECT = obj({"id": UUID, "name": STRING, "description": STRING, "personal": BOOLEAN, "owner_id": UUID,
               "created_at": TIME, "role": {**ROLE, "description": "The caller's role in it"}})
MEMBER = obj({"user_id": UUID, "username": STRING, "display_name": STRING, "role": ROLE, "created_at": TIME})
NEW_MEMBER = obj({"user_id": UUID, "username": STRING, "display_name": STRING, "role": ROLE})
PROJECT_PAGE = page_of(PROJECT)
CREATED = located(PROJECT)
WITH_MEMBERS = extended(PROJECT, {"members": array(MEMBER)})
MEMBER_PAGE = page_of(MEMBER)
ROLE_CHANGED = obj({"user_id": UUID, "role": ROLE})
DELETE_ACCEPTED = located(obj({"project_id": UUID,
                               "operation_id": {**UUID, "description": "GET /api/v1/operations/{id}: the steps so far"}}))


def list_projects(ctx):
    return ctx.respond(ctx.services.projects.list_for(ctx.principal, **page_args(ctx)))


def create(ctx):
    body = ctx.body()
    project = ctx.services.projects.create(ctx.principal, body["name"], body["description"])
    ctx.audit_target = str(project["id"])
    ctx.audit_project_id = project["id"]
    return ctx.respond(project, 201, {"Location": ctx.url_for("projects.get", project_id=project["id"])})


def get(ctx, project_id):
    return ctx.respond(ctx.services.projects.get(ctx.principal, project_id))


def update(ctx, project_id):
    body = ctx.body()
    project = ctx.services.projects.update(ctx.principal, project_id, body.get("name"), body.get("description"))
    ctx.audit_target = str(project_id)
    ctx.audit_project_id = project_id
    return ctx.respond(project)


def delete(ctx, project_id):
    job = ctx.services.projects.request_delete(ctx.principal, project_id)
    ctx.audit_target = str(project_id)
    ctx.audit_project_id = project_id  # the project's own log, until the job deletes it (then NULL)
    return ctx.respond({"project_id": project_id, "operation_id": job["id"]}, 202,
                       {"Location": ctx.url_for("operations.get", operation_id=job["id"])})


def list_members(ctx, project_id):
    return ctx.respond(ctx.services.projects.members(ctx.principal, project_id, **page_args(ctx)))


def add_member(ctx, project_id):
    body = ctx.body()
    member = ctx.services.projects.add_member(ctx.principal, project_id, body["username"], body["role"])
    return ctx.respond(member, 201)


def change_member(ctx, project_id, user_id):
    body = ctx.body()
    return ctx.respond(ctx.services.projects.change_role(ctx.principal, project_id, user_id, body["role"]))


def remove_member(ctx, project_id, user_id):
    ctx.services.projects.remove_member(ctx.principal, project_id, user_id)
    return ctx.respond(None, 204)
