#!/usr/bin/env bash
# Builds the tiny test guest from Debian packages.
#
# Usage: build-guest.sh OUTDIR
#
# Writes
#   OUTDIR/vmlinuz     the kernel of the Debian cloud kernel package, as shipped
#   OUTDIR/initrd.img  gzip'd newc cpio: busybox (busybox-static), the virtio
#                      modules of that same kernel, /init (testbed/guest/init)
#                      and /bin/tvd-guest-attest (guest-agent/, compiled here
#                      with g++ -static: the vTPM quote tool and agent,
#                      docs/vtpm.md)
#   OUTDIR/disk.img    a 4 MiB raw disk with a fixed label, so a VM's disk
#                      measure covers a real file
#   OUTDIR/SHA256SUMS  sha256 of the three, the values a TVD policy lists
#   OUTDIR/inputs      the package versions and input digests they came from
#
# Reproducible: the same packages and the same init give byte-identical
# outputs (files sorted, owner 0:0, every mtime 0, cpio --reproducible,
# gzip -n). Idempotent: when OUTDIR/inputs already matches the inputs and the
# outputs are there, nothing is rebuilt. Concurrent runs on one OUTDIR are
# serialized by a lock (both build flavours' tests share one cache).
#
# Packages: the kernel package linux-image-cloud-amd64 points to (override
# with TVD_GUEST_KERNEL_PKG=NAME) and busybox-static, the candidate versions
# apt knows, fetched with `apt-get download` into OUTDIR/debs (kept as a
# cache; a .deb already there is not fetched again). Nothing is installed on
# the machine. Needs dpkg-deb, apt-get, cpio, gzip, sha256sum, modinfo, g++
# (with static libstdc++ and glibc, as Debian's g++ and libc6-dev ship).
#
# Exit status 0 on success; 1 with a message on stderr otherwise (the
# previous outputs, if any, are left as they were).
set -euo pipefail

die() { echo "build-guest: $*" >&2; exit 1; }

(($# == 1)) || { echo "usage: build-guest.sh OUTDIR" >&2; exit 2; }
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
mkdir -p "$1" || die "cannot create $1"
out=$(cd "$1" && pwd)
for tool in dpkg-deb apt-get apt-cache cpio gzip sha256sum modinfo flock g++; do
  command -v "$tool" >/dev/null || die "$tool not found (scripts/install-deps.sh installs it)"
done

exec 9>"$out/.lock"
flock 9

# The modules init loads, in this order; their dependencies are added before
# them. virtio_pci finds the devices, virtio_net is eth0 (it needs
# net_failover and failover), virtio_blk makes the disk visible as /dev/vda,
# virtio_console gives the virtio-serial ports (the attestation agent's
# org.tvd.attest.0), tpm_crb the vTPM as /dev/tpm0 and /dev/tpmrm0 (built
# into the Debian cloud kernel, so nothing is added for it there).
wanted_modules=(virtio_pci virtio_net virtio_blk virtio_console tpm_crb)

# The guest attestation tool: these sources (tvd_tpm_wire, tvd_guest_agent
# and what they use of tvd_common; the same list as their CMake targets)
# compiled statically, with the source path mapped away so the binary does
# not depend on where the checkout is.
src_root=$(cd "$here/../.." && pwd)
attest_sources=(
  common/src/status.cc
  common/src/hex.cc
  common/attest/src/tpm_wire.cc
  common/attest/src/guest_quote.cc
  guest-agent/src/vtpm_client.cc
  guest-agent/src/agent.cc
  guest-agent/main.cc
)
attest_headers=$(cd "$src_root" && find common/include common/attest/include \
  guest-agent/include -name '*.h' | LC_ALL=C sort)
attest_digest=$(cd "$src_root" &&
  cat "${attest_sources[@]}" $attest_headers | sha256sum | cut -d' ' -f1)
gxx_version=$(g++ --version | head -n1)

# Resolves a package name to "NAME VERSION" (apt's candidate).
candidate() {
  local v
  v=$(apt-cache policy "$1" 2>/dev/null | awk '/Candidate:/ {print $2}')
  [[ -n $v && $v != "(none)" ]] ||
    die "no candidate version of package $1 (run apt-get update?)"
  echo "$1 $v"
}

kernel_pkg=${TVD_GUEST_KERNEL_PKG:-}
if [[ -z $kernel_pkg ]]; then
  kernel_pkg=$(apt-cache depends linux-image-cloud-amd64 2>/dev/null |
    awk '$1 == "Depends:" && $2 ~ /^linux-image-/ {print $2; exit}')
  [[ -n $kernel_pkg ]] ||
    die "cannot resolve linux-image-cloud-amd64 to a kernel package (run apt-get update?)"
fi
read -r _ kernel_ver < <(candidate "$kernel_pkg")
read -r _ busybox_ver < <(candidate busybox-static)

# Fetches NAME=VERSION into OUTDIR/debs unless it is there; prints its path.
fetch_deb() {
  local name=$1 ver=$2 file
  mkdir -p "$out/debs"
  # apt writes the epoch's colon as %3a in file names.
  file="$out/debs/${name}_${ver//:/%3a}_amd64.deb"
  if [[ ! -s $file ]]; then
    (cd "$out/debs" && apt-get download -q "$name=$ver" >&2) ||
      die "apt-get download $name=$ver failed"
    [[ -s $file ]] || die "apt-get download $name=$ver did not give $file"
  fi
  echo "$file"
}
kernel_deb=$(fetch_deb "$kernel_pkg" "$kernel_ver")
busybox_deb=$(fetch_deb busybox-static "$busybox_ver")

inputs=$(
  echo "kernel-package $kernel_pkg $kernel_ver $(sha256sum <"$kernel_deb" | cut -d' ' -f1)"
  echo "busybox-package busybox-static $busybox_ver $(sha256sum <"$busybox_deb" | cut -d' ' -f1)"
  echo "init $(sha256sum <"$here/init" | cut -d' ' -f1)"
  echo "guest-attest $attest_digest $gxx_version"
  echo "builder $(sha256sum <"${BASH_SOURCE[0]}" | cut -d' ' -f1)"
  echo "modules ${wanted_modules[*]}"
)
if [[ -f $out/inputs && $(cat "$out/inputs") == "$inputs" &&
      -s $out/vmlinuz && -s $out/initrd.img && -s $out/disk.img &&
      -s $out/SHA256SUMS ]] &&
   (cd "$out" && sha256sum --quiet -c SHA256SUMS); then
  echo "build-guest: $out is up to date" >&2
  exit 0
fi

work=$(mktemp -d "$out/.work.XXXXXX")
trap 'rm -rf "$work"' EXIT

dpkg-deb -x "$kernel_deb" "$work/kernel"
dpkg-deb -x "$busybox_deb" "$work/busybox"
vmlinuz=$(find "$work/kernel/boot" -maxdepth 1 -name 'vmlinuz-*' | head -n1)
[[ -n $vmlinuz ]] || die "$kernel_deb has no /boot/vmlinuz-*"
kver=${vmlinuz##*/vmlinuz-}
moddir="$work/kernel/lib/modules/$kver"
[[ -d $moddir ]] || die "$kernel_deb has no /lib/modules/$kver"

# Module name -> file (names use _ where file names may use -).
declare -A modfile=()
while IFS= read -r f; do
  name=${f##*/}
  name=${name%%.ko*}
  modfile[${name//-/_}]=$f
done < <(find "$moddir/kernel" -name '*.ko*' | LC_ALL=C sort)

# Depth-first: dependencies before the module; each once.
declare -A placed=()
load_order=()
place() {
  local m=${1//-/_} dep deps
  [[ -n ${placed[$m]:-} ]] && return 0
  placed[$m]=1
  if grep -qE "/${m//_/[_-]}\.ko" "$moddir/modules.builtin" 2>/dev/null; then
    return 0  # built into this kernel
  fi
  [[ -n ${modfile[$m]:-} ]] || die "module $m not found in $kernel_deb"
  deps=$(modinfo -F depends "${modfile[$m]}")
  for dep in ${deps//,/ }; do place "$dep"; done
  load_order+=("$m")
}
for m in "${wanted_modules[@]}"; do place "$m"; done

root="$work/root"
mkdir -p "$root"/{bin,sbin,usr/bin,usr/sbin,dev,etc,proc,sys,tmp,root,lib/modules}
install -m 0755 "$work/busybox/bin/busybox" "$root/bin/busybox"
install -m 0755 "$here/init" "$root/init"
(cd "$src_root" &&
  g++ -std=c++20 -O2 -DNDEBUG -static -s -ffile-prefix-map="$src_root"=. \
    -Icommon/include -Icommon/attest/include -Iguest-agent/include \
    "${attest_sources[@]}" -o "$work/tvd-guest-attest") ||
  die "cannot compile tvd-guest-attest"
install -m 0755 "$work/tvd-guest-attest" "$root/bin/tvd-guest-attest"
: >"$root/etc/modules"
for m in "${load_order[@]}"; do
  f=${modfile[$m]}
  case $f in
    *.ko) install -m 0644 "$f" "$root/lib/modules/$m.ko" ;;
    *.ko.xz) xz -dc "$f" >"$root/lib/modules/$m.ko" ;;
    *.ko.zst) zstd -qdc "$f" >"$root/lib/modules/$m.ko" ;;
    *) die "unsupported module file $f" ;;
  esac
  chmod 0644 "$root/lib/modules/$m.ko"
  echo "$m" >>"$root/etc/modules"
done
echo "$kver" >"$root/etc/tvd-guest-kernel"
chmod 0755 "$root"/{bin,sbin,usr,usr/bin,usr/sbin,dev,etc,proc,sys,root,lib,lib/modules}
chmod 1777 "$root/tmp"
chmod 0644 "$root"/etc/*
find "$root" -exec touch -h -d @0 {} +
(cd "$root" && find . -print0 | LC_ALL=C sort -z |
  cpio --quiet --null -o -H newc -R 0:0 --reproducible) |
  gzip -9 -n >"$work/initrd.img"

install -m 0644 "$vmlinuz" "$work/vmlinuz"

# A raw disk: zeros with a fixed label in its first sector.
truncate -s 4M "$work/disk.img"
printf 'TVD test guest data disk, format 1\n' |
  dd of="$work/disk.img" conv=notrunc status=none
chmod 0644 "$work/disk.img"

(cd "$work" && sha256sum vmlinuz initrd.img disk.img >SHA256SUMS)
# No stamp while the outputs are being replaced.
rm -f "$out/inputs"
for f in vmlinuz initrd.img disk.img SHA256SUMS; do
  mv -f "$work/$f" "$out/$f"
done
printf '%s\n' "$inputs" >"$out/inputs"
echo "build-guest: built $out (kernel $kver, modules ${load_order[*]})" >&2
