"""mcloud vpc | subnet | route-table …: the project's VPCs, their subnets and route tables."""
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

VPC_COLUMNS = [("name", "name"), ("cidr", "cidr"), ("default", "is_default"),
               ("gateway", "internet_gateway.address"), ("id", "id")]
SUBNET_COLUMNS = [("name", "name"), ("cidr", "cidr"), ("public", "public"), ("available_ips", "available_ip_count"),
                  ("id", "id")]
TABLE_COLUMNS = [("name", "name"), ("main", "is_main"),
                 ("routes", lambda t: [f"{r['destination']}→{r['target']}" for r in t["routes"]]), ("id", "id")]
ROUTE_COLUMNS = [("destination", "destination"), ("target", "target"), ("id", "id")]


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
