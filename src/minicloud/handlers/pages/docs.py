"""/docs: the API reference, drawn on the server from the OpenAPI document (no script needed).

The page reads only the document that /api/v1/openapi.json serves, so the two
cannot disagree; this module turns its JSON Schemas into short, translated
phrases ("3–32 characters", "one of: user, admin") for templates/docs.html.
"""
from __future__ import annotations

from typing import Any, Callable

from minicloud.handlers.pages.common import render
from minicloud.handlers.pages.docs_examples import cli_examples, curl
from minicloud.web.openapi import document_for

METHOD_ORDER = ("get", "head", "post", "put", "patch", "delete", "options")
FIELD_DEPTH = 3  # answer fields are listed down to items[].template.id, not further


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
        notes.append(described(t, schema["description"]))
    return kind, notes


def described(t: Callable[..., str], text: str) -> str:
    """A description from the document in the page's language (``docs.text.<the English text>``)."""
    return _label(t, f"docs.text.{text}", text)


def _parameter(doc: dict, node: dict, t) -> dict:
    param = _resolve(doc, node)
    kind, notes = describe_schema(param.get("schema", {}), t)
    if param.get("description") and described(t, param["description"]) not in notes:
        notes = [described(t, param["description"]), *notes]
    return {
        "name": param["name"], "where": _label(t, f"docs.in.{param['in']}", param["in"]),
        "required": bool(param.get("required")), "type": kind, "notes": notes,
    }


def _fields(schema: dict, t, prefix: str = "", depth: int = 1) -> list[dict]:
    """A row per property (``required``: always there), nested objects and arrays of objects as
    ``owner.name`` and ``items[].name`` down to FIELD_DEPTH levels."""
    required = set(schema.get("required", []))
    rows = []
    for name, spec in schema.get("properties", {}).items():
        kind, notes = describe_schema(spec, t)
        rows.append({"name": prefix + name, "required": name in required, "type": kind, "notes": notes})
        inner, mark = (spec.get("items"), "[].") if spec.get("type") == "array" else (spec, ".")
        if depth < FIELD_DEPTH and isinstance(inner, dict) and inner.get("properties"):
            rows += _fields(inner, t, f"{prefix}{name}{mark}", depth + 1)
    return rows


def _body(doc: dict, operation: dict, t) -> dict | None:
    request = operation.get("requestBody")
    if not request:
        return None
    schema = _resolve(doc, request["content"]["application/json"]["schema"])
    return {"fields": _fields(schema, t, depth=FIELD_DEPTH), "closed": schema.get("additionalProperties") is False}


def _auth(operation: dict, t) -> str:
    auth = operation.get("x-auth", "public" if operation.get("security") == [] else "user")
    role = operation.get("x-role")
    if auth == "project" or (auth == "user" and role):
        key = "docs.auth.project" if auth == "project" else "docs.auth.user_role"
        return t(key, role=_label(t, f"role.{role or 'viewer'}", role or "viewer"))
    return _label(t, f"docs.auth.{auth}", auth)


def _answer(doc: dict, status: int, answer: dict, t) -> dict:
    """A success answer: its text, its headers, and the fields of a JSON body (or the media type of bytes)."""
    out = {"status": status, "text": _label(t, f"docs.status.{status}", answer.get("description", "")),
           "headers": [{"name": name, "required": bool(spec.get("required"))}
                       for name, spec in answer.get("headers", {}).items()],
           "fields": [], "media": None, "body": bool(answer.get("content"))}
    for media, content in answer.get("content", {}).items():
        if "schema" in content:
            out["fields"] = _fields(_resolve(doc, content["schema"]), t)
        else:
            out["media"] = media
    return out


def _field_tables(answers: list[dict]) -> list[dict]:
    """One table per distinct answer body, naming the statuses that answer with it."""
    tables: list[dict] = []
    for answer in answers:
        if not answer["fields"]:
            continue
        same = next((table for table in tables if table["fields"] == answer["fields"]), None)
        if same:
            same["statuses"].append(answer["status"])
        else:
            tables.append({"statuses": [answer["status"]], "fields": answer["fields"]})
    return tables


def _examples(doc: dict, path: str, method: str, operation: dict, base_url: str, cli: dict) -> dict:
    """A curl command drawn from the operation, and the mcloud command line when one is known for it."""
    request = operation.get("requestBody", {}).get("content", {}).get("application/json")
    body = _resolve(doc, request["schema"]) if request else None
    required_query = [(p["name"], p.get("schema", {})) for p in map(lambda n: _resolve(doc, n),
                                                                       operation.get("parameters", []))
                      if p.get("in") == "query" and p.get("required")]
    return {"curl": curl(base_url, path, method.upper(), operation, body, required_query),
            "cli": cli.get(operation["operationId"])}


def _operation(doc: dict, path: str, method: str, operation: dict, t, base_url: str = "http://localhost:8080",
               cli: dict | None = None) -> dict:
    answers, errors = [], []
    for status, raw in operation.get("responses", {}).items():
        # Errors are references to the shared envelope answers (or, for HEAD, the same without a body).
        answer, code = _resolve(doc, raw), int(status)
        if "$ref" in raw or (code >= 400 and "content" not in answer):
            errors.append({"status": code, "text": _label(t, f"docs.status.{code}", answer.get("description", ""))})
        else:
            answers.append(_answer(doc, code, answer, t))
    return {
        "id": "op-" + operation["operationId"].replace(".", "-").replace("_", "-"),
        "operation_id": operation["operationId"],
        "method": method.upper(), "path": path,
        "summary": _label(t, f"docs.summary.{operation['operationId']}", operation.get("summary", "")),
        "examples": _examples(doc, path, method, operation, base_url, cli or {}),
        "auth": _auth(operation, t),
        "parameters": [_parameter(doc, p, t) for p in operation.get("parameters", [])],
        "body": _body(doc, operation, t),
        "answers": answers, "field_tables": _field_tables(answers), "errors": errors,
    }


def reference(doc: dict, t: Callable[..., str], base_url: str = "http://localhost:8080",
              cli: dict | None = None) -> list[dict]:
    """The document's operations grouped by their first tag, in the document's tag order."""
    order = [tag["name"] for tag in doc.get("tags", [])]
    groups: dict[str, list[dict]] = {}
    for path, item in doc["paths"].items():
        for method in sorted(item, key=lambda m: METHOD_ORDER.index(m) if m in METHOD_ORDER else 99):
            operation = item[method]
            tag = (operation.get("tags") or [""])[0]
            groups.setdefault(tag, []).append(_operation(doc, path, method, operation, t, base_url, cli))
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
    groups = reference(doc, ctx.t, ctx.request.host_url, cli_examples())
    return render(ctx, "docs.html", info=doc["info"], openapi_version=doc["openapi"], groups=groups)
