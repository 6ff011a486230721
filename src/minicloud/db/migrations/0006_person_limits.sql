-- Limits that bind a person, not a project (issue 8).
--
-- login_known_addresses: where each user last signed in successfully, and when. An address a user
-- signed in from is not slowed down when strangers fail to log in as that user from elsewhere.
-- user_quotas: a global administrator's per-user limits over the configured defaults
-- (today ``projects``: how many projects a user may own, [quotas] projects_per_user).

CREATE TABLE login_known_addresses (
    user_id          uuid NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    address          text NOT NULL,
    last_success_at  timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (user_id, address)
);

CREATE TABLE user_quotas (
    user_id  uuid NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    resource text NOT NULL,
    "limit"  bigint NOT NULL CHECK ("limit" >= 0),
    PRIMARY KEY (user_id, resource)
);

CREATE INDEX projects_owner ON projects (owner_id);
