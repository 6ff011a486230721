"""The migration runner: ordered, once each, transactional, safe when two processes start together."""
import threading

import psycopg
import pytest

from minicloud.db import migrate


def tables(url):
    with psycopg.connect(url) as conn:
        return {r[0] for r in conn.execute("SELECT tablename FROM pg_tables WHERE schemaname = 'public'")}


def test_upgrade_creates_the_schema_and_is_idempotent(fresh_database):
    first = migrate.upgrade(fresh_database)
    assert first[0] == "0001_initial.sql"
    assert {"users", "projects", "memberships", "api_keys", "revoked_tokens", "audit_log", "jobs",
            "quotas", "schema_migrations"} <= tables(fresh_database)
    assert migrate.upgrade(fresh_database) == []
    assert migrate.current_version(fresh_database) == migrate.available()[-1][0]  # the highest number applied


def test_two_runners_at_once_apply_each_file_once(fresh_database):
    results, errors = [], []

    def run():
        try:
            results.append(migrate.upgrade(fresh_database))
        except Exception as exc:  # noqa: BLE001
            errors.append(exc)

    threads = [threading.Thread(target=run) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    applied = [name for result in results for name in result]
    assert sorted(applied) == sorted({name for name in applied})  # nothing twice
    assert len(applied) == len(migrate.available())


def test_a_failing_migration_leaves_nothing_behind(fresh_database, tmp_path):
    (tmp_path / "0001_good.sql").write_text("CREATE TABLE good (id int);")
    (tmp_path / "0002_bad.sql").write_text("CREATE TABLE half (id int); SELECT no_such_function();")
    with pytest.raises(psycopg.Error):
        migrate.upgrade(fresh_database, tmp_path)
    assert "good" in tables(fresh_database) and "half" not in tables(fresh_database)
    assert migrate.current_version(fresh_database) == 1
    (tmp_path / "0002_bad.sql").write_text("CREATE TABLE half (id int);")
    assert migrate.upgrade(fresh_database, tmp_path) == ["0002_bad.sql"]


def test_duplicate_numbers_are_refused(tmp_path):
    (tmp_path / "0001_a.sql").write_text("")
    (tmp_path / "0001_b.sql").write_text("")
    with pytest.raises(RuntimeError):
        migrate.available(tmp_path)
