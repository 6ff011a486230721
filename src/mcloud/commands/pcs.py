"""mcloud pc …: rent, list, show, start, stop, reboot, resize, rename, console, ssh and delete mini PCs."""
from __future__ import annotations

import ipaddress
import os
import shlex
import shutil
import time
from pathlib import Path
from urllib.parse import urlsplit

import typer

from mcloud import exitcodes
from mcloud.base import command, session
from mcloud.client import ApiFailure
from mcloud.commands import resolve
from mcloud.output import done, show_list, show_one
from mcloud.session import Session, escape
from mcloud.waiting import TIMEOUT_OPTION, WAIT_OPTION, wait_operation

app = typer.Typer(help="Mini PCs (virtual machines): create, list, show, start, stop, reboot, resize, rename, "
                       "console, ssh, delete", no_args_is_help=True)

COLUMNS = [("name", "name"), ("state", "state"), ("template", "template.name"), ("image", "image.name"),
           ("address", lambda i: i.get("private_ip") or ", ".join(i.get("addresses") or [])),
           ("public_ip", "public_ip"), ("id", "id")]
DETAIL = [("name", "name"), ("id", "id"), ("state", "state"), ("status_reason", "status_reason"),
          ("template", "template.name"), ("image", "image.name"), ("keypair", "keypair.name"), ("host", "host.name"),
          ("vcpus", "vcpus"), ("ram_mib", "ram_mib"), ("disk_gib", "disk_gib"), ("addresses", "addresses"),
          ("private_ip", "private_ip"), ("public_ip", "public_ip"),
          ("security_groups", lambda i: [g["name"] for g in i.get("security_groups") or []]),
          ("ssh", "connect.ssh"), ("allowed_actions", "allowed_actions"), ("created_at", "created_at")]


def _after(sess: Session, answer: dict, message_key: str, wait: bool, timeout: float) -> None:
    """Print what was accepted; with --wait follow its operation, then show the mini PC as it is now."""
    if wait:
        wait_operation(sess, answer["operation_id"], timeout)
        try:
            answer = sess.client().get(f"/instances/{answer['id']}")
        except ApiFailure as failure:  # deleted: the operation's end is the answer
            if failure.status != 404:
                raise
            done(sess, sess.t("pc.deleted", name=answer["name"]), {"id": answer["id"], "state": "deleted"})
            return
    if sess.json:
        show_one(sess, answer, DETAIL)
        return
    key = "pc.state" if wait else message_key
    sess.out.print(escape(sess.t(key, name=answer["name"], state=sess.t(f"state.{answer['state']}"))))
    if not wait and answer.get("operation_id"):
        sess.out.print(escape(sess.t("pc.follow", id=answer["operation_id"])))


@command(app, "create", help="Rent a mini PC (answers at once; --wait follows the build)")
def create(name: str = typer.Option(..., "--name", "-n", help="Its name (letters, digits, hyphens)"),
           template: str = typer.Option(..., "--template", "-t", help="Template name or id (mcloud template list)"),
           image: str = typer.Option(None, "--image", "-i", help="Image name or id (mcloud image list)"),
           keypair: str = typer.Option(None, "--keypair", "-k", help="Key pair name or id for SSH"),
           password: str = typer.Option(None, "--password", help="A password for the default user"),
           user_data: Path = typer.Option(None, "--user-data", exists=True, dir_okay=False,
                                          help="A cloud-init user-data file"),
           subnet: str = typer.Option(None, "--subnet", help="Subnet name or id (default: the default VPC's)"),
           security_group: list[str] = typer.Option(None, "--sg", help="Security group name or id (repeatable)"),
           wait: bool = WAIT_OPTION, timeout: float = TIMEOUT_OPTION) -> None:
    sess = session()
    client = sess.client()
    body = {"name": name, "template_id": resolve.template(client, template)}
    if image:
        body["image_id"] = resolve.image(client, image)
    if keypair:
        body["keypair_id"] = resolve.keypair(client, keypair)
    if password:
        body["password"] = password
    if user_data:
        body["user_data"] = user_data.read_text()
    if subnet:
        body["subnet_id"] = resolve.subnet(client, subnet)
    if security_group:
        body["security_group_ids"] = [resolve.security_group(client, g) for g in security_group]
    _after(sess, client.call("POST", "/instances", json=body), "pc.created", wait, timeout)


@command(app, "list", help="The project's mini PCs")
def list_pcs(state: str = typer.Option(None, "--state", help="Only those in this state, e.g. running")) -> None:
    sess = session()
    show_list(sess, sess.client().all("/instances", state=state), COLUMNS, empty="pc.none")


@command(app, "show", help="A mini PC: state, specs, addresses, how to connect")
def show(pc: str = typer.Argument(..., help="Name or id")) -> None:
    sess = session()
    client = sess.client()
    show_one(sess, client.get(f"/instances/{resolve.pc(client, pc)}"), DETAIL)


def _action(verb: str, message_key: str):
    def act(pc: str = typer.Argument(..., help="Name or id"), wait: bool = WAIT_OPTION,
            timeout: float = TIMEOUT_OPTION) -> None:
        sess = session()
        client = sess.client()
        _after(sess, client.call("POST", f"/instances/{resolve.pc(client, pc)}/{verb}"), message_key, wait, timeout)
    act.__name__ = verb
    return act


command(app, "start", help="Start a stopped mini PC")(_action("start", "pc.starting"))
command(app, "stop", help="Shut a running mini PC down")(_action("stop", "pc.stopping"))
command(app, "reboot", help="Restart a running mini PC")(_action("reboot", "pc.rebooting"))


@command(app, "resize", help="Give a stopped mini PC another template's vCPUs and RAM")
def resize(pc: str = typer.Argument(..., help="Name or id"),
           template: str = typer.Option(..., "--template", "-t", help="Template name or id"),
           wait: bool = WAIT_OPTION, timeout: float = TIMEOUT_OPTION) -> None:
    sess = session()
    client = sess.client()
    answer = client.call("POST", f"/instances/{resolve.pc(client, pc)}/resize",
                         json={"template_id": resolve.template(client, template)})
    _after(sess, answer, "pc.resizing", wait, timeout)


@command(app, "rename", help="Rename a mini PC")
def rename(pc: str = typer.Argument(..., help="Name or id"), new_name: str = typer.Argument(..., help="New name")):
    sess = session()
    client = sess.client()
    answer = client.call("PATCH", f"/instances/{resolve.pc(client, pc)}", json={"name": new_name})
    done(sess, sess.t("pc.renamed", old=pc, name=answer["name"]), answer)


@command(app, "delete", help="Delete a mini PC and its disk")
def delete(pc: str = typer.Argument(..., help="Name or id"),
           yes: bool = typer.Option(False, "--yes", "-y", help="Do not ask first"),
           wait: bool = WAIT_OPTION, timeout: float = TIMEOUT_OPTION) -> None:
    sess = session()
    client = sess.client()
    instance_id = resolve.pc(client, pc)
    if not yes:
        typer.confirm(sess.t("pc.confirm_delete", name=pc), abort=True, err=True)
    _after(sess, client.call("DELETE", f"/instances/{instance_id}"), "pc.deleting", wait, timeout)


@command(app, "set-sg", help="Replace a mini PC's security groups")
def set_security_groups(pc: str = typer.Argument(..., help="Name or id"),
                        security_group: list[str] = typer.Option(..., "--sg", help="Name or id (repeatable)")):
    sess = session()
    client = sess.client()
    instance_id = resolve.pc(client, pc)
    ids = [resolve.security_group(client, g) for g in security_group]
    answer = client.call("PUT", f"/instances/{instance_id}/security-groups", json={"security_group_ids": ids})
    done(sess, sess.t("pc.security_groups", name=answer["name"],
                      groups=", ".join(g["name"] for g in answer["security_groups"])), answer)


@command(app, "console", help="Print the serial console output (--follow keeps printing; --send types a line)")
def console(pc: str = typer.Argument(..., help="Name or id"),
            follow: bool = typer.Option(False, "--follow", "-f", help="Keep printing new output (Ctrl-C stops)"),
            send: str = typer.Option(None, "--send", help="Type this line (and Enter) on the console first"),
            max_bytes: int = typer.Option(None, "--bytes", help="How much of the tail to print")) -> None:
    sess = session()
    client = sess.client()
    instance_id = resolve.pc(client, pc)
    if send is not None:
        client.call("POST", f"/instances/{instance_id}/console", json={"input": send + "\n"})
    output = client.get(f"/instances/{instance_id}/console", max_bytes=max_bytes)["output"]
    if sess.json and not follow:
        done(sess, "", {"output": output})
        return
    sess.out.out(output, end="", highlight=False)
    try:
        while follow:
            time.sleep(1.0)
            current = client.get(f"/instances/{instance_id}/console", max_bytes=max_bytes)["output"]
            sess.out.out(_new_part(output, current), end="", highlight=False)
            output = current
    except KeyboardInterrupt:
        pass


def _new_part(before: str, now: str) -> str:
    """What ``now`` (a tail of the console) adds to ``before``."""
    if now == before:
        return ""
    anchor = before[-256:]
    at = now.rfind(anchor) if anchor else -1
    return now[at + len(anchor):] if at >= 0 else now


@command(app, "ssh", help="Open SSH to the mini PC (its public IP, forwarded port, or through the server as a jump host)",
         context_settings={"allow_extra_args": True, "ignore_unknown_options": True})
def ssh(ctx: typer.Context, pc: str = typer.Argument(..., help="Name or id"),
        identity: Path = typer.Option(None, "--identity", "-i", help="Private key file (ssh -i)"),
        user: str = typer.Option(None, "--user", "-l", help="Log in as this user (default: the image's user)"),
        jump: str = typer.Option(None, "--jump", "-J",
                                 help="Jump host (default: the server's host when the address is not reachable "
                                      "from here; 'none' to never jump)"),
        print_only: bool = typer.Option(False, "--print", help="Print the ssh command instead of running it")):
    sess = session()
    client = sess.client()
    instance = client.get(f"/instances/{resolve.pc(client, pc)}")
    if instance["state"] != "running":
        sess.fail(sess.t("pc.ssh_not_running", name=instance["name"], state=sess.t(f"state.{instance['state']}")),
                  exitcodes.CONFLICT)
    argv = ssh_command(instance, urlsplit(client.url).hostname or "127.0.0.1", identity=identity, user=user,
                       jump=jump, extra=list(ctx.args))
    if argv is None:
        sess.fail(sess.t("pc.ssh_no_address", name=instance["name"]), exitcodes.API_REFUSED)
    if print_only or sess.json:
        done(sess, shlex.join(argv), {"argv": argv, "command": shlex.join(argv)})
        return
    if shutil.which("ssh") is None:
        sess.fail(sess.t("pc.ssh_missing"), exitcodes.API_REFUSED)
    os.execvp("ssh", argv)


def _loopback_or_private(address: str) -> bool:
    try:
        ip = ipaddress.ip_address(address)
    except ValueError:
        return address == "localhost"
    return ip.is_loopback or ip.is_private


def ssh_command(instance: dict, server_host: str, *, identity: Path | None = None, user: str | None = None,
                jump: str | None = None, extra: list[str] | None = None) -> list[str] | None:
    """The ssh argv for the mini PC: its public IP if it has one, else what the API says to connect with
    (a forwarded port on the server, or its private address), through the server as a jump host when that
    address can only be reached from the server."""
    suggested = (instance.get("connect") or {}).get("ssh")
    if instance.get("public_ip"):
        login_user = user or _user_of(suggested) or "student"
        argv = ["ssh", f"{login_user}@{instance['public_ip']}"]
        needs_jump = False
    elif suggested:
        argv = shlex.split(suggested)
        target = argv[-1]
        host = target.split("@", 1)[-1]
        if user:
            argv[-1] = f"{user}@{host}"
        needs_jump = _loopback_or_private(host) and not _loopback_or_private(server_host)
    else:
        return None
    if jump and jump.lower() != "none":
        argv[1:1] = ["-J", jump]
    elif jump is None and needs_jump:
        argv[1:1] = ["-J", server_host]
    if identity:
        argv[1:1] = ["-i", str(identity)]
    return argv + list(extra or [])


def _user_of(suggested: str | None) -> str | None:
    if not suggested:
        return None
    target = shlex.split(suggested)[-1]
    return target.split("@", 1)[0] if "@" in target else None
