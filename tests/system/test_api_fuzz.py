"""The API fuzzed from its own OpenAPI document (issue 8, point 8).

schemathesis (its CLI, ``st run``) generates requests for every operation of
/api/v1/openapi.json — valid ones, and invalid ones of every kind the schemas allow it to derive
(wrong types, missing fields, strings with NUL and surrogates, huge numbers, unknown fields) — and
sends them to minicloud served by gunicorn on real PostgreSQL and a real Swift, as a signed-in user
with an API key and as a global administrator. Every answer must be a documented status with a
documented content type, headers and body (the checks below): 0 failures.

Bounds: ``MINICLOUD_FUZZ_EXAMPLES`` cases per operation and phase (default 25) and
``MINICLOUD_FUZZ_SECONDS`` for each run (default 90). No worker runs, so mini PCs stay ``pending``
and nothing reaches libvirt; the project may hold one mini PC. Kubernetes is not configured here:
the apps operations answer their documented 503. The case count and duration of each run are printed.
"""
from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import psycopg
import pytest
import requests
from serving import serve_app
from swift_fixtures import private_swift, storage_environ

pytestmark = pytest.mark.system

ROOT = Path(__file__).resolve().parents[2]
CONFIG = Path(__file__).with_name("schemathesis.toml")
CHECKS = ("not_a_server_error", "status_code_conformance", "content_type_conformance",
          "response_headers_conformance", "response_schema_conformance")
EXAMPLES = int(os.environ.get("MINICLOUD_FUZZ_EXAMPLES", "25"))
SECONDS = int(os.environ.get("MINICLOUD_FUZZ_SECONDS", "90"))
PASSWORD = "fuzzing-password-1"
ADMIN_PASSWORD = "fuzzing-admin-1"


@pytest.fixture(scope="module")
def fuzz_swift():
    """A Swift of the fuzzer's own: the buckets and objects it makes would keep the session's Swift's
    updaters busy, and other tests wait for those."""
    with private_swift() as server:
        yield server


@pytest.fixture(scope="module")
def fuzz_server(database_url, fuzz_swift, tmp_path_factory):
    env = dict(os.environ, DATABASE_URL=database_url, MINICLOUD_AUTH_BCRYPT_COST="4",
               MINICLOUD_AUTH_JWT_SECRET="fuzz-secret-" + "f" * 40, MINICLOUD_SERVER_DEFAULT_LANGUAGE="en",
               MINICLOUD_QUOTAS_INSTANCES="1", KUBECONFIG=str(tmp_path_factory.mktemp("no-kube") / "none"),
               MINICLOUD_EVENTS_STREAM_SECONDS="0.2")  # the event and console streams end at once
    env.update(storage_environ(fuzz_swift))
    with serve_app(env, tmp_path_factory.mktemp("gunicorn-fuzz"), workers=2, threads=4) as served:
        yield served


def api_key(base: str, username: str, password: str) -> str:
    """An API key of ``username`` (signed up unless it exists): the fuzzer's credentials."""
    requests.post(f"{base}/api/v1/auth/signup", timeout=10,
                  json={"username": username, "password": password, "display_name": username.title()})
    token = requests.post(f"{base}/api/v1/auth/login", json={"username": username, "password": password},
                          timeout=10).json()["access_token"]
    made = requests.post(f"{base}/api/v1/api-keys", json={"name": "fuzzer"}, timeout=10,
                         headers={"Authorization": f"Bearer {token}"})
    assert made.status_code == 201, made.text
    return made.json()["key"]


def fuzz(base: str, key: str, report: Path, *extra: str) -> dict:
    """Run ``st run`` against the served document; returns its JSON report (with the output)."""
    argv = [str(Path(sys.executable).with_name("st")), "--config-file", str(CONFIG), "run", f"{base}/api/v1/openapi.json",
            "--url", base, "--checks", ",".join(CHECKS), "--max-examples", str(EXAMPLES),
            "--max-time", str(SECONDS), "--phases", "examples,coverage,fuzzing",
            # one worker: CPython 3.11 can fail in ast.parse when schemathesis's threads describe strategies
            # at once ("AST constructor recursion depth mismatch"), a crash of the tool, not of minicloud
            "--workers", "1",
            "--header", f"Authorization: Bearer {key}", "--request-timeout", "30", "--seed", "8",
            "--generation-database", "none", "--report", "json", "--report-json-path", str(report),
            "--no-color", "--output-truncate", "false",
            # revoking the key it runs with would leave the rest of the run at 401 (tested in test_api_keys.py)
            "--exclude-operation-id", "api_keys.delete", *extra]
    started = time.monotonic()
    # run where its cache of crashes (.schemathesis/) is thrown away with the test's folder
    done = subprocess.run(argv, cwd=report.parent, capture_output=True, text=True, timeout=SECONDS * 4 + 120)
    took = time.monotonic() - started
    report.with_suffix(".txt").write_text(done.stdout + done.stderr)
    return {"returncode": done.returncode, "output": done.stdout + done.stderr, "seconds": took,
            "report": json.loads(report.read_text()) if report.exists() else None}


def test_the_api_conforms_to_its_document_under_fuzzing(fuzz_server, database_url, tmp_path, capsys):
    base = fuzz_server.base_url
    with psycopg.connect(database_url, autocommit=True) as conn:
        conn.execute("TRUNCATE users, projects, audit_log, login_failures CASCADE")
    user_key = api_key(base, "fuzzer", PASSWORD)
    admin_key = api_key(base, "fuzzadmin", ADMIN_PASSWORD)
    with psycopg.connect(database_url, autocommit=True) as conn:
        conn.execute("UPDATE users SET is_admin = true WHERE username = 'fuzzadmin'")
    runs = {"user": fuzz(base, user_key, tmp_path / "user.json"),
            "admin": fuzz(base, admin_key, tmp_path / "admin.json")}
    for name, run in runs.items():
        report = run["report"] or {}
        cases = report.get("test_cases", {}).get("generated", 0)
        with capsys.disabled():  # the figures belong in every run's output
            print(f"\nschemathesis as {name}: {cases} cases over {report.get('operations', {}).get('tested', 0)} operations"
                  f" in {run['seconds']:.0f} s, exit {run['returncode']}")
    for name, run in runs.items():
        report = run["report"] or {}
        assert run["returncode"] == 0 and not report.get("errors"), (
            f"{name}: {run['output'][-20000:]}\n--- server log ---\n{fuzz_server.log_tail()}")
        assert report["operations"]["tested"] == report["operations"]["selected"] == report["operations"]["total"] - 1
        assert report["test_cases"]["generated"] > 1000  # it really ran


def test_the_longest_valid_key_and_prefix_fit_the_served_request_line(fuzz_server, database_url):
    """A key of 1024 UTF-8 bytes of 4-byte characters is 3072 characters percent-encoded: gunicorn
    (configs/gunicorn.conf.py) reads it, and a listing by that prefix with a cursor too."""
    from urllib.parse import quote

    base = fuzz_server.base_url
    key = api_key(base, "longkeys", PASSWORD)
    headers = {"Authorization": f"Bearer {key}"}
    assert requests.post(f"{base}/api/v1/buckets", json={"name": "long"}, headers=headers, timeout=10).status_code == 201
    name = "\U0001F600" * 256  # 1024 bytes
    put = requests.put(f"{base}/api/v1/buckets/long/objects/{quote(name)}", data=b"x", headers=headers, timeout=10)
    assert put.status_code == 201, put.text
    listed = requests.get(f"{base}/api/v1/buckets/long/objects", params={"prefix": name, "limit": 1},
                          headers=headers, timeout=10)
    assert listed.status_code == 200 and [o["key"] for o in listed.json()["items"]] == [name]
    too_long = requests.get(f"{base}/api/v1/buckets/long/objects", params={"prefix": name + "a"},
                            headers=headers, timeout=10)
    assert too_long.status_code == 422 and "prefix" in too_long.json()["error"]["details"]["fields"]
