"""mcloud login | logout | whoami: a token (username and password) or an API key, stored per profile."""
from __future__ import annotations

import typer

from mcloud import exitcodes
from mcloud.base import command, session
from mcloud.client import ApiClient, ApiFailure
from mcloud.config import Profile
from mcloud.output import done, show_list, show_one

def register(app: typer.Typer) -> None:
    command(app, "login", help="Sign in and store the token (or an API key) in the profile")(login)
    command(app, "logout", help="Revoke the stored token and forget it")(logout)
    command(app, "whoami", help="Who the profile is signed in as, with their projects")(whoami)

def login(username: str = typer.Option(None, "--username", "-u", help="Your minicloud username"),
          password: str = typer.Option(None, "--password", envvar="MCLOUD_PASSWORD",
                                       help="Asked for when not given (never echoed)"),
          api_key: str = typer.Option(None, "--api-key", envvar="MCLOUD_API_KEY",
                                      help="Sign in with an API key (mck_…) instead of a password"),
          url: str = typer.Option(None, "--url", help="The server, e.g. http://127.0.0.1:8080"),
          profile: str = typer.Option(None, "--profile", "-p", help="Store it under this profile name")) -> None:
    sess = session()
    config = sess.config
    name = profile or sess.profile_name or config.current
    stored = config.profile(name)
    server = (url or sess.url or stored.url).rstrip("/")
    if api_key:
        if not api_key.startswith("mck_"):
            sess.fail(sess.t("login.bad_api_key"), exitcodes.USAGE)
        with ApiClient(server, secret=api_key, lang=sess.lang) as client:
            me = client.get("/auth/me")
        new = Profile(name=name, url=server, api_key=api_key, username=me["username"])
    else:
        username = username or typer.prompt(sess.t("login.username"))
        password = password or typer.prompt(sess.t("login.password"), hide_input=True)
        with ApiClient(server, secret=None, lang=sess.lang) as anonymous:
            token = anonymous.call("POST", "/auth/login", json={"username": username, "password": password})
        with ApiClient(server, secret=token["access_token"], lang=sess.lang) as client:
            me = client.get("/auth/me")
        new = Profile(name=name, url=server, token=token["access_token"], username=me["username"])
    config.profiles[name] = new
    config.current = name
    config.save()
    done(sess, sess.t("login.done", username=me["username"], url=server, profile=name),
         {"profile": name, "url": server, "username": me["username"], "via": "api_key" if api_key else "token"})

def logout(profile: str = typer.Option(None, "--profile", "-p", help="The profile to sign out of")) -> None:
    sess = session()
    config = sess.config
    stored = config.profile(profile or sess.profile_name)
    if not stored.secret:
        sess.fail(sess.t("not_logged_in", profile=stored.name), exitcodes.NOT_LOGGED_IN)
    if stored.token:
        try:
            with ApiClient(stored.url, secret=stored.token, lang=sess.lang) as client:
                client.call("POST", "/auth/logout")
        except ApiFailure as failure:
            if failure.status not in (401, 403):   # an expired token is as good as revoked
                raise
    config.profiles[stored.name] = Profile(name=stored.name, url=stored.url, project=stored.project)
    config.save()
    done(sess, sess.t("logout.done", profile=stored.name), {"profile": stored.name})

def whoami() -> None:
    sess = session()
    client = sess.client()
    me = client.get("/auth/me")
    if sess.json:
        show_one(sess, me | {"profile": sess.profile.name, "url": client.url, "acting_project": client.project_id},
                 [])
        return
    show_one(sess, me | {"profile": sess.profile.name, "url": client.url,
                         "via": "api_key" if sess.profile.api_key else "token"},
             [("username", "username"), ("display_name", "display_name"), ("is_admin", "is_admin"),
              ("profile", "profile"), ("url", "url"), ("via", "via")])
    acting = client.project_id
    show_list(sess, [p | {"acting": "*" if (p["id"] == acting if acting else p["personal"]) else ""}
                     for p in me["projects"]],
              [("acting", "acting"), ("name", "name"), ("role", "role"), ("personal", "personal"), ("id", "id")])

