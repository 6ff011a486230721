"""mcloud without a server: it imports nothing of minicloud, every /docs example parses, its texts exist in
both languages, the ssh command it builds, and the real entry point's --help and not-logged-in answer."""
from __future__ import annotations

import ast
import json
import re
import shlex
import stat
import subprocess
import sys
from pathlib import Path

import pytest
import typer

from mcloud import commands
from mcloud.commands.pcs import ssh_command
from mcloud.main import app

ROOT = Path(__file__).resolve().parents[2]
PACKAGE = ROOT / "src" / "mcloud"
EXAMPLES = ROOT / "src" / "minicloud" / "docs_cli_examples.json"
MCLOUD = Path(sys.executable).parent / "mcloud"
# Operations a user's CLI does not offer: the server's own (health, the document), signing up, and what only
# global administrators do to the catalogue, hosts and limits.
NOT_IN_THE_CLI = {"health.live", "health.ready", "openapi.document", "auth.signup", "auth.username_available",
                  "users.list", "users.quotas", "users.update_quotas", "templates.create", "templates.update",
                  "images.create", "images.update", "hosts.list", "hosts.create", "hosts.update", "quotas.update",
                  "events.stream"}  # the console's live updates: a stream for browsers (curl -N shows it)


def imported_modules(path: Path) -> set[str]:
    names = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            names.add(node.module)
    return names


def test_mcloud_imports_nothing_of_minicloud():
    files = sorted(PACKAGE.rglob("*.py"))
    assert len(files) > 10
    offending = {str(f.relative_to(PACKAGE)): sorted(m for m in imported_modules(f)
                                                      if m == "minicloud" or m.startswith("minicloud."))
                 for f in files}
    assert {f: m for f, m in offending.items() if m} == {}


def operation_ids() -> set[str]:
    from minicloud.routes import ROUTES
    from minicloud.web.openapi import document_for
    from minicloud.web.router import Router

    paths = document_for(Router(ROUTES))["paths"]
    return {op["operationId"] for item in paths.values() for op in item.values()
            if isinstance(op, dict) and "operationId" in op}


def test_every_user_operation_has_a_cli_example():
    examples = json.loads(EXAMPLES.read_text())
    ids = operation_ids()
    assert set(examples) - ids == set(), "examples for operations the API does not have"
    assert ids - NOT_IN_THE_CLI - set(examples) == set(), "operations without a CLI example"


def resolve(argv: list[str]):
    """The command an mcloud command line names, with its arguments parsed (and checked) by typer."""
    group = typer.main.get_command(app)
    ctx = group.make_context("mcloud", list(argv))
    rest = list(getattr(ctx, "_protected_args", [])) + list(ctx.args)
    while rest:
        name, command, rest = group.resolve_command(ctx, rest)
        ctx = command.make_context(name, rest, parent=ctx)
        rest = list(getattr(ctx, "_protected_args", [])) + list(ctx.args)
        group = command
    return ctx


@pytest.mark.parametrize("operation, line", sorted(json.loads(EXAMPLES.read_text()).items()))
def test_each_example_parses(operation, line):
    argv = shlex.split(line)
    assert argv[0] == "mcloud"
    ctx = resolve(argv[1:])
    assert not hasattr(ctx.command, "commands"), f"{line!r} names a group, not a command"


def test_a_bad_example_would_fail():
    with pytest.raises(Exception):
        resolve(["pc", "create", "--name", "web"])          # --template is required
    with pytest.raises(Exception):
        resolve(["pc", "launch", "web"])                    # no such command


def test_texts_exist_in_both_languages():
    en = json.loads((PACKAGE / "locales/en.json").read_text())
    ko = json.loads((PACKAGE / "locales/ko.json").read_text())
    assert set(en) == set(ko)
    used = set()
    for f in PACKAGE.rglob("*.py"):
        used.update(re.findall(r"\.t\(\"([a-z_.-]+)\"", f.read_text()))
        used.update(re.findall(r"\"((?:pc|app)\.[a-z_]+)\", wait", f.read_text()))   # _after(..., key, wait, ...)
    for module in vars(commands).values():
        for name, value in vars(module).items() if isinstance(module, type(commands)) else ():
            if name.endswith(("COLUMNS", "DETAIL")):
                used.update(f"col.{header}" for header, _ in value)
    assert len(used) > 120
    assert used - set(en) == set()


def test_ssh_through_the_forwarded_port_or_the_public_ip():
    forwarded = {"state": "running", "public_ip": None, "connect": {"ssh": "ssh -p 22001 student@127.0.0.1"}}
    assert ssh_command(forwarded, "127.0.0.1") == ["ssh", "-p", "22001", "student@127.0.0.1"]
    # the server elsewhere: its loopback port is reached through it as a jump host
    assert ssh_command(forwarded, "cloud.example.edu") == ["ssh", "-J", "cloud.example.edu", "-p", "22001",
                                                           "student@127.0.0.1"]
    assert ssh_command(forwarded, "cloud.example.edu", jump="none", identity=Path("k"), user="root",
                       extra=["uname"]) == ["ssh", "-i", "k", "-p", "22001", "root@127.0.0.1", "uname"]
    public = {"public_ip": "203.0.113.7", "connect": {"ssh": "ssh student@10.0.1.5"}}
    assert ssh_command(public, "cloud.example.edu") == ["ssh", "student@203.0.113.7"]
    private = {"public_ip": None, "connect": {"ssh": "ssh student@10.0.1.5"}}
    assert ssh_command(private, "cloud.example.edu", jump="me@bastion") == ["ssh", "-J", "me@bastion",
                                                                            "student@10.0.1.5"]
    assert ssh_command({"public_ip": None, "connect": {"ssh": None}}, "h") is None


def test_the_installed_entry_point(tmp_path):
    env = {"PATH": "/usr/bin:/bin", "MCLOUD_CONFIG": str(tmp_path / "none.toml"), "COLUMNS": "200"}
    shown = subprocess.run([str(MCLOUD), "--help"], capture_output=True, text=True, env=env, timeout=60)
    assert shown.returncode == 0
    assert "Exit codes: 0 ok" in shown.stdout and "종료 코드" in shown.stdout and "--install-completion" in shown.stdout
    refused = subprocess.run([str(MCLOUD), "--lang", "ko", "pc", "list"], capture_output=True, text=True, env=env,
                             timeout=60)
    assert refused.returncode == 3
    assert "로그인하지 않았습니다(프로필 default). 먼저 mcloud login을 실행하세요." in refused.stderr
    usage = subprocess.run([str(MCLOUD), "pc", "create"], capture_output=True, text=True, env=env, timeout=60)
    assert usage.returncode == 2 and "--name" in usage.stderr
    completion = subprocess.run([str(MCLOUD), "--show-completion", "bash"], capture_output=True, text=True,
                                env=env | {"SHELL": "/bin/bash"}, timeout=60)
    assert completion.returncode == 0 and "_MCLOUD_COMPLETE" in completion.stdout


def test_the_config_file_lives_in_the_users_config_folder_with_mode_0600(tmp_path, monkeypatch):
    from mcloud.config import Config, Profile, config_path

    monkeypatch.delenv("MCLOUD_CONFIG", raising=False)
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "xdg"))
    assert config_path() == tmp_path / "xdg" / "mcloud" / "config.toml"
    config = Config.load()
    assert config.profiles == {}
    config.profiles["lab"] = Profile(name="lab", url="http://10.0.0.5:8080", token="secret-token")
    config.current = "lab"
    config.save()
    assert stat.S_IMODE(config_path().stat().st_mode) == 0o600
    assert stat.S_IMODE(config_path().parent.stat().st_mode) == 0o700
    again = Config.load()
    assert again.current == "lab" and again.profile(None).token == "secret-token"
    assert again.profile("other").secret is None and again.profile("other").url == "http://127.0.0.1:8080"


def test_the_language_comes_from_lang_mcloud_lang_then_lang(monkeypatch):
    from mcloud.texts import pick_language

    for name in ("MCLOUD_LANG", "LC_ALL", "LANG"):
        monkeypatch.delenv(name, raising=False)
    assert pick_language(None) == "en"
    monkeypatch.setenv("LANG", "ko_KR.UTF-8")
    assert pick_language(None) == "ko"
    monkeypatch.setenv("MCLOUD_LANG", "en")
    assert pick_language(None) == "en"
    assert pick_language("ko") == "ko"
    monkeypatch.setenv("MCLOUD_LANG", "fr")   # not one of ours: the next source decides
    assert pick_language(None) == "ko"
