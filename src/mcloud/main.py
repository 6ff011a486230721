"""The ``mcloud`` command: the root options, every command group, and the exit codes."""
from __future__ import annotations

from enum import Enum

import typer

from mcloud import exitcodes
from mcloud.commands import (apikeys, apps, auth, catalog, keypairs, operations, pcs, profiles, projects, public_ips,
                             security, storage, vpcs)
from mcloud.config import Config
from mcloud.session import CURRENT, Session
from mcloud.texts import pick_language


class Output(str, Enum):
    table = "table"
    json = "json"


class Lang(str, Enum):
    ko = "ko"
    en = "en"


HELP = ("mcloud: minicloud from the command line (mini PCs, buckets, apps, networks, projects), "
        "through its public API.")

app = typer.Typer(name="mcloud", help=HELP, epilog=exitcodes.EPILOG["en"] + "\n\n" + exitcodes.EPILOG["ko"],
                  no_args_is_help=True, rich_markup_mode=None, pretty_exceptions_enable=False)


@app.callback()
def root(ctx: typer.Context,
         profile: str = typer.Option(None, "--profile", "-p", envvar="MCLOUD_PROFILE",
                                     help="The profile of the config file to use (default: the current one)"),
         project: str = typer.Option(None, "--project", "-P", envvar="MCLOUD_PROJECT",
                                     help="Act in this project (name or id): the API's X-Project-Id"),
         output: Output = typer.Option(Output.table, "--output", "-o", envvar="MCLOUD_OUTPUT",
                                       help="table for people, json for scripts"),
         lang: Lang = typer.Option(None, "--lang", help="ko or en (default: $MCLOUD_LANG, then $LANG)"),
         url: str = typer.Option(None, "--url", envvar="MCLOUD_URL",
                                 help="The server for this call (default: the profile's)")) -> None:
    ctx.obj = Session(config=Config.load(), profile_name=profile, lang=pick_language(lang.value if lang else None),
                      output=output.value, project=project, url=url)
    CURRENT.set(ctx.obj)
    ctx.call_on_close(ctx.obj.close)


app.add_typer(pcs.app, name="pc")
app.add_typer(keypairs.app, name="keypair")
app.add_typer(storage.buckets, name="bucket")
app.add_typer(storage.objects, name="object")
app.add_typer(apps.app, name="app")
app.add_typer(vpcs.vpcs, name="vpc")
app.add_typer(vpcs.subnets, name="subnet")
app.add_typer(vpcs.route_tables, name="route-table")
app.add_typer(security.groups, name="sg")
app.add_typer(security.acls, name="acl")
app.add_typer(public_ips.ips, name="ip")
app.add_typer(projects.app, name="project")
app.add_typer(apikeys.app, name="apikey")
app.add_typer(catalog.images, name="image")
app.add_typer(catalog.templates, name="template")
app.add_typer(operations.app, name="op")
app.add_typer(profiles.app, name="profile")
auth.register(app)
catalog.register(app)


def main() -> None:
    app(prog_name="mcloud")
