#!/usr/bin/env bash
# Build the guest images minicloud's tests (and a laptop install) boot, offline, cached in images/.
#
#   scripts/build-test-image.sh tiny     Debian's cloud kernel + a busybox initramfs that reads the
#                                        NoCloud seed and reports it on the serial console (~10 s)
#   scripts/build-test-image.sh debian   Debian bookworm with cloud-init and openssh (debootstrap,
#                                        root only, ~2-3 min)
#   scripts/build-test-image.sh all      both (the default)
#   scripts/build-test-image.sh --force tiny   rebuild even when cached
#
# Each image goes into images/<name>/ with a manifest.json (paths relative to that folder):
#   {"name": "tiny", "disk": "disk.qcow2", "kernel": "vmlinuz", "initrd": "initrd.img",
#    "cmdline": "console=ttyS0 ...", "default_user": "...", "seed": {"device": "disk", "bus": "virtio"}, ...}
# An image is rebuilt only when it is missing or when the part of this script that builds it
# changed (its hash is stored in the manifest as "recipe"). A lock per image keeps two builds
# (say make run and make test) from racing; the second one waits and then finds the image cached.
# Only Debian's package mirror is needed (the one apt on this machine uses): no other internet.
#
# Environment: MINICLOUD_IMAGES_DIR (default images/), MINICLOUD_DEBIAN_MIRROR (default: the
# Debian mirror apt uses here, else http://deb.debian.org/debian).
set -euo pipefail
export LC_ALL=C.UTF-8 DEBIAN_FRONTEND=noninteractive

self=$(realpath "$0")
cd "$(dirname "$self")/.."
root=$PWD
images=$(realpath -m "${MINICLOUD_IMAGES_DIR:-$root/images}")

say() { echo "build-test-image: $*" >&2; }
die() { echo "build-test-image: error: $*" >&2; exit 1; }

force=false
if [ "${1:-}" = --force ]; then force=true; shift; fi
what=${1:-all}
case "$what" in tiny|debian) names=("$what") ;; all) names=(tiny debian) ;;
  *) echo "usage: scripts/build-test-image.sh [--force] [tiny|debian|all]" >&2; exit 2 ;; esac

# ---- tiny ---------------------------------------------------------------------------------------
# The seed: a block device holding an ISO 9660 filesystem labelled "cidata" (NoCloud). minicloud
# attaches it as a second virtio disk (<disk device='disk'> <target bus='virtio'/>), so no CD-ROM
# drivers are needed; an IDE CD-ROM (machine type pc) also works, SATA (q35) does not (no ahci in
# Debian's cloud kernel).
# no_timer_check: under TCG on a loaded host the kernel's check that the 8254 timer reaches the
# IO-APIC ("MP-BIOS bug: 8254 timer not connected to IO-APIC") can stall boot for minutes (seen with
# ten guests booting at once on two cores); virtual timers are known good, so skip the check.
TINY_CMDLINE="console=ttyS0 loglevel=4 panic=-1 no_timer_check"
TINY_MODULES="virtio_pci virtio_blk virtio_net virtio_balloon isofs button evdev ata_piix sr_mod"

tiny_init() {  # /init: PID 1 sets up the basics, then busybox init runs /etc/rc and a console shell
  cat <<'EOF'
#!/bin/busybox sh
/bin/busybox mkdir -p /proc /sys /dev /tmp /run /mnt/seed
/bin/busybox mount -t proc proc /proc
/bin/busybox mount -t sysfs sysfs /sys
/bin/busybox mount -t devtmpfs devtmpfs /dev
exec /bin/busybox init
EOF
}

tiny_inittab() {
  cat <<'EOF'
::sysinit:/etc/rc
ttyS0::respawn:-/bin/sh
::ctrlaltdel:/bin/reboot -f
::shutdown:/bin/sync
EOF
}

tiny_rc() {  # everything a test looks for is printed on the serial console by this script
  cat <<'EOF'
#!/bin/sh
export PATH=/bin:/sbin
out=/dev/console
say() { echo "$*" >"$out"; }
kver=$(uname -r)
while read -r mod; do insmod "/lib/modules/$kver/$mod" 2>/dev/null; done </etc/modules.order
ip link set lo up 2>/dev/null
hostname minicloud-tiny

# ACPI power button -> power off (virsh shutdown; virsh reboot = power button + reset by libvirt)
acpid -c /etc/acpi -l /tmp/acpid.log 2>/dev/null

# the NoCloud seed: a block device labelled cidata (vdb as a virtio disk, or an IDE CD-ROM).
# virtio disks exist as soon as virtio_blk is loaded; an IDE CD-ROM takes ~1 s: wait up to 3 s.
label_of() {  # the ISO 9660 volume id (bytes 40-71 of the primary volume descriptor at 32 KiB)
  dd if="$1" bs=2048 skip=16 count=1 2>/dev/null | dd bs=1 skip=40 count=32 2>/dev/null | tr -d ' \0'
}
seed=""
for _ in $(seq 30); do
  for dev in /sys/block/vd? /sys/block/sr?; do
    [ -r "$dev/size" ] && [ "$(cat "$dev/size")" != 0 ] || continue   # an empty CD-ROM tray
    [ "$(label_of "/dev/${dev##*/}")" = cidata ] && { seed=/dev/${dev##*/}; break 2; }
  done
  sleep 0.1
done

field() {  # field KEY FILE: the value of a top-level "key: value" line in meta-data
  sed -n "s/^$1:[[:space:]]*//p" "$2" | head -n 1 | tr -d "\"'\r"
}
if [ -n "$seed" ] && mount -t iso9660 -o ro "$seed" /mnt/seed 2>/dev/null; then
  id=$(field instance-id /mnt/seed/meta-data)
  host=$(field local-hostname /mnt/seed/meta-data)
  [ -n "$host" ] || host=$(field hostname /mnt/seed/meta-data)
  [ -n "$host" ] && hostname "$host"
  say "MINICLOUD-SEED instance-id=$id hostname=$host device=$seed"
  for f in meta-data user-data network-config; do
    [ -f "/mnt/seed/$f" ] || continue
    tag=$(echo "$f" | tr a-z A-Z)
    say "MINICLOUD-${tag}-BEGIN"
    # the seed as it is, but never a password (hash) on the console: the value of a passwd-like key goes
    sed -E 's/^([[:space:]-]*(hashed_passwd|plain_text_passwd|passwd|password)[[:space:]]*:).*/\1 ********/' \
      "/mnt/seed/$f" >"$out"
    say ""
    say "MINICLOUD-${tag}-END"
  done
else
  say "MINICLOUD-SEED none"
fi

# network: DHCP on the first NIC, in the background (TCG is slow; the lines above come first)
nic=$(ls /sys/class/net | grep -v '^lo$' | head -n 1)
if [ -n "$nic" ]; then
  ip link set "$nic" up
  udhcpc -b -S -i "$nic" -s /etc/udhcpc.script >/dev/null 2>&1
fi

cpus=$(grep -c ^processor /proc/cpuinfo)
mem=$(sed -n 's/^MemTotal:[[:space:]]*\([0-9]*\).*/\1/p' /proc/meminfo)
disk=0
[ -r /sys/block/vda/size ] && disk=$(( $(cat /sys/block/vda/size) * 512 ))
say "MINICLOUD-HW cpus=$cpus mem_kib=$mem disk_bytes=$disk"
say "MINICLOUD-READY hostname=$(hostname) uptime=$(cut -d' ' -f1 /proc/uptime)"
EOF
}

tiny_udhcpc() {
  cat <<'EOF'
#!/bin/sh
case "$1" in
  deconfig) ip addr flush dev "$interface" ;;
  bound|renew)
    ip addr flush dev "$interface"
    ip addr add "$ip/${mask:-24}" dev "$interface"
    [ -n "$router" ] && ip route add default via "${router%% *}" dev "$interface" 2>/dev/null
    echo "MINICLOUD-NET $interface ip=$ip" >/dev/console ;;
esac
exit 0
EOF
}

tiny_power() {  # busybox acpid runs /etc/acpi/PWRF/00000080 on the power button
  cat <<'EOF'
#!/bin/sh
printf "\nMINICLOUD-POWEROFF\n" >/dev/console
sync
poweroff -f
EOF
}

module_deps() {  # module_deps MODDIR REL: REL's dependencies (from modules.dep), deepest first, then REL
  local dir=$1 rel=$2 dep
  # shellcheck disable=SC2013  # modules.dep: "module: dep dep ..." -- words on one line
  for dep in $(sed -n "s|^$rel:||p" "$dir/modules.dep"); do
    module_deps "$dir" "$dep"
  done
  echo "$rel"
}

build_tiny() {  # build_tiny OUTDIR WORKDIR
  local out=$1 work=$2 meta kver deb mod rel moddir ird
  if ! command -v busybox >/dev/null || ! busybox --list | grep -x acpid >/dev/null; then
    die "busybox (busybox-static) missing: run scripts/install-deps.sh"
  fi
  # The kernel: Debian's cloud flavour (small, virtio built as modules), not installed on the host.
  meta=linux-image-cloud-amd64
  kver=$(apt-cache depends "$meta" 2>/dev/null | sed -n 's/^ *Depends: linux-image-\(.*-cloud-amd64\)$/\1/p' | head -n 1)
  [ -n "$kver" ] || die "apt does not know $meta (run apt-get update)"
  say "tiny: fetching linux-image-$kver (apt-get download)"
  (cd "$work" && apt-get -q -o APT::Sandbox::User="$(id -un)" download "linux-image-$kver" >/dev/null)
  deb=$(ls "$work"/linux-image-"$kver"_*.deb)
  dpkg-deb -x "$deb" "$work/kernel"
  cp "$work/kernel/boot/vmlinuz-$kver" "$out/vmlinuz"

  # The initramfs: busybox, a few modules (with their dependencies, in load order), /init.
  ird=$work/initrd
  moddir=$work/kernel/lib/modules/$kver
  busybox depmod -b "$work/kernel" "$kver"
  mkdir -p "$ird"/{bin,sbin,etc/acpi/PWRF,proc,sys,dev,tmp,run,mnt/seed,lib/modules/"$kver"}
  cp "$(command -v busybox)" "$ird/bin/busybox"
  for applet in $(busybox --list); do
    [ "$applet" = busybox ] || ln -sf busybox "$ird/bin/$applet"
  done
  : >"$ird/etc/modules.order"
  for mod in $TINY_MODULES; do
    rel=$(cd "$moddir" && find kernel -name "$mod.ko" | head -n 1)
    [ -n "$rel" ] || die "module $mod not found in linux-image-$kver"
    module_deps "$moddir" "$rel" >>"$ird/etc/modules.order"
  done
  awk '!seen[$0]++' "$ird/etc/modules.order" >"$work/order" && mv "$work/order" "$ird/etc/modules.order"
  while read -r rel; do
    mkdir -p "$ird/lib/modules/$kver/$(dirname "$rel")"
    cp "$moddir/$rel" "$ird/lib/modules/$kver/$rel"
  done <"$ird/etc/modules.order"
  tiny_init >"$ird/init"
  tiny_inittab >"$ird/etc/inittab"
  tiny_rc >"$ird/etc/rc"
  tiny_udhcpc >"$ird/etc/udhcpc.script"
  tiny_power >"$ird/etc/acpi/PWRF/00000080"
  chmod 755 "$ird/init" "$ird/etc/rc" "$ird/etc/udhcpc.script" "$ird/etc/acpi/PWRF/00000080"
  echo "root:x:0:0:root:/root:/bin/sh" >"$ird/etc/passwd"
  echo "root:x:0:" >"$ird/etc/group"
  (cd "$ird" && find . | LC_ALL=C sort | cpio -o -H newc --quiet -R 0:0 | gzip -9) >"$out/initrd.img"

  # The disk: small and empty (the guest runs from the initramfs; the overlay gives it its size).
  qemu-img create -q -f qcow2 "$out/disk.qcow2" 64M
  write_manifest "$out" tiny "$TINY_CMDLINE" root "tiny busybox initramfs, Debian kernel $kver" "$kver"
}

# ---- debian -------------------------------------------------------------------------------------
DEBIAN_SUITE=bookworm
DEBIAN_CMDLINE="root=/dev/vda rw console=ttyS0 no_timer_check"  # see TINY_CMDLINE
DEBIAN_PACKAGES=systemd-sysv,udev,dbus,cloud-init,python3-cffi-backend,openssh-server,linux-image-cloud-amd64,ifupdown,isc-dhcp-client,sudo,iproute2,netbase,locales,qemu-guest-agent
DEBIAN_USER=debian

debian_mirror() {  # the Debian mirror apt on this machine uses for the suite (the only one reachable)
  if [ -n "${MINICLOUD_DEBIAN_MIRROR:-}" ]; then echo "$MINICLOUD_DEBIAN_MIRROR"; return; fi
  local m
  # shellcheck disable=SC2016  # $(...) is apt's own format syntax
  m=$(apt-get indextargets --format '$(REPO_URI) $(RELEASE) $(ORIGIN)' 'Identifier: Packages' 2>/dev/null \
      | awk -v s="$DEBIAN_SUITE" '$2 == s && $3 == "Debian" {print $1; exit}')
  echo "${m:-http://deb.debian.org/debian/}"
}

debian_cloud_cfg() {
  cat <<EOF
# minicloud: NoCloud seed only (a block device labelled cidata), no network metadata probing.
datasource_list: [NoCloud, None]
locale: C.UTF-8
# RSA/DSA host keys take ~25 s to generate under TCG: ed25519 and ecdsa only (sshd_config.d matches)
ssh_genkeytypes: [ed25519, ecdsa]
# /etc/hosts names the instance's hostname (else sudo complains it cannot resolve it)
manage_etc_hosts: true
system_info:
  default_user:
    name: $DEBIAN_USER
    lock_passwd: true
    gecos: Debian
    groups: [adm, sudo]
    sudo: ["ALL=(ALL) NOPASSWD:ALL"]
    shell: /bin/bash
EOF
}

build_debian() {  # build_debian OUTDIR WORKDIR
  local out=$1 work=$2 rootfs mirror kver started
  [ "$(id -u)" = 0 ] || die "the debian image needs root (debootstrap)"
  command -v debootstrap >/dev/null || die "debootstrap missing: run scripts/install-deps.sh"
  rootfs=$work/rootfs
  mirror=$(debian_mirror)
  started=$SECONDS
  say "debian: debootstrap $DEBIAN_SUITE from $mirror (about 90 s)"
  if ! debootstrap --variant=minbase --include="$DEBIAN_PACKAGES" "$DEBIAN_SUITE" "$rootfs" "$mirror" \
       >"$work/debootstrap.log" 2>&1; then
    tail -n 30 "$work/debootstrap.log" >&2
    [ -f "$rootfs/debootstrap/debootstrap.log" ] && tail -n 30 "$rootfs/debootstrap/debootstrap.log" >&2
    die "debootstrap failed (log above)"
  fi
  say "debian: debootstrap took $((SECONDS - started)) s; configuring"

  echo "LANG=C.UTF-8" >"$rootfs/etc/default/locale"
  debian_cloud_cfg >"$rootfs/etc/cloud/cloud.cfg.d/90_minicloud.cfg"
  printf '/dev/vda\t/\text4\tdefaults,errors=remount-ro\t0\t1\n' >"$rootfs/etc/fstab"
  echo "localhost" >"$rootfs/etc/hostname"   # cloud-init sets the real one from the seed
  printf '127.0.0.1\tlocalhost\n::1\t\tlocalhost ip6-localhost ip6-loopback\n' >"$rootfs/etc/hosts"
  # network: cloud-init writes /etc/network/interfaces.d/50-cloud-init (ifupdown)
  if ! grep -qs 'interfaces.d' "$rootfs/etc/network/interfaces"; then
    printf 'source /etc/network/interfaces.d/*\n\nauto lo\niface lo inet loopback\n' >"$rootfs/etc/network/interfaces"
  fi
  # a login prompt on the serial console
  mkdir -p "$rootfs/etc/systemd/system/getty.target.wants"
  ln -sf /lib/systemd/system/serial-getty@.service \
    "$rootfs/etc/systemd/system/getty.target.wants/serial-getty@ttyS0.service"
  # every guest gets its own identity: no shared SSH host keys or machine-id
  rm -f "$rootfs"/etc/ssh/ssh_host_*
  printf 'HostKey /etc/ssh/ssh_host_ed25519_key\nHostKey /etc/ssh/ssh_host_ecdsa_key\n' \
    >"$rootfs/etc/ssh/sshd_config.d/10-minicloud-hostkeys.conf"
  : >"$rootfs/etc/machine-id"
  rm -f "$rootfs/var/lib/dbus/machine-id"
  # smaller image
  rm -rf "$rootfs"/var/cache/apt/archives/*.deb "$rootfs"/var/lib/apt/lists/* "$rootfs/debootstrap"

  kver=$(find "$rootfs/boot" -name 'vmlinuz-*' -printf '%f\n' | sed 's/^vmlinuz-//' | sort -V | tail -n 1)
  cp "$rootfs/boot/vmlinuz-$kver" "$out/vmlinuz"
  cp "$rootfs/boot/initrd.img-$kver" "$out/initrd.img"

  say "debian: mkfs.ext4 -d (2 GiB) and qemu-img convert"
  mkfs.ext4 -q -F -L mc-root -d "$rootfs" "$work/disk.raw" 2G
  qemu-img convert -O qcow2 "$work/disk.raw" "$out/disk.qcow2"
  rm -f "$work/disk.raw"
  write_manifest "$out" debian "$DEBIAN_CMDLINE" "$DEBIAN_USER" "Debian $DEBIAN_SUITE with cloud-init and openssh, kernel $kver" "$kver"
}

# ---- common -------------------------------------------------------------------------------------
recipe() {  # recipe NAME: hash of the code that builds image NAME (its functions and settings)
  case "$1" in
    tiny) { declare -f build_tiny tiny_init tiny_inittab tiny_rc tiny_udhcpc tiny_power module_deps write_manifest
            echo "$TINY_CMDLINE $TINY_MODULES"; } ;;
    debian) { declare -f build_debian debian_cloud_cfg debian_mirror write_manifest
              echo "$DEBIAN_SUITE $DEBIAN_CMDLINE $DEBIAN_PACKAGES $DEBIAN_USER"; } ;;
  esac | sha256sum | cut -c1-16
}

write_manifest() {  # write_manifest DIR NAME CMDLINE USER DESCRIPTION KERNEL_VERSION
  python3 - "$@" "$(recipe "$2")" <<'EOF'
import json, sys, time
out, name, cmdline, user, description, kver, recipe = sys.argv[1:8]
manifest = {
    "name": name,
    "description": description,
    "disk": "disk.qcow2",
    "kernel": "vmlinuz",
    "initrd": "initrd.img",
    "cmdline": cmdline,
    "default_user": user,
    "seed": {"device": "disk", "bus": "virtio", "format": "raw", "label": "cidata"},
    "kernel_version": kver,
    "recipe": recipe,
    "built_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
}
with open(f"{out}/manifest.json", "w") as f:
    json.dump(manifest, f, indent=2)
    f.write("\n")
EOF
}

cached() {  # cached NAME: images/NAME is complete and built by the current recipe
  local dir=$images/$1
  [ -f "$dir/manifest.json" ] && [ -f "$dir/disk.qcow2" ] && [ -f "$dir/vmlinuz" ] && [ -f "$dir/initrd.img" ] \
    && [ "$(python3 -c 'import json, sys; print(json.load(open(sys.argv[1])).get("recipe", ""))' "$dir/manifest.json")" = "$(recipe "$1")" ]
}

build() {  # build NAME: into a fresh folder, then swapped into place
  local name=$1 dir=$images/$1 work out started
  mkdir -p "$images"
  exec 8>"$images/.$name.lock"
  if ! flock -n 8; then
    say "$name: another build is running; waiting for it"
    flock 8
  fi
  if ! $force && cached "$name"; then
    say "$name: up to date ($dir)"
    return 0
  fi
  started=$SECONDS
  rm -rf "$images/.$name.work."*   # left by a build that was killed (we hold the lock)
  work=$(mktemp -d "$images/.$name.work.XXXXXX")
  # shellcheck disable=SC2064  # expand now: the trap must remove this very folder
  trap "rm -rf '$work'" EXIT
  out=$work/out
  mkdir -p "$out"
  "build_$name" "$out" "$work"
  rm -rf "$dir.old"
  [ -e "$dir" ] && mv "$dir" "$dir.old"
  mv "$out" "$dir"
  rm -rf "$dir.old" "$work"
  trap - EXIT
  exec 8>&-
  say "$name: built in $((SECONDS - started)) s -> $dir/manifest.json"
}

for name in "${names[@]}"; do
  build "$name"
done
