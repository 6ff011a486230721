"""mcloud keypair …: generate (the private key saved 0600, shown nowhere else), import, list, show, delete."""
from __future__ import annotations

import re
import stat
import subprocess


def test_generate_import_list_show_delete(signed_in, tmp_path):
    cli = signed_in
    assert cli("keypair", "list").stdout.startswith("No key pairs yet")
    private = tmp_path / "lab.pem"
    made = cli("keypair", "create", "lab", "--private-key-file", str(private))
    assert made.exit_code == 0, made.output
    assert stat.S_IMODE(private.stat().st_mode) == 0o600
    assert "BEGIN OPENSSH PRIVATE KEY" in private.read_text() and "PRIVATE KEY" not in made.output
    fingerprint = re.search(r"\((SHA256:[^)]+)\)", made.stdout).group(1)
    # the saved key is the pair's: ssh-keygen derives the same fingerprint from it
    derived = subprocess.run(["ssh-keygen", "-l", "-f", str(private)], capture_output=True, text=True, check=True)
    assert fingerprint in derived.stdout

    subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", str(tmp_path / "mine")], check=True)
    imported = cli("keypair", "import", "mine", "--public-key-file", str(tmp_path / "mine.pub"))
    assert imported.exit_code == 0 and "Imported key pair mine" in imported.stdout

    listed = cli("keypair", "list")
    assert re.search(r"lab\s+SHA256:", listed.stdout) and re.search(r"mine\s+SHA256:", listed.stdout)
    shown = cli.json("keypair", "show", "mine")
    assert shown["public_key"] == (tmp_path / "mine.pub").read_text().strip().rsplit(" ", 1)[0] or \
        shown["public_key"].startswith("ssh-ed25519 ")
    twice = cli("keypair", "import", "mine", "--public-key-file", str(tmp_path / "mine.pub"))
    assert twice.exit_code == 5

    asked = cli("keypair", "delete", "lab", input="n\n")
    assert asked.exit_code == 1 and "Delete key pair lab?" in asked.stderr   # said no: nothing deleted
    assert "lab" in cli("keypair", "list").stdout
    deleted = cli("keypair", "delete", "lab", input="y\n")
    assert deleted.exit_code == 0 and "Deleted key pair lab." in deleted.stdout
    assert [k["name"] for k in cli.json("keypair", "list")] == ["mine"]


def test_existing_private_key_file_is_never_overwritten(signed_in, tmp_path):
    signed_in.lang = "ko"
    target = tmp_path / "taken.pem"
    target.write_text("keep me\n")
    result = signed_in("keypair", "create", "taken", "--private-key-file", str(target))
    assert result.exit_code == 2 and "파일이 이미 있습니다" in result.stderr
    assert target.read_text() == "keep me\n"
    assert signed_in.json("keypair", "list") == []
