"""The apps console pages (UC-03): list with the summary, the deploy form, the detail page with actions.

Every page works without JavaScript. Without a Kubernetes cluster the pages say so inside the normal
layout (503), with the service's words on how to connect one; the rest of the console keeps working.
"""
from __future__ import annotations

import re

import yaml

from minicloud.errors import ApiError, BadRequest, NotFoundError, ServiceUnavailable, ValidationFailed
from minicloud.handlers.api.apps import shown
from minicloud.handlers.pages.common import as_utc, render
from minicloud.handlers.pages.confirm import confirm_first
from minicloud.web.flash import flash
from minicloud.web.messages import field_messages, text
from minicloud.web.times import moment

# Statuses in which work goes on in the background: the pages refresh themselves meanwhile.
TRANSITIONAL = ("PENDING", "DEPLOYING", "DELETING")
ACTIONS = ("redeploy", "scale", "delete")
FORM_FIELDS = ("name", "image", "port", "size", "replicas", "env")
_HEAD_KEYS = ("apiVersion", "kind", "metadata")
_ENV_LINE = re.compile(r"^([A-Za-z_][A-Za-z0-9_.-]*)=(.*)$")


# ---- helpers ------------------------------------------------------------------------------------

def _when(value, lang: str):
    """A moment (aware datetime or ISO-8601 text) as the pages print it: a <time> in the page's zone that
    static/time.js puts in the browser's; unreadable text as is."""
    at = as_utc(value)
    if at is None:
        return value if isinstance(value, str) else None
    return moment(at, lang)


def _manifests_yaml(manifests) -> str:
    """The manifests the service applied, as the YAML documents a student can read."""
    documents = []
    for manifest in manifests or []:
        if isinstance(manifest, dict):  # apiVersion, kind, metadata first, as manifests are written
            manifest = {**{k: manifest[k] for k in _HEAD_KEYS if k in manifest}, **manifest}
        documents.append(manifest if isinstance(manifest, str)
                         else yaml.safe_dump(manifest, sort_keys=False, allow_unicode=True))
    return "---\n".join(doc if doc.endswith("\n") else doc + "\n" for doc in documents)


def _unavailable(ctx, message: str, connected: bool = False):
    """The apps section inside the normal layout: no cluster is connected (with how to connect one), or the
    connected one is not answering; 503 either way."""
    return render(ctx, "apps/unavailable.html", status=503, message=message, connected=connected)


def _from_error(ctx, exc: ServiceUnavailable):
    return _unavailable(ctx, exc.message(ctx.lang), connected=exc.code != "no_cluster")


def _no_cluster(ctx):
    """None when a cluster is configured, else the 503 page with the service's words on how to connect one."""
    cluster = ctx.services.apps.cluster()
    if cluster.get("configured"):
        return None
    said = text(ctx.t, cluster.get("message"))
    return _unavailable(ctx, said or ServiceUnavailable("apps.no_cluster").message(ctx.lang))


def _int(value: str) -> int | None:
    value = (value or "").strip()
    return int(value) if re.fullmatch(r"-?\d{1,9}", value) else None


def _env(text: str) -> tuple[dict[str, str], list[str]]:
    """KEY=value lines (blank lines and # comments skipped) -> (variables, the lines that are not KEY=value)."""
    env, bad = {}, []
    for line in (text or "").splitlines():
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        match = _ENV_LINE.match(line)
        if match:
            env[match.group(1)] = match.group(2)
        else:
            bad.append(line)
    return env, bad


# ---- list ---------------------------------------------------------------------------------------

def index(ctx):
    apps = ctx.services.apps
    unavailable = _no_cluster(ctx)
    if unavailable:
        return unavailable
    try:
        listing = apps.list(ctx.project.id)
    except ServiceUnavailable as exc:
        return _from_error(ctx, exc)
    items = [dict(item, created=_when(item.get("created_at"), ctx.lang)) for item in listing["items"]]
    busy = any(item["status"] in TRANSITIONAL for item in items)
    return render(ctx, "apps/list.html", apps=items, summary=listing["summary"], busy=busy)


# ---- deploy form --------------------------------------------------------------------------------

def _form(ctx, status=200, values=None, errors=None, message=None):
    sizes = ctx.services.apps.sizes()
    values = values or {"replicas": "1", "port": "80", "size": next(iter(sizes), "")}
    return render(ctx, "apps/new.html", status=status, values=values, errors=errors or {},
                  message=message, sizes=sizes)


def new(ctx):
    unavailable = _no_cluster(ctx)
    if unavailable:
        return unavailable
    return _form(ctx)


def _body(ctx, values: dict) -> tuple[dict, dict]:
    """The service's create body from the form's text, and the errors the page itself can tell."""
    errors, body = {}, {"name": values["name"], "image": values["image"]}
    for name in ("port", "replicas"):
        if values[name]:
            number = _int(values[name])
            if number is None:
                errors[name] = ctx.t("apps_console.number_required")
            else:
                body[name] = number
    if not values["port"]:
        errors["port"] = ctx.t("apps_console.port_required")
    if values["size"]:
        body["size"] = values["size"]
    env, bad = _env(values["env"])
    if bad:
        errors["env"] = ctx.t("apps_console.env_invalid", line=bad[0])
    if env:
        body["env"] = env
    return body, errors


def create(ctx):
    form = ctx.request.form
    values = {name: form.get(name, "").strip() for name in FORM_FIELDS}
    values["env"] = form.get("env", "")
    body, errors = _body(ctx, values)
    if errors:
        return _form(ctx, 422, values, errors)
    try:
        created = ctx.services.apps.create(ctx.project.id, body)
    except ServiceUnavailable as exc:
        return _from_error(ctx, exc)
    except ValidationFailed as exc:
        return _form(ctx, exc.status, values, field_messages(ctx.t, exc.fields))
    except ApiError as exc:
        return _form(ctx, exc.status, values, message=exc.message(ctx.lang))
    ctx.audit_target = str(created["id"])
    flash(ctx, "look_console.flash.app_created", name=created["name"])
    return ctx.redirect(ctx.url_for("pages.app", app_id=created["id"]))


# ---- detail and actions -------------------------------------------------------------------------

def _detail(ctx, app_id, status=200, errors=None, values=None):
    apps = ctx.services.apps
    unavailable = _no_cluster(ctx)
    if unavailable:
        return unavailable
    try:
        app = apps.get(ctx.project.id, app_id)
    except ServiceUnavailable as exc:
        return _from_error(ctx, exc)
    logs, logs_error = [], None
    try:
        logs = apps.logs(ctx.project.id, app_id, tail=100)["lines"]
    except ApiError as exc:  # no pod yet, or the cluster stopped answering: said in place of the logs
        logs_error = exc.message(ctx.lang)
    events = [dict(event, when=_when(event.get("at"), ctx.lang)) for event in app.get("events") or []]
    return render(ctx, "apps/detail.html", status=status, app=shown(ctx, app), logs=logs, logs_error=logs_error,
                  events=events, manifests=_manifests_yaml(app.get("manifests")),
                  created=_when(app.get("created_at"), ctx.lang), busy=app["status"] in TRANSITIONAL,
                  errors=errors or {}, values=values or {})


def detail(ctx, app_id):
    return _detail(ctx, app_id)


def act(ctx, app_id):
    """One of the actions (redeploy, scale, delete) from the detail page's forms, chosen by ``action``."""
    form = ctx.request.form
    action = form.get("action", "")
    ctx.audit_target = str(app_id)
    if action not in ACTIONS:
        raise BadRequest("error.bad_request")
    apps, project_id = ctx.services.apps, ctx.project.id
    values = {"image": form.get("image", "").strip(), "replicas": form.get("replicas", "").strip()}
    try:
        name = apps.get(project_id, app_id)["name"]
        if action == "redeploy":
            apps.redeploy(project_id, app_id, image=values["image"] or None)
        elif action == "scale":
            replicas = _int(values["replicas"])
            if replicas is None:
                return _detail(ctx, app_id, 422, {"scale": ctx.t("apps_console.number_required")}, values)
            apps.scale(project_id, app_id, replicas)
        else:
            if asked := confirm_first(ctx, "app", name, cancel_url=ctx.url_for("pages.app", app_id=app_id),
                                      detail=ctx.t("apps_console.delete_confirm", name=name)):
                return asked
            apps.delete(project_id, app_id)
            flash(ctx, "look_console.flash.app_delete", name=name)
            return ctx.redirect(ctx.url_for("pages.apps"))
    except ServiceUnavailable as exc:
        return _from_error(ctx, exc)
    except NotFoundError:
        raise
    except ValidationFailed as exc:
        problems = "; ".join(field_messages(ctx.t, exc.fields).values())
        return _detail(ctx, app_id, exc.status, {action: problems}, values)
    except ApiError as exc:
        return _detail(ctx, app_id, exc.status, {action: exc.message(ctx.lang)}, values)
    flash(ctx, f"look_console.flash.app_{action}", name=name)
    return ctx.redirect(ctx.url_for("pages.app", app_id=app_id))
