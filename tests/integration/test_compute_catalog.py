"""Key pairs, templates, images and hosts through the API (the catalog a mini PC is built from)."""
from __future__ import annotations

import base64
import hashlib
import struct

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, rsa

from minicloud.services.keypairs import fingerprint, parse_public_key


@pytest.fixture
def admin(auth, services):
    services.accounts.ensure_admin("root", "root-password-1")
    token = auth.login("root", "root-password-1").json["access_token"]
    from conftest import User
    return User(auth.client, "root", token)


def openssh(key) -> str:
    return key.public_key().public_bytes(serialization.Encoding.OpenSSH, serialization.PublicFormat.OpenSSH).decode()


def ssh_keygen_fingerprint(line: str) -> str:
    blob = base64.b64decode(line.split()[1])
    return "SHA256:" + base64.b64encode(hashlib.sha256(blob).digest()).decode().rstrip("=")


# -- key pairs -------------------------------------------------------------------------------------
def test_import_accepts_ed25519_rsa_and_ecdsa_with_their_fingerprints(auth):
    alice = auth.user("alice")
    keys = {
        "ed": openssh(ed25519.Ed25519PrivateKey.generate()) + " alice@laptop",
        "rsa": openssh(rsa.generate_private_key(public_exponent=65537, key_size=2048)),
        "ec": openssh(ec.generate_private_key(ec.SECP256R1())),
        "ec384": openssh(ec.generate_private_key(ec.SECP384R1())),
    }
    for name, line in keys.items():
        response = alice.post("/api/v1/keypairs", json={"name": name, "public_key": line + "\n"})
        assert response.status_code == 201, (name, response.json)
        assert response.json["fingerprint"] == ssh_keygen_fingerprint(line)
        assert response.json["public_key"] == line and "private_key" not in response.json
    listed = alice.get("/api/v1/keypairs").json["items"]
    assert [k["name"] for k in listed] == ["ec", "ec384", "ed", "rsa"]


@pytest.mark.parametrize("text, key", [
    ("not a key", "keypair.unsupported_type"),
    ("ssh-ed25519 !!!notbase64", "keypair.invalid_key"),
    ("ssh-dss AAAAB3NzaC1kc3M=", "keypair.unsupported_type"),
    ("ssh-ed25519", "keypair.invalid_key"),
])
def test_import_rejects_what_is_not_a_public_key(auth, text, key):
    from minicloud.i18n import translate

    alice = auth.user("alice")
    response = alice.post("/api/v1/keypairs", json={"name": "bad", "public_key": text})
    assert response.status_code == 422
    assert response.json["error"]["details"]["fields"] == {"public_key": translate("en", key)}


def test_the_embedded_type_must_match_and_rsa_needs_2048_bits(auth):
    alice = auth.user("alice")
    ed_line = openssh(ed25519.Ed25519PrivateKey.generate())
    lying = "ssh-rsa " + ed_line.split()[1]
    response = alice.post("/api/v1/keypairs", json={"name": "liar", "public_key": lying})
    assert response.status_code == 422 and response.json["error"]["code"] == "validation_failed"
    # a 1024-bit RSA key, built by hand in the wire format (cryptography refuses to generate one that small)
    n = (1 << 1023) | 1

    def mpint(v):
        raw = v.to_bytes((v.bit_length() + 8) // 8, "big")
        return struct.pack(">I", len(raw)) + raw
    blob = struct.pack(">I", 7) + b"ssh-rsa" + mpint(65537) + mpint(n)
    weak = alice.post("/api/v1/keypairs", json={"name": "weak", "public_key": "ssh-rsa " + base64.b64encode(blob).decode()})
    assert weak.status_code == 422
    assert weak.json["error"]["message"] == "An RSA key must have at least 2048 bits."
    korean = alice.post("/api/v1/keypairs", json={"name": "weak", "public_key": "ssh-rsa " + base64.b64encode(blob).decode()},
                        headers={"Accept-Language": "ko"})
    assert korean.json["error"]["message"] == "RSA 키는 2048비트 이상이어야 합니다."


def test_generate_returns_the_private_key_once(auth, services):
    alice = auth.user("alice")
    response = alice.post("/api/v1/keypairs", json={"name": "generated"})
    assert response.status_code == 201 and response.headers["Cache-Control"] == "no-store"
    body = response.json
    assert body["private_key"].startswith("-----BEGIN OPENSSH PRIVATE KEY-----")
    private = serialization.load_ssh_private_key(body["private_key"].encode(), password=None)
    assert openssh(private) == " ".join(body["public_key"].split()[:2])
    assert body["fingerprint"] == ssh_keygen_fingerprint(body["public_key"])
    listed = alice.get("/api/v1/keypairs").json["items"]
    assert listed[0]["id"] == body["id"] and "private_key" not in listed[0]
    assert "PRIVATE" not in str(services.db.fetchall("SELECT * FROM keypairs"))
    kind, blob, _ = parse_public_key(body["public_key"])
    assert kind == "ssh-ed25519" and fingerprint(blob) == body["fingerprint"]


def test_key_pair_names_are_unique_per_project_and_deletion_is_scoped(auth):
    alice, bob = auth.user("alice"), auth.user("bob")
    key = alice.post("/api/v1/keypairs", json={"name": "Laptop"}).json
    assert alice.post("/api/v1/keypairs", json={"name": "laptop"}).status_code == 409
    assert bob.post("/api/v1/keypairs", json={"name": "laptop"}).status_code == 201
    assert bob.get("/api/v1/keypairs").json["items"][0]["name"] == "laptop"
    assert bob.delete(f"/api/v1/keypairs/{key['id']}").status_code == 404
    assert alice.delete(f"/api/v1/keypairs/{key['id']}").status_code == 204
    assert alice.get("/api/v1/keypairs").json["items"] == []


# -- templates -------------------------------------------------------------------------------------
def test_templates_are_seeded_once_and_read_by_everyone(auth, services):
    assert services.templates.seed() == ["nano", "small", "medium", "large", "gpu-small"]
    assert services.templates.seed() == []
    alice = auth.user("alice")
    items = alice.get("/api/v1/templates").json["items"]
    specs = {t["name"]: (t["vcpus"], t["ram_mib"], t["disk_gib"], t["gpus"]) for t in items}
    assert specs == {"nano": (1, 512, 5, 0), "small": (1, 1024, 10, 0), "medium": (2, 2048, 20, 0),
                     "large": (4, 4096, 40, 0), "gpu-small": (2, 4096, 20, 1)}


def test_only_admins_write_templates_and_disabled_ones_are_hidden(auth, admin, services):
    services.templates.seed()
    alice = auth.user("alice")
    body = {"name": "xl", "vcpus": 8, "ram_mib": 8192, "disk_gib": 80}
    denied = alice.post("/api/v1/templates", json=body)
    assert denied.status_code == 403 and denied.json["error"]["message"] == "Only administrators can do this."
    created = admin.post("/api/v1/templates", json=body)
    assert created.status_code == 201 and created.json["gpus"] == 0 and created.json["enabled"] is True
    assert admin.post("/api/v1/templates", json=body).status_code == 409
    bad = admin.post("/api/v1/templates", json={**body, "name": "zero", "vcpus": 0})
    assert bad.status_code == 422 and "vcpus" in bad.json["error"]["details"]["fields"]
    tid = created.json["id"]
    assert alice.patch(f"/api/v1/templates/{tid}", json={"enabled": False}).status_code == 403
    assert admin.patch(f"/api/v1/templates/{tid}", json={"enabled": False}).json["enabled"] is False
    assert "xl" not in {t["name"] for t in alice.get("/api/v1/templates").json["items"]}
    assert "xl" in {t["name"] for t in admin.get("/api/v1/templates").json["items"]}
    refused = alice.post("/api/v1/instances", json={"name": "pc", "template_id": tid})
    assert refused.status_code == 422 and refused.json["error"]["message"] == "Choose an available template."
    assert admin.patch("/api/v1/templates/00000000-0000-0000-0000-000000000000",
                       json={"enabled": True}).status_code == 404


# -- images ----------------------------------------------------------------------------------------
def test_admins_register_images_from_files_that_exist(auth, admin, tmp_path):
    alice = auth.user("alice")
    disk, kernel = tmp_path / "debian.qcow2", tmp_path / "vmlinuz"
    disk.write_bytes(b"QFI\xfb")
    kernel.write_bytes(b"kernel")
    body = {"name": "debian-12", "disk_path": str(disk), "kernel_path": str(kernel), "cmdline": "console=ttyS0",
            "default_user": "debian", "os": "Debian 12", "min_disk_gib": 2}
    assert alice.post("/api/v1/images", json=body).status_code == 403
    missing = admin.post("/api/v1/images", json={**body, "initrd_path": str(tmp_path / "nope")})
    assert missing.status_code == 422
    assert missing.json["error"]["details"]["fields"] == {"initrd_path": f"There is no file {tmp_path / 'nope'} on the server."}
    relative = admin.post("/api/v1/images", json={**body, "disk_path": "debian.qcow2"})
    assert relative.status_code == 422 and "disk_path" in relative.json["error"]["details"]["fields"]
    created = admin.post("/api/v1/images", json=body)
    assert created.status_code == 201 and created.json["default_user"] == "debian"
    assert admin.post("/api/v1/images", json=body).status_code == 409
    [seen] = alice.get("/api/v1/images").json["items"]
    assert seen["name"] == "debian-12" and seen["os"] == "Debian 12"
    assert not {"disk_path", "kernel_path", "initrd_path", "cmdline"} & seen.keys()  # the server's files are not shown
    assert admin.get("/api/v1/images").json["items"][0]["disk_path"] == str(disk)  # to an administrator they are
    image_id = created.json["id"]
    assert admin.patch(f"/api/v1/images/{image_id}", json={"enabled": False}).json["enabled"] is False
    assert alice.get("/api/v1/images").json["items"] == []


def test_the_default_image_is_the_configured_one_else_the_first(auth, admin, services, tmp_path):
    services.templates.seed()
    disk = tmp_path / "d.qcow2"
    disk.write_bytes(b"x")
    for name in ("beta", "alpha"):
        admin.post("/api/v1/images", json={"name": name, "disk_path": str(disk)})
    alice = auth.user("alice")
    nano = next(t["id"] for t in alice.get("/api/v1/templates").json["items"] if t["name"] == "nano")
    first = alice.post("/api/v1/instances", json={"name": "a", "template_id": nano}).json
    assert first["image"]["name"] == "alpha"
    services.images.config = services.config.with_overrides({"compute.default_image": "beta"})
    second = alice.post("/api/v1/instances", json={"name": "b", "template_id": nano}).json
    assert second["image"]["name"] == "beta"


def test_no_image_registered_is_a_clear_422(auth, services):
    services.templates.seed()
    alice = auth.user("alice")
    nano = next(t["id"] for t in alice.get("/api/v1/templates").json["items"] if t["name"] == "nano")
    response = alice.post("/api/v1/instances", json={"name": "a", "template_id": nano})
    assert response.status_code == 422
    assert response.json["error"]["message"].startswith("Choose an available image")


# -- hosts -----------------------------------------------------------------------------------------
def test_hosts_are_for_admins_and_the_local_one_comes_from_config(auth, admin, config):
    alice = auth.user("alice")
    assert alice.get("/api/v1/hosts").status_code == 403
    hosts = admin.get("/api/v1/hosts").json["items"]
    assert [(h["name"], h["uri"], h["enabled"]) for h in hosts] == [("local", config.get("compute.default_host_uri"), True)]
    created = admin.post("/api/v1/hosts", json={"name": "node2", "uri": "qemu+ssh://node2/system"})
    assert created.status_code == 201 and created.json["enabled"] is True
    assert admin.post("/api/v1/hosts", json={"name": "node2", "uri": "qemu:///system"}).status_code == 409
    assert admin.post("/api/v1/hosts", json={"name": "bad", "uri": "not a uri"}).status_code == 422
    disabled = admin.patch(f"/api/v1/hosts/{created.json['id']}", json={"enabled": False})
    assert disabled.status_code == 200 and disabled.json["enabled"] is False
    assert alice.patch(f"/api/v1/hosts/{created.json['id']}", json={"enabled": True}).status_code == 403
