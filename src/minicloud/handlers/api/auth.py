"""/api/v1/auth: sign-up, username check, login, logout, me (UC-01)."""
from __future__ import annotations

from datetime import date

from minicloud.errors import BadRequest
from minicloud.handlers.api.projects import PROJECT, ROLE
from minicloud.web.schemas import BOOLEAN, DATE, STRING, TIME, UUID, array, extended, located, nullable, obj
from minicloud.web.session import clear_session_cookie, set_session_cookie

SIGNUP_BODY = {
    "type": "object",
    "required": ["username", "password", "display_name"],
    "additionalProperties": False,
    "properties": {
        "username": {"type": "string", "minLength": 3, "maxLength": 32},
        "password": {"type": "string"},
        "display_name": {"type": "string", "minLength": 1, "maxLength": 100},
        "email": {"type": "string", "format": "email", "maxLength": 254},
        "birthdate": {"type": "string", "format": "date"},
    },
}
LOGIN_BODY = {
    "type": "object",
    "required": ["username", "password"],
    "properties": {"username": {"type": "string", "maxLength": 64}, "password": {"type": "string", "maxLength": 1024}},
}
AVAILABLE_QUERY = {
    "type": "object",
    "required": ["username"],
    "properties": {"username": {"type": "string", "maxLength": 64}},
}

USER = obj({"id": UUID, "username": STRING, "display_name": STRING, "email": nullable(STRING),
            "birthdate": nullable(DATE), "is_admin": BOOLEAN, "created_at": TIME})
SIGNED_UP = located(extended(USER, {"projects": array(PROJECT, description="The personal project")}))
AVAILABLE = obj({"username": STRING, "available": BOOLEAN})
TOKEN = obj({"access_token": {"type": "string", "description": "A JWT: send it as Authorization: Bearer <token>"},
             "token_type": {"type": "string", "enum": ["Bearer"]},
             "expires_in": {"type": "integer", "minimum": 1, "description": "Seconds the token is valid"}})
ME = extended(USER, {"projects": array(obj({"id": UUID, "name": STRING, "role": ROLE, "personal": BOOLEAN}),
                                       description="Every project the user is a member of, the personal one first")})


def signup(ctx):
    body = ctx.body()
    birthdate = date.fromisoformat(body["birthdate"]) if body.get("birthdate") else None
    user = ctx.services.accounts.signup(body["username"], body["password"], body["display_name"],
                                        body.get("email"), birthdate)
    ctx.audit_target = user["username"]
    ctx.audit_username = user["username"]
    ctx.audit_user_id = user["id"]
    ctx.audit_project_id = user["projects"][0]["id"]
    return ctx.respond(user, 201, {"Location": ctx.url_for("auth.me")})


def username_available(ctx):
    query = ctx.query()
    return ctx.respond({"username": query["username"],
                        "available": ctx.services.accounts.username_available(query["username"])})


def login(ctx):
    body = ctx.body()
    ctx.audit_username = body["username"].strip().lower()
    ctx.audit_project_id = ctx.services.accounts.login_audit_project(body["username"])
    user_id = ctx.services.accounts.verify_login(body["username"], body["password"], ctx.request.remote_addr or "")
    ctx.audit_user_id = user_id
    token, ttl = ctx.services.sessions.issue(user_id)
    set_session_cookie(ctx, token, ttl)
    return ctx.respond({"access_token": token, "token_type": "Bearer", "expires_in": ttl})


def logout(ctx):
    """Revoke the access token in use. An API key is not a session: it answers 400 ``api_key_logout``
    and stays valid (revoke it with DELETE /api/v1/api-keys/{id})."""
    if ctx.principal.via == "api_key":
        raise BadRequest("error.api_key_logout", code="api_key_logout")
    ctx.services.sessions.revoke(ctx.principal)
    clear_session_cookie(ctx)
    return ctx.respond(None, 204)


def me(ctx):
    user = ctx.principal.as_dict()
    user["projects"] = [
        {"id": p.id, "name": p.name, "role": p.role, "personal": p.personal} for p in ctx.principal.projects
    ]
    return ctx.respond(user)
