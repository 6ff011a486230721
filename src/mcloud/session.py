"""What every command gets from the global options: the profile, the language, the output form, the API client."""
from __future__ import annotations

from contextvars import ContextVar
from dataclasses import dataclass, field

import typer
from rich.console import Console

from mcloud import exitcodes
from mcloud.client import ApiClient
from mcloud.config import Config, Profile
from mcloud.texts import say


@dataclass
class Session:
    config: Config
    profile_name: str | None
    lang: str
    output: str = "table"
    project: str | None = None        # --project: a name or id, resolved on first use
    url: str | None = None            # --url: overrides the profile's server for this call
    out: Console = field(default_factory=lambda: Console(soft_wrap=True, highlight=False))
    err: Console = field(default_factory=lambda: Console(stderr=True, soft_wrap=True, highlight=False))
    _client: ApiClient | None = None

    @property
    def profile(self) -> Profile:
        return self.config.profile(self.profile_name)

    @property
    def json(self) -> bool:
        return self.output == "json"

    def t(self, _key: str, /, **params) -> str:
        return say(self.lang, _key, **params)

    def client(self, *, anonymous: bool = False) -> ApiClient:
        """The API client for the profile; exits 3 when the profile has no login (unless ``anonymous``)."""
        profile = self.profile
        if not anonymous and not profile.secret:
            self.fail(self.t("not_logged_in", profile=profile.name), exitcodes.NOT_LOGGED_IN)
        if self._client is None:
            self._client = ApiClient(self.url or profile.url, secret=None if anonymous else profile.secret,
                                     lang=self.lang)
            if not anonymous:
                project = self.project or profile.project
                if project:
                    self._client.project_id = self._client.resolve_project(project)
        return self._client

    def close(self) -> None:
        if self._client is not None:
            self._client.http.close()

    def fail(self, message: str, code: int) -> "typer.Exit":
        self.err.print(f"[bold red]{self.t('error')}:[/] {escape(message)}")
        raise typer.Exit(code)


def escape(text: str) -> str:
    from rich.markup import escape as rich_escape

    return rich_escape(str(text))


CURRENT: ContextVar[Session] = ContextVar("mcloud_session")
