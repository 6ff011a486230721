"""mcloud pc … and template/image/op: a real mini PC (the tiny image on qemu:///system) built by the served
app's worker, followed with --wait, its console read and typed on, stopped, renamed and deleted."""
from __future__ import annotations

import re

import httpx
import pytest
from waiting import wait_for

pytestmark = pytest.mark.system


@pytest.fixture(scope="module")
def tiny(cli_cloud, libvirt_uri, tiny_image):
    """The tiny image registered by the administrator (through the API)."""
    answer = httpx.post(cli_cloud.url + "/api/v1/images", headers={"Authorization": f"Bearer {cli_cloud.admin_token()}"},
                        json={"name": "tiny", "disk_path": str(tiny_image.disk), "kernel_path": str(tiny_image.kernel),
                              "initrd_path": str(tiny_image.initrd), "cmdline": tiny_image.cmdline,
                              "default_user": tiny_image.default_user, "min_disk_gib": 1})
    assert answer.status_code in (201, 409), answer.text
    return "tiny"


def test_catalog_lists(signed_in, tiny):
    templates = signed_in("template", "list")
    assert templates.exit_code == 0, templates.output
    assert re.search(r"nano\s+1\s+512", templates.stdout)
    images = signed_in.json("image", "list")
    assert "tiny" in [i["name"] for i in images]


def test_a_mini_pc_from_create_to_delete(signed_in, tiny):
    cli = signed_in
    assert cli("pc", "list").stdout.startswith("No mini PCs yet")

    created = cli("pc", "create", "--name", "web", "--template", "nano", "--image", "tiny")
    assert created.exit_code == 0, created.output
    assert "Mini PC web is being created (pending)." in created.stdout
    operation = re.search(r"mcloud op wait ([0-9a-f-]{36})", created.stdout).group(1)
    impatient = cli("op", "wait", operation, "--timeout", "0")
    assert impatient.exit_code == 7
    assert f"Still not finished after 0 s (mcloud op show {operation})." in impatient.stderr
    waited = cli("op", "wait", operation, "--timeout", "240")
    assert waited.exit_code == 0, waited.output
    assert "instance.create: done." in waited.stderr and "succeeded" in waited.stdout

    listed = cli("pc", "list")
    assert re.search(r"web\s+running\s+nano\s+tiny", listed.stdout), listed.stdout
    shown = cli.json("pc", "show", "web")
    assert shown["state"] == "running" and shown["template"]["name"] == "nano"

    # the console: the guest's boot output, and a line typed on it
    wait_for(lambda: "MINICLOUD-READY" in cli("pc", "console", "web").stdout, 90, "the guest's READY line", 1)
    cli("pc", "console", "web", "--send", "")   # busybox asks the terminal first: one Enter, then the command
    typed = cli("pc", "console", "web", "--send", "echo typed-$((6*7))")
    assert typed.exit_code == 0, typed.output
    wait_for(lambda: "typed-42" in cli("pc", "console", "web", "--bytes", "4096").stdout, 30, "the typed answer", 1)

    # ssh: the server is on this machine, so the forwarded port on 127.0.0.1, no jump host
    ssh = cli("pc", "ssh", "web", "--print", "-i", "/tmp/key")
    assert ssh.exit_code == 0, ssh.output
    assert re.fullmatch(r"ssh -i /tmp/key -p \d+ root@127\.0\.0\.1\n", ssh.stdout), ssh.stdout

    stopped = cli("pc", "stop", "web", "--wait", "--timeout", "120")
    assert stopped.exit_code == 0, stopped.output
    assert "Mini PC web: stopped." in stopped.stdout
    refused = cli("--lang", "ko", "pc", "ssh", "web", "--print")
    assert refused.exit_code == 5
    assert "미니 PC web이(가) 중지됨 상태입니다" in refused.stderr

    renamed = cli("pc", "rename", "web", "db")
    assert renamed.exit_code == 0 and "Renamed mini PC web to db." in renamed.stdout
    again = cli("pc", "stop", "db")   # already stopped: the API's 409, exit 5
    assert again.exit_code == 5 and "Error:" in again.stderr
    resized = cli("pc", "resize", "db", "--template", "small", "--wait", "--timeout", "120")
    assert resized.exit_code == 0, resized.output
    assert "Mini PC db: stopped." in resized.stdout
    assert cli.json("pc", "show", "db")["template"]["name"] == "small"
    started = cli("pc", "start", "db", "--wait", "--timeout", "240")
    assert started.exit_code == 0, started.output
    assert "Mini PC db: running." in started.stdout
    assert [p["name"] for p in cli.json("pc", "list", "--state", "running")] == ["db"]
    assert cli.json("pc", "list", "--state", "stopped") == []
    rebooted = cli("pc", "reboot", "db", "--wait", "--timeout", "240")
    assert rebooted.exit_code == 0 and "Mini PC db: running." in rebooted.stdout, rebooted.output

    deleted = cli("pc", "delete", "db", "--yes", "--wait", "--timeout", "120")
    assert deleted.exit_code == 0, deleted.output
    assert "Mini PC db was deleted." in deleted.stdout
    missing = cli("pc", "show", "db")
    assert missing.exit_code == 4 and "No mini PC named 'db'." in missing.stderr


def test_bad_name_is_answered_in_korean_with_the_field(signed_in, tiny):
    signed_in.lang = "ko"
    result = signed_in("pc", "create", "--name", "no spaces!", "--template", "nano", "--image", "tiny")
    assert result.exit_code == 1
    # the bad field, in the API's Korean words
    assert result.stderr.startswith("오류: name: 영문자, 숫자, 하이픈(-)으로 1~63자를 입력해주세요."), result.stderr
    unknown = signed_in("pc", "create", "--name", "ok", "--template", "jumbo")
    assert unknown.exit_code == 4 and "'jumbo' 이름의 템플릿을(를) 찾을 수 없습니다." in unknown.stderr
