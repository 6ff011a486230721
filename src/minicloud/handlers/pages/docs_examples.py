"""The examples under each operation of /docs: a curl command drawn from the operation itself, and the
mcloud command line for it from ``src/minicloud/docs_cli_examples.json`` (operationId -> command), when
that file names the operation."""
from __future__ import annotations

import json
import re
import shlex
from functools import lru_cache
from pathlib import Path

CLI_EXAMPLES = Path(__file__).resolve().parents[2] / "docs_cli_examples.json"
_PARAM = re.compile(r"\{([A-Za-z_][A-Za-z0-9_]*)\}")
# Example values for fields a student would fill in, by name (else by type and format).
_BY_NAME = {
    "name": "demo", "username": "alice", "password": "change-me-please", "display_name": "Alice",
    "email": "alice@example.com", "cidr": "10.0.0.0/16", "image": "nginx:1.27", "port": 80,
    "replicas": 1, "role": "user", "public_key": "ssh-ed25519 AAAAC3Nz… alice@laptop",
    "destination": "0.0.0.0/0", "data": "ls\\r", "expires_in": 3600, "uri": "qemu:///system",
}
_BY_FORMAT = {"uuid": "00000000-0000-4000-8000-000000000000", "email": "alice@example.com",
              "date": "2000-01-01", "date-time": "2026-01-01T00:00:00Z"}


@lru_cache(maxsize=4)
def _cli_examples(path: Path = CLI_EXAMPLES, mtime: float = 0.0) -> dict[str, str]:
    try:
        loaded = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    return {str(k): str(v) for k, v in loaded.items() if isinstance(v, str)} if isinstance(loaded, dict) else {}


def cli_examples(path: Path = CLI_EXAMPLES) -> dict[str, str]:
    """operationId -> mcloud command line (re-read when the file changes; {} when there is none)."""
    try:
        mtime = path.stat().st_mtime
    except OSError:
        return {}
    return _cli_examples(path, mtime)


def _value(name: str, schema: dict):
    if "default" in schema:
        return schema["default"]
    if "enum" in schema:
        return schema["enum"][0]
    if name in _BY_NAME:
        return _BY_NAME[name]
    kind = schema.get("type")
    kind = next((k for k in kind if k != "null"), "string") if isinstance(kind, list) else kind
    if schema.get("format") in _BY_FORMAT:
        return _BY_FORMAT[schema["format"]]
    if kind in ("integer", "number"):
        return schema.get("minimum", 1)
    if kind == "boolean":
        return True
    if kind == "array":
        return []
    if kind == "object":
        return {}
    return "demo"


def example_body(schema: dict) -> dict:
    """The required fields with example values (every field when none is required)."""
    properties = schema.get("properties", {})
    names = schema.get("required") or list(properties)[:2]
    return {name: _value(name, properties.get(name, {})) for name in names if name in properties}


def _placeholder(name: str) -> str:
    return "$" + name.upper()


def curl(base_url: str, path: str, method: str, operation: dict, body_schema: dict | None,
         required_query: list[tuple[str, dict]]) -> str:
    """A curl command line for the operation: the path's parameters as shell variables ($INSTANCE_ID), the
    token for anything not public, the required query parameters and body fields with example values."""
    url = base_url.rstrip("/") + _PARAM.sub(lambda m: _placeholder(m.group(1)), path)
    if required_query:
        url += "?" + "&".join(f"{name}={_value(name, schema)}" for name, schema in required_query)
    parts = ["curl"]
    if method == "HEAD":
        parts.append("-I")
    elif method != "GET":
        parts += ["-X", method]
    lines = [" ".join(parts) + f' "{url}"']
    if operation.get("security") != []:
        lines.append('-H "Authorization: Bearer $TOKEN"')
    if body_schema is not None:
        payload = json.dumps(example_body(body_schema), ensure_ascii=False)
        lines += ['-H "Content-Type: application/json"', "-d " + shlex.quote(payload)]
    elif operation.get("operationId") == "objects.put":
        lines.append("--data-binary @./notes.txt")
    return " \\\n  ".join(lines)
