#!/usr/bin/env bash
# Regenerates the domain XML fixtures of domain_xml_test.cc with the real
# virt-install (Debian virtinst, the library virt-manager's "New VM" wizard
# uses too). Run as root (it needs a private mount namespace):
#   tests/unit/libvirt_filter/data/make_fixtures.sh
#
# How: virt-install must see a QEMU/KVM host to produce what a tenant's
# virt-install or virt-manager sends through the relay (qemu:///system).
# The host's real capabilities and domain capabilities are read from the
# embedded QEMU driver (qemu:///embed, no daemon), then virt-install runs on
# virtinst's own "magic" test URI that advertises qemu:///system with those
# capabilities. The disk paths exist only in a private tmpfs over /var/lib
# (virt-install checks that the ISO exists), so nothing on the host changes.
set -euo pipefail

out=$(cd "$(dirname "$0")" && pwd)
work=$(mktemp -d /tmp/tvd-virtinst-XXXXXX)
trap 'rm -rf "$work"' EXIT
mkdir -p "$work/embed"

/usr/bin/python3 - "$work" <<'PY'
import sys, threading
import libvirt
libvirt.virEventRegisterDefaultImpl()
threading.Thread(target=lambda: [libvirt.virEventRunDefaultImpl()
                                 for _ in iter(int, 1)], daemon=True).start()
work = sys.argv[1]
c = libvirt.open("qemu:///embed?root=%s/embed" % work)
open(work + "/caps.xml", "w").write(c.getCapabilities())
open(work + "/domcaps.xml", "w").write(
    c.getDomainCapabilities(None, "x86_64", None, "kvm"))
PY

uri="__virtinst_test__test:///default,fakeuri=qemu:///system,caps=$work/caps.xml,domcaps=$work/domcaps.xml,predictable"
cp /var/lib/usbutils/usb.ids "$work/usb.ids"

# virt-install [ARGS...] > FILE inside a private /var/lib.
run() {
  local file=$1
  shift
  unshare -m /bin/sh -s -- "$work" "$uri" "$@" >"$out/$file" <<'SH'
set -e
work=$1; uri=$2; shift 2
mount --make-rprivate /
mount -t tmpfs tvd-fixtures /var/lib
mkdir -p /var/lib/usbutils /var/lib/tvd/blue
cp "$work/usb.ids" /var/lib/usbutils/usb.ids
truncate -s 10M /var/lib/tvd/blue/debian-12.iso
exec /usr/bin/python3 /usr/bin/virt-install --connect "$uri" --print-xml "$@"
SH
  echo "wrote $out/$file"
}

# An ordinary guest, no graphics (serial console only), OS detection off.
run virt_install_console.xml \
  --name blue-web --memory 2048 --vcpus 2 \
  --disk path=/var/lib/tvd/blue/web.qcow2,size=8,format=qcow2 \
  --cdrom /var/lib/tvd/blue/debian-12.iso \
  --network network=blue-data --graphics none \
  --osinfo detect=on,require=off

# The same with a VNC console on loopback and a concrete OS variant.
run virt_install_vnc.xml \
  --name blue-db --memory 4096 --vcpus 4 \
  --disk path=/var/lib/tvd/blue/db.qcow2,size=20,format=qcow2 \
  --disk path=/var/lib/tvd/blue/db-data.qcow2,size=50,format=qcow2 \
  --cdrom /var/lib/tvd/blue/debian-12.iso \
  --network network=blue-data --graphics vnc,listen=127.0.0.1 \
  --os-variant debian11

# What virt-manager's "New VM" wizard defines for "Local install media",
# Debian 11 (the newest Debian in the osinfo-db on Debian 12), 2 GiB / 2 vCPUs, "Create a disk image" (qcow2) in the TVD
# storage, network blue-data: the wizard sets no graphics/video/sound/
# channel options of its own, so virtinst adds its defaults for the OS
# (SPICE graphics with spicevmc channel and USB redirection, QXL or virtio
# video, ich9 sound, qemu-guest-agent channel, tablet, rng). The graphics
# listen address is loopback: the TVD host allows consoles on loopback only.
run virt_manager_new_vm.xml \
  --name blue-desktop --memory 2048 --vcpus 2 \
  --disk path=/var/lib/tvd/blue/desktop.qcow2,size=20,format=qcow2 \
  --cdrom /var/lib/tvd/blue/debian-12.iso \
  --network network=blue-data \
  --graphics spice,listen=127.0.0.1 \
  --os-variant debian11
