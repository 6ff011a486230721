"""The storage console pages (UC-04): buckets with usage, the object browser, uploads, share links.

Every page works without JavaScript. The upload form is streamed: its multipart body is read
part by part from the request stream and the file part goes to Swift chunk by chunk, never
parsed or spooled by werkzeug (the route is marked ``streams_body``).
"""
from __future__ import annotations

from urllib.parse import quote

from werkzeug.sansio.multipart import Epilogue, Field, File

from minicloud.errors import ApiError, BadRequest, ServiceUnavailable
from minicloud.handlers.pages import share_result
from minicloud.handlers.pages.common import as_utc, in_utc, render
from minicloud.handlers.pages.confirm import confirm_first
from minicloud.web.multipart import PartReader, StreamedForm
from minicloud.web.stored_content import share_url

PAGE_SIZE = 50
SHARE_CHOICES = (3600, 86400, 604800)  # 1 hour, 1 day, 7 days


# ---- bucket list --------------------------------------------------------------------------------

def _usage(ctx) -> dict:
    """What the project stores against its limits (from the database: works while Swift is down)."""
    limits = ctx.services.quotas.limits(ctx.project.id)
    used = ctx.services.storage.usage(ctx.project.id)
    return {"bytes": used["bucket_bytes"], "bytes_limit": limits.get("bucket_bytes", 0),
            "buckets": used["buckets"], "buckets_limit": limits.get("buckets", 0)}


def _list_page(ctx, status=200, name="", error=None, message=None):
    storage, project_id = ctx.services.storage, ctx.project.id
    buckets, unavailable = [], None
    try:
        buckets = in_utc(storage.list_buckets(project_id)["items"], "created_at")
    except ServiceUnavailable as exc:
        unavailable, status = exc.message(ctx.lang), exc.status
    return render(ctx, "storage/list.html", status=status, buckets=buckets, usage=_usage(ctx), name=name,
                  error=error, message=message, unavailable=unavailable, done=_done(ctx),
                  activity=_activity(ctx, None))


def index(ctx):
    return _list_page(ctx)


def create(ctx):
    name = ctx.request.form.get("name", "").strip()
    try:
        created = ctx.services.storage.create_bucket(ctx.project.id, name)
    except ApiError as exc:
        if exc.status in (409, 422):  # about the name: shown next to the field
            return _list_page(ctx, exc.status, name, error=exc.message(ctx.lang))
        return _list_page(ctx, exc.status, name, message=exc.message(ctx.lang))
    ctx.audit_target = created["name"]
    return ctx.redirect(ctx.url_for("pages.storage", created=created["name"]))


# ---- object browser -----------------------------------------------------------------------------

def _prefix(value: str | None) -> str:
    """A folder path as the pages use it: no leading "/", a trailing "/" unless it is the root."""
    value = (value or "").strip().lstrip("/")
    return value if not value or value.endswith("/") else value + "/"


def _crumbs(prefix: str) -> list[tuple[str, str]]:
    """(label, prefix) for each folder from the bucket's root down to ``prefix``."""
    crumbs, path = [], ""
    for part in prefix.split("/")[:-1]:
        path += part + "/"
        crumbs.append((part, path))
    return crumbs


def object_url(bucket: str, key: str) -> str:
    return f"/api/v1/buckets/{bucket}/objects/{quote(key, safe='/')}"


def _bucket_page(ctx, bucket, status=200, prefix=None, message=None, shared=None):
    storage, project_id = ctx.services.storage, ctx.project.id
    args = ctx.request.args
    prefix = _prefix(args.get("prefix") if prefix is None else prefix)
    cursor = args.get("cursor") or None
    try:
        limit = max(1, min(int(args.get("limit", PAGE_SIZE)), 1000))
    except ValueError:
        limit = PAGE_SIZE
    info, listing, unavailable = None, {"items": [], "prefixes": [], "next": None}, None
    try:
        info = in_utc([storage.get_bucket(project_id, bucket)], "created_at")[0]
        listing = storage.list_objects(project_id, bucket, prefix=prefix, delimiter="/", cursor=cursor,
                                       limit=limit)
    except ServiceUnavailable as exc:
        unavailable, status = exc.message(ctx.lang), exc.status
    folders = [(p[len(prefix):], p) for p in listing["prefixes"]]
    objects = [dict(o, name=o["key"][len(prefix):], url=object_url(bucket, o["key"]),
                    last_modified=as_utc(o.get("last_modified"))) for o in listing["items"]]
    return render(ctx, "storage/bucket.html", status=status, bucket=bucket, info=info, prefix=prefix,
                  crumbs=_crumbs(prefix), folders=folders, objects=objects, next_cursor=listing["next"],
                  cursor=cursor, limit=limit if "limit" in args else None, unavailable=unavailable,
                  message=message, shared=shared, done=_done(ctx), share_choices=SHARE_CHOICES,
                  activity=_activity(ctx, bucket), upload_url=object_url(bucket, ""))


def bucket(ctx, bucket):
    shared_key = ctx.request.args.get("shared")
    if not shared_key:
        return _bucket_page(ctx, bucket)
    shared = share_result.recall(ctx, bucket, shared_key)  # None: made elsewhere, or too long ago
    return _bucket_page(ctx, bucket, shared=shared or {"gone": True, "name": shared_key})


def _back(ctx, bucket: str, prefix: str, **done) -> str:
    """The object browser at ``prefix``, saying what was just done."""
    params = {"prefix": prefix} if prefix else {}
    params.update(done)
    return ctx.url_for("pages.bucket", bucket=bucket, **params)


def delete_object(ctx, bucket):
    form = ctx.request.form
    key, prefix = form.get("key", ""), _prefix(form.get("prefix"))
    ctx.audit_target = f"{bucket}/{key}"
    if asked := confirm_first(ctx, "object", key, cancel_url=_back(ctx, bucket, prefix)):
        return asked
    try:
        ctx.services.storage.delete_object(ctx.project.id, bucket, key)
    except ApiError as exc:  # an object gone meanwhile, Swift down: said on the page
        return _bucket_page(ctx, bucket, exc.status, prefix, message=exc.message(ctx.lang))
    name = key[len(prefix):] if key.startswith(prefix) else key
    return ctx.redirect(_back(ctx, bucket, prefix, deleted=name))


def share(ctx, bucket):
    """A share link: made here, then shown on the object browser ready to copy after a redirect
    (post/redirect/get; the link travels in a signed cookie, never in the redirect's URL)."""
    form = ctx.request.form
    key, prefix = form.get("key", ""), _prefix(form.get("prefix"))
    ctx.audit_target = f"{bucket}/{key}"
    try:
        expires_in = int(form.get("expires_in", SHARE_CHOICES[0]))
    except ValueError:
        raise BadRequest("error.bad_request") from None
    try:
        link = ctx.services.storage.share(ctx.project.id, bucket, key, expires_in)
    except ApiError as exc:
        return _bucket_page(ctx, bucket, exc.status, prefix, message=exc.message(ctx.lang))
    share_result.remember(ctx, bucket, key, share_url(ctx, link["path"]), link["expires_at"])
    return ctx.redirect(_back(ctx, bucket, prefix, shared=key))


def delete_bucket(ctx, bucket):
    force = ctx.request.form.get("force") in ("1", "on", "true")
    try:
        held = ctx.services.storage.get_bucket(ctx.project.id, bucket)["object_count"]
    except ServiceUnavailable as exc:
        return _bucket_page(ctx, bucket, exc.status, "", message=exc.message(ctx.lang))
    if not held or force:  # a bucket with files goes only with force (else the service refuses): type its name
        detail = ctx.t("look_console.bucket_has_objects", count=held) if held else None
        if asked := confirm_first(ctx, "bucket", bucket, typed=bool(held), detail=detail,
                                  cancel_url=ctx.url_for("pages.bucket", bucket=bucket)):
            return asked
    try:
        ctx.services.storage.delete_bucket(ctx.project.id, bucket, force=force)
    except ApiError as exc:
        if exc.status == 404:
            raise
        text = ctx.t("storage_console.not_empty") if exc.code == "bucket_not_empty" else exc.message(ctx.lang)
        return _bucket_page(ctx, bucket, exc.status, "", message=text)
    return ctx.redirect(ctx.url_for("pages.storage", deleted=bucket))


# ---- the streamed upload form -------------------------------------------------------------------

def _file_name(filename: str) -> str:
    """The file's own name (some browsers send a whole path)."""
    return filename.replace("\\", "/").rsplit("/", 1)[-1].strip()


def upload(ctx, bucket):
    """POST /storage/{bucket}/upload: fields ``csrf_token``, ``prefix``, then ``file`` — streamed to Swift."""
    form = StreamedForm(ctx.request)
    fields: dict[str, str] = {}
    while True:
        event = form.next_event()
        if isinstance(event, Field):
            fields[event.name] = form.field_value()
        elif isinstance(event, File):
            break
        elif isinstance(event, Epilogue):
            event = None
            break
    # The CSRF field comes first: nothing is stored unless it is right (403 otherwise).
    if ctx.csrf_pending:
        ctx.check_csrf(fields.get("csrf_token"))
    prefix = _prefix(fields.get("prefix"))
    name = _file_name(event.filename) if event is not None and event.name == "file" else ""
    if not name:
        return _bucket_page(ctx, bucket, 422, prefix, message=ctx.t("storage_console.no_file"))
    key = prefix + name
    ctx.audit_target = f"{bucket}/{key}"
    content_type = event.headers.get("Content-Type") or "application/octet-stream"
    try:
        ctx.services.storage.put_object(ctx.project.id, bucket, key, PartReader(form.file_chunks()), None,
                                        content_type)
    except ApiError as exc:
        form.discard()
        if exc.status == 404:
            raise
        return _bucket_page(ctx, bucket, exc.status, prefix, message=exc.message(ctx.lang))
    form.finish()
    return ctx.redirect(_back(ctx, bucket, prefix, uploaded=name))


# ---- shared by the pages ------------------------------------------------------------------------

def _done(ctx) -> str | None:
    """The line saying what the last form did (from the redirect's query), in the page's language."""
    args = ctx.request.args
    for arg, key in (("created", "storage_console.created"), ("deleted", None),
                     ("uploaded", "storage_console.uploaded")):
        if args.get(arg):
            if key is None:
                key = "storage_console.deleted" if ctx.route.endpoint == "pages.storage" \
                    else "storage_console.object_deleted"
            return ctx.t(key, name=args[arg])
    return None


def _activity(ctx, bucket: str | None) -> list[dict]:
    """The Swift requests recent operations made (kept in the database, readable while Swift is down)."""
    try:
        return in_utc(ctx.services.storage.activity(ctx.project.id, bucket, limit=10))
    except ServiceUnavailable:
        return []
