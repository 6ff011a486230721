"""mcloud vpc | subnet | route-table | sg | acl | ip: a VPC built and taken apart from the command line."""
from __future__ import annotations

import re


def test_vpc_subnet_rules_and_cascade_delete(signed_in):
    cli = signed_in
    made = cli("vpc", "create", "lab", "--cidr", "10.42.0.0/16")
    assert made.exit_code == 0 and "Created VPC lab." in made.stdout
    subnet = cli("subnet", "create", "web", "--vpc", "lab", "--cidr", "10.42.1.0/24")
    assert subnet.exit_code == 0, subnet.output
    shown = cli("vpc", "show", "lab")
    assert "10.42.0.0/16" in shown.stdout and re.search(r"web\s+10\.42\.1\.0/24", shown.stdout), shown.stdout
    assert cli.json("subnet", "show", "web")["cidr"] == "10.42.1.0/24"   # found by name in every VPC

    group = cli("sg", "create", "ssh-only", "--vpc", "lab", "--description", "SSH from anywhere")
    assert group.exit_code == 0, group.output
    rule = cli("sg", "add-rule", "ssh-only", "--protocol", "tcp", "--port", "22", "--cidr", "0.0.0.0/0")
    assert rule.exit_code == 0, rule.output
    rules = cli("sg", "show", "ssh-only")
    assert re.search(r"ingress\s+tcp\s+22\s+0\.0\.0\.0/0", rules.stdout), rules.stdout
    bad = cli("--lang", "ko", "sg", "add-rule", "ssh-only", "--protocol", "tcp", "--port", "70000",
              "--cidr", "0.0.0.0/0")
    assert bad.exit_code == 1 and bad.stderr.startswith("오류:")

    acl = cli("acl", "create", "strict", "--vpc", "lab")
    assert acl.exit_code == 0, acl.output
    entry = cli("acl", "add-entry", "strict", "--number", "100", "--action", "allow", "--protocol", "tcp",
                "--port", "22")
    assert entry.exit_code == 0, entry.output
    assert re.search(r"100\s+ingress\s+allow\s+tcp\s+22", cli("acl", "show", "strict").stdout)
    assert cli("subnet", "set-acl", "web", "--acl", "strict").exit_code == 0
    assert cli.json("subnet", "show", "web")["network_acl_id"] == cli.json("acl", "show", "strict")["id"]

    table = cli("route-table", "create", "public", "--vpc", "lab")
    assert table.exit_code == 0
    gateway = cli("vpc", "attach-gateway", "lab")
    assert gateway.exit_code == 0, gateway.output
    assert cli("route-table", "add-route", "public").exit_code == 0
    assert "0.0.0.0/0→internet_gateway" in cli("route-table", "list", "--vpc", "lab").stdout

    plan = cli("vpc", "plan", "lab")
    assert plan.exit_code == 0 and "web" in plan.stdout
    refused = cli("vpc", "delete", "lab", "--yes")   # not empty: the API lists what it holds
    assert refused.exit_code == 5
    gone = cli("vpc", "delete", "lab", "--cascade", "--yes", "--wait", "--timeout", "60")
    assert gone.exit_code == 0, gone.output
    assert "Deleted VPC lab." in gone.stdout and "done." in gone.stderr
    assert "lab" not in [v["name"] for v in cli.json("vpc", "list")]


def test_public_ips(signed_in):
    cli = signed_in
    got = cli("ip", "allocate")
    assert got.exit_code == 0, got.output
    address = re.search(r"Allocated public IP (\S+)\.", got.stdout).group(1)
    assert re.search(rf"{re.escape(address)}\s+-", cli("ip", "list").stdout)
    assert cli.json("ip", "show", address)["address"] == address   # found by its address
    released = cli("ip", "release", address)
    assert released.exit_code == 0 and cli.json("ip", "list") == []
    missing = cli("ip", "show", "203.0.113.250")
    assert missing.exit_code == 4 and "No public IP named '203.0.113.250'." in missing.stderr
