"""Names or ids: what a user types, turned into the id the API wants (through the list endpoints)."""
from __future__ import annotations

from mcloud.client import UUID, ApiClient, ApiFailure


def pc(client: ApiClient, value: str) -> str:
    return client.resolve_id("/instances", value, kind="pc")


def template(client: ApiClient, value: str) -> str:
    return client.resolve_id("/templates", value, kind="template")


def image(client: ApiClient, value: str) -> str:
    return client.resolve_id("/images", value, kind="image")


def keypair(client: ApiClient, value: str) -> str:
    return client.resolve_id("/keypairs", value, kind="keypair")


def app(client: ApiClient, value: str) -> str:
    return client.resolve_id("/apps", value, kind="app")


def vpc(client: ApiClient, value: str) -> str:
    return client.resolve_id("/vpcs", value, kind="vpc")


def security_group(client: ApiClient, value: str, vpc_id: str | None = None) -> str:
    return client.resolve_id("/security-groups", value, kind="sg", vpc_id=vpc_id)


def public_ip(client: ApiClient, value: str) -> str:
    return client.resolve_id("/public-ips", value, kind="ip") if UUID.match(value) else \
        str(client.resolve("/public-ips", value, kind="ip", key="address")["id"])


def api_key(client: ApiClient, value: str) -> str:
    return client.resolve_id("/api-keys", value, kind="apikey")


def project(client: ApiClient, value: str) -> str:
    return client.resolve_project(value)


def _in_vpcs(client: ApiClient, value: str, kind: str, list_path: str, vpc_value: str | None) -> str:
    """A subnet, route table or ACL: listed per VPC, so looked for in the given VPC or in every one."""
    if UUID.match(value):
        return value
    vpc_ids = [vpc(client, vpc_value)] if vpc_value else [str(v["id"]) for v in client.all("/vpcs")]
    found: list[str] = []
    for vpc_id in vpc_ids:
        try:
            found.append(str(client.resolve(list_path.format(vpc_id=vpc_id), value, kind=kind)["id"]))
        except ApiFailure as failure:
            if failure.code != "not_found_by_name":
                raise
    if len(found) == 1:
        return found[0]
    if found:
        raise ApiFailure(409, "ambiguous", value, {"kind": kind, "name": value, "ids": found})
    raise ApiFailure(404, "not_found_by_name", value, {"kind": kind, "name": value})


def subnet(client: ApiClient, value: str, vpc_value: str | None = None) -> str:
    return _in_vpcs(client, value, "subnet", "/vpcs/{vpc_id}/subnets", vpc_value)


def route_table(client: ApiClient, value: str, vpc_value: str | None = None) -> str:
    return _in_vpcs(client, value, "route-table", "/vpcs/{vpc_id}/route-tables", vpc_value)


def acl(client: ApiClient, value: str, vpc_value: str | None = None) -> str:
    return _in_vpcs(client, value, "acl", "/vpcs/{vpc_id}/network-acls", vpc_value)
