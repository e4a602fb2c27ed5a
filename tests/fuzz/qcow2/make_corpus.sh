#!/usr/bin/env bash
# Regenerates corpus/: the first 1 KiB (header, extensions and backing name
# live there) of images made with qemu-img in their usual variants. Needs
# qemu-utils. Usage: tests/fuzz/qcow2/make_corpus.sh
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
cd "$work"
img() {  # img NAME qemu-img-create-args...
  local name=$1
  shift
  qemu-img create -q -f qcow2 "$@" "$name.qcow2" 1M
  head -c 1024 "$name.qcow2" >"$here/corpus/$name"
}
mkdir -p "$here/corpus"
img plain-v3
img plain-v2 -o compat=0.10
img backing-qcow2 -u -b base.qcow2 -F qcow2
img backing-raw-absolute -u -b /var/lib/tvd/blue/base.img -F raw
img backing-v2 -o compat=0.10 -u -b base.qcow2 -F qcow2
img backing-outside -u -b ../../../etc/shadow -F raw
img backing-nbd -u -b nbd:127.0.0.1:10809 -F raw
img backing-json -u -b 'json:{"file.driver":"file","file.filename":"/etc/shadow"}' -F raw
img data-file -o data_file=data.raw
img data-file-raw -o data_file=data2.raw,data_file_raw=on
img extended-l2 -o extended_l2=on,cluster_size=16384
img zstd -o compression_type=zstd
img cluster-512 -o cluster_size=512 -u -b base.qcow2 -F qcow2
img cluster-2m -o cluster_size=2M
img lazy-refcounts -o lazy_refcounts=on,refcount_bits=64
img luks -o encrypt.format=luks,encrypt.key-secret=sec0 \
  --object secret,id=sec0,data=fuzzseed
qemu-img create -q -f qcow2 bitmaps.qcow2 1M
qemu-img bitmap --add bitmaps.qcow2 b0
head -c 1024 bitmaps.qcow2 >"$here/corpus/bitmaps"
