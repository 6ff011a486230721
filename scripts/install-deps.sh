#!/usr/bin/env bash
# Install what minicloud needs on Debian 12 / Ubuntu, then the Python venv .venv (and Swift's, .data/swift-venv).
# Idempotent and quick when everything is there: apt-get runs only for what is missing,
# pip only when pyproject.toml changed since the last install (a stamp inside .venv).
#
#   scripts/install-deps.sh            install what is missing (system packages + .venv)
#   scripts/install-deps.sh --check    only report what is missing (exit 1 if anything is)
#
# Environment:
#   PYTHON=python3.12           the interpreter for .venv (default: python3 on PATH; 3.11+)
#   MINICLOUD_DEPS=runtime      skip test/bench-only things (chromium, wrk, iperf3, the [test] extra)
set -euo pipefail
export DEBIAN_FRONTEND=noninteractive

self=$(realpath "$0")
cd "$(dirname "$self")/.."
root=$PWD
check_only=false
[ "${1:-}" = "--check" ] && check_only=true
profile=${MINICLOUD_DEPS:-all}
case "$profile" in all|runtime) ;; *) echo "install-deps: MINICLOUD_DEPS must be 'all' or 'runtime'" >&2; exit 2 ;; esac

say() { echo "install-deps: $*"; }
die() { echo "install-deps: error: $*" >&2; exit 1; }

# One install at a time (make run and make test may start together).
exec 9<"$self"
flock 9

# ---- system packages ------------------------------------------------------------------------
have_pkg() { dpkg-query -W -f='${Status}' "$1" 2>/dev/null | grep -q "ok installed"; }
pg_server_present() {
  local bindir
  bindir=$(pg_config --bindir 2>/dev/null || true)
  [ -n "$bindir" ] && [ -x "$bindir/initdb" ] && return 0
  compgen -G "/usr/lib/postgresql/*/bin/initdb" >/dev/null
}

python=${PYTHON:-python3}
check_python() {
  "$python" -c 'import sys; sys.exit(sys.version_info < (3, 11))' \
    || die "minicloud needs Python 3.11 or newer; $python is $("$python" -c 'import sys; print(sys.version.split()[0])'). Install one and run with PYTHON=python3.11 (or newer)."
}
if command -v "$python" >/dev/null; then check_python; fi

missing=()
command -v make >/dev/null || missing+=(make)
command -v gcc >/dev/null || missing+=(gcc)
pg_server_present || missing+=(postgresql)
command -v psql >/dev/null || missing+=(postgresql-client)
command -v runuser >/dev/null || missing+=(util-linux)
if ! command -v "$python" >/dev/null; then
  [ "$python" = python3 ] || die "$python not found (PYTHON=$python)"
  missing+=(python3 python3-venv python3-dev)
elif ! "$python" -c 'import ensurepip, venv' 2>/dev/null; then
  # Debian/Ubuntu split venv+ensurepip out of python3: `python3 -m venv` fails without it.
  case "$(command -v "$python")" in
    /usr/bin/*) missing+=(python3-venv) ;;
    *) die "$python cannot create virtual environments (no ensurepip/venv module)" ;;
  esac
fi
# libvirt-python has no wheels on PyPI: pip compiles it, which needs the interpreter's headers.
if command -v "$python" >/dev/null \
   && ! "$python" -c 'import os, sys, sysconfig; sys.exit(not os.path.exists(os.path.join(sysconfig.get_paths()["include"], "Python.h")))' 2>/dev/null; then
  case "$(command -v "$python")" in
    /usr/bin/*) missing+=("$("$python" -c 'import sys; print("python%d.%d-dev" % sys.version_info[:2])')") ;;
    *) die "$python has no C headers (Python.h), needed to build libvirt-python; install its -dev package" ;;
  esac
fi
# Virtual machines (mini PCs): QEMU + libvirt (no systemd units needed; scripts/libvirt.sh starts
# the daemons), libvirt-dev + pkg-config so pip can build libvirt-python, dnsmasq-base + iptables
# for isolated libvirt networks, and what scripts/build-test-image.sh builds guest images with.
# (The guest kernel is not installed on the host: the image build fetches it with apt-get download.)
# Several live in sbin, which a normal user's PATH may lack.
PATH="$PATH:/usr/local/sbin:/usr/sbin:/sbin"
command -v qemu-system-x86_64 >/dev/null || missing+=(qemu-system-x86)
command -v qemu-img >/dev/null || missing+=(qemu-utils)
command -v libvirtd >/dev/null || missing+=(libvirt-daemon)
have_pkg libvirt-daemon-driver-qemu || missing+=(libvirt-daemon-driver-qemu)
command -v virsh >/dev/null || missing+=(libvirt-clients)
have_pkg libvirt-dev || missing+=(libvirt-dev)
command -v pkg-config >/dev/null || missing+=(pkg-config)
command -v dnsmasq >/dev/null || missing+=(dnsmasq-base)
command -v iptables >/dev/null || missing+=(iptables)
# Networks (VPCs): nftables enforces security groups, ACLs and NAT; conntrack lists and flushes
# tracked flows when a rule changes; ip (iproute2) makes bridges, veths and router namespaces.
command -v nft >/dev/null || missing+=(nftables)
command -v conntrack >/dev/null || missing+=(conntrack)
command -v ip >/dev/null || missing+=(iproute2)
command -v debootstrap >/dev/null || missing+=(debootstrap)
command -v mkfs.ext4 >/dev/null || missing+=(e2fsprogs)
have_pkg busybox-static || missing+=(busybox-static)
command -v cpio >/dev/null || missing+=(cpio)
# Object storage: scripts/swift.sh installs Swift itself (from PyPI, into .data/swift-venv) but needs
# memcached, where Swift's tempauth keeps its tokens.
command -v memcached >/dev/null || missing+=(memcached)
# ssh: the tests log into Debian guests on their forwarded loopback port.
command -v ssh >/dev/null || missing+=(openssh-client)
# npm: the console's terminal (xterm.js) is installed from npm at build time (see "browser libraries").
command -v npm >/dev/null || missing+=(npm)
if [ "$profile" = all ]; then
  command -v chromium >/dev/null || command -v chromium-browser >/dev/null || missing+=(chromium)
  command -v wrk >/dev/null || missing+=(wrk)
  # iperf3: bench/network.py's throughput between namespaces (else it falls back to a Python sender).
  command -v iperf3 >/dev/null || missing+=(iperf3)
  # A Korean font, so the browser tests' screenshots show Hangul rather than empty boxes.
  have_pkg fonts-nanum || missing+=(fonts-nanum)
  # xmllint, which virt-xml-validate runs to check rendered domain XML against libvirt's schema.
  command -v xmllint >/dev/null || missing+=(libxml2-utils)
fi

if [ ${#missing[@]} -gt 0 ]; then
  if $check_only; then
    say "missing system packages: ${missing[*]}"
    exit 1
  fi
  if [ "$(id -u)" = 0 ]; then
    sudo=()
  elif command -v sudo >/dev/null; then
    sudo=(sudo)
  else
    die "need to install ${missing[*]} but I am not root and sudo is not installed; install them as root and run me again"
  fi
  command -v apt-get >/dev/null || die "apt-get not found: install ${missing[*]} by hand (this script knows Debian/Ubuntu)"
  apt=("${sudo[@]}" env DEBIAN_FRONTEND=noninteractive apt-get -o DPkg::Lock::Timeout=600 -y -q)
  say "installing system packages: ${missing[*]}"
  "${apt[@]}" update
  # Ubuntu calls Debian's chromium package chromium-browser.
  if [[ " ${missing[*]} " == *" chromium "* ]] && ! apt-cache show chromium >/dev/null 2>&1; then
    missing=("${missing[@]/#chromium/chromium-browser}")
  fi
  "${apt[@]}" install --no-install-recommends "${missing[@]}"
fi

# ---- Swift (object storage): PyPI's swift in a virtualenv of its own (.data/swift-venv) -------
if ! bash scripts/swift.sh installed; then
  if $check_only; then
    say "Swift is not installed yet (scripts/swift.sh install)"
    exit 1
  fi
  bash scripts/swift.sh install
fi

# ---- browser libraries: xterm.js for the mini PC terminal, from npm, served by the app ----------
# package.json + package-lock.json pin the versions; `npm ci` installs exactly those into node_modules/,
# and the files the console serves are copied to src/minicloud/static/vendor/ (both git-ignored; no CDN).
vendor=$root/src/minicloud/static/vendor
vendor_want=$(cat package.json package-lock.json | sha256sum | cut -d' ' -f1)
if [ "$(cat "$vendor/.minicloud-npm" 2>/dev/null)" != "$vendor_want" ]; then
  if $check_only; then
    say "the console's browser libraries are not installed yet (npm ci)"
    exit 1
  fi
  say "installing the console's browser libraries (npm ci: @xterm/xterm, @xterm/addon-fit)"
  npm ci --no-audit --no-fund --ignore-scripts --loglevel=error
  rm -rf "$vendor.new"
  mkdir -p "$vendor.new/xterm"
  cp node_modules/@xterm/xterm/lib/xterm.js node_modules/@xterm/xterm/css/xterm.css \
     node_modules/@xterm/addon-fit/lib/addon-fit.js "$vendor.new/xterm/"
  cp node_modules/@xterm/xterm/LICENSE "$vendor.new/xterm/LICENSE.xterm"
  cp node_modules/@xterm/addon-fit/LICENSE "$vendor.new/xterm/LICENSE.addon-fit" 2>/dev/null || true
  echo "$vendor_want" >"$vendor.new/.minicloud-npm"
  rm -rf "$vendor"
  mv "$vendor.new" "$vendor"
fi

# ---- Python ---------------------------------------------------------------------------------
check_python

venv=$root/.venv
stamp=$venv/.minicloud-deps
extras=$([ "$profile" = all ] && echo "[test]" || echo "")
want="$(sha256sum pyproject.toml | cut -d' ' -f1) $extras"

venv_ok() {
  [ -x "$venv/bin/python" ] && "$venv/bin/python" -c 'import sys; sys.exit(sys.version_info < (3, 11))' 2>/dev/null
}
stamp_ok() {
  [ -f "$stamp" ] || return 1
  local have
  have=$(cat "$stamp")
  # A venv with the test extra also serves the runtime profile.
  [ "$have" = "$want" ] || { [ -z "$extras" ] && [ "$have" = "${want}[test]" ]; }
}

if venv_ok && stamp_ok; then
  say "system packages and .venv are up to date"
  exit 0
fi
if $check_only; then
  say ".venv missing or older than pyproject.toml"
  exit 1
fi
if ! venv_ok; then
  say "creating .venv with $python ($("$python" -c 'import sys; print(sys.version.split()[0])'))"
  rm -rf "$venv"
  "$python" -m venv "$venv"
fi
say "installing minicloud${extras} into .venv (pyproject.toml changed or first run)"
rm -f "$stamp"
"$venv/bin/python" -m pip install --disable-pip-version-check -q -e ".${extras}"
echo "$want" >"$stamp"
say "done"
