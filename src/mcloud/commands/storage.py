"""mcloud bucket … and mcloud object …: buckets and their objects (on the server's Swift), streamed."""
from __future__ import annotations

import mimetypes
from pathlib import Path
from urllib.parse import quote

import typer

from mcloud import exitcodes
from mcloud.base import command, session
from mcloud.output import done, local_time, show_list, show_one
from mcloud.session import escape
from mcloud.transfer import download, upload

buckets = typer.Typer(help="Buckets: create, list, show, delete", no_args_is_help=True)
objects = typer.Typer(help="Objects in a bucket: put, get, ls, stat, rm, share (streamed, with progress bars)",
                      no_args_is_help=True)

BUCKET_COLUMNS = [("name", "name"), ("objects", "object_count"), ("size", lambda b: human_bytes(b["bytes"])),
                  ("created_at", "created_at")]
OBJECT_COLUMNS = [("key", "key"), ("size", lambda o: human_bytes(o["size"]) if o.get("size") is not None else ""),
                  ("content_type", "content_type"), ("last_modified", "last_modified")]


def human_bytes(n: int | None) -> str:
    if n is None:
        return "-"
    size = float(n)
    for unit in ("B", "KiB", "MiB", "GiB", "TiB"):
        if size < 1024 or unit == "TiB":
            return f"{int(size)} B" if unit == "B" else f"{size:.1f} {unit}"
        size /= 1024
    return f"{n} B"


def object_path(bucket: str, key: str) -> str:
    return f"/buckets/{quote(bucket, safe='')}/objects/{quote(key, safe='/')}"


@command(buckets, "create", help="Create a bucket")
def create_bucket(name: str = typer.Argument(..., help="Lower-case letters, digits and hyphens")):
    sess = session()
    answer = sess.client().call("POST", "/buckets", json={"name": name})
    done(sess, sess.t("created", kind=sess.t("kind.bucket"), name=answer["name"]), answer)


@command(buckets, "list", help="The project's buckets with object count and size")
def list_buckets():
    sess = session()
    show_list(sess, sess.client().all("/buckets"), BUCKET_COLUMNS, empty="bucket.none")


@command(buckets, "show", help="One bucket")
def show_bucket(name: str = typer.Argument(..., help="The bucket")):
    sess = session()
    show_one(sess, sess.client().get(f"/buckets/{quote(name, safe='')}"),
             [("name", "name"), ("id", "id")] + BUCKET_COLUMNS[1:])


@command(buckets, "delete", help="Delete a bucket (refused while it holds objects, unless --force)")
def delete_bucket(name: str = typer.Argument(..., help="The bucket"),
                  force: bool = typer.Option(False, "--force", help="Delete its objects too"),
                  yes: bool = typer.Option(False, "--yes", "-y", help="Do not ask first")):
    sess = session()
    client = sess.client()
    if not yes:
        typer.confirm(sess.t("confirm_delete", kind=sess.t("kind.bucket"), name=name), abort=True, err=True)
    client.call("DELETE", f"/buckets/{quote(name, safe='')}", params={"force": True if force else None})
    done(sess, sess.t("deleted", kind=sess.t("kind.bucket"), name=name), {"name": name})


@command(objects, "put", help="Upload a file (streamed, with a progress bar)")
def put(bucket: str = typer.Argument(..., help="The bucket"),
        file: Path = typer.Argument(..., help="The file to upload"),
        key: str = typer.Option(None, "--key", "-k", help="The object's key (default: the file's name)"),
        prefix: str = typer.Option("", "--prefix", help="A folder to put it in, e.g. photos/2025/"),
        content_type: str = typer.Option(None, "--content-type", help="Default: guessed from the name")):
    sess = session()
    if not file.is_file():
        sess.fail(sess.t("object.no_file", path=str(file)), exitcodes.USAGE)
    name = key or file.name
    if prefix:
        name = prefix.rstrip("/") + "/" + name
    guessed = content_type or mimetypes.guess_type(file.name)[0]
    answer = upload(sess, object_path(bucket, name), file, guessed)
    done(sess, sess.t("object.uploaded", key=answer["key"], bucket=bucket, size=human_bytes(answer["size"])), answer)


@command(objects, "get", help="Download an object (streamed, with a progress bar); --to - writes to stdout")
def get(bucket: str = typer.Argument(..., help="The bucket"), key: str = typer.Argument(..., help="The key"),
        to: str = typer.Option(None, "--to", "-O", help="The file to write (default: the key's name here; - for stdout)"),
        overwrite: bool = typer.Option(False, "--overwrite", help="Replace an existing file")):
    sess = session()
    target = None if to == "-" else Path(to or key.rsplit("/", 1)[-1])
    if target is not None and target.exists() and not overwrite:
        sess.fail(sess.t("object.file_exists", path=str(target)), exitcodes.USAGE)
    written = download(sess, object_path(bucket, key), target, key)
    if target is not None:
        done(sess, sess.t("object.downloaded", key=key, path=str(target), size=human_bytes(written)),
             {"key": key, "path": str(target), "size": written})


@command(objects, "ls", help="Objects in a bucket, folder by folder (--recursive: every key)")
def ls(bucket: str = typer.Argument(..., help="The bucket"),
       prefix: str = typer.Option(None, "--prefix", help="Only keys starting with this (a folder: photos/)"),
       recursive: bool = typer.Option(False, "--recursive", "-r", help="Every key, not only this folder's")):
    sess = session()
    client = sess.client()
    items: list[dict] = []
    folders: list[str] = []
    cursor = None
    while True:
        page = client.get(f"/buckets/{quote(bucket, safe='')}/objects", prefix=prefix, cursor=cursor,
                          delimiter=None if recursive else "/", limit=500)
        items += page["items"]
        folders += page.get("prefixes") or []
        cursor = page.get("next")
        if not cursor:
            break
    rows = [{"key": f, "size": None, "content_type": sess.t("object.folder"), "last_modified": None} for f in folders]
    show_list(sess, rows + items, OBJECT_COLUMNS, empty="object.none", json_data={"items": items, "prefixes": folders})


@command(objects, "stat", help="An object's size, type and ETag (without downloading it)")
def stat(bucket: str = typer.Argument(..., help="The bucket"), key: str = typer.Argument(..., help="The key")):
    sess = session()
    headers = sess.client().request("HEAD", object_path(bucket, key)).headers
    info = {"key": key, "size": int(headers.get("Content-Length", 0)), "content_type": headers.get("Content-Type"),
            "etag": (headers.get("ETag") or "").strip('"'), "last_modified": headers.get("Last-Modified")}
    show_one(sess, info, [("key", "key"), ("size", lambda o: human_bytes(o["size"])), ("content_type", "content_type"),
                          ("etag", "etag"), ("last_modified", "last_modified")])


@command(objects, "rm", help="Delete an object")
def rm(bucket: str = typer.Argument(..., help="The bucket"), key: str = typer.Argument(..., help="The key")):
    sess = session()
    sess.client().call("DELETE", object_path(bucket, key))
    done(sess, sess.t("object.deleted", key=key, bucket=bucket), {"bucket": bucket, "key": key})


@command(objects, "share", help="A time-limited download link that works without logging in")
def share(bucket: str = typer.Argument(..., help="The bucket"), key: str = typer.Argument(..., help="The key"),
          expires_in: int = typer.Option(3600, "--expires-in", "-e", help="Seconds the link works")):
    sess = session()
    answer = sess.client().call("POST", object_path(bucket, key) + "/share", json={"expires_in": expires_in})
    if sess.json:
        done(sess, "", answer)
        return
    sess.err.print(escape(sess.t("object.shared", key=key, expires_at=local_time(answer["expires_at"]))))
    print(answer["url"])   # plain on stdout: ready to copy or pipe
