-- Object storage: buckets (Swift containers in one Swift account per project), the uploads
-- in flight (their bytes count against the quota until they finish), and the Swift requests
-- recent operations made (the console's "underneath" panel).

CREATE TABLE buckets (
    id           uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    project_id   uuid NOT NULL REFERENCES projects(id) ON DELETE CASCADE,
    name         text NOT NULL,
    account      text NOT NULL,
    object_count bigint NOT NULL DEFAULT 0 CHECK (object_count >= 0),
    bytes_used   bigint NOT NULL DEFAULT 0 CHECK (bytes_used >= 0),
    created_at   timestamptz NOT NULL DEFAULT now(),
    synced_at    timestamptz NOT NULL DEFAULT now(),
    UNIQUE (project_id, name)
);

CREATE TABLE storage_uploads (
    id         uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    project_id uuid NOT NULL REFERENCES projects(id) ON DELETE CASCADE,
    bucket_id  uuid NOT NULL REFERENCES buckets(id) ON DELETE CASCADE,
    object_key text NOT NULL,
    bytes      bigint NOT NULL CHECK (bytes >= 0),
    started_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX storage_uploads_project ON storage_uploads (project_id);

CREATE TABLE storage_activity (
    id         bigserial PRIMARY KEY,
    project_id uuid NOT NULL REFERENCES projects(id) ON DELETE CASCADE,
    bucket     text,
    operation  text NOT NULL,
    object_key text,
    calls      jsonb NOT NULL DEFAULT '[]',
    at         timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX storage_activity_recent ON storage_activity (project_id, id DESC);
