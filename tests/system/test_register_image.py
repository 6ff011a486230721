"""`minicloud register-image`: an image folder's manifest.json becomes a row of the images table
(what `make run` does for the tiny image), through the same service as the admin API."""
from __future__ import annotations

import json
import subprocess

import psycopg
import pytest
from psycopg.rows import dict_row

from minicloud import cli

pytestmark = pytest.mark.system


@pytest.fixture
def db_url(fresh_database, monkeypatch, capsys):
    """A fresh database migrated by `minicloud db upgrade`, and the CLI pointed at it."""
    for name in ("MINICLOUD_COMPUTE_DEFAULT_IMAGE", "MINICLOUD_CONFIG"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("DATABASE_URL", fresh_database)
    assert cli.main(["db", "upgrade"]) == 0
    capsys.readouterr()
    return fresh_database


def images(url: str) -> list[dict]:
    with psycopg.connect(url, row_factory=dict_row) as conn:
        return conn.execute("SELECT * FROM images ORDER BY name").fetchall()


def test_registers_the_tiny_image_once(db_url, tiny_image, capsys):
    manifest = tiny_image.dir / "manifest.json"
    assert cli.main(["register-image", "--manifest", str(manifest), "--if-missing"]) == 0
    assert "image tiny registered" in capsys.readouterr().out
    [row] = images(db_url)
    assert row["name"] == "tiny"
    assert row["disk_path"] == str(tiny_image.disk)
    assert row["kernel_path"] == str(tiny_image.kernel)
    assert row["initrd_path"] == str(tiny_image.initrd)
    assert row["cmdline"] == tiny_image.cmdline
    assert row["default_user"] == "root"
    assert row["min_disk_gib"] == 1   # a 64 MiB disk: the smallest template fits
    assert row["enabled"] is True
    assert row["os"].startswith("tiny busybox")

    # again (every `make run`): left alone, still one row
    assert cli.main(["register-image", "--manifest", str(manifest), "--if-missing"]) == 0
    assert "registered already" in capsys.readouterr().out
    assert len(images(db_url)) == 1

    # without --if-missing the name is taken: an error, nothing changed
    assert cli.main(["register-image", "--manifest", str(manifest)]) == 1
    assert "tiny" in capsys.readouterr().err
    assert len(images(db_url)) == 1


def test_relative_manifest_path_and_another_name(db_url, tiny_image, monkeypatch, capsys):
    monkeypatch.chdir(tiny_image.dir.parent)
    assert cli.main(["register-image", "--manifest", "tiny/manifest.json", "--name", "tiny-two"]) == 0
    [row] = images(db_url)
    assert row["name"] == "tiny-two"
    assert row["disk_path"] == str(tiny_image.disk)   # stored absolute


def test_image_that_boots_from_its_disk(db_url, tmp_path, capsys):
    """A manifest like scripts/fetch-images.sh writes (no kernel): min_disk_gib from the qcow2 size."""
    subprocess.run(["qemu-img", "create", "-q", "-f", "qcow2", str(tmp_path / "disk.qcow2"), "2252M"], check=True)
    (tmp_path / "manifest.json").write_text(json.dumps({
        "name": "ubuntu-22.04", "description": "Ubuntu 22.04 LTS server cloud image (boots from its disk)",
        "disk": "disk.qcow2", "kernel": None, "initrd": None, "cmdline": None, "default_user": "ubuntu"}))
    assert cli.main(["register-image", "--manifest", str(tmp_path / "manifest.json")]) == 0
    [row] = images(db_url)
    assert (row["name"], row["kernel_path"], row["initrd_path"], row["cmdline"]) == ("ubuntu-22.04", None, None, None)
    assert row["default_user"] == "ubuntu"
    assert row["min_disk_gib"] == 3


@pytest.mark.parametrize("problem", ["no manifest", "missing disk", "bad name"])
def test_refuses_what_cannot_be_registered(db_url, tmp_path, capsys, problem):
    manifest = tmp_path / "manifest.json"
    if problem != "no manifest":
        (tmp_path / "vmlinuz").write_bytes(b"k")
        manifest.write_text(json.dumps({"name": "Bad Name!" if problem == "bad name" else "broken",
                                        "disk": "disk.qcow2", "kernel": "vmlinuz", "default_user": "root"}))
        if problem == "bad name":
            subprocess.run(["qemu-img", "create", "-q", "-f", "qcow2", str(tmp_path / "disk.qcow2"), "1M"],
                           check=True)
    assert cli.main(["register-image", "--manifest", str(manifest)]) == 1
    err = capsys.readouterr().err
    assert err.startswith("register-image:")
    if problem == "missing disk":
        assert "disk.qcow2" in err
    assert images(db_url) == []
