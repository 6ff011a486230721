"""Mini PC rules without a database: the state machine, names, secrets masking, keys, NICs."""
import pytest

from minicloud.errors import ValidationFailed
from minicloud.services.instances import ACTIONS, STATES, allowed_actions, check_name, hash_password, mask_secrets
from minicloud.services.keypairs import InvalidKey, parse_public_key
from minicloud.services.networking import Networking, mac_for


def test_the_state_machine_matches_the_architecture():
    assert allowed_actions("pending") == ["delete"]
    assert allowed_actions("running") == ["stop", "reboot", "delete"]
    assert allowed_actions("stopped") == ["start", "resize", "delete"]
    assert allowed_actions("error") == ["start", "delete"]
    for transitional in ("building", "stopping", "starting", "rebooting", "resizing"):
        assert allowed_actions(transitional) == ["delete"]
    assert allowed_actions("deleting") == [] and allowed_actions("deleted") == []
    assert {to for _, to, _ in ACTIONS.values()} <= set(STATES)


@pytest.mark.parametrize("name, hostname", [("Web-1", "web-1"), ("a", "a"), ("x" * 63, "x" * 63)])
def test_names_become_lowercase_hostnames(name, hostname):
    assert check_name(name) == hostname


@pytest.mark.parametrize("name", [None, "", "  ", "-a", "a-", "a_b", "a.b", "x" * 64, "웹"])
def test_bad_names_are_422(name):
    with pytest.raises(ValidationFailed) as caught:
        check_name(name)
    assert set(caught.value.details["fields"]) == {"name"}


def test_passwords_are_sha512_crypt_and_masked_in_seeds():
    hashed = hash_password("pw-123456")
    assert hashed.startswith("$6$") and "pw-123456" not in hashed
    seed = f"#cloud-config\nusers:\n  - name: student\n    passwd: {hashed}\nchpasswd:\n  password: x\n"
    masked = mask_secrets(seed)
    assert hashed not in masked and masked.count("********") == 2 and "name: student" in masked


def test_a_key_with_a_comment_and_trailing_space_is_normalised():
    line = ("ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIOMqqnkVzrm0SdG6UOoqKLsabgH5C9okWi0dh2l9GKJl  me@host ")
    kind, blob, normalised = parse_public_key(line)
    assert kind == "ssh-ed25519" and len(blob) == 51 and normalised == line.strip().replace("  ", " ")
    with pytest.raises(InvalidKey):
        parse_public_key("ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIOMq")  # truncated


def test_nic_mode_and_connection_info():
    class Cfg:
        def __init__(self, mode):
            self.mode = mode

        def get(self, key):
            return self.mode

    auto = Networking(Cfg("auto"))
    assert auto.mode_for({"uri": "qemu:///system"}) == "network"
    assert auto.mode_for({"uri": "qemu+ssh://node2/system"}) == "network"
    assert auto.mode_for({"uri": "qemu:///session"}) == "user"
    assert auto.mode_for({"uri": "test:///default"}) == "user"
    assert Networking(Cfg("user")).mode_for({"uri": "qemu:///system"}) == "user"
    assert mac_for("x") == mac_for("x") and mac_for("x").startswith("52:54:00:")
    info = auto.connection_info({"nic": {"mode": "user", "ssh_port": 22001}, "addresses": []}, "debian")
    assert info == {"addresses": ["127.0.0.1"], "ssh": "ssh -p 22001 debian@127.0.0.1"}


def test_guests_attach_to_their_subnets_bridge_only_on_the_local_system_host_with_enforcement_on():
    class Cfg:
        def __init__(self, **values):
            self.values = {"network.enforcement": "auto", "compute.network_mode": "auto", **values}

        def get(self, key):
            return self.values[key]

    auto = Networking(Cfg())
    assert auto.bridges_on({"uri": "qemu:///system"})
    for uri in ("qemu+ssh://node2/system", "qemu:///session", "test:///default"):
        assert not auto.bridges_on({"uri": uri}), uri
    assert not Networking(Cfg(**{"network.enforcement": "off"})).bridges_on({"uri": "qemu:///system"})
    assert not Networking(Cfg(**{"compute.network_mode": "user"})).bridges_on({"uri": "qemu:///system"})


def test_a_bridge_nic_survives_the_round_trip_through_the_instance_row():
    from minicloud.drivers.compute.base import NicSpec

    nic = NicSpec(mode="bridge", bridge="mcbr-4", target="mct0123456789ab", mac="52:54:00:01:02:03", ip="10.0.1.4")
    stored = Networking.as_json(nic)
    assert stored == {"mode": "bridge", "bridge": "mcbr-4", "target": "mct0123456789ab",
                      "mac": "52:54:00:01:02:03", "ip": "10.0.1.4"}
    assert Networking.from_json(stored) == nic
    info = Networking(None).connection_info({"nic": stored, "addresses": []}, "debian")
    assert info == {"addresses": ["10.0.1.4"], "ssh": "ssh debian@10.0.1.4"}
