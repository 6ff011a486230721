"""The dashboard's first-run panel: which of a newcomer's first steps the project has done."""
from __future__ import annotations

import uuid

from minicloud.db.pool import Database

STEPS = ("instance", "keypair", "bucket")
_DONE = {  # a step is done when the project has one of these
    "instance": "SELECT EXISTS (SELECT 1 FROM instances WHERE project_id = %(p)s AND state <> 'deleted')",
    "keypair": "SELECT EXISTS (SELECT 1 FROM keypairs WHERE project_id = %(p)s)",
    "bucket": "SELECT EXISTS (SELECT 1 FROM buckets WHERE project_id = %(p)s)",
}


class FirstRun:
    def __init__(self, db: Database):
        self.db = db

    def steps(self, project_id: uuid.UUID) -> dict[str, bool]:
        """{"instance": bool, "keypair": bool, "bucket": bool}: done or not, in one transaction."""
        with self.db.connection() as conn:
            return {step: bool(conn.execute(_DONE[step], {"p": project_id}).fetchone()["exists"]) for step in STEPS}
