#!/usr/bin/env python3
"""Writes the seed corpus of protocol_decoder_fuzzer: one valid message of
each kind (first byte = decoder index) plus a few broken ones. Run from this
directory; the output is committed."""
import struct, os

def s(b):
    if isinstance(b, str): b = b.encode()
    return struct.pack('>I', len(b)) + b

def members(ms):
    return struct.pack('>I', len(ms)) + b''.join(s(h) + s(a) for h, a in ms)

def changes(cs):
    return struct.pack('>I', len(cs)) + b''.join(
        bytes([c]) + s(h) + s(a) for c, h, a in cs)

D = bytes(range(32))
K = bytes([7]) * 32
seeds = {
    'join_request': bytes([0]) + s('blue') + s('198.18.0.1') + b'\x00',
    'join_request_digest': bytes([0]) + s('blue') + s('fd00::1') + b'\x01' + s(D),
    'join_grant': bytes([1]) + s('blue') + s('<tvd-policy/>') + s(D) +
        struct.pack('>Q', 2) + s(K) + members([('n1', '198.18.0.1'), ('n2', '198.18.0.2')]) +
        struct.pack('>I', 30),
    'membership_update': bytes([2]) + s('blue') + struct.pack('>Q', 3) +
        changes([(3, 'n2', '')]) + struct.pack('>I', 1) + s(K),
    'membership_nokey': bytes([2]) + s('blue') + struct.pack('>Q', 3) +
        changes([(1, 'n2', '198.18.0.2'), (2, 'n3', '')]) +
        struct.pack('>I', 2) + s(b''),
    'leave': bytes([3]) + s('blue') + s('n1') + s('evicted'),
    'policy_update': bytes([4]) + s('blue') + s('<tvd-policy/>') + s(D),
    'disk_key_request': bytes([5]) + s('blue') + s('web1'),
    'disk_key_grant': bytes([6]) + s('blue') + s('web1') + s(K),
    'vm_report': bytes([7]) + s('blue') + s('web1') + b'\x01' +
        s('6f1c2a9e-0d3b-4c8e-9a57-1b2c3d4e5f60'),
    'tvd_add': bytes([8]) + s('<tvd-policy/>'),
    'tvd_update': bytes([9]) + s('<tvd-policy/>'),
    'tvd_remove': bytes([10]) + s('blue'),
    'admin_query': bytes([11]) + b'\x02' + s('blue'),
    'admin_reply': bytes([12]) + s('{"tvds":[]}'),
    'usage_claim': bytes([13]) + s('blue') + struct.pack('>4Q', 2, 4, 4 << 20, 20 << 30) +
        struct.pack('>4Q', 0, 2, 2 << 20, 0),
    'usage_report': bytes([13]) + s('blue') + struct.pack('>4Q', 1, 0, 0, 1 << 30) +
        struct.pack('>4Q', 0, 0, 0, 0),
    'vtpm_key_request': bytes([14]) + s('blue') + s('web1'),
    'vtpm_key_grant': bytes([15]) + s('blue') + s('web1') + s(K),
    'vtpm_record': bytes([16]) + s('blue') + s('web1') + s(bytes(range(64))) +
        s(bytes(range(100, 164))),
    'bad_vtpm_record_empty_ak': bytes([16]) + s('blue') + s('web1') +
        s(bytes(range(64))) + s(b''),
    'vm_attest_request': bytes([17]) + s('blue') + s('web1') + s(bytes(range(32))) +
        struct.pack('>I', 3) + struct.pack('>3I', 0, 7, 16),
    'vm_attest_evidence': bytes([18]) + s('{"format":"tvd-deep-quote/1"}'),
    'guest_quote_order': bytes([19]) + struct.pack('>Q', 9) + s('blue') + s('web1') +
        s(bytes(range(32))) + struct.pack('>I', 1) + struct.pack('>I', 16),
    'guest_quote_report': bytes([20]) + struct.pack('>Q', 9) + s('blue') + s('web1') +
        s('ok 00 00 00 16=' + '0' * 64 + '\n') + s(''),
    'guest_quote_report_error': bytes([20]) + struct.pack('>Q', 9) + s('blue') +
        s('web1') + s('') + s('VM web1 is not running on node1'),
    'bad_guest_quote_report_both': bytes([20]) + struct.pack('>Q', 9) + s('blue') +
        s('web1') + s('ok\n') + s('and an error'),
    'bad_vm_attest_pcrs_unsorted': bytes([17]) + s('blue') + s('web1') +
        s(bytes(range(32))) + struct.pack('>I', 2) + struct.pack('>2I', 7, 3),
    'bad_vm_attest_short_nonce': bytes([17]) + s('blue') + s('web1') + s(b'1234') +
        struct.pack('>I', 1) + struct.pack('>I', 0),
    'bad_truncated': bytes([1]) + s('blue')[:6],
    'bad_members_unsorted': bytes([1]) + s('blue') + s('<tvd-policy/>') + s(D) +
        struct.pack('>Q', 2) + s(K) + members([('n2', '1.1.1.1'), ('n1', '1.1.1.2')]) +
        struct.pack('>I', 30),
    'bad_change_rekeyed': bytes([2]) + s('blue') + struct.pack('>Q', 3) +
        changes([(4, 'n2', '')]) + struct.pack('>I', 1) + s(b''),
    'bad_huge_length': bytes([4]) + b'\xff\xff\xff\xff',
}
os.makedirs('corpus', exist_ok=True)
for name, data in seeds.items():
    with open(os.path.join('corpus', name), 'wb') as f:
        f.write(data)
