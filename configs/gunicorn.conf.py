# gunicorn settings minicloud is served with (make run, `minicloud serve`, the tests' servers).
# Command-line options (--bind, --workers ...) add to these.
import os
import shutil
import tempfile

# The longest request line gunicorn reads (its maximum; the default is 4094). Every valid request
# fits: an object key of 1024 UTF-8 bytes is at most 3072 characters percent-encoded, a listing's
# prefix the same, a cursor at most 512. A longer line is answered 414 by gunicorn itself, as the
# API document says.
limit_request_line = 8190

# Threads, not gunicorn's default sync worker: the live pages hold a server-sent-events stream open for
# minutes (GET /events, a mini PC's console stream), which would take a whole sync worker each. With
# gthread a stream takes one thread of a worker; the others go on answering. A stream holds no pooled
# database connection (the event feed LISTENs on a connection of its own), so the pool
# (database.pool_max) only bounds the requests that query at once. `--threads` on the command line
# (the tests' servers) overrides this.
worker_class = "gthread"
threads = 32

# GET /metrics sums what every worker counted (prometheus_client's multiprocess mode): each process
# writes its values to files in PROMETHEUS_MULTIPROC_DIR. scripts/run.sh sets it for the web server
# and the job worker alike; otherwise gunicorn makes a private one, removed when it stops. It is set
# here, in the master, before any worker imports prometheus_client (which reads it once, at import).
_own_metrics_dir = None
if not os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
    _own_metrics_dir = os.environ["PROMETHEUS_MULTIPROC_DIR"] = tempfile.mkdtemp(prefix="minicloud-metrics-")


def child_exit(server, worker):
    """A worker that exited no longer counts in live gauges (its counters stay in the sums)."""
    from prometheus_client import multiprocess

    multiprocess.mark_process_dead(worker.pid)


def on_exit(server):
    if _own_metrics_dir:
        shutil.rmtree(_own_metrics_dir, ignore_errors=True)
