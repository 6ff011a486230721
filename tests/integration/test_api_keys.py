"""API keys: shown once, stored as a hash, usable as Bearer tokens, revocable."""
import psycopg


def test_key_is_shown_once_and_works_as_bearer(auth, client, database_url):
    alice = auth.user()
    created = alice.post("/api/v1/api-keys", json={"name": "laptop"})
    assert created.status_code == 201
    key = created.json["key"]
    assert key.startswith("mck_") and len(key) > 40
    listed = alice.get("/api/v1/api-keys").json["items"]
    assert [k["name"] for k in listed] == ["laptop"] and "key" not in listed[0]
    with psycopg.connect(database_url) as conn:
        stored = conn.execute("SELECT key_hash FROM api_keys").fetchone()[0]
    assert key not in stored and len(stored) == 64
    me = client.get("/api/v1/auth/me", headers={"Authorization": f"Bearer {key}"})
    assert me.status_code == 200 and me.json["username"] == "alice"


def test_revoked_key_stops_working(auth, client):
    alice = auth.user()
    created = alice.post("/api/v1/api-keys", json={"name": "ci"}).json
    assert alice.delete(f"/api/v1/api-keys/{created['id']}").status_code == 204
    assert client.get("/api/v1/auth/me", headers={"Authorization": f"Bearer {created['key']}"}).status_code == 401
    assert alice.delete(f"/api/v1/api-keys/{created['id']}").status_code == 404
    assert alice.get("/api/v1/api-keys").json["items"] == []


def test_someone_elses_key_cannot_be_revoked(auth, client):
    alice, bob = auth.user("alice"), auth.user("bob")
    created = alice.post("/api/v1/api-keys", json={"name": "mine"}).json
    assert bob.delete(f"/api/v1/api-keys/{created['id']}").status_code == 404
    assert client.get("/api/v1/auth/me", headers={"Authorization": f"Bearer {created['key']}"}).status_code == 200


def test_made_up_key_is_refused(client):
    assert client.get("/api/v1/auth/me", headers={"Authorization": "Bearer mck_made_up"}).status_code == 401


def test_logout_with_a_key_says_how_to_revoke_it_and_leaves_the_key_alone(auth, client):
    alice = auth.user()
    key = alice.post("/api/v1/api-keys", json={"name": "k"}).json["key"]
    headers = {"Authorization": f"Bearer {key}", "Accept-Language": "en"}
    answer = client.post("/api/v1/auth/logout", headers=headers)
    assert answer.status_code == 400
    assert answer.json["error"]["code"] == "api_key_logout"
    assert "DELETE /api/v1/api-keys/" in answer.json["error"]["message"]
    assert client.get("/api/v1/auth/me", headers=headers).status_code == 200
