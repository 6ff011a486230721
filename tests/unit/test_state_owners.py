"""Each resource's state has one owner (issue 9): only its service writes its rows.

Jobs, the reconciler, handlers and other services move a mini PC, an app or a bucket by calling
a method of its service, never by SQL of their own; this test reads every module of
src/minicloud and fails, naming the line, when SQL writing one of these tables appears elsewhere.
"""
from __future__ import annotations

import re
from pathlib import Path

import pytest

SRC = Path(__file__).resolve().parents[2] / "src" / "minicloud"

OWNERS = {  # table -> the one module that may write it
    "instances": "services/instances.py",
    "gpu_assignments": "services/instances.py",
    "apps": "services/apps.py",
    "buckets": "services/storage.py",
    "hosts": "services/hosts.py",
    "host_reports": "services/hosts.py",
    "security_groups": "services/security_groups.py",
    "security_group_rules": "services/security_groups.py",
    "instance_security_groups": "services/security_groups.py",
    "network_acls": "services/network_acls.py",
    "network_acl_entries": "services/network_acls.py",
}
# The table after the verb, however PostgreSQL lets it be spelled: ONLY, a schema, double quotes.
TABLE = r'(?:ONLY\s+)?(?:"?\w+"?\s*\.\s*)?"?(\w+)"?'
WRITES = (
    re.compile(r"\b(?:UPDATE|(?:INSERT|MERGE)\s+INTO|DELETE\s+FROM|TRUNCATE(?:\s+TABLE)?)\s+" + TABLE, re.IGNORECASE),
    re.compile(r"\bupdate_row\(\s*[^,]+,\s*[\"'](\w+)[\"']"),  # db/sql.py's UPDATE helper
)


def writes_in(text: str) -> list[tuple[int, str]]:
    """(line, table) of every SQL write in ``text``."""
    found = []
    for pattern in WRITES:
        for match in pattern.finditer(text):
            found.append((text.count("\n", 0, match.start()) + 1, match.group(1).lower()))
    return sorted(found)


def test_the_patterns_see_every_way_of_writing_a_table():
    source = ('db.execute("UPDATE instances SET state = %s", x)\nconn.execute("INSERT INTO apps (id)")\n'
              '"DELETE FROM  buckets WHERE id = %s"\nupdate_row(self.db, "hosts", host_id, changes, COLUMNS)\n'
              '"SELECT * FROM instances"  "ON CONFLICT (id) DO UPDATE SET n = 1"')
    assert writes_in(source) == [(1, "instances"), (2, "apps"), (3, "buckets"), (4, "hosts"), (5, "set")]


@pytest.mark.parametrize("sql, table", [
    ("UPDATE public.instances SET state = 'running'", "instances"),
    ('INSERT INTO "apps" (id) VALUES (%s)', "apps"),
    ("UPDATE ONLY buckets SET size = 0", "buckets"),
    ('update only "public"."host_reports" set ok = true', "host_reports"),
    ("DELETE FROM ONLY public.gpu_assignments WHERE instance_id = %s", "gpu_assignments"),
    ('DELETE FROM "instances" WHERE id = %s', "instances"),
    ("MERGE INTO apps a USING incoming i ON a.id = i.id WHEN MATCHED THEN DELETE", "apps"),
    ('MERGE INTO public."hosts" USING x ON true WHEN NOT MATCHED THEN DO NOTHING', "hosts"),
    ("TRUNCATE TABLE ONLY public.buckets", "buckets"),
    ('INSERT INTO public . "instances" (id) VALUES (%s)', "instances"),
])
def test_a_write_is_seen_through_only_a_schema_quotes_or_merge(sql, table):
    assert writes_in(f'db.execute("""{sql}""")') == [(1, table)]


def test_only_the_owning_service_writes_instances_apps_buckets_and_hosts():
    wrong = []
    for path in sorted(SRC.rglob("*.py")):
        module = path.relative_to(SRC).as_posix()
        for line, table in writes_in(path.read_text()):
            owner = OWNERS.get(table)
            if owner is not None and module != owner:
                wrong.append(f"src/minicloud/{module}:{line} writes {table}: call a method of {owner} instead")
    assert wrong == [], "\n".join(wrong)
