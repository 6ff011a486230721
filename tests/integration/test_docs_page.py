"""/docs: the API reference page, drawn on the server from the OpenAPI document."""
from __future__ import annotations

import html

from minicloud.web.openapi import build_document


def test_docs_lists_every_api_operation(client, app):
    response = client.get("/docs")
    assert response.status_code == 200
    assert response.mimetype == "text/html"
    page = html.unescape(response.get_data(as_text=True))
    doc = build_document(app.router)
    for path, item in doc["paths"].items():
        assert path in page, path
        for method, op in item.items():
            assert f'id="op-{op["operationId"].replace(".", "-").replace("_", "-")}"' in page
            assert f"{method.upper()} {path}" in page
    assert "<script" not in page.split("</head>", 1)[1]  # nothing on the page needs JavaScript
    assert "/api/v1/openapi.json" in page


def test_docs_shows_parameters_body_fields_auth_and_errors(client):
    page = html.unescape(client.get("/docs", headers={"Accept-Language": "en"}).get_data(as_text=True))
    assert "API reference" in page
    assert "3–32 characters" in page                      # signup username
    assert "one of: success, failure" in page              # audit ?result=
    assert "X-Project-Id" in page and "at least the role" in page
    assert "A signed-in user" in page and "Anyone (no credentials)" in page
    assert "Fields not listed here are rejected." in page
    for status in ("401", "404", "409", "413", "415", "422"):
        assert f'<span class="http-status">{status}</span>' in page


def test_docs_in_korean(client):
    page = client.get("/docs", headers={"Accept-Language": "ko"}).get_data(as_text=True)
    assert "API 레퍼런스" in page and "계정과 로그인" in page and "docs." not in page.replace("/docs", "")


def test_docs_shows_the_fields_and_headers_of_each_answer(client):
    page = html.unescape(client.get("/docs", headers={"Accept-Language": "en"}).get_data(as_text=True))
    keypairs = page.split('id="op-keypairs-create"', 1)[1].split("</article>", 1)[0]
    assert "Fields of the answer (201)" in keypairs
    assert "<code>fingerprint</code>" in keypairs
    private = keypairs.split("<code>private_key</code>", 1)[1].split("</tr>", 1)[0]
    assert "only sometimes" in private                      # only for a generated pair
    listing = page.split('id="op-instances-list"', 1)[1].split("</article>", 1)[0]
    assert "<code>items[].template.name</code>" in listing and "<code>next</code>" in listing
    assert "string | null" in listing
    created = page.split('id="op-instances-create"', 1)[1].split("</article>", 1)[0]
    assert "<code>Location</code>" in created and "<code>operation_id</code>" in created
    download = page.split('id="op-objects-get"', 1)[1].split("</article>", 1)[0]
    assert "the bytes as stored (*/*)" in download and "no body" in download   # 200/206, and 304
    ready = page.split('id="op-health-ready"', 1)[1].split("</article>", 1)[0]
    assert "Fields of the answer (200, 503)" in ready        # one table for both


def test_docs_answer_fields_in_korean(client):
    page = html.unescape(client.get("/docs", headers={"Accept-Language": "ko"}).get_data(as_text=True))
    assert "응답 필드 (201)" in page and "경우에 따라" in page and "항상" in page


def test_every_group_of_operations_has_a_title_in_both_languages(app):
    from minicloud.i18n import catalog

    for tag in build_document(app.router)["tags"]:
        for lang in ("ko", "en"):
            assert f"docs.tag.{tag['name']}" in catalog(lang), (lang, tag["name"])
