"""UC-01 accounts on real PostgreSQL: sign-up rules, login, tokens, logout, rate limiting."""
from datetime import datetime, timedelta, timezone

import jwt
import psycopg


def test_signup_creates_user_with_personal_project(auth):
    response = auth.signup("alice", "correct-horse", "Alice Kim", email="alice@example.org", birthdate="2001-02-03")
    assert response.status_code == 201
    user = response.json
    assert user["username"] == "alice" and user["display_name"] == "Alice Kim"
    assert user["birthdate"] == "2001-02-03"
    assert "password" not in str(user) and "hash" not in str(user)
    assert [p["personal"] for p in user["projects"]] == [True]


def test_username_is_unique_case_insensitively(auth):
    assert auth.signup("alice").status_code == 201
    response = auth.signup("ALICE")
    assert response.status_code == 409
    assert response.json["error"]["code"] == "username_taken"
    assert "already taken" in response.json["error"]["message"]


def test_username_rules(auth):
    for bad in ("ab", "a" * 33, "has space", "émile", "semi;colon"):
        response = auth.signup(bad)
        assert response.status_code == 422, bad
        assert "username" in response.json["error"]["details"]["fields"]


def test_password_rule_in_message(auth):
    response = auth.signup("bob", "short")
    assert response.status_code == 422
    assert response.json["error"]["details"]["fields"]["password"] == \
        "The password must be at least 8 characters long."


def test_password_rule_in_korean(client):
    response = client.post("/api/v1/auth/signup", headers={"Accept-Language": "ko"},
                           json={"username": "bob", "password": "short", "display_name": "Bob"})
    assert response.json["error"]["details"]["fields"]["password"] == "비밀번호는 8자리 이상이어야 합니다."


def test_missing_fields_are_named(client):
    response = client.post("/api/v1/auth/signup", json={"username": "bob"})
    assert response.status_code == 422
    assert set(response.json["error"]["details"]["fields"]) == {"password", "display_name"}


def test_username_available(auth, client):
    assert client.get("/api/v1/auth/username-available?username=carol").json["available"] is True
    auth.signup("carol")
    assert client.get("/api/v1/auth/username-available?username=Carol").json["available"] is False
    assert client.get("/api/v1/auth/username-available?username=x").json["available"] is False
    assert client.get("/api/v1/auth/username-available").status_code == 422


def test_login_returns_bearer_token_and_session_cookie(auth, client):
    auth.signup()
    response = auth.login()
    assert response.status_code == 200
    body = response.json
    assert body["token_type"] == "Bearer" and body["expires_in"] > 0
    cookie = next(c for c in response.headers.getlist("Set-Cookie") if c.startswith("mc_session="))
    assert "mc_session=" + body["access_token"] in cookie
    assert "HttpOnly" in cookie and "SameSite=Lax" in cookie
    me = client.get("/api/v1/auth/me", headers={"Authorization": f"Bearer {body['access_token']}"})
    assert me.status_code == 200 and me.json["username"] == "alice"
    assert me.json["projects"][0]["role"] == "admin"


def test_wrong_password_and_unknown_user_look_the_same(auth):
    auth.signup()
    wrong = auth.login(password="wrong-password")
    unknown = auth.login(username="nobody")
    assert wrong.status_code == unknown.status_code == 401
    assert wrong.json["error"] == unknown.json["error"]


def test_me_requires_credentials(client):
    response = client.get("/api/v1/auth/me")
    assert response.status_code == 401
    assert response.json["error"]["code"] == "login_required"


def _claims(token):
    return jwt.decode(token, options={"verify_signature": False})


def test_alg_none_is_refused(auth, client):
    user = auth.user()
    forged = jwt.encode(_claims(user.token), key=None, algorithm="none")
    response = client.get("/api/v1/auth/me", headers={"Authorization": f"Bearer {forged}"})
    assert response.status_code == 401


def test_tampered_signature_is_refused(auth, client):
    user = auth.user()
    head, payload, signature = user.token.split(".")
    tampered = f"{head}.{payload}.{signature[:-4]}AAAA"
    assert client.get("/api/v1/auth/me", headers={"Authorization": f"Bearer {tampered}"}).status_code == 401
    other_key = jwt.encode(_claims(user.token), "another-secret-of-enough-length-xxxxxxxxxxxx", algorithm="HS256")
    assert client.get("/api/v1/auth/me", headers={"Authorization": f"Bearer {other_key}"}).status_code == 401


def test_expired_token_is_refused(auth, client, config):
    user = auth.user()
    claims = _claims(user.token)
    past = datetime.now(timezone.utc) - timedelta(hours=1)
    claims.update(iat=past - timedelta(hours=1), exp=past)
    expired = jwt.encode(claims, config.jwt_secret(), algorithm="HS256")
    response = client.get("/api/v1/auth/me", headers={"Authorization": f"Bearer {expired}"})
    assert response.status_code == 401
    assert response.json["error"]["message"] == "Your session has expired. Sign in again."


def test_a_signed_token_without_one_of_its_claims_is_refused(auth, client, config):
    user = auth.user()
    for missing in ("sub", "jti", "exp", "iat"):
        claims = {k: v for k, v in _claims(user.token).items() if k != missing}
        token = jwt.encode(claims, config.jwt_secret(), algorithm="HS256")
        response = client.get("/api/v1/auth/me", headers={"Authorization": f"Bearer {token}"})
        assert response.status_code == 401 and response.json["error"]["code"] == "unauthorized", missing
    assert client.get("/api/v1/auth/me", headers=user.headers()).status_code == 200  # the whole one still works


def test_logout_revokes_the_token(auth):
    user = auth.user()
    assert user.post("/api/v1/auth/logout").status_code == 204
    response = user.get("/api/v1/auth/me")
    assert response.status_code == 401
    assert response.json["error"]["code"] == "unauthorized"


def test_other_tokens_survive_a_logout(auth):
    user = auth.user()
    second = auth.login().json["access_token"]
    user.post("/api/v1/auth/logout")
    assert auth.client.get("/api/v1/auth/me", headers={"Authorization": f"Bearer {second}"}).status_code == 200


def test_malformed_authorization_header(client):
    for value in ("Basic abc", "Bearer", "Bearer not.a.jwt"):
        assert client.get("/api/v1/auth/me", headers={"Authorization": value}).status_code == 401


def test_disabled_user_cannot_use_their_token(auth, database_url):
    user = auth.user()
    with psycopg.connect(database_url, autocommit=True) as conn:
        conn.execute("UPDATE users SET disabled = true WHERE username = 'alice'")
    assert user.get("/api/v1/auth/me").status_code == 401


def test_repeated_failures_for_a_username_are_rate_limited(auth, config):
    auth.signup()
    limit = config.get("auth.login_max_failures")
    for _ in range(limit):
        assert auth.login(password="wrong-password").status_code == 401
    blocked = auth.login()  # even the right password, for a while
    assert blocked.status_code == 429
    assert int(blocked.headers["Retry-After"]) > 0
    assert blocked.json["error"]["code"] == "rate_limited"


def test_rate_limit_ends_after_the_window(auth, client, config, services, database_url):
    auth.signup()
    for _ in range(config.get("auth.login_max_failures")):
        auth.login(password="wrong-password")
    assert auth.login().status_code == 429
    with psycopg.connect(database_url, autocommit=True) as conn:  # let the window pass
        conn.execute("UPDATE login_failures SET failed_at = failed_at - interval '1 hour'")
    assert auth.login().status_code == 200


def test_success_clears_the_username_counter(auth, config):
    auth.signup()
    for _ in range(config.get("auth.login_max_failures") - 1):
        auth.login(password="wrong-password")
    assert auth.login().status_code == 200
    assert auth.login(password="wrong-password").status_code == 401
    assert auth.login().status_code == 200


def test_bcrypt_cost_is_configurable(auth, database_url):
    auth.signup()
    with psycopg.connect(database_url) as conn:
        stored = conn.execute("SELECT password_hash FROM users WHERE username = 'alice'").fetchone()[0]
    assert stored.startswith("$2b$04$")
