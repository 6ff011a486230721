-- What keeps a page's cost from growing with the platform (issue 9, point 11), found with EXPLAIN on
-- bench/scale.py's platform of 10,000 mini PCs, apps and buckets.
--
-- The dashboard's operations card counts the acting project's jobs by state; without this index every
-- job of every project was read (a sequential scan of the whole queue on each dashboard view).

CREATE INDEX jobs_project_state ON jobs (project_id, state);
