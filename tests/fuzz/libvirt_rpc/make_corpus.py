#!/usr/bin/python3
# Writes the seed corpus of libvirt_rpc_fuzzer (committed alongside).
# Run from anywhere: python3 tests/fuzz/libvirt_rpc/make_corpus.py
import struct, os
d = os.path.join(os.path.dirname(os.path.abspath(__file__)), 'corpus')
def pkt(prog, proc, typ, serial, status, payload):
    hdr = struct.pack('>IIiIII', prog, 1, proc, typ, serial, status)
    return struct.pack('>I', 4 + len(hdr) + len(payload)) + hdr + payload
def s(x):
    b = x.encode()
    return struct.pack('>I', len(b)) + b + b'\0' * ((4 - len(b) % 4) % 4)
def dom(name, tag, id):
    return s(name) + bytes([tag]) + b'\0' * 15 + struct.pack('>i', id)
R = 0x20008086
seeds = {
  'connect_open': pkt(R, 1, 0, 1, 0, struct.pack('>I', 1) + s('test:///default') + struct.pack('>I', 0)),
  'list_all_call': pkt(R, 273, 0, 2, 0, struct.pack('>iI', 1, 0)),
  'list_all_reply': pkt(R, 273, 1, 2, 0, struct.pack('>I', 2) + dom('blue-a', 1, 1) + dom('red-a', 2, -1) + struct.pack('>I', 2)),
  'lookup_name': pkt(R, 23, 0, 3, 0, s('blue-vm1')),
  'error_reply': pkt(R, 23, 1, 3, 1, struct.pack('>ii', 42, 12) + struct.pack('>I', 1) + s('Domain not found') + struct.pack('>i', 2) + struct.pack('>I', 0) * 4 + struct.pack('>ii', -1, -1) + struct.pack('>I', 0)),
  'define_xml': pkt(R, 11, 0, 4, 0, s("<domain type='test'><name>x</name><devices><disk type='file'><driver name='qemu' type='qcow2'/><source file='/var/lib/tvd/blue/a.img'/></disk></devices><metadata><tvd:tvd xmlns:tvd='urn:tvd:vm:1' owner='red'/></metadata></domain>")),
  # What virt-install sends (tests/unit/libvirt_filter/data), through DefineXMLFlags.
  'define_xml_virt_install': pkt(R, 11, 0, 9, 0, s(open(os.path.join(os.path.dirname(os.path.abspath(__file__)), '../../unit/libvirt_filter/data/virt_install_console.xml')).read().split('</domain>')[1].strip() + '</domain>')),
  'event_callback': pkt(R, 318, 2, 0, 0, struct.pack('>i', 5) + dom('blue-a', 1, 1) + struct.pack('>ii', 2, 0)),
  'stats_reply': pkt(R, 344, 1, 5, 0, struct.pack('>I', 1) + dom('blue-a', 1, 1) + struct.pack('>I', 2) + s('state.state') + struct.pack('>ii', 1, 1) + s('name') + struct.pack('>i', 7) + s('x')),
  'keepalive_ping': pkt(0x6b656570, 1, 2, 0, 0, b''),
  'set_metadata': pkt(R, 264, 0, 6, 0, dom('blue-a', 1, 1) + struct.pack('>iI', 2, 1) + s('<tvd/>') + struct.pack('>I', 1) + s('tvd') + struct.pack('>I', 1) + s('urn:tvd:vm:1') + struct.pack('>I', 0)),
  'lying_length': b'\xff\xff\xff\xff' + b'\0' * 24,
  'short_length': b'\x00\x00\x00\x08abcd',
  'define_admitted': pkt(R, 11, 0, 9, 0, s("<domain type='kvm'><name>blue-a</name><uuid>b1000000-0000-4000-8000-000000000001</uuid><devices><disk type='file' device='disk'><driver name='qemu' type='qcow2'/><source file='/var/lib/tvd/blue/a.qcow2'/><target dev='vda'/></disk><disk type='block'><source dev='/dev/sda'/></disk></devices><devices><disk device='cdrom'/></devices><metadata><t:tvd xmlns:t='urn:tvd:vm:1' owner='blue'><t:measure type='config' sha256='00'/><t:vnet target='b0' network='blue-data'/></t:tvd></metadata></domain>")),
  'domain_caps': pkt(R, 342, 0, 10, 0, struct.pack('>I', 1) + s('/usr/bin/qemu-system-x86_64') + struct.pack('>I', 1) + s('x86_64') + struct.pack('>I', 0) + struct.pack('>I', 1) + s('kvm') + struct.pack('>I', 0)),
  'two_packets': pkt(R, 3, 0, 7, 0, b'') + pkt(R, 4, 0, 8, 0, b''),
}
os.makedirs(d, exist_ok=True)
for k, v in seeds.items():
    open(os.path.join(d, k), 'wb').write(v)
