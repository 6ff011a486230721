"""/api/v1/openapi.json: this API as an OpenAPI 3.1 document, generated from the route table."""
from __future__ import annotations

import weakref

from werkzeug.wrappers import Response

from minicloud.web.jsonio import dumps
from minicloud.web.openapi import OPENAPI_VERSION, document_for
from minicloud.web.schemas import ANY_OBJECT, array, obj

DOCUMENT = obj({"openapi": {"type": "string", "enum": [OPENAPI_VERSION]}, "info": ANY_OBJECT, "tags": array(ANY_OBJECT),
                "paths": ANY_OBJECT, "components": ANY_OBJECT}, additionalProperties=True,
               description="An OpenAPI 3.1 document: this one")

# The serialised document per router: built on the first request, then served as is.
_JSON: "weakref.WeakKeyDictionary" = weakref.WeakKeyDictionary()


def document(ctx):
    router = ctx.app.router
    body = _JSON.get(router)
    if body is None:
        body = _JSON[router] = dumps(document_for(router)).encode("utf-8")
    return Response(body, status=200, content_type="application/json; charset=utf-8")
