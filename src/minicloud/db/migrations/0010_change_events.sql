-- Change events for the console's live pages (GET /events, GET /api/v1/events).
--
-- Triggers, not pg_notify calls in the services: every writer of these tables (services, jobs, the
-- reconciler, a cascade's steps, an ON DELETE CASCADE) is covered without each remembering to notify,
-- and NOTIFY is transactional, so a listener hears of a change exactly when it is committed (and never
-- of one rolled back). Identical payloads in one transaction are sent once.
--
-- Channel minicloud_events, payload a small JSON object — never a secret, never user text:
--   {"project": "<project id>", "kind": "instances", "id": "<row id>", "state": "running" | null,
--    "op": "INSERT" | "UPDATE" | "DELETE", "target": "<job target>" (jobs only)}
-- Rows without a project (platform jobs such as network.apply) send nothing.

CREATE FUNCTION minicloud_notify_change() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    r         record;
    kind      text := TG_ARGV[0];
    project   uuid;
    state     text;
    target    text;
BEGIN
    IF TG_OP = 'DELETE' THEN r := OLD; ELSE r := NEW; END IF;
    CASE kind
        WHEN 'instances' THEN project := r.project_id; state := r.state;
        WHEN 'jobs' THEN project := r.project_id; state := r.state; target := r.target;
        WHEN 'apps' THEN project := r.project_id; state := r.status;
        WHEN 'buckets', 'public_ips' THEN project := r.project_id;
        WHEN 'vpcs' THEN project := r.project_id;
        WHEN 'subnets', 'security_groups' THEN
            SELECT v.project_id INTO project FROM vpcs v WHERE v.id = r.vpc_id;
    END CASE;
    IF project IS NOT NULL THEN
        PERFORM pg_notify('minicloud_events', json_strip_nulls(json_build_object(
            'project', project, 'kind', kind, 'id', r.id, 'state', state, 'op', TG_OP, 'target', target))::text);
    END IF;
    RETURN NULL;
END
$$;

-- Instances: any change a page shows (not the bookkeeping columns alone).
CREATE TRIGGER instances_notify AFTER INSERT OR DELETE ON instances
    FOR EACH ROW EXECUTE FUNCTION minicloud_notify_change('instances');
CREATE TRIGGER instances_notify_update AFTER UPDATE ON instances FOR EACH ROW
    WHEN (OLD.state IS DISTINCT FROM NEW.state OR OLD.name IS DISTINCT FROM NEW.name
          OR OLD.addresses IS DISTINCT FROM NEW.addresses OR OLD.host_id IS DISTINCT FROM NEW.host_id
          OR OLD.status_key IS DISTINCT FROM NEW.status_key OR OLD.vcpus IS DISTINCT FROM NEW.vcpus
          OR OLD.ram_mib IS DISTINCT FROM NEW.ram_mib OR OLD.nic IS DISTINCT FROM NEW.nic
          OR OLD.private_ip IS DISTINCT FROM NEW.private_ip)
    EXECUTE FUNCTION minicloud_notify_change('instances');

-- Jobs (operations): a new job, a state change, progress recorded — not the lease's heartbeat.
CREATE TRIGGER jobs_notify AFTER INSERT ON jobs
    FOR EACH ROW EXECUTE FUNCTION minicloud_notify_change('jobs');
CREATE TRIGGER jobs_notify_update AFTER UPDATE OF state, result, attempts ON jobs FOR EACH ROW
    WHEN (OLD.state IS DISTINCT FROM NEW.state OR OLD.result IS DISTINCT FROM NEW.result
          OR OLD.attempts IS DISTINCT FROM NEW.attempts)
    EXECUTE FUNCTION minicloud_notify_change('jobs');

-- Apps: status, replicas, image (not every observation's timestamp).
CREATE TRIGGER apps_notify AFTER INSERT OR DELETE ON apps
    FOR EACH ROW EXECUTE FUNCTION minicloud_notify_change('apps');
CREATE TRIGGER apps_notify_update AFTER UPDATE ON apps FOR EACH ROW
    WHEN (OLD.status IS DISTINCT FROM NEW.status OR OLD.replicas IS DISTINCT FROM NEW.replicas
          OR OLD.ready_replicas IS DISTINCT FROM NEW.ready_replicas OR OLD.image IS DISTINCT FROM NEW.image
          OR OLD.message_key IS DISTINCT FROM NEW.message_key OR OLD.name IS DISTINCT FROM NEW.name)
    EXECUTE FUNCTION minicloud_notify_change('apps');

-- Buckets: created, deleted, their counts (not the sync's timestamp).
CREATE TRIGGER buckets_notify AFTER INSERT OR DELETE ON buckets
    FOR EACH ROW EXECUTE FUNCTION minicloud_notify_change('buckets');
CREATE TRIGGER buckets_notify_update AFTER UPDATE ON buckets FOR EACH ROW
    WHEN (OLD.object_count IS DISTINCT FROM NEW.object_count OR OLD.bytes_used IS DISTINCT FROM NEW.bytes_used
          OR OLD.name IS DISTINCT FROM NEW.name)
    EXECUTE FUNCTION minicloud_notify_change('buckets');

-- Networks.
CREATE TRIGGER vpcs_notify AFTER INSERT OR UPDATE OR DELETE ON vpcs
    FOR EACH ROW EXECUTE FUNCTION minicloud_notify_change('vpcs');
CREATE TRIGGER subnets_notify AFTER INSERT OR UPDATE OR DELETE ON subnets
    FOR EACH ROW EXECUTE FUNCTION minicloud_notify_change('subnets');
CREATE TRIGGER security_groups_notify AFTER INSERT OR UPDATE OR DELETE ON security_groups
    FOR EACH ROW EXECUTE FUNCTION minicloud_notify_change('security_groups');
CREATE TRIGGER public_ips_notify AFTER INSERT OR UPDATE OR DELETE ON public_ips
    FOR EACH ROW EXECUTE FUNCTION minicloud_notify_change('public_ips');

-- A mini PC's page shows its latest operation (services/operations.py, latest_for).
CREATE INDEX jobs_project_target_created ON jobs (project_id, target, created_at DESC);
