"""mcloud image list, template list, quota, audit: what one may rent, how much is left, what happened."""
from __future__ import annotations

import typer

from mcloud.base import command, session
from mcloud.output import show_list

images = typer.Typer(help="Images to boot mini PCs from", no_args_is_help=True)
templates = typer.Typer(help="Mini PC templates (sizes)", no_args_is_help=True)

IMAGE_COLUMNS = [("name", "name"), ("os", "os"), ("default_user", "default_user"), ("min_disk_gib", "min_disk_gib"),
                 ("id", "id")]
TEMPLATE_COLUMNS = [("name", "name"), ("vcpus", "vcpus"), ("ram_mib", "ram_mib"), ("disk_gib", "disk_gib"),
                    ("gpus", "gpus"), ("description", "description")]
AUDIT_COLUMNS = [("at", "at"), ("username", "username"), ("action", "action"), ("target", "target"),
                 ("result", "result"), ("status", lambda e: str(e["status"]))]


@command(images, "list", help="Images to boot mini PCs from")
def image_list():
    sess = session()
    show_list(sess, sess.client().all("/images"), IMAGE_COLUMNS, empty="none")


@command(templates, "list", help="Mini PC templates: vCPUs, RAM, disk")
def template_list():
    sess = session()
    show_list(sess, sess.client().all("/templates"), TEMPLATE_COLUMNS, empty="none")


def register(app: typer.Typer) -> None:
    command(app, "quota", help="The acting project's limits and what it uses")(quota)
    command(app, "audit", help="The audit log of the acting project, newest first (project admins)")(audit)


def quota():
    sess = session()
    answer = sess.client().get("/quotas")
    rows = [{"resource": name, "used": answer["usage"].get(name), "limit": limit,
             "left": limit - (answer["usage"].get(name) or 0) if isinstance(limit, int) else None}
            for name, limit in answer["limits"].items()]
    show_list(sess, [r | {"resource": sess.t(f"quota.{r['resource']}")} for r in rows],
              [("resource", "resource"), ("used", "used"), ("limit", "limit"), ("left", "left")], json_data=answer)


def audit(action: str = typer.Option(None, "--action", help="Only this action, e.g. instances.create"),
          username: str = typer.Option(None, "--user", help="Only this user's"),
          result: str = typer.Option(None, "--result", help="success | failure"),
          since: str = typer.Option(None, "--since", help="ISO-8601 time"),
          until: str = typer.Option(None, "--until", help="ISO-8601 time"),
          limit: int = typer.Option(50, "--limit", help="How many entries"),
          all_projects: bool = typer.Option(False, "--all-projects", help="Every project (global admins)")):
    sess = session()
    answer = sess.client().get("/audit", action=action, username=username, result=result, since=since, until=until,
                               limit=limit, all_projects=True if all_projects else None)
    show_list(sess, answer["items"], AUDIT_COLUMNS, empty="none", json_data=answer)
