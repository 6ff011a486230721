"""VPCs end to end with real guests (issue 10): the API, real workers, libvirt's qemu:///system, the tiny
image, and the REAL network driver on this kernel — bridges, router namespaces, dnsmasq, nftables.

Two mini PCs in one subnet talk on the port their group allows and not on another; a group change on a
running guest takes effect without restarting it; a guest in another project's VPC — with the very same
CIDR — cannot reach them. The guests are driven through their serial console (busybox ``nc``).

Every name on the host is this run's own: the VPC, subnet and group numbers start at a random high value,
the public bridge and the host tables have the run's tag, the driver's leftover removal is scoped to them,
and everything is torn down at the end.
"""
from __future__ import annotations

import random
import re
import uuid

import pytest
from werkzeug.test import Client

from test_mini_pcs import CREATE_TIMEOUT, MiniCloud, compute_settings, mini_env  # noqa: F401 - mini_env is a fixture
from waiting import wait_for
from minicloud.drivers.network.base import PublicNetwork
from minicloud.drivers.network.linux import LinuxNetworkDriver

pytestmark = pytest.mark.system


@pytest.fixture
def numbers():
    """The first VPC/subnet/group/table number of this run (VPC numbers are conntrack zones: ≤ 65535)."""
    return random.randrange(61000, 64000, 10)


@pytest.fixture
def tag():
    return uuid.uuid4().hex[:6]


@pytest.fixture
def config(config, mini_env, tmp_path, tag):  # noqa: F811 - the mini PCs' config, networks enforced
    return config.with_overrides({
        **compute_settings(mini_env),  # this session's own storage pool, console folder and ports
        "compute.network_mode": "auto",
        "network.enforcement": "on",
        "network.public_bridge": f"mcpub{tag}",
        "network.public_pool": "198.51.100.0/28",
        "network.state_dir": str(tmp_path / "network"),
    })


@pytest.fixture
def network_driver(config, tag, numbers, tmp_path):
    """The real driver with this run's names; teardown removes all of it."""
    own = re.compile(r"^mc(vpc|br|l|u)-(\d+)$")

    def scope(name: str) -> bool:
        match = own.match(name)
        return name == f"mcpub{tag}" or bool(match and numbers <= int(match.group(2)) < numbers + 1000)

    driver = LinuxNetworkDriver(tmp_path / "network", scope=scope,
                                public=PublicNetwork(bridge=f"mcpub{tag}", cidr="198.51.100.0/28",
                                                     gateway="198.51.100.1"),
                                sg_table=f"mcsg_{tag}", spoof_table=f"mcsp_{tag}")
    yield driver
    driver.teardown()


@pytest.fixture
def vpc_cloud(app, services, config, mini_env, database_url, numbers, network_driver):  # noqa: F811
    with services.db.connection() as conn:
        for table in ("vpcs", "subnets", "security_groups", "route_tables"):
            conn.execute(f"SELECT setval(pg_get_serial_sequence('{table}', 'number'), %s, false)", (numbers,))
    mc = MiniCloud(app, services, config, mini_env, database_url)
    client = Client(app)
    assert client.post("/api/v1/auth/signup", json={"username": "bob", "password": "correct-horse",
                                                    "display_name": "Bob"}).status_code == 201
    mc.bob = mc.login("bob", "correct-horse")
    mc.start_workers(2)
    try:
        yield mc
    finally:
        mc.cleanup()


def ok(response, status=201):
    assert response.status_code == status, response.json
    return response.json


def network(user, cidr="10.77.0.0/16", subnet="10.77.1.0/24"):
    vpc = ok(user.post("/api/v1/vpcs", json={"name": "lab", "cidr": cidr}))
    sub = ok(user.post(f"/api/v1/vpcs/{vpc['id']}/subnets", json={"name": "one", "cidr": subnet}))
    return vpc, sub


def group(user, vpc, name, *rules):
    made = ok(user.post("/api/v1/security-groups", json={"name": name, "vpc_id": vpc["id"]}))
    for rule in rules:
        ok(user.post(f"/api/v1/security-groups/{made['id']}/rules", json={"direction": "ingress", **rule}))
    return made


def typed(mc, user, instance_id, line: str) -> None:
    ok(user.post(f"/api/v1/instances/{instance_id}/console", json={"input": line + "\r"}), 204)


def reaches(mc, user, client_id, address: str, port: int, mark: str) -> bool:
    """From the client guest's console: does a TCP connection to address:port get the server's greeting?"""
    typed(mc, user, client_id, f"echo {mark}-$(nc -w 3 {address} {port} </dev/null)-END")
    found = wait_for(lambda: re.search(rf"{mark}-(\S*)-END", mc.console(client_id, user)), 30,
                     f"the answer of {mark}", interval=0.5)
    return found.group(1) == "HELLO"


def booted(mc, user, guest) -> None:
    """The guest is up and the subnet's dnsmasq gave it its static lease."""
    wait_for(lambda: "MINICLOUD-READY" in mc.console(guest["id"], user), CREATE_TIMEOUT, "the guest to boot",
             interval=1)
    # the tiny image's udhcpc reports the lease it got (from the subnet's dnsmasq, in the VPC's router)
    wait_for(lambda: f"MINICLOUD-NET eth0 ip={guest['private_ip']}\r" in mc.console(guest["id"], user)
             or f"MINICLOUD-NET eth0 ip={guest['private_ip']}\n" in mc.console(guest["id"], user),
             60, "the guest's DHCP lease", interval=1)


def serve(mc, user, server_id, port: int) -> None:
    """A server on the guest that greets every connection (busybox nc in a loop, in the background)."""
    typed(mc, user, server_id, f"(while true; do echo HELLO | nc -l -p {port} -w 2; done) >/dev/null 2>&1 &")


def test_two_guests_talk_on_an_allowed_port_only_and_a_group_change_applies_to_a_running_guest(vpc_cloud, tiny_image):
    mc = vpc_cloud
    image = mc.register_image(tiny_image)
    vpc, subnet = network(mc.user)
    web = group(mc.user, vpc, "web", {"protocol": "tcp", "port_min": 8080, "port_max": 8080,
                                      "cidr": "10.77.0.0/16"})
    guests = [mc.create(name, "nano-net", image, subnet_id=subnet["id"], security_group_ids=[web["id"]])
              for name in ("client", "server")]
    client, server = (mc.wait_state(g["id"], "running") for g in guests)
    assert (client["private_ip"], server["private_ip"]) == ("10.77.1.4", "10.77.1.5")
    for guest in (client, server):
        booted(mc, mc.user, guest)
    serve(mc, mc.user, server["id"], 8080)
    serve(mc, mc.user, server["id"], 9090)
    assert wait_for(lambda: reaches(mc, mc.user, client["id"], server["private_ip"], 8080, f"A{random.randrange(10**6)}"),
                    30, "the allowed port to answer", interval=1)
    assert not reaches(mc, mc.user, client["id"], server["private_ip"], 9090, "B1")

    admin_9090 = group(mc.user, vpc, "admin", {"protocol": "tcp", "port_min": 9090, "port_max": 9090,
                                               "cidr": "10.77.1.0/24"})
    ok(mc.user.put(f"/api/v1/instances/{server['id']}/security-groups",
                   json={"security_group_ids": [web["id"], admin_9090["id"]]}), 200)
    assert wait_for(lambda: reaches(mc, mc.user, client["id"], server["private_ip"], 9090, f"C{random.randrange(10**6)}"),
                    30, "the newly allowed port to answer on the running guest", interval=1)
    assert mc.get(server["id"]).json["state"] == "running"  # no restart: the same guest, still up

    # Bob's VPC has the same CIDR; his guest gets the same address as Alice's client and cannot reach her server.
    bob_vpc, bob_subnet = network(mc.bob)
    bob_open = group(mc.bob, bob_vpc, "open", {"protocol": "all", "cidr": "0.0.0.0/0"})
    stranger = mc.create("stranger", "nano-net", image, user=mc.bob, subnet_id=bob_subnet["id"],
                         security_group_ids=[bob_open["id"]])
    stranger = mc.wait_state(stranger["id"], "running", user=mc.bob)
    assert stranger["private_ip"] == "10.77.1.4"
    booted(mc, mc.bob, stranger)
    assert not reaches(mc, mc.bob, stranger["id"], server["private_ip"], 8080, "D1")
    # Alice's pair is undisturbed (a few tries: the server's nc loop has a gap between two connections)
    assert wait_for(lambda: reaches(mc, mc.user, client["id"], server["private_ip"], 8080, f"E{random.randrange(10**6)}"),
                    30, "Alice's client to still reach her server", interval=1)
