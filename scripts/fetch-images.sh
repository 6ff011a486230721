#!/usr/bin/env bash
# Download ready-made cloud images for machines with the internet (the lab), verified against the
# publisher's checksums, into images/<name>/ with a manifest.json like the built test images.
#
#   scripts/fetch-images.sh            Ubuntu 22.04 LTS (jammy) server cloud image, ~650 MB
#   scripts/fetch-images.sh --force    download again even when the cached copy matches SHA256SUMS
#
# The image boots from its own disk (BIOS + GRUB, console on ttyS0 too), so the manifest has no
# kernel/initrd/cmdline. cloud-init's NoCloud datasource reads the seed minicloud attaches (a virtio
# disk with an ISO 9660 filesystem labelled cidata). The default user is "ubuntu".
#
# Environment: MINICLOUD_IMAGES_DIR (default images/),
#   MINICLOUD_UBUNTU_URL (default https://cloud-images.ubuntu.com/jammy/current), for a local mirror.
set -euo pipefail

self=$(realpath "$0")
cd "$(dirname "$self")/.."
images=$(realpath -m "${MINICLOUD_IMAGES_DIR:-$PWD/images}")
base_url=${MINICLOUD_UBUNTU_URL:-https://cloud-images.ubuntu.com/jammy/current}
file=jammy-server-cloudimg-amd64.img
name=ubuntu-22.04

say() { echo "fetch-images: $*" >&2; }
die() { echo "fetch-images: error: $*" >&2; exit 1; }

force=false
[ "${1:-}" = --force ] && force=true

download() {  # download URL FILE [resume]: progress only on a terminal
  local quiet=() resume=()
  if command -v curl >/dev/null; then
    [ -t 2 ] || quiet=(-sS)
    [ "${3:-}" = resume ] && resume=(-C -)
    curl -fL --retry 3 --connect-timeout 20 "${resume[@]}" "${quiet[@]}" -o "$2" "$1"
  elif command -v wget >/dev/null; then
    [ -t 2 ] || quiet=(-nv)
    [ "${3:-}" = resume ] && resume=(-c)
    wget "${resume[@]}" "${quiet[@]}" -O "$2" "$1"
  else
    die "neither curl nor wget is installed (apt-get install curl)"
  fi
}

dir=$images/$name
mkdir -p "$dir"
exec 9>"$images/.$name.lock"
flock 9

say "checksums: $base_url/SHA256SUMS"
rm -f "$dir/SHA256SUMS.new"
download "$base_url/SHA256SUMS" "$dir/SHA256SUMS.new" || die "cannot download $base_url/SHA256SUMS (no internet?)"
want=$(awk -v f="$file" '$2 == f || $2 == "*" f {print $1}' "$dir/SHA256SUMS.new")
[ -n "$want" ] || die "$file is not listed in $base_url/SHA256SUMS"

if ! $force && [ -f "$dir/disk.qcow2" ] && [ -f "$dir/manifest.json" ] \
   && [ "$(cat "$dir/disk.sha256" 2>/dev/null)" = "$want" ]; then
  rm -f "$dir/SHA256SUMS.new"
  say "$name is up to date ($dir)"
  exit 0
fi

say "downloading $base_url/$file"
download "$base_url/$file" "$dir/$file.part" resume || die "download of $base_url/$file failed"
have=$(sha256sum "$dir/$file.part" | cut -d' ' -f1)
if [ "$have" != "$want" ]; then
  rm -f "$dir/$file.part"
  die "checksum mismatch for $file: expected $want, got $have (deleted; run again)"
fi
say "checksum ok ($want)"
format=$(qemu-img info --output=json "$dir/$file.part" | python3 -c 'import json, sys; print(json.load(sys.stdin)["format"])')
[ "$format" = qcow2 ] || die "$file is $format, expected qcow2"

mv "$dir/$file.part" "$dir/disk.qcow2"
mv "$dir/SHA256SUMS.new" "$dir/SHA256SUMS"
echo "$want" >"$dir/disk.sha256"
python3 - "$dir" "$name" "$base_url/$file" "$want" <<'EOF'
import json, sys, time
out, name, url, sha = sys.argv[1:5]
manifest = {
    "name": name,
    "description": "Ubuntu 22.04 LTS server cloud image (boots from its disk)",
    "disk": "disk.qcow2",
    "kernel": None,
    "initrd": None,
    "cmdline": None,
    "default_user": "ubuntu",
    "seed": {"device": "disk", "bus": "virtio", "format": "raw", "label": "cidata"},
    "source": url,
    "sha256": sha,
    "built_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
}
with open(f"{out}/manifest.json", "w") as f:
    json.dump(manifest, f, indent=2)
    f.write("\n")
EOF
say "$name ready: $dir/manifest.json"
