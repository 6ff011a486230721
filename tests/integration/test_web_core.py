"""The web core: request ids, the error envelope, body limits, CSRF for cookie sessions, health."""
import logging

import pytest
from conformance import ConformingClient

from minicloud.app import App
from minicloud.services import Services
from minicloud.routes import ROUTES
from minicloud.web.router import Route


def test_request_id_is_generated_or_kept(client):
    generated = client.get("/healthz").headers["X-Request-Id"]
    assert len(generated) == 32
    kept = client.get("/healthz", headers={"X-Request-Id": "trace-1234567"}).headers["X-Request-Id"]
    assert kept == "trace-1234567"
    junk = client.get("/healthz", headers={"X-Request-Id": "<script>"}).headers["X-Request-Id"]
    assert junk != "<script>"


def test_unknown_api_path_is_a_json_404(client):
    response = client.get("/api/v1/nothing-here")
    assert response.status_code == 404
    assert response.json == {"error": {"code": "not_found", "message": "Not found.", "details": {}}}


def test_wrong_method_is_405_with_allow(client):
    response = client.put("/api/v1/auth/me")
    assert response.status_code == 405
    assert response.headers["Allow"] == "GET, HEAD, OPTIONS"
    assert response.json["error"]["code"] == "method_not_allowed"


def test_head_answers_like_get_without_a_body(client):
    response = client.head("/healthz")
    assert response.status_code == 200 and response.data == b""


def test_wrong_content_type_is_415(client):
    response = client.post("/api/v1/auth/login", data="username=a", content_type="application/x-www-form-urlencoded")
    assert response.status_code == 415
    assert response.json["error"]["code"] == "unsupported_media_type"


def test_malformed_json_is_400(client):
    response = client.post("/api/v1/auth/login", data="{not json", content_type="application/json")
    assert response.status_code == 400
    assert response.json["error"]["code"] == "malformed_json"


def test_oversized_json_is_413(client, config):
    big = "x" * (config.get("server.max_json_bytes") + 10)
    response = client.post("/api/v1/auth/login", data='{"username": "%s"}' % big, content_type="application/json")
    assert response.status_code == 413


def test_oversized_chunked_json_is_413(client, config):
    big = ('{"username": "%s"}' % ("x" * (config.get("server.max_json_bytes") + 10))).encode()
    response = client.post("/api/v1/auth/login", input_stream=__import__("io").BytesIO(big),
                           content_type="application/json", headers={"Transfer-Encoding": "chunked"},
                           environ_overrides={"wsgi.input_terminated": True})
    assert response.status_code == 413


def test_validation_error_names_the_fields(client):
    response = client.post("/api/v1/auth/login", json={"username": 5})
    assert response.status_code == 422
    assert set(response.json["error"]["details"]["fields"]) == {"username", "password"}


def test_messages_follow_accept_language(client):
    response = client.get("/api/v1/auth/me", headers={"Accept-Language": "ko-KR,ko;q=0.9"})
    assert response.json["error"]["message"] == "먼저 로그인해주세요."


def test_unexpected_error_is_500_with_request_id_and_no_trace(config, services, caplog):
    def explode(ctx):
        raise RuntimeError("secret internals")

    app = App(config, services, ROUTES + [Route("GET", "/api/v1/explode", "test.explode", explode, auth="public")])
    with caplog.at_level(logging.ERROR, logger="minicloud.app"):
        response = ConformingClient(app).get("/api/v1/explode")
    assert response.status_code == 500
    body = response.json["error"]
    request_id = response.headers["X-Request-Id"]
    assert body["code"] == "internal_error"
    assert body["details"]["request_id"] == request_id and request_id in body["message"]
    assert "secret internals" not in response.get_data(as_text=True)
    assert "Traceback" not in response.get_data(as_text=True)
    assert request_id in caplog.text and "secret internals" in caplog.text


@pytest.fixture
def dead_db_client(config, clean_db):
    dead = config.with_overrides({"database.url": "postgresql://minicloud@127.0.0.1:9/minicloud"})
    services = Services.from_config(dead)
    services.db._timeout = 1.0
    yield ConformingClient(App(dead, services, ROUTES))
    services.close()


def test_readyz(client):
    response = client.get("/readyz")
    assert response.status_code == 200
    assert response.json["database"]["status"] == "ok"
    assert response.json["status"] == "ready"
    assert "backends" in response.json


def test_readyz_is_503_when_the_database_is_down(dead_db_client):
    response = dead_db_client.get("/readyz")
    assert response.status_code == 503
    assert response.json["database"]["status"] == "unavailable"
    assert dead_db_client.get("/healthz").status_code == 200


def test_database_down_is_a_503_envelope(dead_db_client):
    response = dead_db_client.post("/api/v1/auth/login", json={"username": "alice", "password": "correct-horse"})
    assert response.status_code == 503
    assert response.json["error"]["code"] == "database_unavailable"
    assert "Traceback" not in response.get_data(as_text=True)


def test_cookie_session_writes_need_the_csrf_token(auth, client):
    auth.signup()
    auth.login()  # the client now holds the session cookie
    response = client.post("/api/v1/projects", json={"name": "team"})
    assert response.status_code == 403
    assert response.json["error"]["code"] == "csrf_failed"
    csrf = client.get_cookie("mc_csrf")  # issued beside the session cookie
    assert csrf is not None
    ok = client.post("/api/v1/projects", json={"name": "team"}, headers={"X-CSRF-Token": csrf.value})
    assert ok.status_code == 201
    forged = client.post("/api/v1/projects", json={"name": "team2"}, headers={"X-CSRF-Token": "abc.def"})
    assert forged.status_code == 403


def test_cookie_session_reads_need_no_csrf(auth, client):
    auth.signup()
    auth.login()
    assert client.get("/api/v1/auth/me").status_code == 200


def test_no_content_answers_have_no_body(auth):
    alice = auth.user()
    response = alice.post("/api/v1/auth/logout")
    assert response.status_code == 204 and response.data == b""
