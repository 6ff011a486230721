"""The OpenAPI document is generated from the route table and kept in step with it."""
from __future__ import annotations

import re

import pytest
from openapi_spec_validator import validate

from minicloud.web.openapi import (build_document, document_for, error_statuses, openapi_path, success_answer,
                                   who_may_call)
from minicloud.web.router import Route, Router
from minicloud.routes import ROUTES
from minicloud.web.schemas import Answer, Header, located

METHODS = {"get", "put", "post", "delete", "options", "head", "patch", "trace"}


@pytest.fixture(scope="module")
def router():
    return Router(ROUTES)


@pytest.fixture(scope="module")
def doc(router):
    return build_document(router)


def operations(doc):
    return [(method, path, op) for path, item in doc["paths"].items()
            for method, op in item.items() if method in METHODS]


def test_document_and_router_list_the_same_operations(router, doc):
    from_router = {(r.method, openapi_path(r.pattern)) for r in router.routes if r.api and r.documented and r.method != "HEAD"}
    from_doc = {(m.upper(), path) for m, path, _ in operations(doc) if m != "head"}
    assert from_doc == from_router
    # HEAD is answered by each GET route; the document does not invent HEAD operations for it.
    explicit_head = {(r.method, openapi_path(r.pattern)) for r in router.routes if r.api and r.documented and r.method == "HEAD"}
    assert {(m.upper(), path) for m, path, _ in operations(doc) if m == "head"} == explicit_head
    # Console pages are not part of the API.
    assert "/docs" not in doc["paths"] and "/login" not in doc["paths"]


def test_document_is_valid_openapi_3_1(doc):
    assert doc["openapi"].startswith("3.1.")
    validate(doc)  # raises OpenAPIValidationError when not valid


def test_operation_ids_are_the_endpoints_and_unique(router, doc):
    ids = [op["operationId"] for _, _, op in operations(doc)]
    assert len(ids) == len(set(ids))
    assert set(ids) == {r.endpoint for r in router.routes if r.api and r.documented}


def test_every_route_body_query_and_path_parameter_is_published(router, doc):
    for route in router.routes:
        if not (route.api and route.documented):
            continue
        op = doc["paths"][openapi_path(route.pattern)][route.method.lower()]
        params = op.get("parameters", [])
        assert ("requestBody" in op) == (route.body is not None), route.endpoint
        assert [p["name"] for p in params if p.get("in") == "path"] == list(route.params), route.endpoint
        query = [p["name"] for p in params if p.get("in") == "query"]
        assert query == list((route.query or {}).get("properties", {})), route.endpoint
        assert (op["security"] == []) == (route.auth == "public"), route.endpoint
        assert ({"$ref": "#/components/parameters/ProjectId"} in params) == (route.auth == "project")
        assert any(int(status) < 300 for status in op["responses"]), route.endpoint


def test_path_parameters_bodies_queries_and_security(router, doc):
    get_project = doc["paths"]["/api/v1/projects/{project_id}"]["get"]
    assert get_project["parameters"][0] == {
        "name": "project_id", "in": "path", "required": True, "schema": {"type": "string", "format": "uuid"}}
    assert {"bearerJWT": []} in get_project["security"] and {"apiKey": []} in get_project["security"]
    assert "401" in get_project["responses"] and "404" in get_project["responses"]

    signup = doc["paths"]["/api/v1/auth/signup"]["post"]
    schema = signup["requestBody"]["content"]["application/json"]["schema"]
    assert schema["required"] == ["username", "password", "display_name"]
    assert signup["security"] == [] and "401" not in signup["responses"]
    assert {"201", "400", "409", "413", "415", "422"} <= set(signup["responses"])
    assert signup["responses"]["422"] == {"$ref": "#/components/responses/ValidationFailed"}

    available = doc["paths"]["/api/v1/auth/username-available"]["get"]
    assert available["parameters"] == [
        {"name": "username", "in": "query", "required": True, "schema": {"type": "string", "maxLength": 64}}]

    audit = doc["paths"]["/api/v1/audit"]["get"]  # auth="project"
    assert {"$ref": "#/components/parameters/ProjectId"} in audit["parameters"]
    assert doc["components"]["parameters"]["ProjectId"]["in"] == "header"
    assert "403" in audit["responses"] and audit["x-role"] == "admin"
    limit = next(p for p in audit["parameters"] if p.get("name") == "limit")
    assert limit["schema"]["maximum"] == 500 and limit["required"] is False

    error = doc["components"]["schemas"]["Error"]
    assert error["properties"]["error"]["required"] == ["code", "message", "details"]
    for _, _, op in operations(doc):
        for status, answer in op["responses"].items():
            if "$ref" in answer:
                assert int(status) >= 400
                target = doc["components"]["responses"][answer["$ref"].rsplit("/", 1)[1]]
                if status == "414":  # gunicorn's own answer, before minicloud sees the request
                    assert target["content"] == {"text/html": {}}
                    continue
                assert target["content"]["application/json"]["schema"] == {"$ref": "#/components/schemas/Error"}


def test_success_statuses_come_from_the_route_table(doc):
    def codes(method, path):
        return {s for s in doc["paths"][path][method]["responses"] if int(s) < 300}

    assert codes("post", "/api/v1/projects") == {"201"}
    assert "Location" in doc["paths"]["/api/v1/projects"]["post"]["responses"]["201"]["headers"]
    assert codes("post", "/api/v1/auth/login") == {"200"}
    assert codes("post", "/api/v1/auth/logout") == {"204"}
    assert "content" not in doc["paths"]["/api/v1/auth/logout"]["post"]["responses"]["204"]
    assert codes("delete", "/api/v1/projects/{project_id}") == {"202"}  # a job takes the project apart
    accepted = doc["paths"]["/api/v1/projects/{project_id}"]["delete"]["responses"]["202"]
    assert "Location" in accepted["headers"]
    assert {"project_id", "operation_id"} <= set(accepted["content"]["application/json"]["schema"]["properties"])
    # every request may also have a path or query that is not text (400), or a line too long to read (414)
    assert set(doc["paths"]["/readyz"]["get"]["responses"]) == {"200", "400", "414", "503"}


def test_converters_and_guessed_statuses():
    def handler(ctx, **kw):  # no declared status: the method decides
        return kw

    router = Router([
        Route("POST", "/api/v1/things/{n:int}/parts/{key:path}", "things.part", handler, auth="admin"),
        Route("DELETE", "/api/v1/things/{name:name}", "things.delete", handler, auth="user"),
        Route("HEAD", "/api/v1/things/{name}", "things.head", handler, auth="public"),
        Route("GET", "/page", "pages.page", handler, api=False),
    ])
    doc = build_document(router)
    validate(doc)
    part = doc["paths"]["/api/v1/things/{n}/parts/{key}"]["post"]
    assert [p["schema"]["type"] for p in part["parameters"]] == ["integer", "string"]
    assert "201" in part["responses"] and "403" in part["responses"]
    assert "204" in doc["paths"]["/api/v1/things/{name}"]["delete"]["responses"]
    assert "head" in doc["paths"]["/api/v1/things/{name}"]
    assert "/page" not in doc["paths"]
    assert error_statuses(router.routes[2]) == [400, 404, 414, 503]
    assert error_statuses(Route("GET", "/api/v1/ping", "ping", handler, auth="public")) == [400, 414]


def test_two_routes_with_the_same_openapi_path_are_refused():
    def handler(ctx, **kw):
        return kw

    router = Router([Route("GET", "/api/v1/x/{a:uuid}", "x.by_id", handler),
                     Route("GET", "/api/v1/x/{a:name}", "x.by_name", handler)])
    with pytest.raises(ValueError, match="listed twice"):
        build_document(router)


def test_document_is_built_once_per_router(router):
    assert document_for(router) is document_for(router)
    assert document_for(Router(ROUTES)) is not document_for(router)


def test_served_at_api_v1_openapi_json(client, app):
    response = client.get("/api/v1/openapi.json")
    assert response.status_code == 200
    assert response.mimetype == "application/json"
    assert response.json == build_document(app.router)
    validate(response.json)
    assert client.get("/api/v1/openapi.json").get_data() == response.get_data()


# -- what the operations answer --------------------------------------------------------------------
def walk(node, path=()):
    """Every (path, schema) in a document or schema, depth first."""
    if isinstance(node, dict):
        yield path, node
        for key, value in node.items():
            yield from walk(value, (*path, key))
    elif isinstance(node, list):
        for index, value in enumerate(node):
            yield from walk(value, (*path, index))


def json_answers(doc):
    for method, path, op in operations(doc):
        for status, answer in op["responses"].items():
            if "$ref" not in answer and "application/json" in answer.get("content", {}):
                yield f"{method.upper()} {path} {status}", answer["content"]["application/json"]["schema"]


def test_every_json_answer_documents_its_fields(doc):
    # Not {"type": "object"}: the properties, their types and which are always sent.
    answers = dict(json_answers(doc))
    assert len(answers) > 40
    for label, schema in answers.items():
        assert schema.get("type") == "object" and schema.get("properties"), label
        assert schema["required"], label
    for label, schema in answers.items():
        for where, node in walk(schema):
            if isinstance(node.get("properties"), dict) and "properties" not in where[-1:]:
                assert set(node.get("required", [])) <= set(node["properties"]), (label, where)
            if node.get("type") in ("object", ["object", "null"]) and "properties" not in node \
                    and "additionalProperties" not in node and where[-1:] != ("properties",):
                assert node.get("description"), f"{label} {where}: a free-form object says what it holds"


def test_answers_use_exact_types(doc):
    bucket = doc["paths"]["/api/v1/buckets"]["post"]["responses"]["201"]["content"]["application/json"]["schema"]
    assert bucket["properties"]["id"] == {"type": "string", "format": "uuid"}
    assert bucket["properties"]["object_count"]["type"] == "integer"
    assert bucket["properties"]["created_at"]["format"] == "date-time"
    assert set(bucket["required"]) == {"id", "name", "object_count", "bytes", "created_at"}
    page = doc["paths"]["/api/v1/instances"]["get"]["responses"]["200"]["content"]["application/json"]["schema"]
    assert page["required"] == ["items", "next"] and page["properties"]["next"]["type"] == ["string", "null"]
    item = page["properties"]["items"]["items"]
    assert item["properties"]["host"]["type"] == ["object", "null"]
    assert "operation_id" not in item["properties"]  # only the 202 answers carry it
    accepted = doc["paths"]["/api/v1/instances"]["post"]["responses"]["202"]
    assert "operation_id" in accepted["content"]["application/json"]["schema"]["required"]
    assert accepted["headers"]["Location"]["required"] is True
    generated = doc["paths"]["/api/v1/keypairs"]["post"]["responses"]["201"]["content"]["application/json"]
    assert "private_key" in generated["schema"]["properties"] and "private_key" not in generated["schema"]["required"]


def test_answers_that_are_not_json_say_what_they_are(doc):
    objects = doc["paths"]["/api/v1/buckets/{bucket}/objects/{key}"]
    download = objects["get"]["responses"]
    assert download["200"]["content"] == {"*/*": {}} and download["206"]["content"] == {"*/*": {}}
    assert "content" not in download["304"]
    assert download["200"]["headers"]["Cache-Control"]["required"] is True
    assert download["200"]["headers"]["ETag"]["required"] is False  # passed on when Swift sends it
    assert "Content-Range" in download["206"]["headers"] and "Content-Range" not in download["200"]["headers"]
    head = objects["head"]["responses"]
    assert "content" not in head["200"]
    assert {name for name, h in head["200"]["headers"].items() if h["required"]} == {
        "Content-Length", "ETag", "Accept-Ranges", "Cache-Control", "Content-Disposition", "X-Content-Type-Options",
        "Content-Security-Policy", "Referrer-Policy"}
    # An answer to HEAD has no body, not even an error's envelope.
    assert all("content" not in answer and "$ref" not in answer for answer in head.values())
    assert "content" not in objects["delete"]["responses"]["204"]
    document = doc["paths"]["/api/v1/openapi.json"]["get"]["responses"]["200"]["content"]["application/json"]
    assert document["schema"]["type"] == "object"


def test_errors_each_operation_can_answer(doc):
    def errors(method, path):
        return {int(s) for s in doc["paths"][path][method]["responses"] if int(s) >= 400}

    objects = "/api/v1/buckets/{bucket}/objects/{key}"
    assert {400, 403, 404, 411, 413, 422, 502, 503} <= errors("put", objects)
    assert {416, 502, 503} <= errors("get", objects)
    assert 409 in errors("post", "/api/v1/buckets") and 409 in errors("delete", "/api/v1/buckets/{bucket}")
    assert 409 not in errors("delete", "/api/v1/keypairs/{keypair_id}")  # nothing can conflict there
    assert 409 not in errors("patch", "/api/v1/images/{image_id}")       # an image's name never changes
    assert 404 in errors("patch", "/api/v1/quotas")                       # project_id is in the body
    assert {401, 429} <= errors("post", "/api/v1/auth/login")
    for method, path, op in operations(doc):
        if path.startswith("/api/v1/apps"):
            assert "503" in op["responses"], f"{method} {path}: no_cluster"
    too_many = doc["components"]["responses"]["TooManyRequests"]
    assert too_many["headers"]["Retry-After"]["required"] is True
    assert doc["components"]["responses"]["MethodNotAllowed"]["headers"]["Allow"]["required"] is True


def test_every_pattern_is_anchored_and_an_ecma_regex(doc):
    patterns = [(where, node["pattern"]) for where, node in walk(doc) if isinstance(node.get("pattern"), str)]
    assert len(patterns) >= 8
    for where, pattern in patterns:
        assert pattern.startswith("^") and pattern.endswith("$") and not pattern.endswith("\\$"), where
        re.compile(pattern)
        assert not re.search(r"\(\?P|\\[AZz]|\(\?[aiLmsux]|[*+?}]\+", pattern), f"{where}: not ECMA-262: {pattern}"


def test_roles_in_words_and_in_x_role(router, doc):
    for route in router.routes:
        if not (route.api and route.documented):
            continue
        op = doc["paths"][openapi_path(route.pattern)][route.method.lower()]
        assert op["description"] == "Who may call it: " + who_may_call(route)
        if "x-role" in op:
            assert f"the role {op['x-role']}" in op["description"], route.endpoint
    audit = doc["paths"]["/api/v1/audit"]["get"]
    assert audit["x-role"] == "admin" and "at least the role admin" in audit["description"]
    add_member = doc["paths"]["/api/v1/projects/{project_id}/members"]["post"]
    assert (add_member["x-auth"], add_member["x-role"]) == ("user", "admin")
    assert doc["paths"]["/api/v1/hosts"]["get"]["description"] == "Who may call it: A global administrator."


def test_success_answers_of_a_route():
    def handler(ctx, **kw):
        return kw

    thing = {"type": "object", "required": ["id"], "properties": {"id": {"type": "string"}}}
    multi = Route("GET", "/api/v1/things/{id}", "things.get", handler, status=(200, 206, 304),
                  response={200: thing, 206: Answer(media="*/*", headers={"ETag": Header("e")})})
    assert success_answer(multi, 200) == Answer(thing)
    assert success_answer(multi, 206).media == "*/*"
    assert success_answer(multi, 304) == Answer(media=None)
    head = Route("HEAD", "/api/v1/things/{id}", "things.head", handler, response=Answer(thing))
    assert success_answer(head, 200).media is None
    created = Route("POST", "/api/v1/things", "things.create", handler, response=located(thing))
    answer = build_document(Router([created]))["paths"]["/api/v1/things"]["post"]["responses"]["201"]
    assert answer["content"]["application/json"]["schema"] == thing
    assert answer["headers"]["Location"]["required"] is True
