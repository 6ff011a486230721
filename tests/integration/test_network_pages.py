"""The Networks console pages through the HTTP client with a signed-in session.

The VPC pages need services/vpcs.py and services/subnets.py (i10-netapi); until that branch is merged,
these tests cover what the merged security-group and instance branches make visible: a mini PC's page
shows its private address and its groups, linked to the group editor.
"""
from __future__ import annotations

import pytest
from compute_fixtures import compute_overrides
from netsec_fixtures import install_network_standins, make_vpc, personal_project
from test_pages import html, page_login


@pytest.fixture
def config(config):
    return compute_overrides(config)


@pytest.fixture(autouse=True)
def networks(services):
    install_network_standins(services)


@pytest.fixture
def alice(client, auth):
    user = auth.user("alice")
    page_login(client, password="correct-horse")
    return user


def test_the_mini_pc_page_shows_its_private_ip_and_groups(client, alice, compute, services):
    vpc = make_vpc(services, personal_project(alice))
    created = alice.post("/api/v1/instances", json={"name": "pc1", "template_id": compute["tid"]("nano"),
                                                     "subnet_id": vpc["subnet_id"]})
    assert created.status_code == 202, created.json
    page = html(client.get(f"/mini-pcs/{created.json['id']}", headers={"Accept-Language": "en"}))
    assert '<dd id="private-ip"><code>10.0.1.4</code></dd>' in page
    assert f'<a href="/networks/security-groups/{vpc["group_id"]}">default</a>' in page
    assert f'href="/networks/vpcs/{vpc["vpc_id"]}#subnets"' in page
    korean = html(client.get(f"/mini-pcs/{created.json['id']}", headers={"Accept-Language": "ko"}))
    assert "사설 IP" in korean and "보안 그룹" in korean
