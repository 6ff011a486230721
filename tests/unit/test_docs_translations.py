"""/docs in Korean: every operation's summary and every description of the OpenAPI document has a Korean
text, and the English catalog says exactly what the document says (so the two cannot drift apart)."""
from minicloud.handlers.pages.docs_examples import cli_examples, curl, example_body
from minicloud.i18n import catalog
from minicloud.routes import ROUTES
from minicloud.web.openapi import document_for
from minicloud.web.router import Router

DOC = document_for(Router(ROUTES))


def _descriptions(node, found):
    if isinstance(node, dict):
        if isinstance(node.get("description"), str) and ("type" in node or "schema" in node):
            found.add(node["description"])
        for value in node.values():
            _descriptions(value, found)
    elif isinstance(node, list):
        for value in node:
            _descriptions(value, found)
    return found


def _operations():
    return [op for item in DOC["paths"].values() for op in item.values()]


def test_every_summary_is_in_korean_and_the_english_one_is_the_documents():
    ko, en = catalog("ko"), catalog("en")
    for op in _operations():
        key = f"docs.summary.{op['operationId']}"
        assert en.get(key) == op["summary"], key
        assert any("\uac00" <= ch <= "\ud7a3" for ch in ko[key]), key


def test_every_field_rule_of_the_document_has_a_korean_text():
    ko, en = catalog("ko"), catalog("en")
    components = DOC.get("components", {})  # what the page shows: the operations, their parameters and schemas
    texts = _descriptions([DOC["paths"], components.get("parameters", {}), components.get("schemas", {})], set())
    missing = sorted(text for text in texts if f"docs.text.{text}" not in ko)
    assert not missing
    assert all(en[f"docs.text.{text}"] == text for text in texts)
    assert ko["docs.text.Seconds"] == "초"


def test_the_curl_example_fills_the_path_the_token_and_the_required_fields():
    vpcs = DOC["paths"]["/api/v1/vpcs"]["post"]
    schema = vpcs["requestBody"]["content"]["application/json"]["schema"]
    assert example_body(schema) == {"name": "demo", "cidr": "10.0.0.0/16"}
    line = curl("https://cloud.example/", "/api/v1/vpcs/{vpc_id}", "DELETE", {"operationId": "vpcs.delete"}, None, [])
    assert line == 'curl -X DELETE "https://cloud.example/api/v1/vpcs/$VPC_ID" \\\n  -H "Authorization: Bearer $TOKEN"'
    public = curl("http://h", "/healthz", "GET", {"security": []}, None, [])
    assert public == 'curl "http://h/healthz"'


def test_cli_examples_come_from_the_file_and_a_missing_file_is_none(tmp_path):
    examples = cli_examples()
    assert examples and all(command.startswith("mcloud ") for command in examples.values())
    assert set(examples) <= {op["operationId"] for op in _operations()}  # keyed by the document's operationIds
    assert cli_examples(tmp_path / "absent.json") == {}
    broken = tmp_path / "broken.json"
    broken.write_text("{not json", encoding="utf-8")
    assert cli_examples(broken) == {}


def test_every_status_the_document_answers_with_has_a_korean_text():
    ko = catalog("ko")
    statuses = {status for op in _operations() for status in op["responses"]}
    assert not sorted(status for status in statuses if f"docs.status.{status}" not in ko)
