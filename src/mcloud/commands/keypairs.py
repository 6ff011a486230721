"""mcloud keypair …: SSH key pairs of the project (generate one, import a public key, list, show, delete)."""
from __future__ import annotations

import os
from pathlib import Path

import typer

from mcloud import exitcodes
from mcloud.base import command, session
from mcloud.output import done, show_list, show_one

app = typer.Typer(help="SSH key pairs: create (generate), import, list, show, delete", no_args_is_help=True)

COLUMNS = [("name", "name"), ("fingerprint", "fingerprint"), ("created_at", "created_at"), ("id", "id")]
DETAIL = [("name", "name"), ("id", "id"), ("fingerprint", "fingerprint"), ("public_key", "public_key"),
          ("created_at", "created_at")]


@command(app, "create", help="Generate a key pair; the private key is saved to a file (0600), shown only once")
def create(name: str = typer.Argument(..., help="Its name"),
           private_key_file: Path = typer.Option(None, "--private-key-file", "-f",
                                                 help="Where to save the private key (default: ./NAME.pem)")):
    sess = session()
    target = private_key_file or Path(f"{name}.pem")
    if target.exists():
        sess.fail(sess.t("keypair.file_exists", path=str(target)), exitcodes.USAGE)
    answer = sess.client().call("POST", "/keypairs", json={"name": name})
    private = answer.pop("private_key")
    fd = os.open(target, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w") as fh:
        fh.write(private if private.endswith("\n") else private + "\n")
    done(sess, sess.t("keypair.created", name=answer["name"], path=str(target), fingerprint=answer["fingerprint"]),
         answer | {"private_key_file": str(target)})


@command(app, "import", help="Import an OpenSSH public key (e.g. ~/.ssh/id_ed25519.pub)")
def import_key(name: str = typer.Argument(..., help="Its name"),
               public_key_file: Path = typer.Option(Path("~/.ssh/id_ed25519.pub"), "--public-key-file", "-f",
                                                    help="The public key file")):
    sess = session()
    path = public_key_file.expanduser()
    if not path.is_file():
        sess.fail(sess.t("keypair.no_file", path=str(path)), exitcodes.USAGE)
    answer = sess.client().call("POST", "/keypairs", json={"name": name, "public_key": path.read_text().strip()})
    done(sess, sess.t("keypair.imported", name=answer["name"], fingerprint=answer["fingerprint"]), answer)


@command(app, "list", help="The project's key pairs")
def list_keypairs():
    sess = session()
    show_list(sess, sess.client().all("/keypairs"), COLUMNS, empty="keypair.none")


@command(app, "show", help="A key pair with its public key")
def show(keypair: str = typer.Argument(..., help="Name or id")):
    sess = session()
    show_one(sess, sess.client().resolve("/keypairs", keypair, kind="keypair"), DETAIL)


@command(app, "delete", help="Delete a key pair (mini PCs keep the key they were built with)")
def delete(keypair: str = typer.Argument(..., help="Name or id"),
           yes: bool = typer.Option(False, "--yes", "-y", help="Do not ask first")):
    sess = session()
    client = sess.client()
    found = client.resolve("/keypairs", keypair, kind="keypair")
    if not yes:
        typer.confirm(sess.t("confirm_delete", kind=sess.t("kind.keypair"), name=found["name"]), abort=True, err=True)
    client.call("DELETE", f"/keypairs/{found['id']}")
    done(sess, sess.t("deleted", kind=sess.t("kind.keypair"), name=found["name"]), {"id": found["id"]})
