-- What the reconciler saw on each host at its last pass: our domains and volumes that no
-- instance owns (shown to administrators), and whether the host answered.

CREATE TABLE host_reports (
    host_id         uuid PRIMARY KEY REFERENCES hosts(id) ON DELETE CASCADE,
    checked_at      timestamptz NOT NULL DEFAULT now(),
    reachable       boolean NOT NULL,
    error           text,
    orphan_domains  jsonb NOT NULL DEFAULT '[]',
    orphan_volumes  jsonb NOT NULL DEFAULT '[]'
);
