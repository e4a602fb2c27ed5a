#!/usr/bin/env python3
"""Writes the attestation seeds of frame_decoder_fuzzer whose payload format
carries the incremental IMA fields (messages.h): challenges with ima_from and
full_log_reason, evidence with ima_offset / ima_entries / ima_log_size, and
IMA chunk frames. Run from this directory; the output is committed. (The
other seeds were written by hand.)"""
import os, struct

def frame(t, payload):
    return struct.pack('>HHHI', 0x5456, 1, t, len(payload)) + payload

def b(x):
    if isinstance(x, str): x = x.encode()
    return struct.pack('>I', len(x)) + x

HELLO, CHALLENGE, EVIDENCE, VERDICT, CHUNK = 6, 7, 8, 9, 10
NONCE = bytes(range(32))
PCR10 = bytes([0xab]) * 32

def challenge(pcrs, want, ima_from=0, pcr10=None, reason=''):
    p = b(NONCE) + bytes([len(pcrs)]) + bytes(pcrs) + bytes([want])
    p += struct.pack('>Q', ima_from)
    if ima_from: p += b(pcr10)
    return p + b(reason)

LINE = ('10 2ab73da89d1097f931a3e154ec507cbf6eda755fa36cfb53e4cebb424c1488f6 '
        'ima-ng sha256:2d711642b726b04401627ca9fbac32f5c8530fb1903cc4db02258717'
        '921a4881 boot_aggregate\n')
NEW = ('10 028b5a74c42958e0cd1a688c6f1ad5277cc3f77f3bc4fbf0e06e4c3d2c6a7bd1 '
       'ima-ng sha256:' + '11' * 32 + ' /usr/bin/true\n')

def evidence(log, offset, entries, size=None):
    p = bytes([1]) + b(NONCE) + b(b'\x00\x02ak') + b(b'\xffTCG') + b('sig')
    p += bytes([1, 10]) + b(PCR10)
    p += struct.pack('>QQQ', offset, entries, len(log) if size is None else size)
    return p + b(log)

seeds = {
    'challenge_then_verdict': frame(CHALLENGE, challenge([0, 10], 1)) +
        frame(VERDICT, b''),
    'challenge_incremental': frame(CHALLENGE,
        challenge(list(range(11)), 1, 100000, PCR10)),
    'challenge_full_log': frame(CHALLENGE, challenge(list(range(11)), 1, 0,
        reason='TPM reset count changed (3 -> 4)')),
    'evidence': frame(EVIDENCE, evidence(LINE + NEW, 0, 2)),
    'evidence_incremental': frame(HELLO, b'') +
        frame(EVIDENCE, evidence(NEW, 1, 2)),
    'evidence_then_chunks': frame(EVIDENCE, evidence(NEW, 1, 2)) +
        frame(CHUNK, NEW[:40].encode()) + frame(CHUNK, NEW.encode()),
    'evidence_oversized_log': frame(EVIDENCE,
        evidence(NEW, 0, 1, size=(32 << 20) + 1)),
}
for name, data in seeds.items():
    with open(os.path.join('corpus', name), 'wb') as f:
        f.write(data)
