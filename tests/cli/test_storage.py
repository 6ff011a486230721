"""mcloud bucket … and object …: real Swift behind the served app, streamed uploads and downloads."""
from __future__ import annotations

import hashlib
import os

import httpx
import pytest

pytestmark = pytest.mark.system


def test_bucket_and_objects_round_trip(signed_in, tmp_path):
    cli = signed_in
    assert cli("bucket", "list").stdout.startswith("No buckets yet")
    made = cli("bucket", "create", "photos-cli")
    assert made.exit_code == 0 and "Created bucket photos-cli." in made.stdout

    content = os.urandom(3 * 1024 * 1024 + 17)
    source = tmp_path / "jeju.bin"
    source.write_bytes(content)
    put = cli("object", "put", "photos-cli", str(source), "--prefix", "trips/2025")
    assert put.exit_code == 0, put.output
    assert "Uploaded trips/2025/jeju.bin to photos-cli (3.0 MiB)." in put.stdout
    assert "jeju.bin" in put.stderr and "100%" not in put.stdout   # the progress bar is on stderr only
    (tmp_path / "notes.txt").write_text("hello from mcloud\n")
    assert cli("object", "put", "photos-cli", str(tmp_path / "notes.txt")).exit_code == 0

    top = cli("object", "ls", "photos-cli")
    assert "trips/" in top.stdout and "folder" in top.stdout and "notes.txt" in top.stdout
    every = cli.json("object", "ls", "photos-cli", "--recursive")
    assert sorted(o["key"] for o in every["items"]) == ["notes.txt", "trips/2025/jeju.bin"]
    listed = cli("bucket", "list")
    assert "photos-cli" in listed.stdout and "3.0 MiB" in listed.stdout

    stat = cli.json("object", "stat", "photos-cli", "trips/2025/jeju.bin")
    assert stat["size"] == len(content) and stat["etag"] == hashlib.md5(content).hexdigest()

    target = tmp_path / "copy.bin"
    got = cli("object", "get", "photos-cli", "trips/2025/jeju.bin", "--to", str(target))
    assert got.exit_code == 0, got.output
    assert target.read_bytes() == content
    refused = cli("object", "get", "photos-cli", "trips/2025/jeju.bin", "--to", str(target))
    assert refused.exit_code == 2 and "--overwrite" in refused.stderr
    piped = cli("object", "get", "photos-cli", "notes.txt", "--to", "-")
    assert piped.stdout == "hello from mcloud\n"

    shared = cli("object", "share", "photos-cli", "notes.txt", "--expires-in", "600")
    assert shared.exit_code == 0, shared.output
    url = shared.stdout.strip()
    assert "temp_url_sig=" in url and "Share link for notes.txt" in shared.stderr
    assert httpx.get(url).text == "hello from mcloud\n"   # no login needed

    not_empty = cli("bucket", "delete", "photos-cli", "--yes")
    assert not_empty.exit_code == 5 and "Error:" in not_empty.stderr
    assert cli("object", "rm", "photos-cli", "notes.txt").exit_code == 0
    gone = cli("object", "get", "photos-cli", "notes.txt", "--to", str(tmp_path / "n.txt"))
    assert gone.exit_code == 4
    forced = cli("bucket", "delete", "photos-cli", "--force", "--yes")
    assert forced.exit_code == 0 and "Deleted bucket photos-cli." in forced.stdout
    assert cli.json("bucket", "list") == []


def test_bucket_name_rule_in_korean(signed_in):
    signed_in.lang = "ko"
    bad = signed_in("bucket", "create", "My_Photos")
    assert bad.exit_code == 1
    assert "오류:" in bad.stderr and "소문자" in bad.stderr
    missing = signed_in("bucket", "show", "nothing-here")
    assert missing.exit_code == 4 and "오류:" in missing.stderr
