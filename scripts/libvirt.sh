#!/usr/bin/env bash
# A usable local libvirtd (qemu:///system) on a machine without systemd (containers, CI, micro-VMs).
#
#   scripts/libvirt.sh start    make sure virtlogd and libvirtd run and qemu:///system answers
#   scripts/libvirt.sh status   say whether they run and whether qemu:///system answers (exit 1 if not)
#   scripts/libvirt.sh stop     stop the daemons *this script* started (never ones started by others)
#
# start is idempotent and quick when the daemons already run (from systemd, another user of this
# script, or by hand). When it starts one itself it records the daemon in a marker file
# (/var/run/minicloud-libvirt.started) so that stop leaves everybody else's daemons alone.
# As root it also prepares what Debian's libvirt-daemon-system package would (that package pulls in
# systemd units we cannot use): the libvirt-qemu user and group, and qemu.conf running guests as
# root (only when qemu.conf does not set user/group already).
#
# Environment: LIBVIRT_URI (default qemu:///system), LIBVIRT_START_TIMEOUT (seconds, default 60).
set -euo pipefail

cmd=${1:-start}
uri=${LIBVIRT_URI:-qemu:///system}
timeout=${LIBVIRT_START_TIMEOUT:-60}
run=/var/run
marker=$run/minicloud-libvirt.started
qemu_conf=/etc/libvirt/qemu.conf
here=$(cd "$(dirname "$0")" && pwd)

say() { echo "libvirt.sh: $*"; }
die() { echo "libvirt.sh: error: $*" >&2; exit 1; }

# daemon_pid NAME: print the pid of daemon NAME (libvirtd, virtlogd) if it runs, per its pidfile.
daemon_pid() {
  local pid
  [ -f "$run/$1.pid" ] || return 1
  pid=$({ tr -dc 0-9 <"$run/$1.pid"; } 2>/dev/null)
  [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null || return 1
  # A recycled pid is possible after a crash: check the process really is that daemon. And where
  # PID 1 reaps nobody a dead daemon stays a zombie, which kill -0 still finds.
  if [ -r "/proc/$pid/stat" ]; then
    case "$(cat "/proc/$pid/comm")" in "$1"*) ;; *) return 1 ;; esac
    [ "$(cut -d' ' -f3 "/proc/$pid/stat")" != Z ] || return 1
  fi
  echo "$pid"
}

answers() { timeout 30 virsh -q -c "$uri" uri >/dev/null 2>&1; }

prepare_host() {
  [ "$(id -u)" = 0 ] || return 0
  if ! getent group libvirt-qemu >/dev/null; then
    groupadd --system libvirt-qemu
    say "created group libvirt-qemu"
  fi
  if ! getent passwd libvirt-qemu >/dev/null; then
    useradd --system --gid libvirt-qemu --home-dir /var/lib/libvirt --no-create-home \
      --shell /usr/sbin/nologin libvirt-qemu
    say "created user libvirt-qemu"
  fi
  mkdir -p /etc/libvirt /var/log/libvirt "$run/libvirt" /var/lib/libvirt/images
  # Guests run as root here (disk images under the project folder need no chown dance).
  # Respect a qemu.conf that already chooses a user or group.
  if ! grep -Eq '^[[:space:]]*(user|group)[[:space:]]*=' "$qemu_conf" 2>/dev/null; then
    {
      echo ''
      echo '# added by minicloud scripts/libvirt.sh: run QEMU as root (no libvirt-daemon-system here)'
      echo 'user = "root"'
      echo 'group = "root"'
    } >>"$qemu_conf"
    say "set user/group = root in $qemu_conf"
  fi
}

start_daemon() {  # start_daemon NAME
  local name=$1 waited=0
  if daemon_pid "$name" >/dev/null; then
    return 0
  fi
  command -v "$name" >/dev/null || die "$name not found: run scripts/install-deps.sh"
  [ "$(id -u)" = 0 ] || die "$name is not running and only root can start the system daemon (or use LIBVIRT_URI=qemu:///session)"
  rm -f "$run/$name.pid"
  # Under a reaper of its own, in a session of its own (see scripts/reaper.py): QEMU processes
  # that libvirtd leaves behind must be reaped, or destroying a guest hangs.
  setsid python3 "$here/reaper.py" "$name" -d </dev/null >/dev/null 2>&1 9<&- &
  while ! daemon_pid "$name" >/dev/null; do
    [ "$waited" -lt 100 ] || die "$name did not start (see /var/log/libvirt/)"
    sleep 0.1
    waited=$((waited + 1))
  done
  echo "$name $(daemon_pid "$name")" >>"$marker"
  say "started $name (pid $(daemon_pid "$name"))"
}

case "$cmd" in
  start)
    if [[ "$uri" == qemu:///session* || "$uri" == test://* ]]; then
      answers || die "$uri does not answer"
      exit 0
    fi
    if [ -d /run/systemd/system ] && command -v systemctl >/dev/null; then
      # Whoever runs it (the lab's libvirt-daemon-system, socket activation): usable is enough.
      answers && exit 0
      # A systemd machine: ask systemd (modular daemons on newer distributions, libvirtd on older).
      systemctl start virtqemud.socket virtlogd.socket 2>/dev/null || systemctl start libvirtd virtlogd \
        || die "systemctl could not start libvirt (is libvirt-daemon-system installed?)"
      for _ in $(seq "$timeout"); do answers && { say "$uri is ready (systemd)"; exit 0; }; sleep 1; done
      die "libvirt started by systemd but $uri did not answer within ${timeout}s"
    fi
    # No systemd. Usable already (started earlier, by hand, or by this script)? Guests also need
    # virtlogd (their console and QEMU logs go through it).
    if answers && pgrep -x -r R,S,D,I,T virtlogd >/dev/null; then
      exit 0
    fi
    # One start at a time (make run and the test suite may start together).
    exec 9<"$(realpath "$0")"
    flock 9
    prepare_host
    pgrep -x -r R,S,D,I,T virtlogd >/dev/null || start_daemon virtlogd
    answers || start_daemon libvirtd
    deadline=$((SECONDS + timeout))
    until answers; do
      # The first connection probes QEMU's capabilities (~8 s).
      [ "$SECONDS" -lt "$deadline" ] || die "libvirtd runs but $uri did not answer within ${timeout}s (see /var/log/libvirt/libvirtd.log)"
      daemon_pid libvirtd >/dev/null || die "libvirtd exited during start-up (see /var/log/libvirt/)"
      sleep 0.5
    done
    say "$uri is ready"
    ;;
  status)
    ok=0
    for name in virtlogd libvirtd; do
      if pid=$(daemon_pid "$name"); then say "$name running (pid $pid)"; else say "$name not running"; ok=1; fi
    done
    if answers; then say "$uri answers"; else say "$uri does not answer"; ok=1; fi
    [ -f "$marker" ] && say "started by this script: $(tr '\n' ' ' <"$marker")"
    exit $ok
    ;;
  stop)
    [ -f "$marker" ] || { say "nothing to stop (no daemon was started by this script)"; exit 0; }
    # Newest first: libvirtd before virtlogd.
    tac "$marker" | while read -r name pid; do
      if [ "$(daemon_pid "$name" || true)" = "$pid" ]; then
        kill -TERM "$pid"
        for _ in $(seq 100); do daemon_pid "$name" >/dev/null || break; sleep 0.1; done
        if daemon_pid "$name" >/dev/null; then kill -KILL "$pid" 2>/dev/null || true; fi
        say "stopped $name (pid $pid)"
      fi
    done
    rm -f "$marker"
    ;;
  *) echo "usage: scripts/libvirt.sh start|status|stop" >&2; exit 2 ;;
esac
