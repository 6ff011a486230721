"""Message catalogs and configuration loading."""
import json

import pytest

from minicloud import config as config_module
from minicloud.i18n import LANGUAGES, LOCALES_DIR, catalog, negotiate, translate


def test_both_languages_define_the_same_keys():
    assert set(catalog("ko")) == set(catalog("en"))


def test_no_catalog_file_repeats_a_key_of_another():
    for lang in LANGUAGES:
        seen = {}
        for path in sorted((LOCALES_DIR / lang).glob("*.json")):
            for key in json.loads(path.read_text(encoding="utf-8")):
                assert key not in seen, f"{key} in both {seen.get(key)} and {path.name}"
                seen[key] = path.name


def test_translate_fills_parameters_in_each_language():
    assert translate("en", "account.password_rule", min=8) == "The password must be at least 8 characters long."
    assert translate("ko", "account.password_rule", min=8) == "비밀번호는 8자리 이상이어야 합니다."


def test_negotiation_prefers_quality_and_falls_back():
    assert negotiate("en-US,en;q=0.9,ko;q=0.8", "ko") == "en"
    assert negotiate("fr-FR, ko;q=0.5", "en") == "ko"
    assert negotiate("fr", "ko") == "ko"
    assert negotiate(None, "en") == "en"


def test_environment_overrides_are_typed(tmp_path):
    cfg = config_module.load(environ={"MINICLOUD_AUTH_BCRYPT_COST": "10", "MINICLOUD_SERVER_SECURE_COOKIES": "true",
                                      "DATABASE_URL": "postgresql://x@h/db"})
    assert cfg.get("auth.bcrypt_cost") == 10
    assert cfg.get("server.secure_cookies") is True
    assert cfg.database_url == "postgresql://x@h/db"
    with pytest.raises(config_module.ConfigError):
        config_module.load(environ={"MINICLOUD_AUTH_BCRYPT_COST": "lots"})


def test_jwt_secret_is_generated_once_into_its_file(tmp_path):
    cfg = config_module.load(environ={}).with_overrides({"auth.jwt_secret": "",
                                                          "auth.jwt_secret_file": str(tmp_path / "secret")})
    first = cfg.jwt_secret()
    assert len(first) >= 40
    assert (tmp_path / "secret").stat().st_mode & 0o777 == 0o600
    again = config_module.load(environ={}).with_overrides({"auth.jwt_secret": "",
                                                            "auth.jwt_secret_file": str(tmp_path / "secret")})
    assert again.jwt_secret() == first


def test_processes_starting_together_share_one_secret(tmp_path):
    import multiprocessing

    path = str(tmp_path / "secret")
    with multiprocessing.get_context("fork").Pool(4) as pool:
        secrets = pool.map(_read_secret, [path] * 8)
    assert len(set(secrets)) == 1 and len(secrets[0]) >= 40
    assert [p.name for p in tmp_path.iterdir()] == ["secret"]


def _read_secret(path):
    return config_module.load(environ={}).with_overrides({"auth.jwt_secret": "", "auth.jwt_secret_file": path}).jwt_secret()
