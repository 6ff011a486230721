"""The user's mcloud configuration: profiles (a server URL and a token or API key each) in one TOML file.

The file is ``$MCLOUD_CONFIG`` if set, else ``config.toml`` in the user's config folder
(``$XDG_CONFIG_HOME/mcloud`` or ``~/.config/mcloud``, as typer's get_app_dir says). It holds secrets:
it is written with mode 0600 (its folder 0700), atomically, and no command ever prints a secret.
"""
from __future__ import annotations

import os
import tempfile
import tomllib
from dataclasses import dataclass, field
from pathlib import Path

import tomli_w
import typer

DEFAULT_PROFILE = "default"
DEFAULT_URL = "http://127.0.0.1:8080"


def config_path() -> Path:
    explicit = os.environ.get("MCLOUD_CONFIG")
    if explicit:
        return Path(explicit)
    return Path(typer.get_app_dir("mcloud")) / "config.toml"


@dataclass
class Profile:
    """One server and how to sign in to it: an access token from a login, or an API key (``mck_…``)."""

    name: str
    url: str = DEFAULT_URL
    token: str | None = None
    api_key: str | None = None
    username: str | None = None
    project: str | None = None   # the project ``mcloud project use`` chose (sent as X-Project-Id)

    @property
    def secret(self) -> str | None:
        return self.api_key or self.token

    def to_toml(self) -> dict:
        values = {"url": self.url, "token": self.token, "api_key": self.api_key, "username": self.username,
                  "project": self.project}
        return {k: v for k, v in values.items() if v is not None}


@dataclass
class Config:
    current: str = DEFAULT_PROFILE
    profiles: dict[str, Profile] = field(default_factory=dict)
    path: Path = field(default_factory=config_path)

    @classmethod
    def load(cls) -> "Config":
        path = config_path()
        if not path.exists():
            return cls(path=path)
        data = tomllib.loads(path.read_text(encoding="utf-8"))
        profiles = {name: Profile(name=name, **{k: v for k, v in values.items()
                                                 if k in ("url", "token", "api_key", "username", "project")})
                    for name, values in (data.get("profiles") or {}).items()}
        return cls(current=data.get("current", DEFAULT_PROFILE), profiles=profiles, path=path)

    def profile(self, name: str | None) -> Profile:
        """The named profile (or the current one); a new, empty one when it is not in the file."""
        name = name or self.current
        return self.profiles.get(name) or Profile(name=name)

    def save(self) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        data = {"current": self.current, "profiles": {n: p.to_toml() for n, p in sorted(self.profiles.items())}}
        fd, tmp = tempfile.mkstemp(dir=self.path.parent, prefix=".config-", suffix=".toml")  # mode 0600
        try:
            with os.fdopen(fd, "wb") as fh:
                tomli_w.dump(data, fh)
            os.chmod(tmp, 0o600)
            os.replace(tmp, self.path)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise
