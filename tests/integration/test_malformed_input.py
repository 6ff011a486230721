"""Malformed input never gets a 500: the JSON reader, the validator and the path decoder refuse it
with 400 or 422 in the error envelope, naming the field (issue 8, point 2)."""
import json

import pytest


def refused(response, field, statuses=(400, 422)):
    """The answer is a 4xx envelope that names ``field``; returns the error."""
    assert response.status_code in statuses, (response.status_code, response.get_data(as_text=True))
    error = response.json["error"]
    assert set(error) == {"code", "message", "details"}
    named = error["details"].get("fields", {}) if "fields" in error["details"] else {error["details"].get("field"): 1}
    assert field in named, error
    return error


def post_raw(client, path, text, headers=None):
    return client.post(path, data=text.encode("utf-8"), content_type="application/json", headers=headers or {})


@pytest.fixture
def alice(auth):
    return auth.user()


@pytest.mark.parametrize("field, body", [
    ("display_name", {"username": "nul1", "password": "correct-horse", "display_name": "A\u0000B"}),
    ("username", {"username": "nul\u0000x", "password": "correct-horse", "display_name": "A"}),
    ("password", {"username": "nul2", "password": "correct-horse\u0000", "display_name": "A"}),
])
def test_a_nul_byte_in_signup_is_422_and_creates_nobody(client, field, body):
    error = refused(client.post("/api/v1/auth/signup", json=body), field, (422,))
    assert error["code"] == "validation_failed"
    assert "NUL" in error["details"]["fields"][field]
    assert client.get("/api/v1/auth/username-available?username=nul1").json["available"] is True


def test_a_nul_byte_in_project_api_key_and_member_fields(alice):
    assert refused(alice.post("/api/v1/projects", json={"name": "a\u0000"}), "name", (422,))
    assert refused(alice.post("/api/v1/projects", json={"name": "ok", "description": "\u0000"}), "description", (422,))
    assert refused(alice.post("/api/v1/api-keys", json={"name": "k\u0000"}), "name", (422,))
    project = alice.post("/api/v1/projects", json={"name": "team"}).json["id"]
    member = alice.post(f"/api/v1/projects/{project}/members", json={"username": "bob\u0000", "role": "user"})
    assert refused(member, "username", (422,))
    assert [p["name"] for p in alice.get("/api/v1/projects").json["items"]] == ["alice", "team"]
    assert alice.get("/api/v1/api-keys").json["items"] == []


def test_a_nul_byte_in_a_query_parameter_is_400(alice):
    error = refused(alice.get("/api/v1/audit?action=%00"), "action", (400,))
    assert error["code"] == "bad_text"
    refused(alice.get("/api/v1/auth/username-available?username=a%00b"), "username", (400,))


def test_a_lone_surrogate_is_422(client, alice):
    text = '{"username": "sur", "password": "correct-horse", "display_name": "\\ud800"}'
    error = refused(post_raw(client, "/api/v1/auth/signup", text), "display_name", (422,))
    assert "surrogate" in error["details"]["fields"]["display_name"]
    refused(post_raw(client, "/api/v1/api-keys", '{"name": "\\udfff"}', alice.headers()), "name", (422,))
    # a key with a surrogate, nested in an object
    refused(post_raw(client, "/api/v1/apps", '{"name": "a", "image": "nginx", "port": 80, "env": {"\\ud800": "x"}}',
                     alice.headers()), "env.\\ud800", (422,))


@pytest.mark.parametrize("number", ["9" * 5000, str(2 ** 63), str(-(2 ** 63) - 1), "1" + "0" * 25])
def test_an_integer_beyond_64_bits_is_422_naming_the_field(client, alice, number):
    response = post_raw(client, "/api/v1/auth/login", f'{{"username": {number}, "password": "x"}}')
    error = refused(response, "username", (422,))
    assert "9223372036854775807" in error["details"]["fields"]["username"]
    share = post_raw(client, "/api/v1/buckets/photos/objects/a.txt/share", f'{{"expires_in": {number}}}',
                     alice.headers())
    refused(share, "expires_in", (422,))


def test_the_largest_64_bit_integer_is_still_an_integer(client):
    response = post_raw(client, "/api/v1/auth/login", f'{{"username": {2 ** 63 - 1}, "password": "x"}}')
    assert response.json["error"]["details"]["fields"]["username"] == "must be of type string"


@pytest.mark.parametrize("depth", [33, 1000, 100000])
def test_json_nested_too_deep_is_400(client, depth):
    response = post_raw(client, "/api/v1/auth/login", "[" * depth + "]" * depth)
    error = refused(response, "body", (400,))
    assert error["code"] == "malformed_json" and "nested deeper than 32" in error["message"]


@pytest.mark.parametrize("text", ['{"username": NaN, "password": "x"}', '{"username": 1e999, "password": "x"}'])
def test_nan_and_infinity_are_refused(client, text):
    refused(post_raw(client, "/api/v1/auth/login", text), "username" if "e999" in text else "body")


@pytest.mark.parametrize("cursor", [
    "eyJ4IjoxfQ",      # {"x":1}: JSON, but not a list
    "bm90IGpzb24",     # "not json"
    "!!!",             # not base64
    "WyJ4IiwgInkiXQ",  # ["x", "y"]: a list of the wrong kinds
    "WyIxIl0",         # ["1"]: a string where the audit log's key is a number
])
@pytest.mark.parametrize("path", ["/api/v1/audit", "/api/v1/instances", "/api/v1/projects", "/api/v1/api-keys",
                                  "/api/v1/keypairs", "/api/v1/templates", "/api/v1/images", "/api/v1/buckets"])
def test_a_cursor_of_the_wrong_shape_is_400(alice, path, cursor):
    error = refused(alice.get(f"{path}?cursor={cursor}"), "cursor", (400, 422))
    assert error["code"] == ("validation_failed" if cursor == "!!!" else "bad_cursor")


def test_invalid_utf8_in_a_path_segment_is_400_naming_the_parameter(client, alice):
    response = alice.request("PUT", "/api/v1/buckets/photos/objects/%ff%fe", data=b"x")
    error = refused(response, "key", (400,))
    assert error["code"] == "bad_encoding"
    refused(alice.get("/api/v1/buckets/photos/objects/ok/%c3"), "key", (400,))
    # valid UTF-8 (Korean) still routes: it reaches the storage service (a 404 for the missing bucket)
    assert alice.get("/api/v1/buckets/photos/objects/%ED%95%9C.txt").status_code in (404, 503)


def test_invalid_utf8_in_a_query_string_is_400(alice):
    error = refused(alice.get("/api/v1/audit?action=%ff"), "action", (400,))
    assert error["code"] == "bad_encoding"


def test_a_nul_in_a_console_form_is_400(client, auth):
    auth.signup()
    client.get("/login")
    token = client.get_cookie("mc_csrf").value
    response = client.post("/login", data={"username": "alice\x00", "password": "correct-horse", "csrf_token": token})
    assert response.status_code == 400
    assert "NUL" in response.get_data(as_text=True)


def test_query_integers_and_booleans_are_strict(alice):
    refused(alice.get("/api/v1/audit?limit=1_0"), "limit", (422,))
    refused(alice.get("/api/v1/audit?limit=%205"), "limit", (422,))
    refused(alice.get("/api/v1/audit?all_projects=maybe"), "all_projects", (422,))
    refused(alice.get("/api/v1/audit?limit=" + "9" * 5000), "limit", (422,))


def test_bodies_that_are_fine_still_work(client):
    body = {"username": "kim", "password": "correct-horse", "display_name": "김민수 \U0001F600",
            "email": "kim@example.com"}
    assert client.post("/api/v1/auth/signup", json=body).status_code == 201
    assert json.loads(client.get("/api/v1/auth/username-available?username=kim").data)["available"] is False


def test_what_is_refused_is_still_in_the_audit_log_as_text(alice):
    response = alice.request("PUT", "/api/v1/buckets/docs/objects/a%00b", data=b"x")
    assert response.status_code == 422
    entries = alice.get("/api/v1/audit?action=objects.put").json["items"]
    assert [(e["path"], e["target"], e["status"]) for e in entries] == [
        ("/api/v1/buckets/docs/objects/a\\x00b", "docs/a\\x00b", 422)]
