"""The test client's conformance check (tests/conformance.py) fails on what the document does not say."""
from __future__ import annotations

import json

import pytest
from conformance import check_answer
from werkzeug.wrappers import Response

from minicloud.web.openapi import build_document
from minicloud.web.router import Router
from minicloud.routes import ROUTES

ROUTER = Router(ROUTES)
DOC = build_document(ROUTER)
BUCKET = {"id": "0b7e5a4c-1f0e-4d59-9a4e-0c7f4f3c2a11", "name": "photos", "object_count": 2, "bytes": 10,
          "created_at": "2024-05-01T10:00:00Z"}


def route(method, path):
    return ROUTER.match(method, path)[0]


def answer(body=None, status=200, **headers):
    data = b"" if body is None else json.dumps(body).encode()
    return Response(data, status=status, headers=headers,
                    content_type="application/json" if body is not None else None)


def test_a_documented_answer_passes():
    check_answer(DOC, route("GET", "/api/v1/buckets/photos"), answer(BUCKET))
    check_answer(DOC, route("GET", "/api/v1/buckets/photos"),
                 answer({"error": {"code": "not_found", "message": "…", "details": {}}}, 404))


@pytest.mark.parametrize("body, status, problem", [
    ({**BUCKET, "account": "AUTH_x"}, 200, "'account' was unexpected"),       # a field the document does not name
    ({k: v for k, v in BUCKET.items() if k != "bytes"}, 200, "'bytes' is a required property"),
    ({**BUCKET, "object_count": "2"}, 200, "is not of type 'integer'"),
    ({**BUCKET, "created_at": "2024-05-01 10:00"}, 200, "is not a 'date-time'"),
    ({"error": {"code": "x", "message": "y", "details": {}}}, 409, "the status is not documented"),
    ({"error": "nope"}, 404, "is not of type 'object'"),
])
def test_what_the_document_does_not_say_fails(body, status, problem):
    with pytest.raises(AssertionError, match=problem):
        check_answer(DOC, route("GET", "/api/v1/buckets/photos"), answer(body, status))


def test_headers_media_types_and_bodies_the_document_leaves_out_fail():
    created = route("POST", "/api/v1/buckets")
    check_answer(DOC, created, answer(BUCKET, 201, Location="/api/v1/buckets/photos"))
    with pytest.raises(AssertionError, match="no Location header"):
        check_answer(DOC, created, answer(BUCKET, 201))
    with pytest.raises(AssertionError, match="a body where the document says there is none"):
        check_answer(DOC, route("DELETE", "/api/v1/buckets/photos"), answer({"deleted": True}, 204))
    with pytest.raises(AssertionError, match="Content-Type 'text/html'"):
        check_answer(DOC, route("GET", "/api/v1/buckets/photos"),
                     Response("<p>hi</p>", status=200, content_type="text/html"))
    contained = {"Cache-Control": "private", "X-Content-Type-Options": "nosniff", "Content-Security-Policy": "sandbox",
                 "Referrer-Policy": "no-referrer", "Content-Disposition": 'inline; filename="a.png"'}
    download = Response(b"\x89PNG", status=200, content_type="image/png", headers=contained)
    check_answer(DOC, route("GET", "/api/v1/buckets/photos/objects/a.png"), download)  # any bytes
    unsandboxed = Response(b"<p>", status=200, content_type="text/html",
                           headers={k: v for k, v in contained.items() if k != "Content-Security-Policy"})
    with pytest.raises(AssertionError, match="no Content-Security-Policy header"):
        check_answer(DOC, route("GET", "/api/v1/buckets/photos/objects/a.html"), unsandboxed)
