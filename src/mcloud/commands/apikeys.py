"""mcloud apikey …: API keys for scripts (the secret is shown once, when made)."""
from __future__ import annotations

import typer

from mcloud.base import command, session
from mcloud.commands import resolve
from mcloud.output import done, show_list
from mcloud.session import escape

app = typer.Typer(help="API keys: create (the secret shown once), list, revoke", no_args_is_help=True)

COLUMNS = [("name", "name"), ("prefix", "prefix"), ("created_at", "created_at"), ("last_used_at", "last_used_at"),
           ("id", "id")]


@command(app, "create", help="Create an API key: its secret is printed once, on stdout (mcloud login --api-key)")
def create(name: str = typer.Argument(..., help="What it is for")):
    sess = session()
    answer = sess.client().call("POST", "/api-keys", json={"name": name})
    if sess.json:
        done(sess, "", answer)
        return
    sess.err.print(escape(sess.t("apikey.created", name=answer["name"])))
    print(answer["key"])


@command(app, "list", help="Your live API keys (without secrets)")
def list_keys():
    sess = session()
    show_list(sess, sess.client().all("/api-keys"), COLUMNS, empty="none")


@command(app, "revoke", help="Revoke one of your API keys")
def revoke(key: str = typer.Argument(..., help="Name or id")):
    sess = session()
    client = sess.client()
    key_id = resolve.api_key(client, key)
    client.call("DELETE", f"/api-keys/{key_id}")
    done(sess, sess.t("apikey.revoked", name=key), {"id": key_id})
