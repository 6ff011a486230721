"""Configuration: configs/minicloud.toml defaults, MINICLOUD_* environment overrides, DATABASE_URL.

Keys are read as ``section.key``; the environment variable for a key is
``MINICLOUD_<SECTION>_<KEY>`` in upper case, converted to the type of the default
(a list from comma-separated items).
"""
from __future__ import annotations

import ipaddress
import os
import secrets
import tempfile
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Mapping

PROJECT_ROOT = Path(__file__).resolve().parents[2]
DEFAULT_FILE = PROJECT_ROOT / "configs" / "minicloud.toml"


class ConfigError(Exception):
    """A setting is missing or has a value of the wrong type."""


def _coerce(raw: str, default: Any, name: str) -> Any:
    if isinstance(default, list):  # "a, b" -> ["a", "b"]
        return [item.strip() for item in raw.split(",") if item.strip()]
    if isinstance(default, bool):
        if raw.lower() in ("1", "true", "yes", "on"):
            return True
        if raw.lower() in ("0", "false", "no", "off", ""):
            return False
        raise ConfigError(f"{name} must be true or false, not {raw!r}")
    try:
        if isinstance(default, int):
            return int(raw)
        if isinstance(default, float):
            return float(raw)
    except ValueError:
        raise ConfigError(f"{name} must be a number, not {raw!r}") from None
    return raw


@dataclass
class Config:
    """All settings as ``{section: {key: value}}`` with typed accessors."""

    values: dict[str, dict[str, Any]]
    root: Path = field(default=PROJECT_ROOT)

    def get(self, dotted: str) -> Any:
        section, _, key = dotted.partition(".")
        try:
            return self.values[section][key]
        except KeyError:
            raise ConfigError(f"unknown setting {dotted}") from None

    def section(self, name: str) -> dict[str, Any]:
        return dict(self.values.get(name, {}))

    def with_overrides(self, overrides: Mapping[str, Any]) -> "Config":
        """A copy with ``{"section.key": value}`` replaced (used by tests and tools)."""
        values = {s: dict(kv) for s, kv in self.values.items()}
        for dotted, value in overrides.items():
            section, _, key = dotted.partition(".")
            values.setdefault(section, {})[key] = value
        return Config(values, self.root)

    def networks(self, dotted: str) -> tuple[ipaddress.IPv4Network | ipaddress.IPv6Network, ...]:
        """A list of addresses or CIDR ranges (``["127.0.0.0/8", "::1"]``); a bad entry is a ConfigError."""
        entries = self.get(dotted)
        if not isinstance(entries, list):
            raise ConfigError(f"{dotted} must be a list of addresses or ranges, not {entries!r}")
        try:
            return tuple(ipaddress.ip_network(str(entry).strip(), strict=False) for entry in entries)
        except ValueError as exc:
            raise ConfigError(f"{dotted}: {exc}") from None

    @property
    def database_url(self) -> str:
        return self.get("database.url")

    def jwt_secret(self) -> str:
        """The HS256 secret: the configured one, else the one in jwt_secret_file (created on first use)."""
        configured = self.get("auth.jwt_secret")
        if configured:
            return configured
        path = Path(self.get("auth.jwt_secret_file"))
        if not path.is_absolute():
            path = self.root / path
        if not path.exists():
            # Written whole to a private temporary file, then linked into place: a process
            # starting at the same moment either wins the link or reads the winner's secret.
            path.parent.mkdir(parents=True, exist_ok=True)
            fd, temporary = tempfile.mkstemp(dir=path.parent, prefix=".jwt-secret-")
            try:
                with os.fdopen(fd, "w") as fh:
                    fh.write(secrets.token_urlsafe(48))
                os.link(temporary, path)
            except FileExistsError:
                pass
            finally:
                os.unlink(temporary)
        secret = path.read_text().strip()
        self.values["auth"]["jwt_secret"] = secret
        return secret


def load(path: Path | None = None, environ: Mapping[str, str] | None = None) -> Config:
    """Read the TOML defaults, then apply MINICLOUD_* and DATABASE_URL from the environment."""
    environ = os.environ if environ is None else environ
    path = Path(environ.get("MINICLOUD_CONFIG", path or DEFAULT_FILE))
    with open(path, "rb") as fh:
        values: dict[str, dict[str, Any]] = tomllib.load(fh)
    for section, keys in values.items():
        for key, default in keys.items():
            name = f"MINICLOUD_{section}_{key}".upper()
            if name in environ:
                keys[key] = _coerce(environ[name], default, name)
    if environ.get("DATABASE_URL"):
        values["database"]["url"] = environ["DATABASE_URL"]
    config = Config(values)
    config.networks("metrics.allow")  # a mistyped address stops the start, not the first scrape
    return config
