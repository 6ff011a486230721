"""mcloud ip …: public IPs of the project, mapped 1:1 to mini PCs."""
from __future__ import annotations

import typer

from mcloud.base import command, session
from mcloud.commands import resolve
from mcloud.output import done, show_list, show_one

ips = typer.Typer(help="Public IPs: allocate, list, show, associate, disassociate, release", no_args_is_help=True)

IP_COLUMNS = [("address", "address"), ("pc", "instance.name"), ("id", "id")]


# ---- public IPs ------------------------------------------------------------------------------------

@command(ips, "allocate", help="Take an address from the public pool")
def ip_allocate():
    sess = session()
    answer = sess.client().call("POST", "/public-ips")
    done(sess, sess.t("ip.allocated", address=answer["address"]), answer)


@command(ips, "list", help="The project's public IPs")
def ip_list():
    sess = session()
    show_list(sess, sess.client().all("/public-ips"), IP_COLUMNS, empty="none")


@command(ips, "show", help="A public IP")
def ip_show(ip: str = typer.Argument(..., help="Address or id")):
    sess = session()
    client = sess.client()
    show_one(sess, client.get(f"/public-ips/{resolve.public_ip(client, ip)}"), IP_COLUMNS + [("created_at", "created_at")])


@command(ips, "associate", help="Map the address 1:1 to a mini PC in a public subnet")
def ip_associate(ip: str = typer.Argument(..., help="Address or id"), pc: str = typer.Argument(..., help="Mini PC")):
    sess = session()
    client = sess.client()
    answer = client.call("POST", f"/public-ips/{resolve.public_ip(client, ip)}/associate",
                         json={"instance_id": resolve.pc(client, pc)})
    done(sess, sess.t("ip.associated", address=answer["address"], pc=pc), answer)


@command(ips, "disassociate", help="Take the address off its mini PC")
def ip_disassociate(ip: str = typer.Argument(..., help="Address or id")):
    sess = session()
    client = sess.client()
    answer = client.call("POST", f"/public-ips/{resolve.public_ip(client, ip)}/disassociate")
    done(sess, sess.t("ip.disassociated", address=answer["address"]), answer)


@command(ips, "release", help="Give the address back to the pool")
def ip_release(ip: str = typer.Argument(..., help="Address or id")):
    sess = session()
    client = sess.client()
    client.call("DELETE", f"/public-ips/{resolve.public_ip(client, ip)}")
    done(sess, sess.t("ip.released", address=ip), {"released": ip})
