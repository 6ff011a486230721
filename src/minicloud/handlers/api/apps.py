"""/api/v1/apps: the acting project's container apps on Kubernetes.

Deploy, redeploy, scale and delete answer 202 with the app as it now is; a job does the work
(see ``services/apps.py``). Every field is checked by the service, which names each wrong one
(422) before anything reaches the cluster. No cluster configured → 503 ``no_cluster``.
"""
from __future__ import annotations

from minicloud.errors import ValidationFailed
from minicloud.services.apps import STATUSES
from minicloud.web.listing import list_query, page_args
from minicloud.web.messages import text
from minicloud.web.schemas import (ANY_OBJECT, COUNT, STRING, TIME, UUID, array, extended, located, map_of, nullable,
                                   obj, page_of)

LIST_QUERY = list_query()

_ENV = {"type": "object", "maxProperties": 100, "description": "Environment variables; names are C identifiers",
        "propertyNames": {"pattern": r"^[A-Za-z_][A-Za-z0-9_]*$"}, "additionalProperties": {"type": "string"}}
_REPLICAS = {"type": "integer", "minimum": 0, "description": "Up to kubernetes.max_replicas and the project's quota"}
CREATE_BODY = {
    "type": "object",
    "required": ["name", "image", "port"],
    "properties": {
        "name": {"type": "string", "minLength": 1, "maxLength": 100,
                 "description": "Any name; its lower-case letters, digits and hyphens make the URL"},
        "image": {"type": "string", "maxLength": 255,
                  "description": "[registry[:port]/]path[:tag][@sha256:digest], path in lower case"},
        "port": {"type": "integer", "minimum": 1, "maximum": 65535, "description": "The port the container listens on"},
        "replicas": {**_REPLICAS, "default": 1},
        "env": _ENV,
        "size": {"type": "string", "description": "small | medium | large (kubernetes.sizes)"},
    },
}
REDEPLOY_BODY = {"type": "object", "properties": {
    "image": {"type": "string", "maxLength": 255, "description": "A new image; default: roll out the same one again"}}}
SCALE_BODY = {"type": "object", "required": ["replicas"], "properties": {"replicas": _REPLICAS}}
LOGS_QUERY = {"type": "object", "properties": {
    "tail": {"type": "integer", "minimum": 1, "maximum": 1000, "default": 100,
             "description": "How many of the last lines"}}}

APP = obj({
    "id": UUID, "name": STRING, "k8s_name": {"type": "string", "description": "Its Deployment, Service and Ingress"},
    "namespace": STRING, "url": {"type": "string", "format": "uri"}, "host": STRING, "image": STRING,
    "port": {"type": "integer", "minimum": 1, "maximum": 65535}, "replicas": COUNT, "ready_replicas": COUNT,
    "size": STRING, "cpu": {"type": "string", "description": "Per replica, e.g. 250m"},
    "memory": {"type": "string", "description": "Per replica, e.g. 256Mi"}, "env": map_of(STRING),
    "status": {"type": "string", "enum": list(STATUSES)},
    "message": nullable({"type": "string", "description": "What the status means, in the caller's language"}),
    "details": {**ANY_OBJECT, "description": "More about the status (cause, log lines)"},
    "created_at": TIME, "updated_at": TIME, "observed_at": nullable(TIME),
})
EVENT = obj({"type": STRING, "reason": STRING, "message": STRING, "at": nullable(TIME),
             "object": {"type": "string", "description": "kind/name of the object it is about"}})
APP_DETAIL = extended(APP, {"events": array(EVENT, description="Recent Kubernetes events, newest first"),
                            "manifests": array(ANY_OBJECT, description="The Kubernetes objects last applied")})
APP_LIST = page_of(APP, summary=obj({"total": COUNT, "running": COUNT}, description="Every app of the project"))
ACCEPTED = located(APP)
LOGS = obj({"lines": array(STRING)})


def _body(ctx) -> dict:
    """The JSON object sent ({} when nothing was sent: redeploy's body is optional)."""
    if not ctx.request.content_length and ctx.request.mimetype != "application/json":
        return {}
    data = ctx.json()
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise ValidationFailed({"body": "validation.object"})
    return data


def shown(ctx, app: dict) -> dict:
    """The app as it is answered: its status message in the caller's language."""
    return {**app, "message": text(ctx.t, app["message"])}


def _accepted(ctx, app):
    ctx.audit_target = str(app["id"])
    return ctx.respond(shown(ctx, app), 202, {"Location": ctx.url_for("apps.get", app_id=app["id"])})


def list_apps(ctx):
    listing = ctx.services.apps.list(ctx.project.id, **page_args(ctx))
    return ctx.respond({**listing, "items": [shown(ctx, app) for app in listing["items"]]})


def create(ctx):
    return _accepted(ctx, ctx.services.apps.create(ctx.project.id, _body(ctx)))


def get(ctx, app_id):
    return ctx.respond(shown(ctx, ctx.services.apps.get(ctx.project.id, app_id)))


def redeploy(ctx, app_id):
    image = _body(ctx).get("image")
    return _accepted(ctx, ctx.services.apps.redeploy(ctx.project.id, app_id, image=image))


def scale(ctx, app_id):
    body = _body(ctx)
    if "replicas" not in body:
        raise ValidationFailed({"replicas": "validation.required"})
    return _accepted(ctx, ctx.services.apps.scale(ctx.project.id, app_id, body["replicas"]))


def logs(ctx, app_id):
    raw = ctx.query().get("tail", "100")
    try:
        tail = int(raw)
    except (TypeError, ValueError):
        tail = 0
    return ctx.respond(ctx.services.apps.logs(ctx.project.id, app_id, tail=tail))


def delete(ctx, app_id):
    return _accepted(ctx, ctx.services.apps.delete(ctx.project.id, app_id))
