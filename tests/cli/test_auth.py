"""mcloud login | logout | whoami against a served minicloud: profiles, the 0600 config file, API keys."""
from __future__ import annotations

import re
import stat
import tomllib

import httpx
from cli.served import PASSWORD


def test_login_whoami_logout(cli):
    cli.signup("cli-alice", "Alice Kim")
    result = cli("login", "--url", cli.cloud.url, "--username", "cli-alice", "--password", PASSWORD)
    assert result.exit_code == 0, result.output
    assert f"Logged in as cli-alice at {cli.cloud.url} (profile default)." in result.stdout

    saved = tomllib.loads(cli.config_path.read_text())
    token = saved["profiles"]["default"]["token"]
    assert stat.S_IMODE(cli.config_path.stat().st_mode) == 0o600
    assert token not in result.output   # the secret is stored, never printed

    shown = cli("whoami")
    assert shown.exit_code == 0, shown.output
    assert "Alice Kim" in shown.stdout and "cli-alice" in shown.stdout and token not in shown.stdout
    assert cli.json("whoami")["username"] == "cli-alice"

    out = cli("logout")
    assert out.exit_code == 0 and "Logged out (profile default)." in out.stdout
    # the token was revoked on the server, not only forgotten here
    assert httpx.get(cli.cloud.url + "/api/v1/auth/me", headers={"Authorization": f"Bearer {token}"}).status_code == 401
    again = cli("whoami")
    assert again.exit_code == 3
    assert "Not logged in (profile default): run mcloud login first." in again.stderr


def test_wrong_password_in_korean_exits_3(cli):
    cli.lang = "ko"
    cli.signup("cli-bora")
    result = cli("login", "--url", cli.cloud.url, "--username", "cli-bora", "--password", "wrong-password-1")
    assert result.exit_code == 3
    assert "오류:" in result.stderr
    assert "아이디 또는 비밀번호가 올바르지 않습니다." in result.stderr   # the API's own message, in Korean
    assert not cli.config_path.exists()


def test_two_profiles_and_an_api_key(cli):
    cli.signup("cli-chul")
    cli.login("cli-chul")
    made = cli("apikey", "create", "laptop")
    assert made.exit_code == 0, made.output
    key = made.stdout.strip()
    assert key.startswith("mck_") and "shown only now" in made.stderr

    second = cli("login", "--profile", "ci", "--url", cli.cloud.url, "--api-key", key)
    assert second.exit_code == 0, second.output
    assert key not in second.output
    profiles = tomllib.loads(cli.config_path.read_text())
    assert profiles["current"] == "ci" and profiles["profiles"]["ci"]["api_key"] == key
    assert "token" in profiles["profiles"]["default"]

    profiles_shown = cli("profile", "list")
    assert re.search(r"\*\s+ci\s+http\S+\s+cli-chul\s+api_key", profiles_shown.stdout), profiles_shown.stdout
    assert re.search(r"default\s+http\S+\s+cli-chul\s+token", profiles_shown.stdout)
    assert key not in profiles_shown.stdout and profiles["profiles"]["default"]["token"] not in profiles_shown.stdout
    assert cli("profile", "use", "nowhere").exit_code == 4
    shown = cli("--profile", "default", "whoami")
    assert shown.exit_code == 0 and "token" in shown.stdout
    via_key = cli("whoami")
    assert via_key.exit_code == 0 and "api_key" in via_key.stdout

    listed = cli("apikey", "list")
    assert "laptop" in listed.stdout and key not in listed.stdout
    revoked = cli("--profile", "default", "apikey", "revoke", "laptop")
    assert revoked.exit_code == 0 and "Revoked API key laptop." in revoked.stdout
    refused = cli("whoami")   # the ci profile's key no longer works
    assert refused.exit_code == 3


def test_bad_api_key_and_unreachable_server(cli):
    bad = cli("login", "--url", cli.cloud.url, "--api-key", "not-a-key")
    assert bad.exit_code == 2 and "An API key starts with mck_." in bad.stderr
    gone = cli("login", "--url", "http://127.0.0.1:9", "--username", "x", "--password", "y")
    assert gone.exit_code == 6 and "Cannot reach the server" in gone.stderr
