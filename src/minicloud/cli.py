"""The ``minicloud`` command: database migrations, the admin account, images, the worker, the web server."""
from __future__ import annotations

import argparse
import logging
import os
import secrets
import signal
import sys

from minicloud import config as config_module


def _db_upgrade(args, config) -> int:
    from minicloud.db import migrate

    from minicloud.services import Services

    applied = migrate.upgrade(config.database_url)
    print("applied: " + ", ".join(applied) if applied else "database is up to date")
    services = Services.from_config(config)
    try:  # the mini PC templates of configs/templates.toml and the local host
        seeded = services.templates.seed()
        services.hosts.ensure_default()
    finally:
        services.close()
    if seeded:
        print("templates added: " + ", ".join(seeded))
    return 0


def _said(exc) -> str:
    """An error as the commands print it: the English message, then its details (each bad field in words)."""
    from minicloud.web.errors import envelope

    error = envelope(exc, "en")["error"]
    return f"{error['message']} {error['details'] or ''}"


def _create_admin(args, config) -> int:
    from minicloud.errors import ApiError
    from minicloud.services import Services

    username = args.username or os.environ.get("MINICLOUD_ADMIN_USERNAME") or "admin"
    password = args.password or os.environ.get("MINICLOUD_ADMIN_PASSWORD") or None
    generated = password is None
    if generated:
        password = secrets.token_urlsafe(12)
    services = Services.from_config(config)
    try:
        if args.if_missing:
            existing = services.db.fetchone(
                "SELECT username, is_admin FROM users WHERE lower(username) = lower(%s)", (username.strip(),))
            if existing and existing["is_admin"]:
                print(f"administrator {existing['username']} exists (password unchanged)")
                return 0
            if existing:
                print(f"create-admin: user {existing['username']} exists but is not an administrator; left as is"
                      " (give a password, without --if-missing, to promote it)", file=sys.stderr)
                return 0
        user, created = services.accounts.ensure_admin(username, password)
    except ApiError as exc:
        print(f"create-admin: {_said(exc)}", file=sys.stderr)
        return 1
    finally:
        services.close()
    print(f"administrator {user['username']} {'created' if created else 'updated'}")
    if generated:
        print(f"  username: {user['username']}\n  password: {password}")
    return 0


def _register_image(args, config) -> int:
    """Register an image from its folder's manifest.json (as the admin API's POST /api/v1/images does)."""
    import json
    import math
    import re

    from minicloud.errors import ApiError
    from minicloud.services import Services

    manifest_path = os.path.abspath(args.manifest)
    try:
        with open(manifest_path) as fh:
            manifest = json.load(fh)
    except (OSError, ValueError) as exc:
        print(f"register-image: cannot read {manifest_path}: {exc}", file=sys.stderr)
        return 1
    folder = os.path.dirname(manifest_path)
    name = args.name or manifest.get("name")
    if not name or not re.fullmatch(r"[a-z0-9][a-z0-9._-]{0,62}", name):
        print(f"register-image: {name!r} is not an image name (lower-case letters, digits, . _ -)", file=sys.stderr)
        return 1

    def path(key: str) -> str | None:
        value = manifest.get(key)
        return os.path.join(folder, value) if value else None

    if not manifest.get("disk"):
        print(f"register-image: {manifest_path} names no disk", file=sys.stderr)
        return 1
    disk = path("disk")
    try:  # the size the guest sees: the qcow2 header's virtual size, else the file's size
        with open(disk, "rb") as fh:
            header = fh.read(32)
        size = int.from_bytes(header[24:32], "big") if header[:4] == b"QFI\xfb" else os.path.getsize(disk)
    except OSError:
        size = 0  # the images service reports the missing file
    values = {
        "name": name, "disk_path": disk, "kernel_path": path("kernel"), "initrd_path": path("initrd"),
        "cmdline": manifest.get("cmdline"), "default_user": manifest.get("default_user") or "student",
        "os": (manifest.get("os") or manifest.get("description") or name)[:64],
        "min_disk_gib": max(1, math.ceil(size / 1024 ** 3)),
    }
    services = Services.from_config(config)
    try:
        existing = services.db.fetchone("SELECT id, name, disk_path FROM images WHERE name = %s", (name,))
        if existing and args.if_missing:
            print(f"image {name} is registered already ({existing['disk_path']}); left as is")
            return 0
        image = services.images.create(values)
    except ApiError as exc:
        print(f"register-image: {_said(exc)}", file=sys.stderr)
        return 1
    finally:
        services.close()
    print(f"image {image['name']} registered: {image['id']} ({image['disk_path']})")
    return 0


def _worker(args, config) -> int:
    from minicloud.jobs.worker import Worker
    from minicloud.services import Services

    if args.concurrency is not None:
        config = config.with_overrides({"jobs.concurrency": args.concurrency})
    services = Services.from_config(config)
    worker = Worker(config, services, name=args.name)
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda *_: (worker.stop.set(), worker.wake.set()))
    from minicloud.jobs.reconciler import watch_hosts

    watchers = watch_hosts(services, worker)  # libvirt lifecycle events start a reconciler pass at once
    try:
        worker.run_forever()
    finally:
        for watcher in watchers:
            watcher.close()
        services.close()
    return 0


def _serve(args, config) -> int:
    bind = f"{config.get('server.host')}:{config.get('server.port')}"
    os.execvp(sys.executable, [sys.executable, "-m", "gunicorn", "-c", str(config.root / "configs/gunicorn.conf.py"),
                               "--bind", args.bind or bind,
                               "--workers", str(args.workers), "--access-logfile", "-",
                               "minicloud.wsgi:application"])
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="minicloud", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)
    db = sub.add_parser("db", help="database schema")
    db_sub = db.add_subparsers(dest="db_command", required=True)
    db_sub.add_parser("upgrade", help="apply pending migrations").set_defaults(func=_db_upgrade)
    admin = sub.add_parser("create-admin", help="create (or reset) the global administrator")
    admin.add_argument("--username", help="default: $MINICLOUD_ADMIN_USERNAME, else admin")
    admin.add_argument("--password", help="default: $MINICLOUD_ADMIN_PASSWORD, else generated and printed")
    admin.add_argument("--if-missing", action="store_true",
                       help="leave an existing account of that name alone (no password reset)")
    admin.set_defaults(func=_create_admin)
    image = sub.add_parser("register-image", help="register an image from its manifest.json (images/<name>/)")
    image.add_argument("--manifest", required=True, help="e.g. images/tiny/manifest.json")
    image.add_argument("--name", help="default: the manifest's name")
    image.add_argument("--if-missing", action="store_true",
                       help="do nothing when an image of that name is registered already")
    image.set_defaults(func=_register_image)
    worker = sub.add_parser("worker", help="run queued jobs until interrupted (jobs running then are finished first)")
    worker.add_argument("--name", help="worker name recorded on the jobs it runs")
    worker.add_argument("--concurrency", type=int, help="jobs run at once (default: [jobs] concurrency)")
    worker.set_defaults(func=_worker)
    serve = sub.add_parser("serve", help="serve the console and API with gunicorn")
    serve.add_argument("--bind")
    serve.add_argument("--workers", type=int, default=2)
    serve.set_defaults(func=_serve)
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s %(message)s")
    return args.func(args, config_module.load())


if __name__ == "__main__":
    sys.exit(main())
