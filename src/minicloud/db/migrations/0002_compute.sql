-- Mini PCs: hypervisor hosts, images, templates (specs), key pairs, instances and GPU assignments.

CREATE TABLE hosts (
    id         uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    name       text NOT NULL UNIQUE,
    uri        text NOT NULL,
    enabled    boolean NOT NULL DEFAULT true,
    created_at timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE images (
    id           uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    name         text NOT NULL UNIQUE,
    disk_path    text NOT NULL,
    kernel_path  text,
    initrd_path  text,
    cmdline      text,
    default_user text NOT NULL DEFAULT 'student',
    os           text NOT NULL DEFAULT '',
    min_disk_gib integer NOT NULL DEFAULT 1 CHECK (min_disk_gib >= 0),
    enabled      boolean NOT NULL DEFAULT true,
    created_at   timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE templates (
    id          uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    name        text NOT NULL UNIQUE,
    vcpus       integer NOT NULL CHECK (vcpus > 0),
    ram_mib     integer NOT NULL CHECK (ram_mib > 0),
    disk_gib    integer NOT NULL CHECK (disk_gib > 0),
    gpus        integer NOT NULL DEFAULT 0 CHECK (gpus >= 0),
    enabled     boolean NOT NULL DEFAULT true,
    description text NOT NULL DEFAULT '',
    created_at  timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE keypairs (
    id          uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    project_id  uuid NOT NULL REFERENCES projects(id) ON DELETE CASCADE,
    name        text NOT NULL,
    public_key  text NOT NULL,
    fingerprint text NOT NULL,
    created_at  timestamptz NOT NULL DEFAULT now()
);
CREATE UNIQUE INDEX keypairs_project_name ON keypairs (project_id, lower(name));

CREATE TABLE instances (
    id            uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    project_id    uuid NOT NULL REFERENCES projects(id) ON DELETE CASCADE,
    name          text NOT NULL,
    hostname      text NOT NULL,
    template_id   uuid NOT NULL REFERENCES templates(id),
    image_id      uuid NOT NULL REFERENCES images(id),
    keypair_id    uuid REFERENCES keypairs(id) ON DELETE SET NULL,
    host_id       uuid REFERENCES hosts(id),
    state         text NOT NULL DEFAULT 'pending'
                  CHECK (state IN ('pending', 'building', 'running', 'stopping', 'stopped', 'starting',
                                   'rebooting', 'resizing', 'deleting', 'deleted', 'error')),
    -- status_key is a message-catalog key ("instance.create_failed"); status_reason the cause in it.
    status_key    text,
    status_reason text,
    vcpus         integer NOT NULL CHECK (vcpus > 0),
    ram_mib       integer NOT NULL CHECK (ram_mib > 0),
    disk_gib      integer NOT NULL CHECK (disk_gib > 0),
    gpus          integer NOT NULL DEFAULT 0 CHECK (gpus >= 0),
    domain_name   text NOT NULL UNIQUE,
    nic           jsonb NOT NULL DEFAULT '{}',
    addresses     jsonb NOT NULL DEFAULT '[]',
    password_hash text,
    user_data     text,
    artefacts     jsonb NOT NULL DEFAULT '{}',
    created_by    uuid REFERENCES users(id) ON DELETE SET NULL,
    created_at    timestamptz NOT NULL DEFAULT now(),
    updated_at    timestamptz NOT NULL DEFAULT now()
);
CREATE UNIQUE INDEX instances_project_name ON instances (project_id, lower(name)) WHERE state <> 'deleted';
CREATE INDEX instances_project_created ON instances (project_id, created_at DESC, id DESC);
CREATE INDEX instances_host ON instances (host_id) WHERE state <> 'deleted';
-- A forwarded SSH port is used by one live instance per host.
CREATE UNIQUE INDEX instances_host_ssh_port ON instances (host_id, ((nic->>'ssh_port')))
    WHERE state <> 'deleted' AND nic ? 'ssh_port';

CREATE TABLE gpu_assignments (
    host_id     uuid NOT NULL REFERENCES hosts(id) ON DELETE CASCADE,
    address     text NOT NULL,
    instance_id uuid NOT NULL REFERENCES instances(id) ON DELETE CASCADE,
    PRIMARY KEY (host_id, address)
);
CREATE INDEX gpu_assignments_instance ON gpu_assignments (instance_id);
