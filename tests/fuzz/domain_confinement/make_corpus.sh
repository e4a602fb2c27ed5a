#!/usr/bin/env bash
# Regenerates the virt-install part of corpus/ (virt-install-*.xml): what
# `virt-install --print-xml` writes for ordinary guests of TVD "blue" (disks
# in /var/lib/tvd/blue, NICs on blue-data/blue-mgmt), against libvirt's test
# driver so that no host is needed. Needs virtinst.
# The test driver's output is made into what a tenant of a KVM host sends
# (domain type kvm, the host's emulator, the pinned qcow2 format). The other
# seeds (kvm-virt-*.xml: real virt-install/virt-manager output for a QEMU/KVM
# host: tests/fuzz/domain_xml/corpus/virt_* without their leading selector
# byte; other kvm-*.xml: virt-manager style KVM documents; hostile-*.xml:
# attacks; regression-*.xml: inputs the fuzzer found) are written by hand.
set -euo pipefail
out=$(cd "$(dirname "$0")" && pwd)/corpus
mkdir -p "$out"
s=/var/lib/tvd/blue
vi() {  # vi NAME virt-install-args...
  local name=$1
  shift
  # --check disk_size=off,path_in_use=off: the disks do not exist here.
  virt-install --connect test:///default --print-xml --noautoconsole \
    --check disk_size=off,path_in_use=off --name "$name" "$@" \
    | sed -e 's/network="default"/network="blue-data"/' \
      -e 's|<domain type="test">|<domain type="kvm">|' \
      -e 's|<emulator>/usr/bin/test-hv</emulator>|<emulator>/usr/bin/qemu-system-x86_64</emulator>|' \
      -e 's|<disk type="file" device="disk">|&<driver name="qemu" type="qcow2"/>|' \
    >"$out/virt-install-$name.xml"
}
vi basic --memory 1024 --vcpus 2 --osinfo debian11 --import \
  --disk path=$s/basic.qcow2,format=qcow2,size=1 --network network=blue-data
vi two-nics-two-disks --memory 2048 --vcpus 4 --osinfo debian11 --import \
  --disk path=$s/a.qcow2,format=qcow2,size=1,bus=virtio \
  --disk path=$s/b.img,format=raw,size=1,bus=virtio \
  --network network=blue-data,model=virtio --network network=blue-mgmt,model=virtio
vi cdrom-install --memory 1024 --osinfo debian11 \
  --import --boot cdrom,hd --disk path=$s/debian-11.iso,device=cdrom,size=1 --disk path=$s/inst.qcow2,format=qcow2,size=1 \
  --network network=blue-data
vi headless --memory 512 --osinfo debian11 --import --graphics none \
  --console pty,target_type=serial --disk path=$s/h.qcow2,format=qcow2,size=1 \
  --network network=blue-data --rng /dev/urandom --channel unix,target_type=virtio,name=org.qemu.guest_agent.0
vi vnc-tablet --memory 1024 --osinfo debian11 --import --graphics vnc \
  --input tablet --video virtio --disk path=$s/v.qcow2,format=qcow2,size=1 \
  --network network=blue-data --memballoon virtio
vi direct-kernel --memory 1024 --osinfo debian11 --import \
  --boot kernel=$s/vmlinuz,initrd=$s/initrd.img,kernel_args="console=ttyS0" \
  --disk path=$s/k.qcow2,format=qcow2,size=1 --network network=blue-data
vi tpm-emulator --memory 1024 --osinfo debian11 --import \
  --tpm emulator,model=tpm-crb --disk path=$s/t.qcow2,format=qcow2,size=1 \
  --network network=blue-data
vi ethernet --memory 1024 --osinfo debian11 --import \
  --disk path=$s/e.qcow2,format=qcow2,size=1 --network type=ethernet
