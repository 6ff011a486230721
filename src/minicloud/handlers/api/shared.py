"""/shared/{account}/{bucket}/{key}: a share link, streamed from Swift's temp URL without any login.

Swift itself checks the signature and the expiry (minicloud does not re-implement
them): a tampered or expired link is a 403 page, a missing object a 404. What is shared is served as
stored content (``web/stored_content.py``): a file, never a page that could script the console.
"""
from __future__ import annotations

from minicloud.handlers.api.objects import stream_response


def download(ctx, account, bucket, key):
    request = ctx.request
    found = ctx.services.storage.open_shared(account, bucket, key, request.query_string.decode("latin-1"),
                                             request.headers.get("Range"), request.headers.get("If-None-Match"))
    return stream_response(found, key, request.args.get("download") in ("1", "true"))
