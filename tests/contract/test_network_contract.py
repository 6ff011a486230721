"""The network driver contract (drivers/network/base.py), held by the real LinuxNetworkDriver on this host's
kernel (marked ``system``: root, iproute2, nftables, dnsmasq) and by the stand-in the API tests use
(tests/network_standin.py): the same tests, so the stand-in cannot disagree with the driver.

The real driver gets a state dir of its own and a ``scope`` that accepts only this run's names (numbers
from a random base, see tests/network_states.py), so a run never touches another's objects.
"""
from __future__ import annotations

from dataclasses import replace

import pytest
from network_standin import StandinNetwork
from network_states import host_tables, new_base, public_network, scope, two_subnet_state

from minicloud.drivers.network.base import Applied, Capabilities, HostState, Nic, PublicIp, Vpc, leg_names
from minicloud.drivers.network.linux import LinuxNetworkDriver


@pytest.fixture(params=[pytest.param("linux", marks=pytest.mark.system), "standin"])
def kind(request):
    return request.param


@pytest.fixture
def base():
    return new_base()


@pytest.fixture
def driver(kind, base, tmp_path):
    if kind == "standin":
        yield StandinNetwork()
        return
    real = LinuxNetworkDriver(tmp_path / "network", scope=scope(base), public=public_network(base),
                                    **host_tables(base))
    yield real
    real.teardown()


def web_nic(base: int, state: HostState) -> Nic:
    net = state.vpcs[0].subnets[0].cidr.rsplit(".", 2)[0]
    return Nic(f"mcp{base}a", "52:54:00:12:34:56", f"{net}.1.10", "web", (base,))


def test_capabilities_say_whether_the_host_can_apply(driver):
    found = driver.capabilities()
    assert isinstance(found, Capabilities)
    assert found.can_apply and found.br_netfilter and found.reason == ""
    assert set(found.as_dict()) == {"can_apply", "bridge_conntrack", "br_netfilter", "reason"}


def test_apply_converges_and_a_repeat_changes_nothing(driver, base):
    state = two_subnet_state(base, gateway=True)
    first = driver.apply(state)
    assert isinstance(first, Applied) and first.digest == state.digest()
    assert any(state.vpcs[0].subnets[0].bridge in line for line in first.changes)
    assert any(state.vpcs[0].namespace in line for line in first.changes)
    assert first.calls  # the commands are shown in the "underneath" panel
    assert any("minicloud_router" in text for text in first.rulesets.values())

    again = driver.apply(state)
    assert again.changes == () and again.digest == first.digest


def test_a_changed_state_reports_what_changed_and_removes_what_is_gone(driver, base):
    state = two_subnet_state(base, gateway=True)
    driver.apply(state)
    vpc = state.vpcs[0]
    nic = web_nic(base, state)
    smaller = Vpc(vpc.number, vpc.vpc_id, vpc.name, vpc.cidr,
                  (replace(vpc.subnets[0], nics=(nic,)),),
                  vpc.groups, vpc.gateway_address, (PublicIp(public_network(base).gateway[:-1] + "5", nic.ip),))
    changed = driver.apply(HostState((smaller,), state.public))
    gone = vpc.subnets[1]
    assert any(gone.bridge in line and "removed" in line for line in changed.changes)
    assert any(f"subnet {vpc.subnets[0].number}" in line for line in changed.changes)  # its leases changed
    assert driver.apply(HostState((smaller,), state.public)).changes == ()


def test_underneath_shows_rules_routes_and_leases_of_a_vpc(driver, base):
    state = two_subnet_state(base, gateway=True)
    vpc = state.vpcs[0]
    nic = web_nic(base, state)
    first = replace(vpc.subnets[0], nics=(nic,))
    vpc = Vpc(vpc.number, vpc.vpc_id, vpc.name, vpc.cidr, (first, vpc.subnets[1]), vpc.groups, vpc.gateway_address)
    driver.apply(HostState((vpc,), state.public))

    seen = driver.underneath(vpc)
    assert "minicloud_router" in seen.ruleset
    assert f"iif {leg_names(first.number)[0]}" in seen.routes
    assert f"{first.cidr} dev {leg_names(first.number)[0]}" in seen.routes
    assert f"{nic.mac},{nic.ip},web" in seen.leases

    stranger = Vpc(base + 1, "other", "other", "10.250.0.0/16")
    assert (driver.underneath(stranger).ruleset, driver.underneath(stranger).routes,
            driver.underneath(stranger).leases) == ("", "", "")


def test_teardown_removes_everything_and_a_repeat_removes_nothing(driver, base):
    state = two_subnet_state(base, gateway=True)
    driver.apply(state)
    removed = driver.teardown()
    assert any(state.vpcs[0].namespace in name for name in removed)
    assert all(any(s.bridge in name for name in removed) for s in state.vpcs[0].subnets)
    assert driver.teardown() == ()
    assert driver.underneath(state.vpcs[0]).routes == ""
