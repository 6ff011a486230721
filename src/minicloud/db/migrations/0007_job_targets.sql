-- Jobs run side by side, but never two on the same target (issue 9): a worker's claim skips a
-- queued job whose target has a running job. This index answers that question.
CREATE INDEX jobs_running_target ON jobs (target) WHERE state = 'running';
