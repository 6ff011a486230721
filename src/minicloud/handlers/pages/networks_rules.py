"""The rule editors: a security group's ingress and egress rule rows (with its members), and a network
ACL's numbered entries per direction in evaluation order, ending in the "*" deny every ACL has."""
from __future__ import annotations

from minicloud.errors import ApiError, BadRequest
from minicloud.handlers.pages.common import render
from minicloud.handlers.pages.confirm import confirm_first
from minicloud.handlers.pages.networks import back, done_message, form_uuid, form_values, items, problem
from minicloud.handlers.pages.networks import project_instances

DIRECTIONS = ("ingress", "egress")
PROTOCOLS = ("tcp", "udp", "icmp", "all")
RULE_FIELDS = ("direction", "protocol", "port_min", "port_max", "cidr", "source_group_id", "description")
ENTRY_FIELDS = ("direction", "number", "protocol", "port_min", "port_max", "cidr")


def _body(values: dict, numbers: tuple[str, ...]) -> dict:
    """The form's filled fields as the API takes them: numbers as numbers (text that is none stays text,
    so the service names the field)."""
    body = {}
    for name, value in values.items():
        if not value:
            continue
        body[name] = int(value) if name in numbers and value.isdigit() else value
    return body


def _rule_words(ctx, rule: dict) -> str:
    """A rule or ACL entry as the confirmation names it: protocol, ports, address range (or source group)."""
    ports = ""
    if rule.get("protocol") in ("tcp", "udp") and rule.get("port_min") is not None:
        low, high = rule["port_min"], rule.get("port_max", rule["port_min"])
        ports = f" {low}" if low == high else f" {low}-{high}"
    source = rule.get("cidr") or rule.get("source_group_name") or ""
    return f"{ctx.t('networks_console.protocol.' + str(rule.get('protocol')))}{ports} {source}".strip()


def _group_url(ctx, group_id) -> str:
    return ctx.url_for("pages.security_group", group_id=group_id)


def _acl_url(ctx, acl_id) -> str:
    return ctx.url_for("pages.network_acl", acl_id=acl_id)


# ---- security groups ----------------------------------------------------------------------------

def _group_page(ctx, group_id, status=200, message=None, errors=None, values=None):
    services, project_id = ctx.services, ctx.project.id
    group = services.security_groups.get(project_id, group_id)
    vpc = services.vpcs.get(project_id, group["vpc_id"])
    siblings = items(services.security_groups.list(project_id, vpc_id=group["vpc_id"]))
    names = {g["id"]: g["name"] for g in siblings}
    for rule in group["rules"]:
        rule["source_group_name"] = names.get(rule.get("source_group_id"))
    members = [i for i in project_instances(ctx)
               if any(g["id"] == group["id"] for g in i.get("security_groups") or [])]
    rules = {d: [r for r in group["rules"] if r["direction"] == d] for d in DIRECTIONS}
    return render(ctx, "networks/group.html", status=status, group=group, vpc=vpc, rules=rules, members=members,
                  siblings=siblings, protocols=PROTOCOLS, directions=DIRECTIONS, message=message,
                  errors=errors or {}, values=values or {}, done=done_message(ctx))


def group(ctx, group_id):
    return _group_page(ctx, group_id)


def group_action(ctx, group_id):
    """add_rule (the rule's fields), delete_rule (``rule_id``), delete (the group)."""
    action, service, project_id = ctx.request.form.get("action", ""), ctx.services.security_groups, ctx.project.id
    ctx.audit_target = str(group_id)
    values = form_values(ctx, *RULE_FIELDS) if action == "add_rule" else {}
    try:
        if action == "add_rule":
            body = _body(values, ("port_min", "port_max"))
            if body.get("source_group_id"):
                body.pop("cidr", None)
            service.add_rule(project_id, group_id, body)
            done = "rule_added"
        elif action == "delete_rule":
            rule_id = form_uuid(ctx, "rule_id")
            rule = next((r for r in service.get(project_id, group_id)["rules"] if str(r["id"]) == str(rule_id)), None)
            if rule is not None and (asked := confirm_first(ctx, "rule", _rule_words(ctx, rule),
                                                             cancel_url=_group_url(ctx, group_id) + "#rules")):
                return asked
            service.delete_rule(project_id, group_id, rule_id)
            done = "rule_deleted"
        elif action == "delete":
            found = service.get(project_id, group_id)
            if asked := confirm_first(ctx, "security_group", found["name"], cancel_url=_group_url(ctx, group_id)):
                return asked
            service.delete(project_id, group_id)
            return back(ctx, "pages.vpc", "group_deleted", found["name"], anchor="#groups", vpc_id=found["vpc_id"])
        else:
            raise BadRequest("error.bad_request")
    except ApiError as exc:
        if exc.status in (400, 404) and not values:
            raise
        status, message, errors = problem(ctx, exc)
        return _group_page(ctx, group_id, status, message, errors, values)
    return back(ctx, "pages.security_group", done, anchor="#rules", group_id=group_id)


# ---- network ACLs -------------------------------------------------------------------------------

def _acl_page(ctx, acl_id, status=200, message=None, errors=None, values=None):
    services, project_id = ctx.services, ctx.project.id
    acl = services.network_acls.get(project_id, acl_id)
    vpc = services.vpcs.get(project_id, acl["vpc_id"])
    entries = {d: sorted((e for e in acl["entries"] if e["direction"] == d), key=lambda e: e["number"])
               for d in DIRECTIONS}
    subnets = items(services.subnets.list(project_id, acl["vpc_id"]))  # to associate any of them
    return render(ctx, "networks/acl.html", status=status, acl=acl, vpc=vpc, entries=entries, subnets=subnets,
                  protocols=PROTOCOLS, directions=DIRECTIONS, message=message, errors=errors or {},
                  values=values or {}, done=done_message(ctx))


def acl(ctx, acl_id):
    return _acl_page(ctx, acl_id)


def acl_action(ctx, acl_id):
    """add_entry (the entry's fields), delete_entry (``entry_id``), associate (``subnet_id``), delete."""
    action, service, project_id = ctx.request.form.get("action", ""), ctx.services.network_acls, ctx.project.id
    ctx.audit_target = str(acl_id)
    values = {}
    if action == "add_entry":  # the entry's allow/deny comes as action_kind: "action" names the button
        values = dict(form_values(ctx, *ENTRY_FIELDS), action=ctx.request.form.get("action_kind", "").strip())
    try:
        if action == "add_entry":
            service.add_entry(project_id, acl_id, _body(values, ("number", "port_min", "port_max")))
            done, name = "entry_added", values["number"]
        elif action == "delete_entry":
            entry_id = form_uuid(ctx, "entry_id")
            entry = next((e for e in service.get(project_id, acl_id)["entries"] if str(e["id"]) == str(entry_id)), None)
            if entry is not None and (asked := confirm_first(
                    ctx, "entry", f'#{entry["number"]} {_rule_words(ctx, entry)}', cancel_url=_acl_url(ctx, acl_id) + "#entries")):
                return asked
            service.delete_entry(project_id, acl_id, entry_id)
            done, name = "entry_deleted", ""
        elif action == "associate":
            subnet_id = form_uuid(ctx, "subnet_id")
            subnet = ctx.services.subnets.get(project_id, subnet_id)
            service.associate(project_id, subnet_id, acl_id)
            done, name = "acl_associated", subnet["name"]
        elif action == "delete":
            found = service.get(project_id, acl_id)
            if asked := confirm_first(ctx, "network_acl", found["name"], cancel_url=_acl_url(ctx, acl_id)):
                return asked
            service.delete(project_id, acl_id)
            return back(ctx, "pages.vpc", "acl_deleted", found["name"], anchor="#acls", vpc_id=found["vpc_id"])
        else:
            raise BadRequest("error.bad_request")
    except ApiError as exc:
        if exc.status in (400, 404) and not values:
            raise
        status, message, errors = problem(ctx, exc)
        return _acl_page(ctx, acl_id, status, message, errors, values)
    return back(ctx, "pages.network_acl", done, name, anchor="#entries", acl_id=acl_id)
