"""/api/v1/buckets/{bucket}/objects: objects streamed to and from Swift, never held in memory.

PUT streams the request body (Content-Length or chunked) straight to Swift; GET
streams Swift's answer back (Range → 206, If-None-Match → 304, ``download=1`` for
a Content-Disposition); HEAD asks Swift for the metadata only.
"""
from __future__ import annotations

import re
from datetime import datetime
from urllib.parse import quote

from werkzeug.http import http_date
from werkzeug.wrappers import Response

from minicloud.errors import ApiError
from minicloud.web.schemas import COUNT, STRING, TIME, Answer, Header, array, located, nullable, obj, page_of

LIST_QUERY = {"type": "object", "properties": {
    "prefix": {"type": "string", "description": "Only keys starting with this"},
    "delimiter": {"type": "string", "maxLength": 1,
                  "description": "Usually /: keys below the next delimiter are folded into prefixes (folders)"},
    "cursor": {"type": "string", "description": "The next value of the previous page"},
    "limit": {"type": "integer", "minimum": 1, "maximum": 1000, "default": 100},
}}
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
_DOWNLOADED = {"ETag": _ETAG, "Last-Modified": Header("When it was stored"), "Accept-Ranges": Header("bytes"),
               "Content-Length": Header("Bytes in this answer", {"type": "integer", "minimum": 0}),
               "Content-Disposition": Header("With download=1: attachment, with the key's last part as file name"),
               "Cache-Control": _PRIVATE}
DOWNLOAD = {
    200: Answer(media="*/*", headers=_DOWNLOADED),
    206: Answer(media="*/*", headers={**_DOWNLOADED, "Content-Range": Header("The bytes sent, for a single range")}),
    304: Answer(media=None, headers={"ETag": _ETAG, "Cache-Control": _PRIVATE}),
}
HEADERS_ONLY = Answer(media=None, headers={
    "Content-Length": Header("The object's size in bytes", {"type": "integer", "minimum": 0}, required=True),
    "ETag": Header("The object's ETag (quoted)", required=True), "Accept-Ranges": Header("bytes", required=True),
    "Last-Modified": Header("When it was stored, when Swift says"), "Cache-Control": _PRIVATE})
_PASSED_HEADERS = ("Content-Type", "Content-Length", "ETag", "Last-Modified", "Accept-Ranges", "Content-Range")
_UNSAFE_FILENAME = re.compile(r'[^\x20-\x7e]|["\\]')


def _quoted_etag(etag: str) -> str:
    return '"' + etag.strip('"') + '"'


def content_disposition(key: str) -> str:
    """``attachment`` with an ASCII fallback name and the UTF-8 name as RFC 5987 ``filename*`` (RFC 6266)."""
    name = key.rstrip("/").rsplit("/", 1)[-1] or "download"
    fallback = _UNSAFE_FILENAME.sub("_", name)
    return f"attachment; filename=\"{fallback}\"; filename*=UTF-8''{quote(name, safe='')}"


def stream_response(download, filename_key: str | None = None) -> Response:
    """A response streaming a driver's ObjectDownload; the Swift connection closes with the response."""
    given = {k.lower(): v for k, v in download.headers.items()}
    headers = {name: given[name.lower()] for name in _PASSED_HEADERS if name.lower() in given}
    if "ETag" in headers:
        headers["ETag"] = _quoted_etag(headers["ETag"])
    headers["Cache-Control"] = "private"
    if filename_key is not None:
        headers["Content-Disposition"] = content_disposition(filename_key)
    if download.status == 304:
        download.close()
        headers.pop("Content-Length", None)
        return Response(status=304, headers=headers)
    content_type = headers.pop("Content-Type", "application/octet-stream")
    response = Response(download.body, status=download.status, headers=headers, content_type=content_type,
                        direct_passthrough=True)
    response.call_on_close(download.close)
    return response


def _target(ctx, bucket: str, key: str) -> None:
    ctx.audit_target = f"{bucket}/{key}"


def list_objects(ctx, bucket):
    q = ctx.query()
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
                                          request.headers.get("Content-Type") or None, ctx.lang)
    return ctx.respond(obj, 201, {"Location": ctx.url_for("objects.get", bucket=bucket, key=key)})


def get(ctx, bucket, key):
    download_wanted = ctx.query().get("download") in ("1", "true")
    request = ctx.request
    download = ctx.services.storage.open_object(ctx.project.id, bucket, key, request.headers.get("Range"),
                                                request.headers.get("If-None-Match"))
    return stream_response(download, key if download_wanted else None)


def head(ctx, bucket, key):
    obj = ctx.services.storage.head_object(ctx.project.id, bucket, key)
    headers = {"Content-Length": str(obj["size"]), "ETag": _quoted_etag(obj["etag"]), "Accept-Ranges": "bytes",
               "Cache-Control": "private"}
    if obj["last_modified"]:
        headers["Last-Modified"] = http_date(datetime.fromisoformat(obj["last_modified"].replace("Z", "+00:00")))
    return Response(status=200, headers=headers, content_type=obj["content_type"])


def delete(ctx, bucket, key):
    _target(ctx, bucket, key)
    ctx.services.storage.delete_object(ctx.project.id, bucket, key)
    return ctx.respond(None, 204)


def share(ctx, bucket, key):
    _target(ctx, bucket, key)
    body = ctx.body() if ctx.request.content_length else {}
    link = ctx.services.storage.share(ctx.project.id, bucket, key, body.get("expires_in", 3600), ctx.lang)
    url = ctx.request.host_url.rstrip("/") + link["path"]
    return ctx.respond({"url": url, "expires_at": link["expires_at"], "expires_in": link["expires_in"]}, 201)
