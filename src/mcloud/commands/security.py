"""mcloud sg | acl …: security groups (per mini PC) and network ACLs (per subnet)."""
from __future__ import annotations

import typer

from mcloud.base import command, session
from mcloud.commands import resolve
from mcloud.commands.vpcs import VPC_OPTION
from mcloud.output import done, show_list, show_one

groups = typer.Typer(help="Security groups: create, list, show, delete, add-rule, delete-rule", no_args_is_help=True)
acls = typer.Typer(help="Network ACLs of a VPC: create, list, show, delete, add-entry, delete-entry",
                   no_args_is_help=True)

GROUP_COLUMNS = [("name", "name"), ("vpc", "vpc_id"), ("default", "is_default"),
                 ("rules", lambda g: len(g["rules"])), ("id", "id")]
RULE_COLUMNS = [("direction", "direction"), ("protocol", "protocol"), ("ports", lambda r: _ports(r)),
                ("source", lambda r: r.get("cidr") or r.get("source_group_id")), ("description", "description"),
                ("id", "id")]
ACL_COLUMNS = [("name", "name"), ("default", "is_default"), ("entries", lambda a: len(a["entries"])),
               ("subnets", lambda a: [s.get("name", s.get("id")) for s in a["subnets"]]), ("id", "id")]
ENTRY_COLUMNS = [("number", "number"), ("direction", "direction"), ("action", "action"), ("protocol", "protocol"),
                 ("ports", lambda e: _ports(e)), ("cidr", "cidr"), ("id", "id")]


def _ports(item: dict) -> str:
    low, high = item.get("port_min"), item.get("port_max")
    if low is None:
        return "*"
    return str(low) if low == high else f"{low}-{high}"


def _port_range(text: str | None) -> dict:
    if not text:
        return {}
    low, _, high = text.partition("-")
    try:
        return {"port_min": int(low), "port_max": int(high or low)}
    except ValueError:
        raise typer.BadParameter(f"{text!r}: 22 or 8000-8080", param_hint="--port") from None

# ---- security groups -------------------------------------------------------------------------------

@command(groups, "create", help="Create a security group in a VPC (no ingress rule, egress anywhere)")
def group_create(name: str = typer.Argument(..., help="Its name"),
                 vpc: str = typer.Option(..., "--vpc", help="The VPC (name or id)"),
                 description: str = typer.Option(None, "--description", help="What it is for")):
    sess = session()
    client = sess.client()
    body = {"name": name, "vpc_id": resolve.vpc(client, vpc)} | ({"description": description} if description else {})
    answer = client.call("POST", "/security-groups", json=body)
    done(sess, sess.t("created", kind=sess.t("kind.sg"), name=answer["name"]), answer)


@command(groups, "list", help="The project's security groups")
def group_list(vpc: str = typer.Option(None, "--vpc", help="Only this VPC's (name or id)")):
    sess = session()
    client = sess.client()
    show_list(sess, client.all("/security-groups", vpc_id=resolve.vpc(client, vpc) if vpc else None), GROUP_COLUMNS,
              empty="none")


@command(groups, "show", help="A security group with its rules")
def group_show(group: str = typer.Argument(..., help="Name or id")):
    sess = session()
    client = sess.client()
    found = client.get(f"/security-groups/{resolve.security_group(client, group)}")
    if sess.json:
        show_one(sess, found, [])
        return
    show_one(sess, found, GROUP_COLUMNS[:3] + [("id", "id"), ("description", "description")], title=found["name"])
    show_list(sess, found["rules"], RULE_COLUMNS, empty="none")


@command(groups, "delete", help="Delete a security group no mini PC uses")
def group_delete(group: str = typer.Argument(..., help="Name or id")):
    sess = session()
    client = sess.client()
    client.call("DELETE", f"/security-groups/{resolve.security_group(client, group)}")
    done(sess, sess.t("deleted", kind=sess.t("kind.sg"), name=group), {"group": group})


@command(groups, "add-rule", help="Allow traffic: --direction ingress --protocol tcp --port 22 --cidr 0.0.0.0/0")
def rule_add(group: str = typer.Argument(..., help="Name or id"),
             direction: str = typer.Option("ingress", "--direction", help="ingress | egress"),
             protocol: str = typer.Option(..., "--protocol", help="tcp | udp | icmp | all"),
             port: str = typer.Option(None, "--port", help="22 or 8000-8080 (tcp/udp)"),
             cidr: str = typer.Option(None, "--cidr", help="The other side's block, e.g. 0.0.0.0/0"),
             source_group: str = typer.Option(None, "--source-group", help="Or: members of this group"),
             description: str = typer.Option(None, "--description", help="Why")):
    sess = session()
    client = sess.client()
    group_id = resolve.security_group(client, group)
    body = {"direction": direction, "protocol": protocol} | _port_range(port)
    if cidr:
        body["cidr"] = cidr
    if source_group:
        body["source_group_id"] = resolve.security_group(client, source_group)
    if description:
        body["description"] = description
    answer = client.call("POST", f"/security-groups/{group_id}/rules", json=body)
    done(sess, sess.t("sg.rule_added", group=group, id=answer["id"]), answer)


@command(groups, "delete-rule", help="Remove a rule (its id: mcloud sg show)")
def rule_delete(group: str = typer.Argument(..., help="Name or id"), rule_id: str = typer.Argument(..., help="Rule id")):
    sess = session()
    client = sess.client()
    client.call("DELETE", f"/security-groups/{resolve.security_group(client, group)}/rules/{rule_id}")
    done(sess, sess.t("sg.rule_deleted", group=group, id=rule_id), {"deleted": rule_id})


# ---- network ACLs ----------------------------------------------------------------------------------

@command(acls, "create", help="Create a network ACL (without entries it denies everything)")
def acl_create(name: str = typer.Argument(..., help="Its name"),
               vpc: str = typer.Option(..., "--vpc", help="The VPC (name or id)")):
    sess = session()
    client = sess.client()
    answer = client.call("POST", f"/vpcs/{resolve.vpc(client, vpc)}/network-acls", json={"name": name})
    done(sess, sess.t("created", kind=sess.t("kind.acl"), name=answer["name"]), answer)


@command(acls, "list", help="A VPC's network ACLs")
def acl_list(vpc: str = typer.Option(..., "--vpc", help="The VPC (name or id)")):
    sess = session()
    client = sess.client()
    show_list(sess, client.all(f"/vpcs/{resolve.vpc(client, vpc)}/network-acls"), ACL_COLUMNS, empty="none")


@command(acls, "show", help="A network ACL with its entries")
def acl_show(acl: str = typer.Argument(..., help="Name or id"), vpc: str = VPC_OPTION):
    sess = session()
    client = sess.client()
    found = client.get(f"/network-acls/{resolve.acl(client, acl, vpc)}")
    if sess.json:
        show_one(sess, found, [])
        return
    show_one(sess, found, ACL_COLUMNS[:2] + [("id", "id"), ACL_COLUMNS[3]], title=found["name"])
    show_list(sess, found["entries"], ENTRY_COLUMNS, empty="none")


@command(acls, "delete", help="Delete a network ACL no subnet uses")
def acl_delete(acl: str = typer.Argument(..., help="Name or id"), vpc: str = VPC_OPTION):
    sess = session()
    client = sess.client()
    client.call("DELETE", f"/network-acls/{resolve.acl(client, acl, vpc)}")
    done(sess, sess.t("deleted", kind=sess.t("kind.acl"), name=acl), {"acl": acl})


@command(acls, "add-entry", help="Add a numbered allow/deny entry (the lowest number that matches decides)")
def entry_add(acl: str = typer.Argument(..., help="Name or id"),
              number: int = typer.Option(..., "--number", help="1-32766"),
              action: str = typer.Option(..., "--action", help="allow | deny"),
              direction: str = typer.Option("ingress", "--direction", help="ingress | egress"),
              protocol: str = typer.Option("all", "--protocol", help="tcp | udp | icmp | all"),
              port: str = typer.Option(None, "--port", help="22 or 8000-8080 (tcp/udp)"),
              cidr: str = typer.Option("0.0.0.0/0", "--cidr", help="The other side's block"), vpc: str = VPC_OPTION):
    sess = session()
    client = sess.client()
    body = {"number": number, "direction": direction, "action": action, "protocol": protocol, "cidr": cidr}
    answer = client.call("POST", f"/network-acls/{resolve.acl(client, acl, vpc)}/entries",
                         json=body | _port_range(port))
    done(sess, sess.t("acl.entry_added", acl=acl, number=answer["number"]), answer)


@command(acls, "delete-entry", help="Remove an entry (its id, or its number and --direction)")
def entry_delete(acl: str = typer.Argument(..., help="Name or id"),
                 entry: str = typer.Argument(..., help="Entry id or number"),
                 direction: str = typer.Option("ingress", "--direction", help="With a number: ingress | egress"),
                 vpc: str = VPC_OPTION):
    sess = session()
    client = sess.client()
    found = client.get(f"/network-acls/{resolve.acl(client, acl, vpc)}")
    entry_id = next((e["id"] for e in found["entries"]
                     if e["id"] == entry or (str(e["number"]) == entry and e["direction"] == direction)), entry)
    client.call("DELETE", f"/network-acls/{found['id']}/entries/{entry_id}")
    done(sess, sess.t("acl.entry_deleted", acl=acl, entry=entry), {"deleted": entry_id})
