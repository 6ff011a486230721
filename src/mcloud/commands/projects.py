"""mcloud project …: projects, the one commands act in (``use``), and their members."""
from __future__ import annotations

import typer

from mcloud import exitcodes
from mcloud.base import command, session
from mcloud.commands import resolve
from mcloud.output import done, show_list, show_one
from mcloud.waiting import TIMEOUT_OPTION, WAIT_OPTION, wait_operation

app = typer.Typer(help="Projects: list, show, create, rename, delete, use, and members", no_args_is_help=True)
members = typer.Typer(help="A project's members: list, add, set-role, remove", no_args_is_help=True)
app.add_typer(members, name="member")

COLUMNS = [("acting", "acting"), ("name", "name"), ("role", "role"), ("personal", "personal"),
           ("description", "description"), ("id", "id")]
MEMBER_COLUMNS = [("username", "username"), ("display_name", "display_name"), ("role", "role"),
                  ("user_id", "user_id")]


def _acting(sess) -> str | None:
    return sess.client().project_id or None


@command(app, "list", help="The projects you belong to (* marks the one commands act in)")
def list_projects():
    sess = session()
    client = sess.client()
    acting = _acting(sess)
    items = [p | {"acting": "*" if p["id"] == acting else ""} for p in client.all("/projects")]
    if not acting:   # the API's default: the personal project
        items = [p | {"acting": "*" if p["personal"] else ""} for p in items]
    show_list(sess, items, COLUMNS, json_data=[{k: v for k, v in p.items() if k != "acting"} for p in items])


@command(app, "show", help="A project with its members")
def show(project: str = typer.Argument(None, help="Name or id (default: the acting project)")):
    sess = session()
    client = sess.client()
    project_id = resolve.project(client, project) if project else _acting(sess) or _personal(client)
    found = client.get(f"/projects/{project_id}")
    if sess.json:
        show_one(sess, found, [])
        return
    show_one(sess, found, COLUMNS[1:] + [("created_at", "created_at")], title=found["name"])
    show_list(sess, found["members"], MEMBER_COLUMNS)


def _personal(client) -> str:
    return next(str(p["id"]) for p in client.all("/projects") if p["personal"])


@command(app, "create", help="Create a project; you become its admin")
def create(name: str = typer.Argument(..., help="Its name"),
           description: str = typer.Option(None, "--description", help="What it is for")):
    sess = session()
    body = {"name": name} | ({"description": description} if description else {})
    answer = sess.client().call("POST", "/projects", json=body)
    done(sess, sess.t("created", kind=sess.t("kind.project"), name=answer["name"]), answer)


@command(app, "rename", help="Rename a project")
def rename(project: str = typer.Argument(..., help="Name or id"), new_name: str = typer.Argument(..., help="New name")):
    sess = session()
    client = sess.client()
    answer = client.call("PATCH", f"/projects/{resolve.project(client, project)}", json={"name": new_name})
    done(sess, sess.t("renamed", kind=sess.t("kind.project"), old=project, name=answer["name"]), answer)


@command(app, "delete", help="Delete a project and everything in it (a job; --wait follows it)")
def delete(project: str = typer.Argument(..., help="Name or id"),
           yes: bool = typer.Option(False, "--yes", "-y", help="Do not ask for the name first"),
           wait: bool = WAIT_OPTION, timeout: float = TIMEOUT_OPTION):
    sess = session()
    client = sess.client()
    project_id = resolve.project(client, project)
    if not yes:
        typed = typer.prompt(sess.t("project.confirm_delete", name=project), err=True)
        if typed != project:
            sess.fail(sess.t("project.not_confirmed"), exitcodes.API_REFUSED)
    answer = client.call("DELETE", f"/projects/{project_id}")
    if wait:
        wait_operation(sess, answer["operation_id"], timeout)
        done(sess, sess.t("deleted", kind=sess.t("kind.project"), name=project), answer)
    else:
        done(sess, sess.t("accepted", id=answer["operation_id"]), answer)
    if sess.profile.project == project_id:
        sess.profile.project = None
        sess.config.profiles[sess.profile.name] = sess.profile
        sess.config.save()


@command(app, "use", help="Act in this project from now on (stored in the profile); --clear: your personal one")
def use(project: str = typer.Argument(None, help="Name or id"),
        clear: bool = typer.Option(False, "--clear", help="Back to the personal project")):
    sess = session()
    profile = sess.profile
    if clear or not project:
        profile.project = None
        name = None
    else:
        client = sess.client()
        profile.project = resolve.project(client, project)
        name = client.get(f"/projects/{profile.project}")["name"]
    sess.config.profiles[profile.name] = profile
    sess.config.save()
    done(sess, sess.t("project.using", name=name) if name else sess.t("project.using_personal"),
         {"profile": profile.name, "project": profile.project})


@command(members, "list", help="Members and their roles")
def member_list(project: str = typer.Option(None, "--of", help="The project (default: the acting one)")):
    sess = session()
    client = sess.client()
    project_id = resolve.project(client, project) if project else _acting(sess) or _personal(client)
    show_list(sess, client.all(f"/projects/{project_id}/members"), MEMBER_COLUMNS)


def _member_id(client, project_id: str, username: str) -> str:
    return str(client.resolve(f"/projects/{project_id}/members", username, kind="member", key="username")["user_id"])


@command(members, "add", help="Add a member with a role (admin | user | viewer)")
def member_add(username: str = typer.Argument(..., help="Their username"),
               role: str = typer.Option("user", "--role", help="admin | user | viewer"),
               project: str = typer.Option(None, "--of", help="The project (default: the acting one)")):
    sess = session()
    client = sess.client()
    project_id = resolve.project(client, project) if project else _acting(sess) or _personal(client)
    answer = client.call("POST", f"/projects/{project_id}/members", json={"username": username, "role": role})
    done(sess, sess.t("member.added", username=answer["username"], role=answer["role"]), answer)


@command(members, "set-role", help="Change a member's role")
def member_role(username: str = typer.Argument(..., help="Their username"),
                role: str = typer.Argument(..., help="admin | user | viewer"),
                project: str = typer.Option(None, "--of", help="The project (default: the acting one)")):
    sess = session()
    client = sess.client()
    project_id = resolve.project(client, project) if project else _acting(sess) or _personal(client)
    answer = client.call("PATCH", f"/projects/{project_id}/members/{_member_id(client, project_id, username)}",
                         json={"role": role})
    done(sess, sess.t("member.changed", username=username, role=answer["role"]), answer)


@command(members, "remove", help="Remove a member (not the owner)")
def member_remove(username: str = typer.Argument(..., help="Their username"),
                  project: str = typer.Option(None, "--of", help="The project (default: the acting one)")):
    sess = session()
    client = sess.client()
    project_id = resolve.project(client, project) if project else _acting(sess) or _personal(client)
    client.call("DELETE", f"/projects/{project_id}/members/{_member_id(client, project_id, username)}")
    done(sess, sess.t("member.removed", username=username), {"removed": username})
