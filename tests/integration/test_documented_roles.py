"""The role the OpenAPI document names for an operation (x-role) is the one the server enforces."""
from __future__ import annotations

import uuid

from minicloud.web.openapi import document_for, openapi_path
from minicloud.web.router import PARAMETER

RANKS = ["viewer", "user", "admin"]


def example(schema: dict | None) -> dict | None:
    """A body with every required field filled in with something of the right kind."""
    if schema is None:
        return None
    body = {}
    for name in schema.get("required", []):
        spec = schema["properties"][name]
        if "enum" in spec:
            body[name] = spec["enum"][-1]
        elif spec.get("format") == "uuid":
            body[name] = str(uuid.uuid4())
        elif spec.get("type") == "integer":
            body[name] = spec.get("minimum", 1)
        elif spec.get("type") == "object":
            body[name] = {}
        else:
            body[name] = "x" * max(1, spec.get("minLength", 1))
    return body


def test_a_member_with_less_than_the_documented_role_is_refused(auth, app):
    owner, member = auth.user("olive"), auth.user("milo")
    member_id, owner_id = member.me["id"], owner.me["id"]
    project = owner.post("/api/v1/projects", json={"name": "team"}).json["id"]
    assert owner.post(f"/api/v1/projects/{project}/members", json={"username": "milo", "role": "viewer"}).status_code \
        == 201
    doc = document_for(app.router)
    refused = []
    # Deleting the project comes last: a member allowed to do it does it.
    for route in sorted(app.router.routes, key=lambda r: r.endpoint == "projects.delete"):
        operation = doc["paths"].get(openapi_path(route.pattern), {}).get(route.method.lower()) if route.api and route.documented else None
        if not operation or operation.get("x-role", "viewer") == "viewer":
            continue
        role = operation["x-role"]
        values = {"project_id": project, "user_id": owner_id}
        path = PARAMETER.sub(lambda m: values.get(m.group("name"), {"uuid": str(uuid.uuid4()), "name": "bucket-1"}
                                               .get(m.group("type"), "a/key")), route.pattern)
        for given in (RANKS[RANKS.index(role) - 1], role):
            changed = owner.patch(f"/api/v1/projects/{project}/members/{member_id}", json={"role": given})
            assert changed.status_code == 200, changed.json
            response = member.request(route.method, path, project_id=project, json=example(route.body))
            # Below the role: refused. With it: whatever the request then meets (404, 409, 422, …), not a 403.
            assert (response.status_code == 403) == (given != role), (route.endpoint, given, response.get_data())
        refused.append(route.endpoint)
    assert {"audit.list", "projects.add_member", "projects.delete", "instances.create", "objects.put"} <= set(refused)
