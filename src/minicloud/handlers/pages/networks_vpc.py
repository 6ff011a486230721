"""One VPC's page: the topology drawing, subnets with used/free addresses, route tables and routes,
the internet gateway, security groups, network ACLs, the delete plan, and the "underneath" panel
(the host's nftables ruleset with counters, the router's routes, dnsmasq's leases)."""
from __future__ import annotations

import logging

from minicloud.errors import ApiError, BadRequest
from minicloud.handlers.pages.common import in_utc, render
from minicloud.handlers.pages.confirm import confirm_first
from minicloud.handlers.pages.network_topology import render_topology
from minicloud.handlers.pages.networks import (RULE_SET_NAME, back, check_name, done_message, form_uuid,
                                               form_values, items, problem, project_instances)

log = logging.getLogger("minicloud.pages.networks")


def _gateway(vpc: dict) -> dict | None:
    return vpc.get("internet_gateway") or vpc.get("gateway")


def _underneath(ctx, vpc_id):
    """The host's view of this VPC, or None when it is not applied here (said calmly on the page)."""
    try:
        seen = ctx.services.network_state.underneath(ctx.project.id, vpc_id)
    except Exception:  # noqa: BLE001 - the panel explains; the page must not fail because the host does
        log.info("underneath of vpc %s unavailable", vpc_id, exc_info=True)
        return None
    if not seen or not any((seen["ruleset"], seen["routes"], seen["leases"])):
        return None
    return seen


def _model(ctx, vpc_id) -> dict:
    """Everything the VPC page shows, gathered from the services."""
    services, project_id = ctx.services, ctx.project.id
    vpc = services.vpcs.get(project_id, vpc_id)
    tables = items(services.vpcs.list_route_tables(project_id, vpc_id))
    tables_by_id = {t["id"]: t for t in tables}
    acls = items(services.network_acls.list(project_id, vpc_id))
    acls_by_id = {a["id"]: a for a in acls}
    groups = items(services.security_groups.list(project_id, vpc_id=vpc_id))
    subnets = in_utc(items(services.subnets.list(project_id, vpc_id)), "created_at")
    instances = [i for i in project_instances(ctx) if i.get("vpc_id") == vpc["id"]
                 or i.get("subnet_id") in {s["id"] for s in subnets}]
    for subnet in subnets:
        table = tables_by_id.get(subnet.get("route_table_id"))
        subnet["route_table"] = table
        subnet["network_acl"] = acls_by_id.get(subnet.get("network_acl_id"))
        subnet["instances"] = [i for i in instances if i.get("subnet_id") == subnet["id"]]
        subnet["usable"] = subnet["usable_ip_count"]
        subnet["used"] = subnet["used_ip_count"]
        subnet["free"] = subnet["available_ip_count"]
    for table in tables:
        table["subnets"] = [s for s in subnets if s.get("route_table_id") == table["id"]]
    return {"vpc": vpc, "gateway": _gateway(vpc), "subnets": subnets, "route_tables": tables, "acls": acls,
            "groups": groups, "instances": instances}


def _drawing(ctx, model: dict):
    t = ctx.t
    labels = {key: t(f"networks_console.topology.{key}") for key in
              ("title", "gateway", "public", "private", "used", "free", "empty", "no_subnets")}
    drawn = {
        "vpc": {"name": model["vpc"]["name"], "cidr": str(model["vpc"]["cidr"])},
        "gateway": {"address": str(model["gateway"].get("address", ""))} if model["gateway"] else None,
        "labels": labels,
        "subnets": [{"id": s["id"], "name": s["name"], "cidr": str(s["cidr"]), "used": s["used"], "free": s["free"],
                     "public": s["public"],
                     "instances": [{"id": i["id"], "name": i["name"], "private_ip": i.get("private_ip"),
                                    "public_ip": i.get("public_ip"), "state": i.get("state")}
                                   for i in s["instances"]]}
                    for s in model["subnets"]]}
    return {"wide": render_topology(drawn), "narrow": render_topology(drawn, width=420, columns=1, name="narrow")}


def _page(ctx, vpc_id, status=200, message=None, errors=None, values=None, section=None):
    model = _model(ctx, vpc_id)
    return render(ctx, "networks/vpc.html", status=status, **model, topology=_drawing(ctx, model),
                  underneath=_underneath(ctx, vpc_id), message=message, errors=errors or {},
                  values=values or {}, section=section, done=done_message(ctx))


def detail(ctx, vpc_id):
    return _page(ctx, vpc_id)


def _here(ctx, vpc_id, anchor: str) -> str:
    return ctx.url_for("pages.vpc", vpc_id=vpc_id) + anchor


def _refused(ctx, vpc_id, exc: ApiError, section: str, values=None):
    if exc.status in (400, 404) and not values:
        raise exc
    status, message, errors = problem(ctx, exc)
    return _page(ctx, vpc_id, status, message=message, errors=errors, values=values, section=section)


# ---- subnets ------------------------------------------------------------------------------------

def create_subnet(ctx, vpc_id):
    values = form_values(ctx, "name", "cidr")
    try:
        check_name(values["name"])
        created = ctx.services.subnets.create(ctx.project.id, vpc_id, values["name"], values["cidr"])
    except ApiError as exc:
        return _refused(ctx, vpc_id, exc, "subnets", values)
    ctx.audit_target = str(created["id"])
    return back(ctx, "pages.vpc", "subnet_created", created["name"], anchor="#subnets", vpc_id=vpc_id)


def subnet_action(ctx, vpc_id):
    """delete, or associate a route table (``route_table_id``) or an ACL (``network_acl_id``) with a subnet."""
    action, subnet_id = ctx.request.form.get("action", ""), form_uuid(ctx, "subnet_id")
    subnets, project_id = ctx.services.subnets, ctx.project.id
    ctx.audit_target = str(subnet_id)
    try:
        subnet = subnets.get(project_id, subnet_id)
        if action == "delete":
            if asked := confirm_first(ctx, "subnet", subnet["name"], cancel_url=_here(ctx, vpc_id, "#subnets")):
                return asked
            subnets.delete(project_id, subnet_id)
            done = "subnet_deleted"
        elif action == "route_table":
            subnets.set_route_table(project_id, subnet_id, form_uuid(ctx, "route_table_id"))
            done = "table_associated"
        elif action == "network_acl":
            ctx.services.network_acls.associate(project_id, subnet_id, form_uuid(ctx, "network_acl_id"))
            done = "acl_associated"
        else:
            raise BadRequest("error.bad_request")
    except ApiError as exc:
        return _refused(ctx, vpc_id, exc, "subnets")
    return back(ctx, "pages.vpc", done, subnet["name"], anchor="#subnets", vpc_id=vpc_id)


# ---- route tables and the gateway ---------------------------------------------------------------

def create_route_table(ctx, vpc_id):
    values = form_values(ctx, "name")
    try:
        check_name(values["name"])
        created = ctx.services.vpcs.create_route_table(ctx.project.id, vpc_id, values["name"])
    except ApiError as exc:
        return _refused(ctx, vpc_id, exc, "route_tables", {"table_name": values["name"]})
    ctx.audit_target = str(created["id"])
    return back(ctx, "pages.vpc", "table_created", created["name"], anchor="#route-tables", vpc_id=vpc_id)


def route_table_action(ctx, vpc_id):
    """add_route (``destination``; the target is the VPC's gateway), remove_route (``route_id``, named by
    ``destination``), delete."""
    form, vpcs, project_id = ctx.request.form, ctx.services.vpcs, ctx.project.id
    action, table_id = form.get("action", ""), form_uuid(ctx, "route_table_id")
    destination = form.get("destination", "").strip()
    ctx.audit_target = str(table_id)
    try:
        if action == "add_route":
            vpcs.add_route(project_id, table_id, destination, "internet_gateway")
            done, name = "route_added", destination
        elif action == "remove_route":
            if asked := confirm_first(ctx, "route", destination, action="remove",
                                      cancel_url=_here(ctx, vpc_id, "#route-tables")):
                return asked
            vpcs.delete_route(project_id, table_id, form_uuid(ctx, "route_id"))
            done, name = "route_removed", destination
        elif action == "delete":
            table = vpcs.get_route_table(project_id, table_id)
            if asked := confirm_first(ctx, "route_table", table["name"], cancel_url=_here(ctx, vpc_id, "#route-tables")):
                return asked
            vpcs.delete_route_table(project_id, table_id)
            done, name = "table_deleted", table["name"]
        else:
            raise BadRequest("error.bad_request")
    except ApiError as exc:
        return _refused(ctx, vpc_id, exc, "route_tables", {"destination": destination, "table": str(table_id)})
    return back(ctx, "pages.vpc", done, name, anchor="#route-tables", vpc_id=vpc_id)


def gateway_action(ctx, vpc_id):
    action, vpcs = ctx.request.form.get("action", ""), ctx.services.vpcs
    ctx.audit_target = str(vpc_id)
    try:
        if action == "attach":
            gateway = vpcs.attach_gateway(ctx.project.id, vpc_id)
            done, name = "gateway_attached", gateway.get("address", "")
        elif action == "detach":
            gateway = _gateway(vpcs.get(ctx.project.id, vpc_id)) or {}
            if asked := confirm_first(ctx, "gateway", str(gateway.get("address", "")), action="detach",
                                      cancel_url=_here(ctx, vpc_id, "#gateway")):
                return asked
            vpcs.detach_gateway(ctx.project.id, vpc_id)
            done, name = "gateway_detached", ""
        else:
            raise BadRequest("error.bad_request")
    except ApiError as exc:
        return _refused(ctx, vpc_id, exc, "gateway")
    return back(ctx, "pages.vpc", done, name, anchor="#gateway", vpc_id=vpc_id)


# ---- new groups and ACLs (edited on their own pages) ----------------------------------------------

def create_group(ctx, vpc_id):
    values = form_values(ctx, "name", "description")
    try:
        check_name(values["name"], pattern=RULE_SET_NAME)
        created = ctx.services.security_groups.create(ctx.project.id, dict(values, vpc_id=vpc_id))
    except ApiError as exc:
        return _refused(ctx, vpc_id, exc, "groups", {"group_name": values["name"],
                                                     "group_description": values["description"]})
    ctx.audit_target = str(created["id"])
    return back(ctx, "pages.security_group", "group_created", created["name"], group_id=created["id"])


def create_acl(ctx, vpc_id):
    values = form_values(ctx, "name")
    try:
        check_name(values["name"], pattern=RULE_SET_NAME)
        created = ctx.services.network_acls.create(ctx.project.id, vpc_id, values["name"])
    except ApiError as exc:
        return _refused(ctx, vpc_id, exc, "acls", {"acl_name": values["name"]})
    ctx.audit_target = str(created["id"])
    return back(ctx, "pages.network_acl", "acl_created", created["name"], acl_id=created["id"])


# ---- delete, with the plan shown first ----------------------------------------------------------

def confirm_delete(ctx, vpc_id):
    vpc = ctx.services.vpcs.get(ctx.project.id, vpc_id)
    plan = ctx.services.vpcs.delete_plan(ctx.project.id, vpc_id)
    return render(ctx, "networks/delete.html", vpc=vpc, plan=plan, message=None)


def delete(ctx, vpc_id):
    """Delete the VPC (only when it has nothing in it), or with ``cascade=1`` everything in the plan (a job)."""
    cascade = ctx.request.form.get("cascade") in ("1", "on", "true")
    vpcs, project_id = ctx.services.vpcs, ctx.project.id
    vpc = vpcs.get(project_id, vpc_id)
    ctx.audit_target = str(vpc_id)
    if asked := confirm_first(ctx, "vpc", vpc["name"], typed=True, detail=ctx.t("look_console.vpc_plan") if cascade else None,
                              cancel_url=ctx.url_for("pages.vpc_delete_confirm", vpc_id=vpc_id)):
        return asked
    try:
        if cascade:
            job = vpcs.delete_cascade(ctx.principal, project_id, vpc_id)
        else:
            vpcs.delete(project_id, vpc_id)
    except ApiError as exc:
        if exc.status == 404:
            raise
        return render(ctx, "networks/delete.html", status=exc.status, vpc=vpc,
                      plan=vpcs.delete_plan(project_id, vpc_id), message=exc.message(ctx.lang))
    if cascade:
        return ctx.redirect(ctx.url_for("pages.networks", done="vpc_delete_started", name=vpc["name"],
                                        operation=str(job["id"])))
    done = "vpc_deleted"
    return back(ctx, "pages.networks", done, vpc["name"])
