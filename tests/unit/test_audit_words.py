"""Every action the audit log can hold reads as a sentence in Korean and in English."""
import ast
from pathlib import Path

from minicloud.handlers.pages.audit_words import WORDS_PREFIX, described, matching_actions, target_kind
from minicloud.i18n import LANGUAGES, catalog, translate
from minicloud.routes import ROUTES

SRC = Path(__file__).resolve().parents[2] / "src" / "minicloud"


def written_action_codes() -> set[str]:
    """The codes the code base writes: each audited route's endpoint (app._audit records it), plus any
    literal ``AuditEntry(action="...")`` anywhere in the sources."""
    codes = {route.endpoint for route in ROUTES if route.audited}
    for path in SRC.rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Call) and getattr(node.func, "id", getattr(node.func, "attr", "")) == "AuditEntry":
                for keyword in node.keywords:
                    if keyword.arg == "action" and isinstance(keyword.value, ast.Constant):
                        codes.add(keyword.value.value)
    return codes


def test_every_written_action_code_has_a_sentence_in_both_languages():
    codes = written_action_codes()
    assert "instances.create" in codes and "pages.login" in codes  # the collection found the route table
    for lang in LANGUAGES:
        words = catalog(lang)
        missing = sorted(code for code in codes if WORDS_PREFIX + code not in words)
        assert not missing, f"{lang}: no sentence for {missing}"
        for code in codes:
            sentence = words[WORDS_PREFIX + code]
            assert sentence.strip() and "." not in sentence.split()[0] and sentence != code


def test_sentences_are_korean_and_english():
    assert translate("ko", WORDS_PREFIX + "instances.create") == "미니 PC를 만들었습니다"
    assert translate("en", WORDS_PREFIX + "instances.create") == "created a mini PC"
    for code in written_action_codes():
        ko = translate("ko", WORDS_PREFIX + code)
        assert any("\uac00" <= ch <= "\ud7a3" for ch in ko), f"{code}: {ko!r} is not Korean"


def test_a_person_finds_actions_by_the_words_of_the_page_language():
    codes = sorted(written_action_codes())
    ko = lambda key, **p: translate("ko", key, **p)  # noqa: E731
    en = lambda key, **p: translate("en", key, **p)  # noqa: E731
    assert "instances.create" in matching_actions(ko, codes, "미니 PC를 만")
    assert "pages.login" in matching_actions(ko, codes, "로그인") and "buckets.create" not in matching_actions(ko, codes, "로그인")
    assert "pages.login" in matching_actions(en, codes, "Logged  IN")
    assert matching_actions(en, codes, "no such words") == []


class _Names:
    def __init__(self, found):
        self.found, self.asked = found, None

    def target_names(self, wanted):
        self.asked = wanted
        return self.found


def test_targets_are_named_and_linked_when_they_still_exist():
    t = lambda key, **p: translate("en", key, **p)  # noqa: E731
    pc, gone = "0b3c3c2e-0000-4000-8000-000000000001", "0b3c3c2e-0000-4000-8000-000000000002"
    names = _Names({("instance", pc): {"name": "web-1", "vpc_id": None}})
    rows = described(t, names, [
        {"action": "instances.create", "target": pc}, {"action": "pages.instance_action", "target": gone},
        {"action": "pages.object_upload", "target": "photos/2024/cat.png"}, {"action": "pages.logout", "target": None},
    ])
    assert names.asked == {"instance": {pc, gone}}
    assert (rows[0]["words"], rows[0]["target_name"], rows[0]["target_url"]) == ("created a mini PC", "web-1",
                                                                               f"/mini-pcs/{pc}")
    assert rows[1]["target_name"] == gone and rows[1]["target_url"] is None
    assert rows[2]["target_url"] == "/storage/photos?prefix=2024%2F"
    assert rows[3]["words"] == "logged out" and target_kind("pages.logout") is None


def test_a_target_links_only_to_a_page_the_console_has():
    t = lambda key, **p: translate("ko", key, **p)  # noqa: E731
    pc = "0b3c3c2e-0000-4000-8000-000000000003"
    names = _Names({("instance", pc): {"name": "db-1", "vpc_id": None}})
    entries = [{"action": "instances.start", "target": pc}, {"action": "buckets.create", "target": "photos"}]
    linked = described(t, names, entries, page_exists=lambda path: path.startswith("/mini-pcs/"))
    assert [row["target_url"] for row in linked] == [f"/mini-pcs/{pc}", None]
    assert [row["target_name"] for row in linked] == ["db-1", "photos"] and linked[0]["words"] == "미니 PC를 시작했습니다"
