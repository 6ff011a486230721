-- Apps (UC-03): container images deployed to Kubernetes. One row per app while it exists
-- (the delete job removes the row after every Kubernetes object is gone). ``host`` is unique
-- across the platform; ``k8s_name`` within the project's namespace. ``manifests`` are the
-- objects last applied (the console's "underneath" panel); ``events`` the recent Events seen.

CREATE TABLE apps (
    id             uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    project_id     uuid NOT NULL REFERENCES projects(id) ON DELETE CASCADE,
    name           text NOT NULL,
    k8s_name       text NOT NULL,
    namespace      text NOT NULL,
    host           text NOT NULL,
    image          text NOT NULL,
    port           integer NOT NULL CHECK (port BETWEEN 1 AND 65535),
    replicas       integer NOT NULL CHECK (replicas >= 0),
    ready_replicas integer NOT NULL DEFAULT 0 CHECK (ready_replicas >= 0),
    size           text NOT NULL,
    cpu            text NOT NULL,
    memory         text NOT NULL,
    env            jsonb NOT NULL DEFAULT '{}',
    status         text NOT NULL DEFAULT 'PENDING',
    message_key    text,
    details        jsonb NOT NULL DEFAULT '{}',
    manifests      json NOT NULL DEFAULT '[]',  -- json, not jsonb: kept exactly as applied, keys in order
    events         jsonb NOT NULL DEFAULT '[]',
    created_at     timestamptz NOT NULL DEFAULT now(),
    updated_at     timestamptz NOT NULL DEFAULT now(),
    observed_at    timestamptz
);
CREATE UNIQUE INDEX apps_host ON apps (host);
CREATE UNIQUE INDEX apps_k8s_name ON apps (namespace, k8s_name);
CREATE INDEX apps_project ON apps (project_id, created_at DESC);
