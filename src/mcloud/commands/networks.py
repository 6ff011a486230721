"""mcloud vpc | subnet | route-table | sg | acl | ip …: the project's networks."""
from __future__ import annotations

import typer

from mcloud.base import command, session
from mcloud.commands import resolve
from mcloud.output import done, show_list, show_one
from mcloud.waiting import TIMEOUT_OPTION, WAIT_OPTION, wait_operation

vpcs = typer.Typer(help="VPCs: create, list, show, rename, plan, delete (--cascade), attach-gateway, "
                        "detach-gateway", no_args_is_help=True)
subnets = typer.Typer(help="Subnets of a VPC: create, list, show, delete, set-route-table, set-acl",
                      no_args_is_help=True)
route_tables = typer.Typer(help="Route tables of a VPC: create, list, show, delete, add-route, delete-route",
                           no_args_is_help=True)
groups = typer.Typer(help="Security groups: create, list, show, delete, add-rule, delete-rule", no_args_is_help=True)
acls = typer.Typer(help="Network ACLs of a VPC: create, list, show, delete, add-entry, delete-entry",
                   no_args_is_help=True)
ips = typer.Typer(help="Public IPs: allocate, list, show, associate, disassociate, release", no_args_is_help=True)

VPC_COLUMNS = [("name", "name"), ("cidr", "cidr"), ("default", "is_default"),
               ("gateway", "internet_gateway.address"), ("id", "id")]
SUBNET_COLUMNS = [("name", "name"), ("cidr", "cidr"), ("public", "public"), ("available_ips", "available_ip_count"),
                  ("id", "id")]
TABLE_COLUMNS = [("name", "name"), ("main", "is_main"),
                 ("routes", lambda t: [f"{r['destination']}→{r['target']}" for r in t["routes"]]), ("id", "id")]
ROUTE_COLUMNS = [("destination", "destination"), ("target", "target"), ("id", "id")]
GROUP_COLUMNS = [("name", "name"), ("vpc", "vpc_id"), ("default", "is_default"),
                 ("rules", lambda g: len(g["rules"])), ("id", "id")]
RULE_COLUMNS = [("direction", "direction"), ("protocol", "protocol"), ("ports", lambda r: _ports(r)),
                ("source", lambda r: r.get("cidr") or r.get("source_group_id")), ("description", "description"),
                ("id", "id")]
ACL_COLUMNS = [("name", "name"), ("default", "is_default"), ("entries", lambda a: len(a["entries"])),
               ("subnets", lambda a: [s.get("name", s.get("id")) for s in a["subnets"]]), ("id", "id")]
ENTRY_COLUMNS = [("number", "number"), ("direction", "direction"), ("action", "action"), ("protocol", "protocol"),
                 ("ports", lambda e: _ports(e)), ("cidr", "cidr"), ("id", "id")]
IP_COLUMNS = [("address", "address"), ("pc", "instance.name"), ("id", "id")]


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


# ---- VPCs ------------------------------------------------------------------------------------------

@command(vpcs, "create", help="Create a VPC (with its main route table, default ACL and security group)")
def vpc_create(name: str = typer.Argument(..., help="Its name"),
               cidr: str = typer.Option(..., "--cidr", help="Its IPv4 block, e.g. 10.20.0.0/16")):
    sess = session()
    answer = sess.client().call("POST", "/vpcs", json={"name": name, "cidr": cidr})
    done(sess, sess.t("created", kind=sess.t("kind.vpc"), name=answer["name"]), answer)


@command(vpcs, "list", help="The project's VPCs")
def vpc_list():
    sess = session()
    show_list(sess, sess.client().all("/vpcs"), VPC_COLUMNS, empty="none")


@command(vpcs, "show", help="A VPC with its subnets")
def vpc_show(vpc: str = typer.Argument(..., help="Name or id")):
    sess = session()
    client = sess.client()
    found = client.get(f"/vpcs/{resolve.vpc(client, vpc)}")
    if sess.json:
        show_one(sess, found, [])
        return
    show_one(sess, found, VPC_COLUMNS + [("created_at", "created_at")], title=found["name"])
    show_list(sess, client.all(f"/vpcs/{found['id']}/subnets"), SUBNET_COLUMNS, empty="none")


@command(vpcs, "rename", help="Rename a VPC")
def vpc_rename(vpc: str = typer.Argument(..., help="Name or id"), new_name: str = typer.Argument(..., help="New name")):
    sess = session()
    client = sess.client()
    answer = client.call("PUT", f"/vpcs/{resolve.vpc(client, vpc)}", json={"name": new_name})
    done(sess, sess.t("renamed", kind=sess.t("kind.vpc"), old=vpc, name=answer["name"]), answer)


@command(vpcs, "plan", help="What deleting the VPC takes apart, step by step")
def vpc_plan(vpc: str = typer.Argument(..., help="Name or id")):
    sess = session()
    client = sess.client()
    plan = client.get(f"/vpcs/{resolve.vpc(client, vpc)}/delete-plan")
    show_list(sess, plan["steps"], [("order", "order"), ("kind", "kind"), ("action", "action"),
                                    ("items", lambda s: [i.get("name") or i.get("id") if isinstance(i, dict) else i
                                                         for i in s["items"]])],
              empty="none", json_data=plan)


@command(vpcs, "delete", help="Delete an empty VPC, or everything in it with --cascade (a job; --wait follows it)")
def vpc_delete(vpc: str = typer.Argument(..., help="Name or id"),
               cascade: bool = typer.Option(False, "--cascade", help="Take apart what it holds first (mcloud vpc plan)"),
               yes: bool = typer.Option(False, "--yes", "-y", help="Do not ask first"),
               wait: bool = WAIT_OPTION, timeout: float = TIMEOUT_OPTION):
    sess = session()
    client = sess.client()
    vpc_id = resolve.vpc(client, vpc)
    if not yes:
        typer.confirm(sess.t("confirm_delete", kind=sess.t("kind.vpc"), name=vpc), abort=True, err=True)
    answer = client.call("DELETE", f"/vpcs/{vpc_id}", params={"cascade": True if cascade else None})
    if answer and answer.get("operation_id"):
        if wait:
            wait_operation(sess, answer["operation_id"], timeout)
            done(sess, sess.t("deleted", kind=sess.t("kind.vpc"), name=vpc), answer)
        else:
            done(sess, sess.t("accepted", id=answer["operation_id"]), answer)
        return
    done(sess, sess.t("deleted", kind=sess.t("kind.vpc"), name=vpc), {"id": vpc_id})


@command(vpcs, "attach-gateway", help="Give the VPC its internet gateway")
def gateway_attach(vpc: str = typer.Argument(..., help="Name or id")):
    sess = session()
    client = sess.client()
    answer = client.call("POST", f"/vpcs/{resolve.vpc(client, vpc)}/internet-gateway")
    done(sess, sess.t("vpc.gateway_attached", name=vpc, address=answer["address"]), answer)


@command(vpcs, "detach-gateway", help="Remove the VPC's internet gateway")
def gateway_detach(vpc: str = typer.Argument(..., help="Name or id")):
    sess = session()
    client = sess.client()
    client.call("DELETE", f"/vpcs/{resolve.vpc(client, vpc)}/internet-gateway")
    done(sess, sess.t("vpc.gateway_detached", name=vpc), {"vpc": vpc})


# ---- subnets ---------------------------------------------------------------------------------------

VPC_OPTION = typer.Option(None, "--vpc", help="The VPC (name or id) to look the name up in")


@command(subnets, "create", help="Create a subnet inside a VPC's block")
def subnet_create(name: str = typer.Argument(..., help="Its name"),
                  vpc: str = typer.Option(..., "--vpc", help="The VPC (name or id)"),
                  cidr: str = typer.Option(..., "--cidr", help="e.g. 10.20.1.0/24")):
    sess = session()
    client = sess.client()
    answer = client.call("POST", f"/vpcs/{resolve.vpc(client, vpc)}/subnets", json={"name": name, "cidr": cidr})
    done(sess, sess.t("created", kind=sess.t("kind.subnet"), name=answer["name"]), answer)


@command(subnets, "list", help="A VPC's subnets with their free addresses")
def subnet_list(vpc: str = typer.Option(..., "--vpc", help="The VPC (name or id)")):
    sess = session()
    client = sess.client()
    show_list(sess, client.all(f"/vpcs/{resolve.vpc(client, vpc)}/subnets"), SUBNET_COLUMNS, empty="none")


@command(subnets, "show", help="A subnet")
def subnet_show(subnet: str = typer.Argument(..., help="Name or id"), vpc: str = VPC_OPTION):
    sess = session()
    client = sess.client()
    show_one(sess, client.get(f"/subnets/{resolve.subnet(client, subnet, vpc)}"),
             SUBNET_COLUMNS + [("route_table", "route_table_id"), ("acl", "network_acl_id"),
                               ("created_at", "created_at")])


@command(subnets, "delete", help="Delete a subnet without mini PCs")
def subnet_delete(subnet: str = typer.Argument(..., help="Name or id"), vpc: str = VPC_OPTION):
    sess = session()
    client = sess.client()
    client.call("DELETE", f"/subnets/{resolve.subnet(client, subnet, vpc)}")
    done(sess, sess.t("deleted", kind=sess.t("kind.subnet"), name=subnet), {"subnet": subnet})


@command(subnets, "set-route-table", help="Route the subnet by another table of its VPC")
def subnet_route_table(subnet: str = typer.Argument(..., help="Name or id"),
                       route_table: str = typer.Option(..., "--route-table", help="Name or id"), vpc: str = VPC_OPTION):
    sess = session()
    client = sess.client()
    answer = client.call("PUT", f"/subnets/{resolve.subnet(client, subnet, vpc)}/route-table",
                         json={"route_table_id": resolve.route_table(client, route_table, vpc)})
    done(sess, sess.t("updated", kind=sess.t("kind.subnet"), name=answer["name"]), answer)


@command(subnets, "set-acl", help="Filter the subnet with another network ACL of its VPC")
def subnet_acl(subnet: str = typer.Argument(..., help="Name or id"),
               acl: str = typer.Option(..., "--acl", help="Name or id"), vpc: str = VPC_OPTION):
    sess = session()
    client = sess.client()
    answer = client.call("PUT", f"/subnets/{resolve.subnet(client, subnet, vpc)}/network-acl",
                         json={"network_acl_id": resolve.acl(client, acl, vpc)})
    done(sess, sess.t("updated", kind=sess.t("kind.subnet"), name=subnet), answer)


# ---- route tables ----------------------------------------------------------------------------------

@command(route_tables, "create", help="Create a route table (holding the local route)")
def table_create(name: str = typer.Argument(..., help="Its name"),
                 vpc: str = typer.Option(..., "--vpc", help="The VPC (name or id)")):
    sess = session()
    client = sess.client()
    answer = client.call("POST", f"/vpcs/{resolve.vpc(client, vpc)}/route-tables", json={"name": name})
    done(sess, sess.t("created", kind=sess.t("kind.route-table"), name=answer["name"]), answer)


@command(route_tables, "list", help="A VPC's route tables with their routes")
def table_list(vpc: str = typer.Option(..., "--vpc", help="The VPC (name or id)")):
    sess = session()
    client = sess.client()
    show_list(sess, client.all(f"/vpcs/{resolve.vpc(client, vpc)}/route-tables"), TABLE_COLUMNS, empty="none")


@command(route_tables, "show", help="A route table with its routes")
def table_show(route_table: str = typer.Argument(..., help="Name or id"), vpc: str = VPC_OPTION):
    sess = session()
    client = sess.client()
    table = client.get(f"/route-tables/{resolve.route_table(client, route_table, vpc)}")
    if sess.json:
        show_one(sess, table, [])
        return
    show_one(sess, table, TABLE_COLUMNS[:2] + [("id", "id"), ("subnets", "subnet_ids")], title=table["name"])
    show_list(sess, table["routes"], ROUTE_COLUMNS)


@command(route_tables, "delete", help="Delete a route table no subnet uses")
def table_delete(route_table: str = typer.Argument(..., help="Name or id"), vpc: str = VPC_OPTION):
    sess = session()
    client = sess.client()
    client.call("DELETE", f"/route-tables/{resolve.route_table(client, route_table, vpc)}")
    done(sess, sess.t("deleted", kind=sess.t("kind.route-table"), name=route_table), {"route_table": route_table})


@command(route_tables, "add-route", help="Add a route to the VPC's internet gateway")
def route_add(route_table: str = typer.Argument(..., help="Name or id"),
              destination: str = typer.Option("0.0.0.0/0", "--destination", help="The block it routes"),
              vpc: str = VPC_OPTION):
    sess = session()
    client = sess.client()
    answer = client.call("POST", f"/route-tables/{resolve.route_table(client, route_table, vpc)}/routes",
                         json={"destination": destination, "target": "internet_gateway"})
    done(sess, sess.t("updated", kind=sess.t("kind.route-table"), name=answer["name"]), answer)


@command(route_tables, "delete-route", help="Remove a route (by its id, or its destination)")
def route_delete(route_table: str = typer.Argument(..., help="Name or id"),
                 route: str = typer.Argument(..., help="The route's id or destination"), vpc: str = VPC_OPTION):
    sess = session()
    client = sess.client()
    table = client.get(f"/route-tables/{resolve.route_table(client, route_table, vpc)}")
    route_id = next((r["id"] for r in table["routes"] if route in (r["id"], r["destination"])), route)
    client.call("DELETE", f"/route-tables/{table['id']}/routes/{route_id}")
    done(sess, sess.t("updated", kind=sess.t("kind.route-table"), name=table["name"]), {"deleted": route_id})


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
