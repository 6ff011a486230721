"""/api/v1/buckets/{bucket}/objects: objects streamed to and from Swift, never held in memory.

PUT streams the request body (Content-Length or chunked) straight to Swift; GET
streams Swift's answer back (Range → 206, If-None-Match → 304, ``download=1`` for
a Content-Disposition); HEAD asks Swift for the metadata only.
"""
from __future__ import annotations

from datetime import datetime

from werkzeug.http import http_date
from werkzeug.wrappers import Response

from minicloud.errors import ApiError, ValidationFailed
from minicloud.services.storage_rules import MAX_KEY_BYTES
from minicloud.web.listing import list_query
from minicloud.web.schemas import COUNT, STRING, TIME, Answer, Header, array, located, nullable, obj, page_of
from minicloud.web.stored_content import first_chunk, object_headers, served_type, share_url

LIST_QUERY = list_query(
    prefix={"type": "string", "maxLength": 1024, "description": "Only keys starting with this (at most 1024 bytes"
                                                                " in UTF-8, like a key)"},
    delimiter={"type": "string", "maxLength": 1,
               "description": "Usually /: keys below the next delimiter are folded into prefixes (folders)"},
)
GET_QUERY = {"type": "object", "properties": {
    "download": {"type": "string", "enum": ["0", "1", "true", "false"],
                 "description": "1: answer with Content-Disposition: attachment"}}}
SHARE_BODY = {"type": "object", "additionalProperties": False, "properties": {
    "expires_in": {"type": "integer", "minimum": 1, "default": 3600,
                   "description": "Seconds the link works (at most storage.share_max_seconds)"}}}
OBJECT = obj({"key": STRING, "size": {**COUNT, "description": "Bytes"}, "etag": {"type": "string",
              "description": "The MD5 of its bytes, as Swift reports it"}, "content_type": STRING,
              "last_modified": nullable(TIME)})
OBJECT_PAGE = page_of(OBJECT, prefixes=array(STRING, description="With a delimiter: the folders at this level"))
STORED = located(OBJECT)
SHARE_LINK = obj({"url": {"type": "string", "format": "uri", "description": "Works without logging in"},
                  "expires_at": TIME, "expires_in": {**COUNT, "description": "Seconds"}})
_PRIVATE = Header("private: the answer is the caller's own", required=True)
_ETAG = Header("The object's ETag (quoted), for If-None-Match")
# what every object answer carries, so stored content never runs as a page (web/stored_content.py)
_CONTAINED = {
    "Content-Disposition": Header("attachment (inline only for raster images, PDF and plain text without download=1),"
                                  " with the key's last part as file name", required=True),
    "X-Content-Type-Options": Header("nosniff", required=True),
    "Content-Security-Policy": Header("sandbox: no script, no origin, even if a browser shows it", required=True),
    "Referrer-Policy": Header("no-referrer", required=True),
}
_DOWNLOADED = {"ETag": _ETAG, "Last-Modified": Header("When it was stored"), "Accept-Ranges": Header("bytes"),
               "Content-Length": Header("Bytes in this answer", {"type": "integer", "minimum": 0}),
               "Cache-Control": _PRIVATE, **_CONTAINED}
DOWNLOAD = {
    200: Answer(media="*/*", headers=_DOWNLOADED),
    206: Answer(media="*/*", headers={**_DOWNLOADED, "Content-Range": Header("The bytes sent, for a single range")}),
    304: Answer(media=None, headers={"ETag": _ETAG, "Cache-Control": _PRIVATE, **_CONTAINED}),
}
HEADERS_ONLY = Answer(media=None, headers={
    "Content-Length": Header("The object's size in bytes", {"type": "integer", "minimum": 0}, required=True),
    "ETag": Header("The object's ETag (quoted)", required=True), "Accept-Ranges": Header("bytes", required=True),
    "Last-Modified": Header("When it was stored, when Swift says"), "Cache-Control": _PRIVATE, **_CONTAINED})
_PASSED_HEADERS = ("Content-Length", "ETag", "Last-Modified", "Accept-Ranges", "Content-Range")


def _quoted_etag(etag: str) -> str:
    return '"' + etag.strip('"') + '"'


def stream_response(download, key: str, wanted_as_file: bool) -> Response:
    """A response streaming a driver's ObjectDownload, with the headers of stored content
    (``web/stored_content.py``); the Swift connection closes with the response."""
    given = {k.lower(): v for k, v in download.headers.items()}
    headers = {name: given[name.lower()] for name in _PASSED_HEADERS if name.lower() in given}
    if "ETag" in headers:
        headers["ETag"] = _quoted_etag(headers["ETag"])
    headers["Cache-Control"] = "private"
    body, sample = download.body, None
    if download.status == 200:
        sample, body = first_chunk(body)
    content_type = served_type(given.get("content-type"), sample)
    headers.update(object_headers(content_type, key, wanted_as_file))
    if download.status == 304:
        download.close()
        headers.pop("Content-Length", None)
        return Response(status=304, headers=headers)
    response = Response(body, status=download.status, headers=headers, content_type=content_type,
                        direct_passthrough=True)
    response.call_on_close(download.close)
    return response


def _target(ctx, bucket: str, key: str) -> None:
    ctx.audit_target = f"{bucket}/{key}"


def list_objects(ctx, bucket):
    q = ctx.query()
    if len((q.get("prefix") or "").encode("utf-8")) > MAX_KEY_BYTES:
        raise ValidationFailed({"prefix": ("validation.max_bytes", {"max": MAX_KEY_BYTES})})
    return ctx.respond(ctx.services.storage.list_objects(
        ctx.project.id, bucket, prefix=q.get("prefix") or "", delimiter=q.get("delimiter") or None,
        cursor=q.get("cursor"), limit=q["limit"]))


def upload_length(request) -> int | None:
    """The body's length: Content-Length; None for a chunked body the server delimits
    (``wsgi.input_terminated``); 0 when there is no body. 411 for chunked the server cannot delimit."""
    if request.content_length is not None:
        return request.content_length
    if request.environ.get("wsgi.input_terminated"):
        return None
    if request.headers.get("Transfer-Encoding"):
        raise ApiError("storage.length_required", code="length_required", status=411)
    return 0


def put(ctx, bucket, key):
    _target(ctx, bucket, key)
    request = ctx.request
    length = upload_length(request)
    # request.stream, never request.data / form: the body goes to Swift as it arrives.
    obj = ctx.services.storage.put_object(ctx.project.id, bucket, key, request.stream, length,
                                          request.headers.get("Content-Type") or None)
    return ctx.respond(obj, 201, {"Location": ctx.url_for("objects.get", bucket=bucket, key=key)})


def get(ctx, bucket, key):
    download_wanted = ctx.query().get("download") in ("1", "true")
    request = ctx.request
    download = ctx.services.storage.open_object(ctx.project.id, bucket, key, request.headers.get("Range"),
                                                request.headers.get("If-None-Match"))
    return stream_response(download, key, download_wanted)


def head(ctx, bucket, key):
    obj = ctx.services.storage.head_object(ctx.project.id, bucket, key)
    content_type = served_type(obj["content_type"])
    as_file = ctx.query().get("download") in ("1", "true")
    headers = {"Content-Length": str(obj["size"]), "ETag": _quoted_etag(obj["etag"]), "Accept-Ranges": "bytes",
               "Cache-Control": "private", **object_headers(content_type, key, as_file)}
    if obj["last_modified"]:
        headers["Last-Modified"] = http_date(datetime.fromisoformat(obj["last_modified"].replace("Z", "+00:00")))
    return Response(status=200, headers=headers, content_type=content_type)


def delete(ctx, bucket, key):
    _target(ctx, bucket, key)
    ctx.services.storage.delete_object(ctx.project.id, bucket, key)
    return ctx.respond(None, 204)


def share(ctx, bucket, key):
    _target(ctx, bucket, key)
    body = ctx.body() if ctx.request.content_length else {}
    link = ctx.services.storage.share(ctx.project.id, bucket, key, body.get("expires_in", 3600))
    url = share_url(ctx, link["path"])
    return ctx.respond({"url": url, "expires_at": link["expires_at"], "expires_in": link["expires_in"]}, 201)
