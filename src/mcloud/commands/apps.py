"""mcloud app …: container images deployed on the server's Kubernetes, each with its own URL."""
from __future__ import annotations

import typer

from mcloud import exitcodes
from mcloud.base import command, session
from mcloud.commands import resolve
from mcloud.output import done, show_list, show_one
from mcloud.session import Session, escape
from mcloud.waiting import TIMEOUT_OPTION, WAIT_OPTION, wait_until

app = typer.Typer(help="Apps (containers with a URL): deploy, list, show, logs, scale, redeploy, delete",
                  no_args_is_help=True)

COLUMNS = [("name", "name"), ("status", "status"), ("replicas", lambda a: f"{a['ready_replicas']}/{a['replicas']}"),
           ("image", "image"), ("url", "url"), ("id", "id")]
DETAIL = [("name", "name"), ("id", "id"), ("status", "status"), ("message", "message"), ("url", "url"),
          ("image", "image"), ("port", "port"), ("replicas", lambda a: f"{a['ready_replicas']}/{a['replicas']}"),
          ("size", lambda a: f"{a['size']} ({a['cpu']}, {a['memory']})"), ("env", "env"),
          ("created_at", "created_at"), ("updated_at", "updated_at")]
SETTLING = ("PENDING", "DEPLOYING")


def _follow(sess: Session, app_id: str, timeout: float, *, gone: bool = False) -> dict | None:
    client = sess.client()

    def describe(current):
        if current is None:
            return sess.t("app.wait_gone")
        return sess.t("app.wait", name=current["name"], status=sess.t(f"state.{current['status']}"),
                      ready=current["ready_replicas"], replicas=current["replicas"])

    finished = (lambda a: a is None) if gone else (lambda a: a is None or a["status"] not in SETTLING)
    return wait_until(sess, lambda: client.get(f"/apps/{app_id}"), finished, describe, timeout, app_id)


def _accepted(sess: Session, answer: dict, key: str, wait: bool, timeout: float) -> None:
    if wait:
        answer = _follow(sess, answer["id"], timeout) or answer
        if answer["status"] not in ("RUNNING", "STOPPED"):   # STOPPED: scaled to 0, as asked
            show_one(sess, answer, DETAIL)
            raise typer.Exit(exitcodes.API_REFUSED)
    if sess.json:
        show_one(sess, answer, DETAIL)
    else:
        sess.out.print(escape(sess.t(key, name=answer["name"], status=sess.t(f"state.{answer['status']}"),
                                     url=answer["url"])))


def _env(pairs: list[str] | None) -> dict[str, str]:
    env = {}
    for pair in pairs or []:
        if "=" not in pair:
            raise typer.BadParameter(f"{pair!r}: NAME=value", param_hint="--env")
        name, value = pair.split("=", 1)
        env[name] = value
    return env


@command(app, "deploy", help="Deploy a container image (answers at once; --wait until it runs)")
def deploy(name: str = typer.Option(..., "--name", "-n", help="Any name; it makes the URL"),
           image: str = typer.Option(..., "--image", "-i", help="e.g. nginx:1.27"),
           port: int = typer.Option(..., "--port", help="The port the container listens on"),
           replicas: int = typer.Option(None, "--replicas", "-r", help="How many copies (default 1)"),
           size: str = typer.Option(None, "--size", help="small | medium | large"),
           env: list[str] = typer.Option(None, "--env", "-e", help="NAME=value (repeatable)"),
           wait: bool = WAIT_OPTION, timeout: float = TIMEOUT_OPTION):
    sess = session()
    body = {"name": name, "image": image, "port": port, "env": _env(env)}
    if replicas is not None:
        body["replicas"] = replicas
    if size:
        body["size"] = size
    _accepted(sess, sess.client().call("POST", "/apps", json=body), "app.deploying", wait, timeout)


@command(app, "list", help="The project's apps")
def list_apps():
    sess = session()
    show_list(sess, sess.client().all("/apps"), COLUMNS, empty="app.none")


@command(app, "show", help="An app: status, URL, replicas, image")
def show(name: str = typer.Argument(..., help="Name or id")):
    sess = session()
    client = sess.client()
    show_one(sess, client.get(f"/apps/{resolve.app(client, name)}"), DETAIL)


@command(app, "logs", help="The last lines of the app's container logs")
def logs(name: str = typer.Argument(..., help="Name or id"),
         tail: int = typer.Option(None, "--tail", help="How many lines")):
    sess = session()
    client = sess.client()
    answer = client.get(f"/apps/{resolve.app(client, name)}/logs", tail=tail)
    if sess.json:
        done(sess, "", answer)
    else:
        for line in answer["lines"]:
            sess.out.out(line, highlight=False)


@command(app, "scale", help="Change the number of replicas")
def scale(name: str = typer.Argument(..., help="Name or id"), replicas: int = typer.Argument(..., help="How many"),
          wait: bool = WAIT_OPTION, timeout: float = TIMEOUT_OPTION):
    sess = session()
    client = sess.client()
    answer = client.call("POST", f"/apps/{resolve.app(client, name)}/scale", json={"replicas": replicas})
    _accepted(sess, answer, "app.scaling", wait, timeout)


@command(app, "redeploy", help="Roll the app out again, optionally with another image")
def redeploy(name: str = typer.Argument(..., help="Name or id"),
             image: str = typer.Option(None, "--image", "-i", help="Another image"),
             wait: bool = WAIT_OPTION, timeout: float = TIMEOUT_OPTION):
    sess = session()
    client = sess.client()
    body = {"image": image} if image else {}
    answer = client.call("POST", f"/apps/{resolve.app(client, name)}/redeploy", json=body)
    _accepted(sess, answer, "app.deploying", wait, timeout)


@command(app, "delete", help="Delete an app and everything it had on Kubernetes")
def delete(name: str = typer.Argument(..., help="Name or id"),
           yes: bool = typer.Option(False, "--yes", "-y", help="Do not ask first"),
           wait: bool = WAIT_OPTION, timeout: float = TIMEOUT_OPTION):
    sess = session()
    client = sess.client()
    app_id = resolve.app(client, name)
    if not yes:
        typer.confirm(sess.t("confirm_delete", kind=sess.t("kind.app"), name=name), abort=True, err=True)
    answer = client.call("DELETE", f"/apps/{app_id}")
    if wait:
        _follow(sess, app_id, timeout, gone=True)
        done(sess, sess.t("deleted", kind=sess.t("kind.app"), name=answer["name"]), {"id": app_id, "deleted": True})
        return
    done(sess, sess.t("app.deleting", name=answer["name"]), answer)
