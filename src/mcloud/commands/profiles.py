"""mcloud profile list | use: the servers and identities in the config file (never their secrets)."""
from __future__ import annotations

import typer

from mcloud import exitcodes
from mcloud.base import command, session
from mcloud.output import done, show_list

app = typer.Typer(help="Profiles of the config file: list, use", no_args_is_help=True)


@command(app, "list", help="Every profile: its server, who it signs in as, and how (* marks the current one)")
def list_profiles():
    sess = session()
    config = sess.config
    rows = [{"acting": "*" if name == config.current else "", "profile": name, "url": p.url,
             "username": p.username, "via": "api_key" if p.api_key else "token" if p.token else None}
            for name, p in sorted(config.profiles.items())]
    show_list(sess, rows, [("acting", "acting"), ("profile", "profile"), ("url", "url"), ("username", "username"),
                           ("via", "via")], empty="profile.none")


@command(app, "use", help="Make this profile the current one")
def use(name: str = typer.Argument(..., help="The profile")):
    sess = session()
    if name not in sess.config.profiles:
        sess.fail(sess.t("profile.unknown", name=name), exitcodes.NOT_FOUND)
    sess.config.current = name
    sess.config.save()
    done(sess, sess.t("profile.using", name=name), {"current": name})
