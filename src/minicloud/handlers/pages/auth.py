"""Console sign-in, sign-up (with the username check, UC-01) and sign-out."""
from __future__ import annotations

from datetime import date

from minicloud.errors import ApiError, Conflict, ValidationFailed
from minicloud.handlers.api.auth import SIGNUP_BODY
from minicloud.handlers.pages.common import render, safe_next
from minicloud.services.accounts import PASSWORD_MIN, USERNAME, normalize_username
from minicloud.web.messages import field_messages
from minicloud.web.session import PROJECT_COOKIE, clear_session_cookie, set_session_cookie
from minicloud.web.validation import validate

SIGNUP_FIELDS = ("username", "display_name", "email", "birthdate")  # kept when the form comes back


# -- sign-in -----------------------------------------------------------------
def _login_page(ctx, status=200, error=None, username="", next_path=""):
    args = ctx.request.args
    return render(ctx, "login.html", status=status, error=error, next_path=next_path,
                  username=username or args.get("username", ""),
                  signed_up=args.get("signed_up") == "1", signed_out=args.get("signed_out") == "1")


def login_form(ctx):
    next_path = safe_next(ctx.request.args.get("next"), "")
    if ctx.principal is not None:
        return ctx.redirect(next_path or "/dashboard")
    return _login_page(ctx, next_path=next_path)


def login(ctx):
    form = ctx.request.form
    username = form.get("username", "").strip()[:64]
    password = form.get("password", "")
    next_path = safe_next(form.get("next"), "")
    ctx.audit_username = normalize_username(username) or None
    ctx.audit_project_id = ctx.services.accounts.login_audit_project(username) if username else None
    if not username or not password:
        return _login_page(ctx, 422, ctx.t("login.missing"), username, next_path)
    try:
        user_id = ctx.services.accounts.verify_login(username, password[:1024], ctx.request.remote_addr or "")
    except ApiError as exc:
        response = _login_page(ctx, exc.status, exc.message(ctx.lang), username, next_path)
        response.headers.update(exc.headers)
        return response
    ctx.audit_user_id = user_id
    token, ttl = ctx.services.sessions.issue(user_id)
    set_session_cookie(ctx, token, ttl)
    ctx.set_cookie(PROJECT_COOKIE, "", expires=0, path="/")  # the last user's project is not this one's
    return ctx.redirect(next_path or "/dashboard")


def logout(ctx):
    personal = ctx.principal.personal_project
    ctx.audit_project_id = personal.id if personal else None  # beside the logins, in the personal project
    ctx.services.sessions.revoke(ctx.principal)
    clear_session_cookie(ctx)
    ctx.set_cookie(PROJECT_COOKIE, "", expires=0, path="/")
    return ctx.redirect("/login?signed_out=1")


# -- sign-up -----------------------------------------------------------------
def _signup_page(ctx, status=200, values=None, errors=None, availability=None):
    return render(ctx, "signup.html", status=status, values=values or {}, errors=errors or {},
                  availability=availability, password_min=PASSWORD_MIN)


def signup_form(ctx):
    if ctx.principal is not None:
        return ctx.redirect("/dashboard")
    return _signup_page(ctx)


def _availability(ctx, username: str) -> tuple[str, str]:
    """("available" | "taken" | "invalid", message) for the username check button."""
    if not USERNAME.match(username):
        return "invalid", ctx.t("account.username_rule")
    if ctx.services.accounts.username_available(username):
        return "available", ctx.t("signup.available", username=username)
    return "taken", ctx.t("signup.taken", username=username)


def _field_errors(ctx, values: dict, password: str, confirm: str) -> dict[str, str]:
    """The API's sign-up rules (the same schema and account rules), plus what only a form has."""
    body = {name: value for name, value in values.items() if value}
    body["password"] = password
    try:
        validate(body, SIGNUP_BODY, ctx.t)
        errors: dict[str, str] = {}
    except ValidationFailed as exc:
        errors = field_messages(ctx.t, exc.fields)
    if not values["display_name"]:
        errors["display_name"] = ctx.t("signup.display_name_required")
    errors.update(field_messages(ctx.t, ctx.services.accounts.check_signup(values["username"], password)))
    if password != confirm:
        errors["password_confirm"] = ctx.t("signup.password_mismatch")
    if "birthdate" not in errors and values["birthdate"] and date.fromisoformat(values["birthdate"]) > date.today():
        errors["birthdate"] = ctx.t("signup.birthdate_future")
    return errors


def signup(ctx):
    form = ctx.request.form
    values = {name: form.get(name, "").strip()[:300] for name in SIGNUP_FIELDS}
    values["username"] = normalize_username(values["username"])[:64]
    ctx.audit_username = ctx.audit_target = values["username"] or None
    if form.get("action") == "check":
        return _signup_page(ctx, 200, values, availability=_availability(ctx, values["username"]))
    password, confirm = form.get("password", ""), form.get("password_confirm", "")
    errors = _field_errors(ctx, values, password, confirm)
    if errors:
        return _signup_page(ctx, 422, values, errors)
    try:
        user = ctx.services.accounts.signup(values["username"], password, values["display_name"], values["email"] or None,
                                     date.fromisoformat(values["birthdate"]) if values["birthdate"] else None)
    except ValidationFailed as exc:
        return _signup_page(ctx, exc.status, values, field_messages(ctx.t, exc.fields))
    except Conflict as exc:
        return _signup_page(ctx, exc.status, values, {"username": exc.message(ctx.lang)})
    ctx.audit_user_id, ctx.audit_project_id = user["id"], user["projects"][0]["id"]
    return ctx.redirect(ctx.url_for("pages.login_form", signed_up="1", username=values["username"]))
