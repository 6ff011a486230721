#!/usr/bin/env bash
# A local, single-node OpenStack Swift on loopback, for development and the tests.
#
#   scripts/swift.sh start  [DIR]   install Swift if needed, write the configuration, start it; prints
#                                   auth_url=…, user=…, key_file=… (quick success when already running)
#   scripts/swift.sh stop   [DIR]   stop exactly the processes `start` started for DIR (by their PIDs)
#   scripts/swift.sh status [DIR]   say what runs (exit 1 when Swift in DIR is not running)
#   scripts/swift.sh install        only install Swift into its virtualenv (scripts/install-deps.sh does)
#   scripts/swift.sh installed      exit 0 when that is done already
#
# DIR (default .data/swift) holds everything: etc/ (swift.conf, rings, one .conf per server),
# srv/d1 (the one "disk"), log/ (one log per process), run/ (PIDs, ports) and reseller.key, the key of
# the reseller admin `minicloud:reseller` (groups .admin .reseller_admin), which minicloud uses to
# create one Swift account per project. Seven processes: memcached (tempauth keeps its tokens there),
# the account, container and object servers, the proxy (v1 auth at /auth/v1.0, /healthcheck), and the
# container and object updaters (account statistics and delayed container listings catch up in ~1 s).
#
# Swift comes from PyPI (swift==$SWIFT_VERSION) in a virtualenv of its own, not from Debian (older,
# and it reads /etc/swift whatever swift_dir says). Every process runs through a small launcher that
# points Swift at DIR/etc (set_swift_dir), so nothing is written to /etc/swift.
#
# Environment:
#   SWIFT_PORT=8091                 the proxy's port (must match [storage] auth_url in configs/minicloud.toml)
#   SWIFT_VENV=.data/swift-venv     the virtualenv Swift is installed into (reused when present)
#   SWIFT_VERSION=2.38.3            the swift release installed from PyPI
#   SWIFT_START_TIMEOUT=60          seconds to wait for the proxy to answer
#   SWIFT_MAX_FILE_SIZE             the largest object Swift accepts (default 5 GiB + 2 bytes, Swift's own
#                                   default; must not be below storage.max_object_bytes)
set -euo pipefail

cmd=${1:-status}
self=$(realpath "$0")
root=$(cd "$(dirname "$self")/.." && pwd)
here=$root/scripts
dir=$(realpath -m "${2:-$root/.data/swift}")
venv=$(realpath -m "${SWIFT_VENV:-$root/.data/swift-venv}")
version=${SWIFT_VERSION:-2.38.3}
timeout=${SWIFT_START_TIMEOUT:-60}
max_file_size=${SWIFT_MAX_FILE_SIZE:-5368709122}
user_name=minicloud
user_login=reseller
etc=$dir/etc
run=$dir/run
pids_file=$run/pids
ports_file=$run/ports
# The processes, in start order. Each runs `swift-<name> <conf>` except memcached.
names=(memcached account-server container-server object-server proxy-server container-updater object-updater)

say() { echo "swift.sh: $*" >&2; }
die() { echo "swift.sh: error: $*" >&2; exit 1; }

# ---- processes: alive means "exists, is not a zombie, and is the one we started" ---------------
# Where PID 1 reaps nobody, a dead process lingers as a zombie that `kill -0` still finds; and a
# PID can be reused, so each one is recorded with its start time (field 22 of /proc/PID/stat).
proc_field() {  # proc_field PID N: field N of /proc/PID/stat (N >= 3; the name may hold spaces)
  local stat n=$2
  stat=$(cat "/proc/$1/stat" 2>/dev/null) || return 1
  stat=${stat##*) }
  # shellcheck disable=SC2086  # split on purpose
  set -- $stat
  shift $((n - 3))
  echo "$1"
}
started_at() { proc_field "$1" 22; }
alive() {  # alive PID STARTTIME
  local state
  [ -n "$1" ] && [ "$1" != - ] || return 1
  state=$(proc_field "$1" 3) || return 1
  [ "$state" != Z ] || return 1
  [ "$(started_at "$1")" = "$2" ]
}

# records NAME REAPER_PID REAPER_START PID START per line
running_names() {
  [ -f "$pids_file" ] || return 0
  while read -r name _ _ pid start; do
    if alive "$pid" "$start"; then echo "$name"; fi
  done <"$pids_file"
}
all_running() {
  [ -f "$pids_file" ] || return 1
  [ "$(running_names | wc -l)" -eq "${#names[@]}" ]
}

stop_all() {
  [ -f "$pids_file" ] || return 0
  local waited=0 left
  while read -r name _ _ pid start; do
    if alive "$pid" "$start"; then kill -TERM "$pid" 2>/dev/null || true; fi
  done <"$pids_file"
  # Wait until every process (and its reaper) is really gone: `start` may follow at once.
  while :; do
    left=0
    while read -r name rpid rstart pid start; do
      if alive "$pid" "$start" || alive "$rpid" "$rstart"; then left=$((left + 1)); fi
    done <"$pids_file"
    [ "$left" -gt 0 ] || break
    if [ "$waited" -ge 100 ]; then
      while read -r name rpid rstart pid start; do
        if alive "$pid" "$start"; then say "$name (pid $pid) ignored SIGTERM; killing it"; kill -KILL "$pid" 2>/dev/null || true; fi
        if alive "$rpid" "$rstart"; then kill -KILL "$rpid" 2>/dev/null || true; fi
      done <"$pids_file"
    fi
    [ "$waited" -lt 200 ] || die "processes in $dir would not stop"
    sleep 0.05
    waited=$((waited + 1))
  done
  rm -f "$pids_file"
}

# ---- helpers ----------------------------------------------------------------------------------
py() { "$venv/bin/python" "$@"; }

port_free() {  # can we listen on 127.0.0.1:PORT? (Swift listens with SO_REUSEPORT: check first)
  python3 - "$1" <<'EOF'
import socket, sys
with socket.socket() as s:
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        s.bind(("127.0.0.1", int(sys.argv[1])))
        s.listen(1)
    except OSError:
        sys.exit(1)
EOF
}
free_ports() {  # free_ports N: N distinct free ports
  python3 - "$1" <<'EOF'
import socket, sys
socks = [socket.socket() for _ in range(int(sys.argv[1]))]
for s in socks:
    s.bind(("127.0.0.1", 0))
print(" ".join(str(s.getsockname()[1]) for s in socks))
EOF
}
who_listens() {
  if command -v ss >/dev/null; then ss -Hltnp "sport = :$1" 2>/dev/null | sed 's/^/    /' >&2; fi
}

venv_ready() {
  [ -x "$venv/bin/swift-proxy-server" ] && [ "$(cat "$venv/.minicloud-swift" 2>/dev/null)" = "$version" ]
}
ensure_venv() {
  local stamp=$venv/.minicloud-swift
  venv_ready && return 0
  # One install at a time (make run and the tests may start together); fd 8 is closed again below.
  mkdir -p "$(dirname "$venv")"
  exec 8>>"$venv.lock"
  flock 8
  if venv_ready; then
    exec 8>&-
    return 0
  fi
  say "installing swift==$version from PyPI into $venv (~15 s, once)"
  [ -x "$venv/bin/python" ] || python3 -m venv "$venv" || die "python3 -m venv failed (install python3-venv)"
  "$venv/bin/python" -m pip install --disable-pip-version-check -q "swift==$version" \
    || die "pip could not install swift==$version"
  echo "$version" >"$stamp"
  exec 8>&-
}

# Ports: the proxy's from SWIFT_PORT (else the one recorded, else 8091); the others are chosen free
# once and kept (the rings name them), unless something else took one meanwhile.
choose_ports() {
  local recorded_proxy=""
  memcached_port="" account_port="" container_port="" object_port=""
  if [ -f "$ports_file" ]; then
    # shellcheck disable=SC1090
    . "$ports_file"
    recorded_proxy=${proxy_port:-}
  fi
  proxy_port=${SWIFT_PORT:-${recorded_proxy:-8091}}
  local p ok=true
  for p in "$memcached_port" "$account_port" "$container_port" "$object_port"; do
    if [ -z "$p" ] || [ "$p" = "$proxy_port" ] || ! port_free "$p"; then ok=false; fi
  done
  if ! $ok; then
    read -r memcached_port account_port container_port object_port <<<"$(free_ports 4)"
  fi
  cat >"$ports_file" <<EOF
proxy_port=$proxy_port
memcached_port=$memcached_port
account_port=$account_port
container_port=$container_port
object_port=$object_port
EOF
}

write_configs() {
  local run_as key
  run_as=$(id -un)
  key=$(cat "$dir/reseller.key")
  mkdir -p "$etc" "$dir/srv/d1" "$dir/log" "$dir/cache"
  chmod 700 "$etc"
  # The hash prefix/suffix place every object on disk: made once, never changed afterwards.
  if [ ! -f "$etc/swift.conf" ]; then
    cat >"$etc/swift.conf" <<EOF
[swift-hash]
swift_hash_path_prefix = $(od -An -N16 -tx1 /dev/urandom | tr -d ' \n')
swift_hash_path_suffix = $(od -An -N16 -tx1 /dev/urandom | tr -d ' \n')

[storage-policy:0]
name = Policy-0
default = yes

[swift-constraints]
max_file_size = $max_file_size
EOF
  else
    sed -i "s/^max_file_size = .*/max_file_size = $max_file_size/" "$etc/swift.conf"
  fi
  local common="[DEFAULT]
swift_dir = $etc
devices = $dir/srv
mount_check = false
bind_ip = 127.0.0.1
workers = 0
user = $run_as
log_level = INFO
recon_cache_path = $dir/cache"
  local server
  for server in account container object; do
    local port_var=${server}_port
    {
      echo "$common"
      echo "bind_port = ${!port_var}"
      echo
      echo "[pipeline:main]"
      echo "pipeline = healthcheck $server-server"
      echo
      echo "[app:$server-server]"
      echo "use = egg:swift#$server"
      echo
      echo "[filter:healthcheck]"
      echo "use = egg:swift#healthcheck"
      echo
      echo "[$server-replicator]"
      echo
      echo "[$server-auditor]"
      case $server in
        container) printf '\n[container-updater]\ninterval = 1\nconcurrency = 1\nlog_level = WARNING\n\n[container-sync]\n' ;;
        object) printf '\n[object-updater]\ninterval = 1\nconcurrency = 1\nlog_level = WARNING\n' ;;
      esac
    } >"$etc/$server-server.conf"
  done
  cat >"$etc/proxy-server.conf" <<EOF
$common
bind_port = $proxy_port

[pipeline:main]
pipeline = catch_errors gatekeeper healthcheck proxy-logging cache listing_formats bulk tempurl tempauth copy container-quotas account-quotas slo dlo proxy-logging proxy-server

[app:proxy-server]
use = egg:swift#proxy
allow_account_management = true
account_autocreate = true

[filter:tempauth]
use = egg:swift#tempauth
reseller_prefix = AUTH
user_${user_name}_${user_login} = $key .admin .reseller_admin

[filter:tempurl]
use = egg:swift#tempurl
methods = GET HEAD PUT
allowed_digests = sha256 sha512

[filter:cache]
use = egg:swift#memcache
memcache_servers = 127.0.0.1:$memcached_port
EOF
  # The other filters of the pipeline take no settings: [filter:NAME], use = egg:swift#NAME (- as _).
  local filter
  for filter in catch_errors gatekeeper healthcheck proxy-logging listing_formats bulk copy container-quotas \
                account-quotas slo dlo; do
    printf '\n[filter:%s]\nuse = egg:swift#%s\n' "$filter" "${filter//-/_}"
  done >>"$etc/proxy-server.conf"
}

# One ring per server type: 2^8 partitions, 1 replica, one device; rebuilt only when the ports change.
# The same as, for each of account/container/object (one Python process instead of nine, ~4 s less):
#   swift-ring-builder account.builder create 8 1 1
#   swift-ring-builder account.builder add r1z1-127.0.0.1:PORT/d1 1
#   swift-ring-builder account.builder rebalance      (writes account.ring.gz)
build_rings() {
  local want have
  want="$account_port $container_port $object_port"
  have=$(cat "$etc/rings.ports" 2>/dev/null || true)
  if [ "$want" = "$have" ] && [ -f "$etc/account.ring.gz" ] && [ -f "$etc/container.ring.gz" ] \
     && [ -f "$etc/object.ring.gz" ]; then
    return 0
  fi
  py - "$etc" "account:$account_port" "container:$container_port" "object:$object_port" \
    >>"$dir/log/rings.log" 2>&1 <<'EOF' || die "building the rings failed (see $dir/log/rings.log)"
import sys
from swift.common.ring import RingBuilder
etc = sys.argv[1]
for spec in sys.argv[2:]:
    kind, port = spec.split(":")
    builder = RingBuilder(8, 1, 1)
    builder.add_dev({"region": 1, "zone": 1, "ip": "127.0.0.1", "port": int(port), "device": "d1",
                     "weight": 1})
    builder.rebalance()
    builder.save(f"{etc}/{kind}.builder")
    builder.get_ring().save(f"{etc}/{kind}.ring.gz")
    print(f"{kind} ring: 127.0.0.1:{port}/d1")
EOF
  echo "$want" >"$etc/rings.ports"
}

# Every Swift process goes through this: read DIR/etc/swift.conf (hash, constraints), not /etc/swift.
# (One line: command_for prints one word per line.)
launcher='import runpy, sys; from swift.common import constraints, utils; utils.set_swift_dir(sys.argv[1]); constraints.reload_constraints(); sys.argv = sys.argv[2:]; runpy.run_path(sys.argv[0], run_name="__main__")'

command_for() {  # command_for NAME: print the command line, one word per line
  case $1 in
    memcached)
      local as_root=()
      [ "$(id -u)" = 0 ] && as_root=(-u root)
      printf '%s\n' "$(command -v memcached)" -l 127.0.0.1 -p "$memcached_port" -U 0 -m 64 "${as_root[@]}"
      ;;
    *-updater) printf '%s\n' "$venv/bin/python" -c "$launcher" "$etc" "$venv/bin/swift-$1" \
                 "$etc/${1%-updater}-server.conf" -v ;;
    *) printf '%s\n' "$venv/bin/python" -c "$launcher" "$etc" "$venv/bin/swift-$1" "$etc/$1.conf" -v ;;
  esac
}

launch() {  # launch NAME: start it in a session of its own under scripts/reaper.py; record its PIDs
  local name=$1 rpid pid="" waited=0 argv=()
  mapfile -t argv < <(command_for "$name")
  setsid python3 "$here/reaper.py" "${argv[@]}" </dev/null >>"$dir/log/$name.log" 2>&1 8<&- 9<&- &
  rpid=$!
  # The daemon is the reaper's child once the reaper has spawned it (and it has exec'd argv[0]).
  while :; do
    pid=$(cut -d' ' -f1 "/proc/$rpid/task/$rpid/children" 2>/dev/null || true)
    if [ -n "$pid" ] && [ "$(head -z -n 1 "/proc/$pid/cmdline" 2>/dev/null | tr -d '\0')" = "${argv[0]}" ]; then
      break
    fi
    [ "$waited" -lt 500 ] || { tail -n 20 "$dir/log/$name.log" >&2; stop_all; die "$name did not start (log: $dir/log/$name.log)"; }
    sleep 0.02
    waited=$((waited + 1))
  done
  echo "$name $rpid $(started_at "$rpid") $pid $(started_at "$pid")" >>"$pids_file"
}

# Healthy: every server's /healthcheck answers OK and the reseller admin gets a token (memcached works).
healthy() {
  "$venv/bin/python" - "$proxy_port" "$user_name:$user_login" "$dir/reseller.key" \
    "$account_port" "$container_port" "$object_port" <<'EOF' 2>/dev/null
import sys, urllib.request
for port in sys.argv[4:] + sys.argv[1:2]:
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/healthcheck", timeout=2) as r:
        assert r.status == 200
base = f"http://127.0.0.1:{sys.argv[1]}"
key = open(sys.argv[3]).read().strip()
req = urllib.request.Request(base + "/auth/v1.0", headers={"X-Auth-User": sys.argv[2], "X-Auth-Key": key})
with urllib.request.urlopen(req, timeout=5) as r:
    assert r.status == 200 and r.headers["X-Auth-Token"] and r.headers["X-Storage-Url"]
EOF
}

proxy_listens() {  # cheap (no Python): does the proxy's port accept connections yet?
  (exec 3<>"/dev/tcp/127.0.0.1/$proxy_port") 2>/dev/null
}

print_info() {
  echo "auth_url=http://127.0.0.1:$proxy_port/auth/v1.0"
  echo "user=$user_name:$user_login"
  echo "key_file=$dir/reseller.key"
  echo "proxy_url=http://127.0.0.1:$proxy_port"
  echo "dir=$dir"
}

load_ports() {
  [ -f "$ports_file" ] || return 1
  # shellcheck disable=SC1090
  . "$ports_file"
}

# ---- commands ---------------------------------------------------------------------------------
case "$cmd" in
  start)
    mkdir -p "$run"
    exec 9>>"$run/lock"
    flock 9
    if all_running && load_ports && healthy; then
      say "already running in $dir (proxy port $proxy_port)"
      print_info
      exit 0
    fi
    stop_all   # whatever is left of an earlier run (one process died, or it never became healthy)
    command -v memcached >/dev/null || die "memcached not found: run scripts/install-deps.sh"
    ensure_venv
    choose_ports
    if ! port_free "$proxy_port"; then
      echo "swift.sh: error: port $proxy_port (for the Swift proxy) is busy:" >&2
      who_listens "$proxy_port"
      die "stop that program or choose another port: SWIFT_PORT=8092 (and set MINICLOUD_STORAGE_AUTH_URL to match)"
    fi
    if [ ! -s "$dir/reseller.key" ]; then
      (umask 077; od -An -N24 -tx1 /dev/urandom | tr -d ' \n' >"$dir/reseller.key")
    fi
    chmod 600 "$dir/reseller.key"
    write_configs
    build_rings
    # The servers first; the updaters once the proxy answers (they are not needed for that, and
    # on a small machine they would only slow the others' start-up down).
    servers=("${names[@]:0:5}")
    for name in "${servers[@]}"; do launch "$name"; done
    deadline=$((SECONDS + timeout))
    until proxy_listens && healthy; do
      if [ "$(running_names | wc -l)" -ne "${#servers[@]}" ]; then
        up=$(running_names)
        for name in "${servers[@]}"; do
          grep -qx "$name" <<<"$up" && continue
          say "$name exited; the end of $dir/log/$name.log:"
          tail -n 15 "$dir/log/$name.log" >&2
        done
        stop_all
        die "Swift did not start"
      fi
      if [ "$SECONDS" -ge "$deadline" ]; then
        stop_all
        die "the proxy did not answer within ${timeout}s (logs: $dir/log/)"
      fi
      sleep 0.1
    done
    for name in "${names[@]:5}"; do launch "$name"; done
    say "started in $dir (proxy port $proxy_port, logs in $dir/log/)"
    print_info
    ;;
  stop)
    [ -d "$run" ] || { say "nothing to stop in $dir"; exit 0; }
    exec 9>>"$run/lock"
    flock 9
    if [ -f "$pids_file" ]; then
      stop_all
      say "stopped Swift in $dir"
    else
      say "nothing to stop in $dir"
    fi
    ;;
  status)
    if [ ! -f "$pids_file" ]; then say "not running in $dir"; exit 1; fi
    up=$(running_names)
    ok=0
    while read -r name _ _ pid _; do
      if grep -qx "$name" <<<"$up"; then say "$name running (pid $pid)"; else say "$name not running"; ok=1; fi
    done <"$pids_file"
    if load_ports && healthy; then
      say "proxy answers on port $proxy_port"
      print_info
    else
      say "proxy does not answer"; ok=1
    fi
    exit $ok
    ;;
  install) ensure_venv ;;
  installed) venv_ready ;;
  *) echo "usage: scripts/swift.sh start|stop|status [DIR] | install | installed" >&2; exit 2 ;;
esac
