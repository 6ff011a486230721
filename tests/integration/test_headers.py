"""Headers say what they mean (issue 8, point 6): X-Project-Id is a project id or a 400, JSON answers
are neither sniffed nor cached, and OPTIONS reports the methods the route really allows."""
import uuid

import pytest


@pytest.fixture
def alice(auth):
    return auth.user()


@pytest.mark.parametrize("header", ["", " ", "abc", str(uuid.uuid4()).replace("-", ""), "{" + str(uuid.uuid4()) + "}"])
def test_an_empty_or_malformed_project_header_is_400(alice, header):
    response = alice.get("/api/v1/keypairs", headers={"X-Project-Id": header})
    assert response.status_code == 400
    assert response.json["error"]["code"] == "bad_project_header"
    assert response.json["error"]["details"] == {"field": "X-Project-Id"}


def test_a_project_header_of_someone_elses_project_is_404(alice, auth):
    bob = auth.user("bob")
    response = alice.get("/api/v1/keypairs", project_id=bob.personal_project)
    assert response.status_code == 404
    assert alice.get("/api/v1/keypairs", project_id=alice.personal_project).status_code == 200


@pytest.mark.parametrize("path", ["/api/v1/auth/me", "/api/v1/nothing", "/api/v1/openapi.json"])
def test_json_answers_are_not_sniffed_or_stored(alice, path):
    response = alice.get(path)
    assert response.mimetype == "application/json"
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    assert response.headers["Cache-Control"] == "no-store"


def test_an_error_without_credentials_is_not_stored_either(client):
    response = client.get("/api/v1/auth/me")
    assert response.status_code == 401
    assert response.headers["Cache-Control"] == "no-store"
    assert response.headers["X-Content-Type-Options"] == "nosniff"


def test_console_pages_are_not_sniffed(client):
    assert client.get("/login").headers["X-Content-Type-Options"] == "nosniff"


@pytest.mark.parametrize("path, allow", [
    ("/api/v1/buckets/photos/objects/a/b.txt/share", "OPTIONS, POST"),
    ("/api/v1/buckets/photos/objects/a/b.txt", "DELETE, GET, HEAD, OPTIONS, PUT"),
    ("/api/v1/auth/me", "GET, HEAD, OPTIONS"),
    ("/api/v1/projects", "GET, HEAD, OPTIONS, POST"),
])
def test_options_reports_the_methods_of_the_route(client, path, allow):
    response = client.open(path, method="OPTIONS")
    assert response.status_code == 204 and response.data == b""
    assert response.headers["Allow"] == allow


def test_options_of_an_unknown_path_is_404(client):
    assert client.open("/api/v1/nothing", method="OPTIONS").status_code == 404


def test_a_method_the_share_route_does_not_have_is_405_naming_its_methods(alice):
    response = alice.request("PATCH", "/api/v1/buckets/photos/objects/a.txt/share")
    assert response.status_code == 405
    assert response.headers["Allow"] == "OPTIONS, POST"
