"""The NoCloud seed: configs/cloud-init/*.j2 rendering, user-data merging and the ISO (no libvirtd needed)."""
from __future__ import annotations

import email
import io

import pycdlib
import pytest
import yaml

from minicloud.drivers.compute.base import ComputeError, ImageSpec, InstanceSpec, NicSpec
from minicloud.drivers.compute.seed import SeedFiles, build_iso, default_mac, read_iso, render_seed

KEY = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIMinicloudTestKey student@laptop"
HASH = "$6$rounds=4096$saltsalt$0123456789abcdefghijklmnopqrstuvwxyzABCDEFGH"


def make_spec(**over) -> InstanceSpec:
    values = dict(domain_name="mc-7d1f", instance_id="7d1f0000-aaaa-bbbb-cccc-000000000001", hostname="lab-pc",
                  vcpus=1, ram_mib=512, disk_gib=5,
                  image=ImageSpec(name="debian", disk_path="/images/debian/disk.qcow2", default_user="debian"),
                  nic=NicSpec(mode="user", ssh_port=22022), ssh_keys=(KEY,))
    values.update(over)
    return InstanceSpec(**values)


def our_user(config: dict) -> dict:
    return next(u for u in config["users"] if isinstance(u, dict) and u.get("name") == "debian")


def test_meta_data_has_instance_id_and_hostname():
    files = render_seed(make_spec())
    meta = yaml.safe_load(files.meta_data)
    assert meta == {"instance-id": "7d1f0000-aaaa-bbbb-cccc-000000000001", "local-hostname": "lab-pc"}


def test_user_data_is_cloud_config_with_user_and_key():
    files = render_seed(make_spec())
    assert files.user_data.startswith("#cloud-config\n")
    config = yaml.safe_load(files.user_data)
    assert config["hostname"] == "lab-pc"
    assert config["locale"] == "C.UTF-8"
    user = our_user(config)
    assert user["ssh_authorized_keys"] == [KEY]
    assert user["lock_passwd"] is True and "passwd" not in user
    assert "NOPASSWD" in user["sudo"]
    assert config["ssh_pwauth"] is False


def test_password_hash_unlocks_the_user():
    config = yaml.safe_load(render_seed(make_spec(password_hash=HASH, ssh_keys=())).user_data)
    user = our_user(config)
    assert user["passwd"] == HASH and user["lock_passwd"] is False
    assert "ssh_authorized_keys" not in user
    assert config["ssh_pwauth"] is True


def test_network_config_matches_the_nic_mac():
    net = yaml.safe_load(render_seed(make_spec()).network_config)
    assert net["version"] == 2
    eth = net["ethernets"]["primary"]
    assert eth["match"]["macaddress"] == default_mac("mc-7d1f") and eth["dhcp4"] is True
    net = yaml.safe_load(render_seed(make_spec(nic=NicSpec(mode="network", network="n", mac="52:54:00:AB:CD:EF")))
                         .network_config)
    assert net["ethernets"]["primary"]["match"]["macaddress"] == "52:54:00:ab:cd:ef"


def test_awkward_values_stay_valid_yaml():
    spec = make_spec(hostname="x: y # z", ssh_keys=('ssh-rsa AAAA "quoted" key',))
    files = render_seed(spec)
    assert yaml.safe_load(files.meta_data)["local-hostname"] == "x: y # z"
    assert our_user(yaml.safe_load(files.user_data))["ssh_authorized_keys"] == ['ssh-rsa AAAA "quoted" key']


def test_merged_cloud_config_keeps_both():
    theirs = ("#cloud-config\n"
              "runcmd:\n  - echo theirs > /tmp/marker\n"
              "packages: [htop]\n"
              "users:\n  - name: alice\n    shell: /bin/sh\n"
              "hostname: not-allowed\n"
              "timezone: Asia/Seoul\n")
    ours_with_runcmd = make_spec(user_data=theirs)
    config = yaml.safe_load(render_seed(ours_with_runcmd).user_data)
    assert config["runcmd"] == ["echo theirs > /tmp/marker"]
    assert config["packages"] == ["htop"]
    assert [u["name"] for u in config["users"]] == ["debian", "alice"]  # our user stays, theirs appended
    assert our_user(config)["ssh_authorized_keys"] == [KEY]
    assert config["hostname"] == "lab-pc"  # the platform owns the hostname
    assert config["timezone"] == "Asia/Seoul"


def test_merge_appends_lists_from_both_sides():
    from minicloud.drivers.compute.seed import combine_user_data

    ours = "#cloud-config\nruncmd:\n  - echo ours\nwrite_files:\n  - path: /a\n    content: a\n"
    theirs = "#cloud-config\nruncmd:\n  - echo theirs\nwrite_files:\n  - path: /b\n    content: b\n"
    merged = combine_user_data(ours, theirs)
    assert merged.startswith("#cloud-config\n")
    config = yaml.safe_load(merged)
    assert config["runcmd"] == ["echo ours", "echo theirs"]
    assert [f["path"] for f in config["write_files"]] == ["/a", "/b"]


def test_script_user_data_gives_multipart():
    script = "#!/bin/sh\necho hello from the script\n"
    files = render_seed(make_spec(user_data=script))
    message = email.message_from_string(files.user_data)
    assert message.is_multipart()
    parts = message.get_payload()
    assert [p.get_content_type() for p in parts] == ["text/cloud-config", "text/x-shellscript"]
    cloud_config = yaml.safe_load(parts[0].get_payload(decode=True).decode())
    assert our_user(cloud_config)["ssh_authorized_keys"] == [KEY]
    assert parts[1].get_payload(decode=True).decode() == script


def test_bad_user_data_is_a_compute_error():
    with pytest.raises(ComputeError):
        render_seed(make_spec(user_data="just some text"))
    with pytest.raises(ComputeError):
        render_seed(make_spec(user_data="#cloud-config\nruncmd: [unclosed\n"))
    with pytest.raises(ComputeError):
        render_seed(make_spec(user_data="#cloud-config\n- a list\n"))


def test_empty_user_data_is_ours_unchanged():
    assert render_seed(make_spec(user_data="  \n")).user_data == render_seed(make_spec()).user_data


def test_iso_reads_back_with_volume_id_and_names():
    files = render_seed(make_spec(user_data="#cloud-config\nruncmd: [echo hi]\n"))
    data = build_iso(files)
    iso = pycdlib.PyCdlib()
    iso.open_fp(io.BytesIO(data))
    try:
        assert iso.pvd.volume_identifier.decode().strip() == "cidata"
        assert iso.joliet_vd.volume_identifier.decode("utf-16-be").strip() == "cidata"
        joliet = sorted(c.file_identifier().decode("utf-16-be") for c in iso.list_children(joliet_path="/")
                        if not (c.is_dot() or c.is_dotdot()))
        assert joliet == ["meta-data", "network-config", "user-data"]
        rock_ridge = sorted(c.rock_ridge.name().decode() for c in iso.list_children(rr_path="/")
                            if not (c.is_dot() or c.is_dotdot()))
        assert rock_ridge == ["meta-data", "network-config", "user-data"]
    finally:
        iso.close()
    assert read_iso(data) == {"meta-data": files.meta_data, "user-data": files.user_data,
                              "network-config": files.network_config}


def test_iso_keeps_utf8():
    files = SeedFiles(meta_data="instance-id: x\n", user_data="#cloud-config\nfinal_message: 안녕하세요\n",
                      network_config="version: 2\n")
    assert read_iso(build_iso(files))["user-data"] == files.user_data


def test_a_bridge_nic_asks_the_subnets_dhcp_for_its_static_lease():
    """On a subnet's bridge the guest takes DHCP by its MAC; the subnet's dnsmasq holds the static lease
    (the address is named in a comment for the person reading the seed, not configured statically)."""
    nic = NicSpec(mode="bridge", bridge="mcbr-3", target="mct7d1f0000aaaa", mac="52:54:00:01:02:03", ip="10.0.1.4")
    text = render_seed(make_spec(nic=nic)).network_config
    net = yaml.safe_load(text)
    assert net == {"version": 2, "ethernets": {"primary": {"match": {"macaddress": "52:54:00:01:02:03"},
                                                           "dhcp4": True}}}
    assert "static lease" in text and "(10.0.1.4)" in text
    assert "10.0.1.4" not in render_seed(make_spec()).network_config
