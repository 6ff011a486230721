"""The Networks console pages through the HTTP client with a signed-in session: the VPC list and its form,
one VPC's page (topology, subnets with used/free, route tables, groups, ACLs), the rule editors, the delete
plan with its cascade, and the mini PC page's network facts."""
from __future__ import annotations

import re
from urllib.parse import parse_qs, urlparse

import pytest
from compute_fixtures import compute_overrides
from netsec_fixtures import make_vpc, personal_project
from test_pages import html, page_login, post_form

EN = {"Accept-Language": "en"}
KO = {"Accept-Language": "ko"}


@pytest.fixture
def config(config):
    return compute_overrides(config)


@pytest.fixture
def alice(client, auth):
    user = auth.user("alice")
    page_login(client, password="correct-horse")
    return user


def follow(client, response, headers=EN) -> str:
    """The page a form's 303 leads to."""
    assert response.status_code == 303, html(response)
    return html(client.get(response.headers["Location"], headers=headers))


def new_vpc(client, name="main", cidr="10.0.0.0/16") -> str:
    response = post_form(client, "/networks/vpcs", {"name": name, "cidr": cidr})
    assert response.status_code == 303, html(response)
    return urlparse(response.headers["Location"]).path.rsplit("/", 1)[1]


def new_subnet(client, vpc_id, name="web", cidr="10.0.1.0/24"):
    return post_form(client, f"/networks/vpcs/{vpc_id}/subnets", {"name": name, "cidr": cidr})


def test_the_list_creates_a_vpc_through_its_form(client, alice):
    empty = html(client.get("/networks", headers=EN))
    assert 'id="vpc-create"' in empty
    response = post_form(client, "/networks/vpcs", {"name": "prod", "cidr": "10.20.0.0/16"})
    page = follow(client, response)
    assert "VPC prod was created with its main route table, default ACL and default security group." in page
    listing = html(client.get("/networks", headers=EN))
    table = re.search(r'<table class="data" id="vpcs">.*?</table>', listing, re.S).group(0)
    assert "prod" in table and "10.20.0.0/16" in table
    korean = html(client.get(response.headers["Location"], headers=KO))
    assert "prod" in korean and "서브넷" in korean and "VPC의 기본 보안 그룹" in korean


def test_a_refused_vpc_names_the_field_and_keeps_the_values(client, alice):
    new_vpc(client, "main", "10.0.0.0/16")
    overlap = post_form(client, "/networks/vpcs", {"name": "other", "cidr": "10.0.128.0/17"}, headers=EN)
    assert overlap.status_code == 409
    assert 'value="other"' in html(overlap) and 'aria-invalid="true"' in html(overlap)
    bad = post_form(client, "/networks/vpcs", {"name": "bad name!", "cidr": "10.9.0.0/16"}, headers=EN)
    assert bad.status_code == 422 and "Names start with a letter or digit" in html(bad)


def test_the_vpc_page_shows_topology_subnets_tables_groups_and_acls(client, alice):
    vpc_id = new_vpc(client)
    page = follow(client, new_subnet(client, vpc_id))
    assert "Subnet web was created." in page
    new_subnet(client, vpc_id, "db", "10.0.2.0/28")
    page = html(client.get(f"/networks/vpcs/{vpc_id}", headers=EN))
    assert '<svg xmlns="http://www.w3.org/2000/svg"' in page and 'id="topology"' in page
    subnets = re.search(r'<table class="data" id="subnet-table">.*?</table>', page, re.S).group(0)
    assert "10.0.1.0/24" in subnets and "10.0.2.0/28" in subnets
    assert "0 used · 251 free" in subnets and "0 used · 11 free" in subnets
    tables = re.search(r'id="route-tables".*?</section>', page, re.S).group(0)
    assert "main" in tables and "10.0.0.0/16" in tables
    groups = re.search(r'<ul class="net-list" id="group-list">.*?</ul>', page, re.S).group(0)
    assert "default" in groups and "/networks/security-groups/" in groups
    acls = re.search(r'<ul class="net-list" id="acl-list">.*?</ul>', page, re.S).group(0)
    assert "/networks/acls/" in acls
    refused = new_subnet(client, vpc_id, "out", "192.168.0.0/24")
    assert refused.status_code == 422 and 'value="192.168.0.0/24"' in html(refused)


def test_a_script_named_vpc_is_escaped_on_the_page_and_in_the_drawing(client, alice, services):
    # the API's name rule refuses it; a VPC made by the service directly shows the pages escape anyway
    vpc = services.vpcs.create(personal_project(alice), "<script>alert(1)</script>", "10.3.0.0/16")
    services.subnets.create(personal_project(alice), vpc["id"], "<b>sub</b>", "10.3.1.0/24")
    page = html(client.get(f"/networks/vpcs/{vpc['id']}", headers=EN))
    assert "<script>alert(1)</script>" not in page and "<b>sub</b>" not in page
    svg = re.search(r"<svg[^>]*topology.*?</svg>", page, re.S).group(0)
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in svg and "&lt;b&gt;sub&lt;/b&gt;" in svg
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html(client.get("/networks", headers=EN))


def test_the_group_page_adds_and_deletes_a_rule(client, alice, services):
    vpc_id = new_vpc(client)
    made = post_form(client, f"/networks/vpcs/{vpc_id}/security-groups", {"name": "web", "description": "http"})
    assert made.status_code == 303
    group_path = urlparse(made.headers["Location"]).path
    added = post_form(client, group_path, {"action": "add_rule", "direction": "ingress", "protocol": "tcp",
                                           "port_min": "80", "port_max": "80", "cidr": "0.0.0.0/0"})
    page = follow(client, added)
    ingress = re.search(r'id="ingress-rules".*?</table>', page, re.S).group(0)
    assert "80" in ingress and "0.0.0.0/0" in ingress
    rule_id = re.search(r'name="rule_id" value="([^"]+)"', ingress).group(1)
    deleted = follow(client, post_form(client, group_path, {"action": "delete_rule", "rule_id": rule_id, "confirmed": "1"}))
    assert 'id="no-ingress-rules"' in deleted and rule_id not in deleted
    bad = post_form(client, group_path, {"action": "add_rule", "direction": "ingress", "protocol": "tcp",
                                         "port_min": "90", "port_max": "80", "cidr": "0.0.0.0/0"}, headers=EN)
    assert bad.status_code == 422 and 'value="90"' in html(bad)


def test_the_acl_page_adds_an_entry_and_ends_in_the_star_deny(client, alice):
    vpc_id = new_vpc(client)
    made = post_form(client, f"/networks/vpcs/{vpc_id}/acls", {"name": "strict"})
    assert made.status_code == 303
    acl_path = urlparse(made.headers["Location"]).path
    page = follow(client, post_form(client, acl_path, {
        "action": "add_entry", "direction": "ingress", "number": "100", "action_kind": "allow",
        "protocol": "tcp", "port_min": "22", "port_max": "22", "cidr": "10.0.0.0/8"}))
    assert "Entry 100 was added." in page
    ingress = re.search(r'id="ingress-entries".*?</table>', page, re.S).group(0)
    rows = re.findall(r"<tr.*?</tr>", ingress, re.S)
    assert "100" in rows[1] and "10.0.0.0/8" in rows[1]
    assert 'data-entry="*"' in rows[-1] and "<td>*</td>" in rows[-1] and "net-deny" in rows[-1]


def test_the_delete_page_lists_the_plan_and_the_cascade_queues_the_job(client, alice, services):
    vpc_id = new_vpc(client, "doomed")
    new_subnet(client, vpc_id, "web")
    post_form(client, f"/networks/vpcs/{vpc_id}/security-groups", {"name": "extra", "description": ""})
    confirm = html(client.get(f"/networks/vpcs/{vpc_id}/delete", headers=EN))
    plan = re.search(r'<ol class="net-plan" id="delete-plan">.*?</ol>', confirm, re.S).group(0)
    assert [k for k in re.findall(r'data-kind="([a-z_]+)"', plan)] == ["subnets", "security_groups", "vpc"]
    assert "web" in plan and "extra" in plan and "doomed" in plan
    asked = post_form(client, f"/networks/vpcs/{vpc_id}/delete", {"cascade": "1"}, headers=EN)
    assert asked.status_code == 200 and 'name="confirm_name"' in html(asked)  # type the name first
    typo = post_form(client, f"/networks/vpcs/{vpc_id}/delete", {"cascade": "1", "confirmed": "1", "confirm_name": "doom"},
                     headers=EN)
    assert typo.status_code == 422 and "The name you typed is not doomed." in html(typo)
    assert not services.db.fetchone("SELECT 1 AS one FROM jobs WHERE kind = 'vpc.delete'")
    sure = {"confirmed": "1", "confirm_name": "doomed"}
    plain = post_form(client, f"/networks/vpcs/{vpc_id}/delete", sure, headers=EN)
    assert plain.status_code == 409 and 'id="delete-plan"' in html(plain)
    cascade = post_form(client, f"/networks/vpcs/{vpc_id}/delete", {"cascade": "1", **sure})
    assert cascade.status_code == 303
    assert parse_qs(urlparse(cascade.headers["Location"]).query)["done"] == ["vpc_delete_started"]
    assert "VPC doomed is being deleted with everything in it." in follow(client, cascade)
    job = services.db.fetchone("SELECT state, payload FROM jobs WHERE kind = 'vpc.delete'")
    assert job["state"] == "queued" and job["payload"] == {"vpc_id": vpc_id}


def test_another_users_vpc_page_is_not_found(client, alice, auth, services):
    bob = auth.user("bob")
    theirs = services.vpcs.create(personal_project(bob), "theirs", "10.0.0.0/16")
    page_login(client, password="correct-horse")  # the browser is alice's again
    assert "theirs" not in html(client.get("/networks"))
    assert client.get(f"/networks/vpcs/{theirs['id']}").status_code == 404
    assert client.get(f"/networks/vpcs/{theirs['id']}/delete").status_code == 404
    assert post_form(client, f"/networks/vpcs/{theirs['id']}/subnets",
                     {"name": "x", "cidr": "10.0.1.0/24"}).status_code == 404


def test_the_dashboard_counts_vpcs_and_subnets(client, alice):
    vpc_id = new_vpc(client)
    new_subnet(client, vpc_id)
    page = html(client.get("/dashboard", headers=EN))
    assert '<dd id="card-networks-vpcs">1</dd>' in page and '<dd id="card-networks-subnets">1</dd>' in page
    assert '<dd id="card-networks-public-ips">0</dd>' in page and 'href="/networks"' in page


def test_the_mini_pc_page_shows_its_private_ip_and_groups(client, alice, compute, services):
    vpc = make_vpc(services, personal_project(alice))
    created = alice.post("/api/v1/instances", json={"name": "pc1", "template_id": compute["tid"]("nano"),
                                                     "subnet_id": vpc["subnet_id"]})
    assert created.status_code == 202, created.json
    page = html(client.get(f"/mini-pcs/{created.json['id']}", headers=EN))
    assert '<dd id="private-ip"><code>10.0.1.4</code></dd>' in page
    assert f'<a href="/networks/security-groups/{vpc["group_id"]}">default</a>' in page
    assert f'href="/networks/vpcs/{vpc["vpc_id"]}#subnets"' in page
    korean = html(client.get(f"/mini-pcs/{created.json['id']}", headers=KO))
    assert "사설 IP" in korean and "보안 그룹" in korean


def test_the_gateway_a_route_and_a_public_ip_through_the_forms(client, alice):
    vpc_id = new_vpc(client)
    attached = follow(client, post_form(client, f"/networks/vpcs/{vpc_id}/gateway", {"action": "attach"}))
    assert "The internet gateway" in attached and 'id="gateway-state"' in attached
    table_id = re.search(r'data-route-table="([^"]+)"', attached).group(1)
    routed = follow(client, post_form(client, f"/networks/vpcs/{vpc_id}/route-table-action", {
        "action": "add_route", "route_table_id": table_id, "destination": "0.0.0.0/0"}))
    assert "Route 0.0.0.0/0 → internet gateway was added." in routed
    route_id = re.search(r'name="route_id" value="([^"]+)"', routed).group(1)
    removed = follow(client, post_form(client, f"/networks/vpcs/{vpc_id}/route-table-action", {
        "action": "remove_route", "route_table_id": table_id, "route_id": route_id, "destination": "0.0.0.0/0",
        "confirmed": "1"}))
    assert "Route 0.0.0.0/0 was removed." in removed and 'name="route_id"' not in removed
    allocated = follow(client, post_form(client, "/networks/public-ips", {}))
    ip_table = re.search(r'<table class="data" id="public-ip-table">.*?</table>', allocated, re.S).group(0)
    ip_id = re.search(r'action="/networks/public-ips/([^"]+)"', ip_table).group(1)
    released = follow(client, post_form(client, f"/networks/public-ips/{ip_id}", {"action": "release", "confirmed": "1"}))
    assert "was released." in released and 'id="no-public-ips"' in released


# -- the rental form's network fields ---------------------------------------------------------------
def test_the_rental_form_offers_the_default_vpc_when_there_are_no_subnets(client, alice, compute):
    page = html(client.get("/mini-pcs/new", headers=EN))
    picker = re.search(r'<select id="subnet_id" name="subnet_id".*?</select>', page, re.S).group(0)
    assert re.findall(r"<option[^>]*>", picker) == ['<option value="" selected>']
    assert "default VPC (made on first use)" in picker and 'id="security-groups"' not in page
    assert "기본 VPC (처음 쓸 때 만들어짐)" in html(client.get("/mini-pcs/new", headers=KO))


def test_the_rental_form_puts_the_mini_pc_in_the_chosen_subnet_and_groups(client, alice, compute):
    vpc_id = new_vpc(client, "lab", "10.5.0.0/16")
    new_subnet(client, vpc_id, "app", "10.5.2.0/24")
    made = post_form(client, f"/networks/vpcs/{vpc_id}/security-groups", {"name": "web", "description": ""})
    group_id = urlparse(made.headers["Location"]).path.rsplit("/", 1)[1]
    page = html(client.get("/mini-pcs/new", headers=EN))
    subnet_id = re.search(r'<option value="([0-9a-f-]{36})">lab / app \(10\.5\.2\.0/24, 251 free\)</option>',
                          page).group(1)
    assert f'name="security_group_ids" value="{group_id}"' in page
    response = post_form(client, "/mini-pcs", {"name": "pc1", "template_id": compute["tid"]("nano"),
                                               "subnet_id": subnet_id, "security_group_ids": group_id})
    assert response.status_code == 303, html(response)
    instance_id = response.headers["Location"].rsplit("/", 1)[1]
    shown = alice.get(f"/api/v1/instances/{instance_id}").json
    assert shown["subnet_id"] == subnet_id and shown["private_ip"] == "10.5.2.4"
    assert [g["id"] for g in shown["security_groups"]] == [group_id]
    other_vpc = new_vpc(client, "other", "10.6.0.0/16")
    new_subnet(client, other_vpc, "x", "10.6.1.0/24")
    stranger = alice.get("/api/v1/security-groups").json["items"]
    foreign = next(g["id"] for g in stranger if g["vpc_id"] == other_vpc)
    refused = post_form(client, "/mini-pcs", {"name": "pc2", "template_id": compute["tid"]("nano"),
                                              "subnet_id": subnet_id, "security_group_ids": foreign}, headers=EN)
    assert refused.status_code == 409 and "These groups are of another VPC than the subnet: default." in html(refused)
    assert re.search(rf'value="{foreign}"\s+checked', html(refused))  # the ticks stay
    assert re.search(rf'<option value="{subnet_id}" selected>', html(refused))


def test_a_subnet_takes_another_route_table_and_acl_and_is_deleted(client, alice):
    vpc_id = new_vpc(client)
    new_subnet(client, vpc_id)
    made = follow(client, post_form(client, f"/networks/vpcs/{vpc_id}/route-tables", {"name": "edge"}))
    assert "Route table edge was created." in made
    edge = re.search(r'<option value="([^"]+)">edge</option>', made).group(1)
    subnet_id = re.search(r'<tr data-subnet="([^"]+)"', made).group(1)
    moved = follow(client, post_form(client, f"/networks/vpcs/{vpc_id}/subnet-action", {
        "action": "route_table", "subnet_id": subnet_id, "route_table_id": edge}))
    assert "Subnet web uses the chosen route table now." in moved
    assert re.search(rf'<option value="{edge}" selected>edge</option>', moved)
    in_use = post_form(client, f"/networks/vpcs/{vpc_id}/route-table-action",
                       {"action": "delete", "route_table_id": edge, "confirmed": "1"}, headers=EN)
    assert in_use.status_code == 409 and "web" in html(in_use)
    acl_path = urlparse(post_form(client, f"/networks/vpcs/{vpc_id}/acls", {"name": "tight"}).headers["Location"]).path
    associated = follow(client, post_form(client, acl_path, {"action": "associate", "subnet_id": subnet_id}))
    assert "Subnet web uses the chosen ACL now." in associated
    gone = follow(client, post_form(client, f"/networks/vpcs/{vpc_id}/subnet-action",
                                    {"action": "delete", "subnet_id": subnet_id, "confirmed": "1"}))
    assert "Subnet web was deleted." in gone and 'id="no-subnets"' in gone
