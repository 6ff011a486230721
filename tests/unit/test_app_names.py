"""App names: DNS labels for Kubernetes objects and platform-unique host names."""
import re
import uuid

from minicloud.services import app_names

LABEL = re.compile(r"^[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?$")
RFC1035 = re.compile(r"^[a-z](?:[a-z0-9-]{0,61}[a-z0-9])?$")
APP_ID = uuid.UUID("3f9a2c41-7b1e-4c7e-9a57-0d6f3d1c2b88")


def test_sanitize_lowers_replaces_and_collapses():
    assert app_names.sanitize("My Blog!") == "my-blog"
    assert app_names.sanitize("  --Hello__World--  ") == "hello-world"
    assert app_names.sanitize("a...b---c") == "a-b-c"


def test_korean_names_keep_their_latin_part_or_fall_back():
    assert app_names.sanitize("내 블로그 v2") == "v2"
    assert app_names.sanitize("블로그") == ""
    assert app_names.k8s_name("블로그", APP_ID) == "app-3f9a2"
    assert app_names.host_label("블로그", APP_ID) == "app-3f9a2"


def test_names_that_sanitize_to_empty_still_make_valid_names():
    for name in ("", "!!!", "---", "日本語", "🚀"):
        assert RFC1035.match(app_names.k8s_name(name, APP_ID))
        assert LABEL.match(app_names.host_label(name, APP_ID))


def test_long_names_are_cut_to_a_dns_label_with_the_short_id():
    name = "A" * 40 + " " + "b" * 60
    k8s = app_names.k8s_name(name, APP_ID)
    assert len(k8s) <= 63 and RFC1035.match(k8s) and k8s.endswith("-3f9a2")
    host_label = app_names.host_label(name, APP_ID)
    assert len(host_label) <= 63 and LABEL.match(host_label)
    for host in app_names.host_candidates(name, APP_ID, "apps.minicloud.test"):
        label = host.split(".")[0]
        assert len(label) <= 63 and LABEL.match(label), host


def test_a_name_starting_with_a_digit_still_makes_a_service_name():
    assert app_names.k8s_name("2048 game", APP_ID) == "app-2048-game-3f9a2"
    assert app_names.host_label("2048 game", APP_ID) == "2048-game"


def test_two_apps_with_the_same_name_never_share_a_k8s_name():
    other = uuid.UUID("9c0d1e2f-0000-4000-8000-000000000000")
    assert app_names.k8s_name("web", APP_ID) != app_names.k8s_name("web", other)


def test_host_candidates_add_suffixes_on_collision():
    hosts = list(app_names.host_candidates("Web", APP_ID, "apps.minicloud.test"))
    assert hosts[:3] == ["web.apps.minicloud.test", "web-2.apps.minicloud.test", "web-3.apps.minicloud.test"]
    assert hosts[-1] == "web-3f9a2.apps.minicloud.test"
    assert len(set(hosts)) == len(hosts)


def test_namespace_per_project():
    assert app_names.namespace_for(uuid.UUID("12345678-9abc-def0-1234-56789abcdef0")) == "mc-123456789abc"
