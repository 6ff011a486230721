"""Request validation: every bad field is named, defaults are filled."""
import pytest

from minicloud.errors import ValidationFailed
from minicloud.i18n import translate
from minicloud.web.validation import coerce_query, validate

SCHEMA = {
    "type": "object",
    "required": ["name"],
    "additionalProperties": False,
    "properties": {
        "name": {"type": "string", "minLength": 3, "maxLength": 8},
        "count": {"type": "integer", "minimum": 1, "maximum": 10, "default": 1},
        "kind": {"type": "string", "enum": ["a", "b"]},
        "born": {"type": "string", "format": "date"},
    },
}


def t(key, **params):
    return translate("en", key, **params)


def test_valid_body_gets_defaults():
    assert validate({"name": "abc"}, SCHEMA, t) == {"name": "abc", "count": 1}


def test_every_bad_field_is_reported():
    with pytest.raises(ValidationFailed) as info:
        validate({"count": 0, "kind": "c", "born": "2020-13-01", "extra": 1}, SCHEMA, t)
    fields = info.value.details["fields"]
    assert set(fields) == {"name", "count", "kind", "born", "extra"}
    assert fields["name"] == "is required"
    assert fields["count"] == "must be at least 1"
    assert info.value.status == 422


def test_booleans_are_not_integers():
    with pytest.raises(ValidationFailed):
        validate({"name": "abc", "count": True}, SCHEMA, t)


def test_body_must_be_an_object():
    with pytest.raises(ValidationFailed) as info:
        validate(["name"], SCHEMA, t)
    assert "body" in info.value.details["fields"]


def test_query_strings_are_coerced():
    schema = {"type": "object", "properties": {"limit": {"type": "integer", "maximum": 500, "default": 50},
                                               "all": {"type": "boolean", "default": False}}}
    assert coerce_query({"limit": "20", "all": "true"}, schema, t) == {"limit": 20, "all": True}
    with pytest.raises(ValidationFailed):
        coerce_query({"limit": "many"}, schema, t)
    with pytest.raises(ValidationFailed):
        coerce_query({"limit": "501"}, schema, t)
