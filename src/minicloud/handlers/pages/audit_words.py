"""The audit log in words: every action code a sentence in the page's language, every target by its name
with a link to its page. The audit page and the dashboard's recent activity both use ``described``.

Action codes are the route endpoints of audited routes (``Route.audited``); each has a sentence under
``audit_words.<code>`` in locales/{ko,en}/guide_console.json (tests/unit/test_audit_words.py keeps them
complete). ``TARGET_KIND`` says what an entry's target is, so it can be named and linked.
"""
from __future__ import annotations

from typing import Callable
from urllib.parse import quote

from werkzeug.exceptions import HTTPException

WORDS_PREFIX = "audit_words."

# The resource of an API endpoint's target, by the endpoint's first part ("instances.create" -> instance).
_API_KIND = {
    "instances": "instance", "vpcs": "vpc", "subnets": "subnet", "route_tables": "route_table",
    "internet_gateways": "gateway", "public_ips": "public_ip", "security_groups": "security_group",
    "network_acls": "network_acl", "apps": "app", "buckets": "bucket", "objects": "object",
    "keypairs": "keypair", "api_keys": "api_key", "projects": "project", "users": "user", "auth": "user",
    "templates": "template", "images": "image", "hosts": "host",
}
# Codes whose target is not what their first part says (the target is the route's last path parameter).
_EXCEPTIONS = {
    "internet_gateways.detach": "vpc", "network_acls.associate": "subnet",
    "projects.change_member": "user", "projects.remove_member": "user",
    "route_tables.delete_route": None, "quotas.update": None, "auth.logout": None,
    "pages.login": "user", "pages.signup": "user", "pages.logout": None,
    "pages.instance_create": "instance", "pages.instance_action": "instance",
    "pages.vpc_create": "vpc", "pages.vpc_delete": "vpc", "pages.gateway_action": "vpc",
    "pages.public_ip_allocate": "public_ip", "pages.public_ip_action": "public_ip",
    "pages.subnet_create": "subnet", "pages.subnet_action": "subnet",
    "pages.route_table_create": "route_table", "pages.route_table_action": "route_table",
    "pages.security_group_create": "security_group", "pages.security_group_action": "security_group",
    "pages.network_acl_create": "network_acl", "pages.network_acl_action": "network_acl",
    "pages.app_create": "app", "pages.app_action": "app",
    "pages.bucket_create": "bucket", "pages.bucket_delete": "bucket",
    "pages.object_upload": "object", "pages.object_delete": "object", "pages.object_share": "object",
    "pages.admin_user_quotas": "user", "pages.switch_project": "project", "pages.project_delete": "project",
    # the account console's pages
    "pages.keypair_import": "keypair", "pages.keypair_generate": "keypair", "pages.keypair_delete": "keypair",
    "pages.api_key_create": "api_key", "pages.api_key_revoke": "api_key", "pages.project_create": "project",
    "pages.project_rename": "project", "pages.member_add": "project", "pages.member_role": "user",
    "pages.member_remove": "user", "pages.instance_rename": "instance",
}
# Where a named target's page is: kind -> a function of (id, the looked-up row) giving the path.
_PAGES: dict[str, Callable[[str, dict], str | None]] = {
    "instance": lambda id_, row: f"/mini-pcs/{id_}",
    "vpc": lambda id_, row: f"/networks/vpcs/{id_}",
    "gateway": lambda id_, row: f"/networks/vpcs/{row['vpc_id']}",
    "subnet": lambda id_, row: f"/networks/vpcs/{row['vpc_id']}",
    "route_table": lambda id_, row: f"/networks/vpcs/{row['vpc_id']}",
    "security_group": lambda id_, row: f"/networks/security-groups/{id_}",
    "network_acl": lambda id_, row: f"/networks/acls/{id_}",
    "public_ip": lambda id_, row: "/networks",
    "app": lambda id_, row: f"/apps/{id_}",
    "keypair": lambda id_, row: "/key-pairs",
    "api_key": lambda id_, row: "/api-keys",
    "project": lambda id_, row: f"/projects/{id_}",
}


def console_page_exists(ctx) -> Callable[[str], bool]:
    """Whether the console answers GET ``path`` with a page (so a target links only to pages there are)."""
    def exists(path: str) -> bool:
        try:
            route, _ = ctx.app.router.match("GET", path.split("?", 1)[0])
        except HTTPException:  # the router's 404 / 405: no such page
            return False
        return not route.api
    return exists


def target_kind(action: str) -> str | None:
    if action in _EXCEPTIONS:
        return _EXCEPTIONS[action]
    return _API_KIND.get(action.split(".", 1)[0])


def sentence(t: Callable[..., str], action: str) -> str:
    """The action in words in the page's language; the code itself for one the catalogs lack."""
    key = WORDS_PREFIX + action
    text = t(key)
    return action if text == key else text


def matching_actions(t: Callable[..., str], codes, typed: str) -> list[str]:
    """The codes whose words (in the page's language) or code contain what a person typed."""
    typed = " ".join(typed.lower().split())
    return [code for code in codes if typed in sentence(t, code).lower() or typed in code.lower()]


def _bucket_link(target: str, kind: str) -> tuple[str, str | None]:
    """(name, path) of a bucket ("b") or an object ("b/folder/key") target."""
    bucket, _, key = target.partition("/")
    if kind == "bucket" or not key:
        return target, f"/storage/{quote(bucket, safe='')}"
    folder = key.rsplit("/", 1)[0] + "/" if "/" in key else ""
    path = f"/storage/{quote(bucket, safe='')}"
    return target, path + (f"?prefix={quote(folder, safe='')}" if folder else "")


def described(t: Callable[..., str], audit_service, entries: list[dict],
              page_exists: Callable[[str], bool] | None = None) -> list[dict]:
    """Each entry with ``words`` (the action as a sentence), ``target_name`` (what it is called now, else
    the recorded target) and ``target_url`` (its page, when it still exists and the console has such a
    page: ``page_exists(path)``)."""
    wanted: dict[str, set[str]] = {}
    for entry in entries:
        kind = target_kind(entry["action"])
        if kind and entry.get("target") and kind not in ("bucket", "object"):
            wanted.setdefault(kind, set()).add(entry["target"])
    names = audit_service.target_names(wanted) if wanted else {}
    out = []
    for entry in entries:
        kind, target = target_kind(entry["action"]), entry.get("target")
        shown = dict(entry, words=sentence(t, entry["action"]), target_name=target, target_url=None,
                     target_kind=kind)
        if target and kind in ("bucket", "object"):
            shown["target_name"], shown["target_url"] = _bucket_link(target, kind)
        elif target and (kind, target) in names:
            row = names[(kind, target)]
            shown["target_name"] = row["name"]
            page = _PAGES.get(kind)
            shown["target_url"] = page(target, row) if page else None
        if shown["target_url"] and page_exists is not None and not page_exists(shown["target_url"]):
            shown["target_url"] = None
        out.append(shown)
    return out
