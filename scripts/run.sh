#!/usr/bin/env bash
# shellcheck disable=SC2317  # functions below are called from traps
# `make run`: install what is missing, start libvirtd, PostgreSQL (unless DATABASE_URL is set) and a
# local OpenStack Swift (unless MINICLOUD_STORAGE_AUTH_URL is set), migrate, make sure there is an administrator, build and register the tiny image, then run the
# job worker and the web server (gunicorn) until Ctrl-C / SIGTERM, when it stops exactly what it
# started (libvirtd, a system daemon, is left running; so are a PostgreSQL or Swift found running).
#
# Environment:
#   DATABASE_URL                   use this database; no local PostgreSQL is started
#   MINICLOUD_PG_PORT=55432        port of the local PostgreSQL cluster
#   MINICLOUD_PG_DATA=.data/pg     its data directory
#   MINICLOUD_STORAGE_AUTH_URL     use this Swift (v1 auth; with MINICLOUD_STORAGE_USER and _KEY); no
#                                  local Swift is started
#   MINICLOUD_SWIFT_DIR=.data/swift  the local Swift's folder (scripts/swift.sh); SWIFT_PORT=8091 its port
#   MINICLOUD_SERVER_HOST/PORT     where gunicorn listens (default 127.0.0.1:8080)
#   WEB_CONCURRENCY=2              gunicorn worker processes
#   MINICLOUD_ADMIN_USERNAME / MINICLOUD_ADMIN_PASSWORD
#                                  the administrator; with a password it is (re)set every run,
#                                  without one a password is generated once and printed
#   MINICLOUD_SKIP_DEPS=1          do not run scripts/install-deps.sh
#   MINICLOUD_SKIP_LIBVIRT=1       do not start libvirtd (scripts/libvirt.sh start)
#   MINICLOUD_SKIP_IMAGES=1        do not build or register any image
#   MINICLOUD_DEBIAN_IMAGE=1       also build (~2.5 min the first time, root only) and register the Debian image
#   MINICLOUD_IMAGES_DIR=images    where scripts/build-test-image.sh keeps the images
#   PROMETHEUS_MULTIPROC_DIR=.data/metrics
#                                  where the worker and the web server write their metrics (emptied
#                                  at start and at exit; GET /metrics sums them)
set -euo pipefail

self=$(realpath "$0")
cd "$(dirname "$self")/.."
root=$PWD

# PID 1 on some machines (containers, micro-VMs) reaps no orphans. pg_ctl leaves the server
# without a parent, so become a "child subreaper" first: orphans of our descendants come to
# us, and bash reaps them. Also undo an ignored SIGINT (as inherited when started with `&`
# from a script): bash could not trap it, and Ctrl-C / kill -INT must stop us cleanly.
if [ -z "${_MINICLOUD_SUBREAPER:-}" ] && command -v python3 >/dev/null; then
  export _MINICLOUD_SUBREAPER=1
  exec python3 -c '
import ctypes, os, signal, sys
ctypes.CDLL(None, use_errno=True).prctl(36, 1, 0, 0, 0)  # PR_SET_CHILD_SUBREAPER
signal.signal(signal.SIGINT, signal.SIG_DFL)
os.execv("/bin/bash", ["bash"] + sys.argv[1:])' "$self" "$@"
fi
unset _MINICLOUD_SUBREAPER

log() { echo "minicloud: $*"; }
die() { echo "minicloud: error: $*" >&2; exit 1; }

if [ "${MINICLOUD_SKIP_DEPS:-}" != 1 ]; then
  scripts/install-deps.sh
fi
py=$root/.venv/bin/python
mc=$root/.venv/bin/minicloud

# libvirtd for mini PCs (started only when not running; left running on exit, like any system daemon).
# Without it the console still works; /readyz reports the compute backend as unavailable.
if [ "${MINICLOUD_SKIP_LIBVIRT:-}" != 1 ]; then
  scripts/libvirt.sh start || log "warning: libvirtd could not be started (see above): mini PCs will not work"
fi

host=${MINICLOUD_SERVER_HOST:-127.0.0.1}
port=${MINICLOUD_SERVER_PORT:-8080}
export MINICLOUD_SERVER_HOST=$host MINICLOUD_SERVER_PORT=$port
probe_host=$host
case "$host" in 0.0.0.0|::|"") probe_host=127.0.0.1 ;; esac

port_free() {  # can we listen on host:port? (gunicorn sets SO_REUSEADDR too)
  "$py" - "$1" "$2" <<'EOF'
import socket, sys
family = socket.AF_INET6 if ":" in sys.argv[1] else socket.AF_INET
with socket.socket(family) as s:
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        s.bind((sys.argv[1], int(sys.argv[2])))
    except OSError:
        sys.exit(1)
EOF
}
who_listens() {
  if command -v ss >/dev/null; then ss -Hltnp "sport = :$1" 2>/dev/null | sed 's/^/    /'; fi
}
if ! port_free "$host" "$port"; then
  echo "minicloud: error: port $port on $host is busy: another program is listening there." >&2
  who_listens "$port" >&2
  echo "minicloud: stop it, or choose another port: MINICLOUD_SERVER_PORT=8081 make run" >&2
  exit 1
fi

# ---- what we started, and how to stop it ----------------------------------------------------
worker_pid=""
web_pid=""
pg_datadir=""      # set only when this script started the cluster
swift_dir=""       # set only when this script started the local Swift
stopping=false

stop_child() {  # stop_child NAME PID SECONDS: TERM, wait up to SECONDS, then KILL; reap it
  local name=$1 pid=$2 limit=$3 waited=0
  [ -n "$pid" ] || return 0
  if kill -0 "$pid" 2>/dev/null; then
    kill -TERM "$pid" 2>/dev/null || true
    while kill -0 "$pid" 2>/dev/null && [ "$waited" -lt $((limit * 10)) ]; do
      sleep 0.1
      waited=$((waited + 1))
    done
    if kill -0 "$pid" 2>/dev/null; then
      log "$name (pid $pid) did not stop in ${limit}s; killing it"
      kill -KILL "$pid" 2>/dev/null || true
    fi
  fi
  wait "$pid" 2>/dev/null || true
}

clear_metrics() {  # the counts of processes gone (a crashed run's too): not to be summed again
  [ -n "${PROMETHEUS_MULTIPROC_DIR:-}" ] && [ -d "$PROMETHEUS_MULTIPROC_DIR" ] || return 0
  find "$PROMETHEUS_MULTIPROC_DIR" -maxdepth 1 -name '*.db' -delete
}

cleanup() {
  $stopping && return 0
  stopping=true
  trap '' INT TERM
  [ -n "$web_pid$worker_pid$pg_datadir$swift_dir" ] && log "stopping…"
  stop_child "web server" "$web_pid" 30
  stop_child "worker" "$worker_pid" 30
  clear_metrics
  if [ -n "$swift_dir" ]; then
    scripts/swift.sh stop "$swift_dir" >/dev/null || log "could not stop Swift in $swift_dir"
  fi
  if [ -n "$pg_datadir" ]; then
    scripts/pg.sh stop "$pg_datadir" || log "could not stop PostgreSQL in $pg_datadir"
  fi
  wait 2>/dev/null || true   # reap whatever else came to us (the postmaster, Swift's reapers)
  [ -n "$web_pid$worker_pid$pg_datadir$swift_dir" ] && log "stopped"
  return 0
}
on_signal() {
  log "got SIG$1"
  cleanup
  exit 0
}
trap 'on_signal INT' INT
trap 'on_signal TERM' TERM
trap 'on_signal HUP' HUP
trap 'status=$?; cleanup; exit $status' EXIT

# ---- PostgreSQL -----------------------------------------------------------------------------
if [ -n "${DATABASE_URL:-}" ]; then
  log "using DATABASE_URL from the environment; no local PostgreSQL started"
else
  pg_port=${MINICLOUD_PG_PORT:-55432}
  datadir=$(realpath -m "${MINICLOUD_PG_DATA:-.data/pg}")
  mkdir -p "$(dirname "$datadir")"
  if [ "$(id -u)" = 0 ]; then
    # The server runs as the "postgres" user: every directory above the data must let it through.
    [ "$datadir" = "$root/.data/pg" ] && chmod 755 "$root/.data"
    dir=$(dirname "$datadir")
    while [ "$dir" != / ]; do
      if ! runuser -u postgres -- test -x "$dir"; then
        die "PostgreSQL runs as the 'postgres' user, which cannot enter $dir ($(stat -c %A "$dir")).
  Allow it (chmod o+x $dir), or put the data elsewhere: MINICLOUD_PG_DATA=/var/tmp/minicloud-pg make run"
      fi
      dir=$(dirname "$dir")
    done
  fi
  running_pid=""
  if [ -f "$datadir/postmaster.pid" ]; then
    running_pid=$(head -n 1 "$datadir/postmaster.pid")
    kill -0 "$running_pid" 2>/dev/null || running_pid=""
  fi
  if [ -n "$running_pid" ]; then
    pg_port=$(sed -n 4p "$datadir/postmaster.pid")
    log "PostgreSQL in $datadir is already running (pid $running_pid, port $pg_port); using it and leaving it running"
  elif ! port_free 127.0.0.1 "$pg_port"; then
    echo "minicloud: error: port $pg_port (for PostgreSQL) is busy." >&2
    who_listens "$pg_port" >&2
    echo "minicloud: choose another: MINICLOUD_PG_PORT=55433 make run (or set DATABASE_URL)" >&2
    exit 1
  else
    pg_datadir=$datadir   # from here on, cleanup stops it
  fi
  if ! url=$(scripts/pg.sh start "$datadir" "$pg_port"); then
    [ -f "$datadir/server.log" ] && tail -n 20 "$datadir/server.log" >&2
    die "PostgreSQL did not start (log: $datadir/server.log)"
  fi
  export DATABASE_URL=$url
  pg_pid=$(head -n 1 "$datadir/postmaster.pid" 2>/dev/null || echo "?")
  log "PostgreSQL running: $url (pid $pg_pid, data $datadir, log $datadir/server.log)"
fi

# ---- object storage: a local Swift -----------------------------------------------------------
# Buckets live in OpenStack Swift. Without MINICLOUD_STORAGE_AUTH_URL, scripts/swift.sh runs one on
# loopback (port SWIFT_PORT, default 8091; ~5-20 s; the first time it also installs Swift, ~15 s).
if [ -n "${MINICLOUD_STORAGE_AUTH_URL:-}" ]; then
  log "using the Swift at $MINICLOUD_STORAGE_AUTH_URL; no local Swift started"
else
  sdir=$(realpath -m "${MINICLOUD_SWIFT_DIR:-.data/swift}")
  if scripts/swift.sh status "$sdir" >/dev/null 2>&1; then
    log "Swift in $sdir is already running; using it and leaving it running"
  else
    swift_dir=$sdir   # from here on, cleanup stops it
  fi
  if swift_out=$(scripts/swift.sh start "$sdir"); then
    MINICLOUD_STORAGE_AUTH_URL=$(sed -n 's/^auth_url=//p' <<<"$swift_out")
    MINICLOUD_STORAGE_KEY_FILE=$(sed -n 's/^key_file=//p' <<<"$swift_out")
    export MINICLOUD_STORAGE_AUTH_URL MINICLOUD_STORAGE_KEY_FILE
    log "Swift running: $MINICLOUD_STORAGE_AUTH_URL (data and logs in $sdir)"
  else
    log "warning: Swift could not be started (see above): buckets will not work"
  fi
fi

# ---- schema, secret, administrator ----------------------------------------------------------
"$mc" db upgrade
# Create the JWT secret file (if used) now, before several processes race to create it.
"$py" -c 'from minicloud import config; config.load().jwt_secret()'

admin_note=""
if [ -n "${MINICLOUD_ADMIN_PASSWORD:-}" ]; then
  "$mc" create-admin
  admin_note="administrator: ${MINICLOUD_ADMIN_USERNAME:-admin} (password from MINICLOUD_ADMIN_PASSWORD)"
else
  admin_out=$("$mc" create-admin --if-missing)
  echo "$admin_out"
  if [[ "$admin_out" == *"password:"* ]]; then
    admin_note="administrator (new): $(echo "$admin_out" | sed -n 's/^ *username: //p')  password: $(echo "$admin_out" | sed -n 's/^ *password: //p')  <- note it now, it is shown once"
  else
    admin_note="administrator: ${MINICLOUD_ADMIN_USERNAME:-admin} (existing; password unchanged — set MINICLOUD_ADMIN_PASSWORD to reset it)"
  fi
fi

# ---- images: something to rent on a fresh install -------------------------------------------
# The tiny test image (~8 s the first time, cached afterwards) and, on request, the Debian one;
# each is registered once under its name (an administrator's later changes are left alone).
if [ "${MINICLOUD_SKIP_IMAGES:-}" != 1 ]; then
  images_dir=$(realpath -m "${MINICLOUD_IMAGES_DIR:-$root/images}")
  image_names=(tiny)
  [ "${MINICLOUD_DEBIAN_IMAGE:-}" = 1 ] && image_names+=(debian)
  for name in "${image_names[@]}"; do
    if scripts/build-test-image.sh "$name"; then
      "$mc" register-image --manifest "$images_dir/$name/manifest.json" --if-missing \
        || log "warning: could not register the $name image (see above)"
    else
      log "warning: the $name image could not be built (see above): mini PCs cannot be rented from it"
    fi
  done
fi

# ---- worker and web server, children of this script -----------------------------------------
export PROMETHEUS_MULTIPROC_DIR=${PROMETHEUS_MULTIPROC_DIR:-$root/.data/metrics}
mkdir -p "$PROMETHEUS_MULTIPROC_DIR"
clear_metrics
"$mc" worker &
worker_pid=$!
bind="$host:$port"
[[ "$host" == *:* ]] && bind="[$host]:$port"
"$root/.venv/bin/gunicorn" minicloud.wsgi:application -c "$root/configs/gunicorn.conf.py" --bind "$bind" \
  --workers "${WEB_CONCURRENCY:-2}" --access-logfile - --no-control-socket &
web_pid=$!
log "started worker (pid $worker_pid) and web server (gunicorn pid $web_pid)"

ready=false
deadline=$((SECONDS + 60))
while [ "$SECONDS" -lt "$deadline" ]; do
  kill -0 "$web_pid" 2>/dev/null || break
  kill -0 "$worker_pid" 2>/dev/null || break
  if "$py" - "$probe_host" "$port" <<'EOF' 2>/dev/null
import sys, urllib.request
with urllib.request.urlopen(f"http://{sys.argv[1]}:{sys.argv[2]}/healthz", timeout=1) as r:
    sys.exit(0 if r.status == 200 else 1)
EOF
  then ready=true; break; fi
  sleep 0.2
done
if ! $ready; then
  kill -0 "$web_pid" 2>/dev/null || die "the web server exited during start-up (see above)"
  kill -0 "$worker_pid" 2>/dev/null || die "the worker exited during start-up (see above)"
  die "the web server did not answer /healthz within 60 s"
fi

url_host=$probe_host
[[ "$url_host" == *:* ]] && url_host="[$url_host]"
cat <<EOF

======================================================================
  minicloud is running:   http://$url_host:$port/
  API docs:               http://$url_host:$port/docs
  $admin_note
  pids: worker=$worker_pid web=$web_pid${pg_datadir:+ postgres=$pg_pid}
  Press Ctrl-C to stop.
======================================================================

EOF

# Until a signal arrives (the trap then stops everything) or a child dies on its own.
status=0
wait -n "$worker_pid" "$web_pid" || status=$?
if kill -0 "$web_pid" 2>/dev/null; then
  log "the worker exited (status $status); stopping"
else
  log "the web server exited (status $status); stopping"
fi
exit 1
