"""/docs: the API reference, drawn on the server from the OpenAPI document (no script needed).

The page reads only the document that /api/v1/openapi.json serves, so the two
cannot disagree; this module turns its JSON Schemas into short, translated
phrases ("3–32 characters", "one of: user, admin") for templates/docs.html.
"""
from __future__ import annotations

from typing import Any, Callable

from minicloud.handlers.pages.common import render
from minicloud.web.openapi import document_for

METHOD_ORDER = ("get", "head", "post", "put", "patch", "delete", "options")


def _label(t: Callable[..., str], key: str, fallback: str, **params: Any) -> str:
    """``t(key)``, or ``fallback`` when the catalogs do not have the key."""
    text = t(key, **params)
    return fallback if text == key else text


def _resolve(doc: dict, node: dict) -> dict:
    """Follow a local ``$ref`` (``#/components/...``)."""
    while "$ref" in node:
        target: Any = doc
        for part in node["$ref"].removeprefix("#/").split("/"):
            target = target[part]
        node = target
    return node


def describe_schema(schema: dict, t: Callable[..., str]) -> tuple[str, list[str]]:
    """The type in words (``string (uuid)``, ``array of string``) and the constraints as phrases."""
    kind = schema.get("type", "any")
    if isinstance(kind, list):
        kind = " | ".join(kind)
    if kind == "array" and isinstance(schema.get("items"), dict):
        kind = f"array of {describe_schema(schema['items'], t)[0]}"
    if schema.get("format"):
        kind = f"{kind} ({schema['format']})"
    notes: list[str] = []
    low, high = schema.get("minLength"), schema.get("maxLength")
    if low is not None and high is not None:
        notes.append(t("docs.constraint.length_between", min=low, max=high))
    elif low:
        notes.append(t("docs.constraint.length_min", min=low))
    elif high is not None:
        notes.append(t("docs.constraint.length_max", max=high))
    low, high = schema.get("minimum"), schema.get("maximum")
    if low is not None and high is not None:
        notes.append(t("docs.constraint.between", min=low, max=high))
    elif low is not None:
        notes.append(t("docs.constraint.minimum", min=low))
    elif high is not None:
        notes.append(t("docs.constraint.maximum", max=high))
    if "enum" in schema:
        notes.append(t("docs.constraint.enum", choices=", ".join(map(str, schema["enum"]))))
    if "pattern" in schema:
        notes.append(t("docs.constraint.pattern", pattern=schema["pattern"]))
    if "default" in schema:
        default = schema["default"]
        shown = str(default).lower() if isinstance(default, bool) else default
        notes.append(t("docs.constraint.default", value=shown if shown != "" else '""'))
    if schema.get("description"):
        notes.append(schema["description"])
    return kind, notes


def _parameter(doc: dict, node: dict, t) -> dict:
    param = _resolve(doc, node)
    kind, notes = describe_schema(param.get("schema", {}), t)
    if param.get("description"):
        notes = [param["description"], *notes]
    return {
        "name": param["name"], "where": _label(t, f"docs.in.{param['in']}", param["in"]),
        "required": bool(param.get("required")), "type": kind, "notes": notes,
    }


def _body(doc: dict, operation: dict, t) -> dict | None:
    request = operation.get("requestBody")
    if not request:
        return None
    schema = _resolve(doc, request["content"]["application/json"]["schema"])
    required = set(schema.get("required", []))
    fields = []
    for name, spec in schema.get("properties", {}).items():
        kind, notes = describe_schema(spec, t)
        fields.append({"name": name, "required": name in required, "type": kind, "notes": notes})
    return {"fields": fields, "closed": schema.get("additionalProperties") is False}


def _auth(operation: dict, t) -> str:
    auth = operation.get("x-auth", "public" if operation.get("security") == [] else "user")
    if auth == "project":
        role = operation.get("x-role", "viewer")
        return t("docs.auth.project", role=_label(t, f"role.{role}", role))
    return _label(t, f"docs.auth.{auth}", auth)


def _operation(doc: dict, path: str, method: str, operation: dict, t) -> dict:
    answers, errors = [], []
    for status, raw in operation.get("responses", {}).items():
        # Shared error answers are references to the Error envelope; the rest are the operation's own.
        answer, code = _resolve(doc, raw), int(status)
        text = _label(t, f"docs.status.{code}", answer.get("description", ""))
        (errors if "$ref" in raw else answers).append({"status": code, "text": text})
    return {
        "id": "op-" + operation["operationId"].replace(".", "-").replace("_", "-"),
        "operation_id": operation["operationId"],
        "method": method.upper(), "path": path, "summary": operation.get("summary", ""),
        "auth": _auth(operation, t),
        "parameters": [_parameter(doc, p, t) for p in operation.get("parameters", [])],
        "body": _body(doc, operation, t),
        "answers": answers, "errors": errors,
    }


def reference(doc: dict, t: Callable[..., str]) -> list[dict]:
    """The document's operations grouped by their first tag, in the document's tag order."""
    order = [tag["name"] for tag in doc.get("tags", [])]
    groups: dict[str, list[dict]] = {}
    for path, item in doc["paths"].items():
        for method in sorted(item, key=lambda m: METHOD_ORDER.index(m) if m in METHOD_ORDER else 99):
            operation = item[method]
            tag = (operation.get("tags") or [""])[0]
            groups.setdefault(tag, []).append(_operation(doc, path, method, operation, t))
    ordered = [tag for tag in order if tag in groups] + [tag for tag in groups if tag not in order]
    return [
        {
            "tag": tag or "other",
            "id": "tag-" + (tag or "other"),
            "title": _label(t, f"docs.tag.{tag or 'other'}", tag or "other"),
            "operations": groups[tag],
        }
        for tag in ordered
    ]


def docs(ctx):
    doc = document_for(ctx.app.router)
    return render(ctx, "docs.html", info=doc["info"], openapi_version=doc["openapi"], groups=reference(doc, ctx.t))
