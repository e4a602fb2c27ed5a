#!/usr/bin/python3
"""Load from one tenant, latency of another (python-libvirt, unmodified).

Usage:
  tenant_load.py flood URI CONNECTIONS SECONDS READY_FILE
      Opens CONNECTIONS connections, tries one more (its refusal is
      reported), writes READY_FILE, then calls as fast as it can on every
      connection from its own thread for SECONDS. Prints JSON:
      {"refused": [code, domain, message] or null, "calls": N,
       "errors": N, "seconds": S (from the first open to the end)}.
  tenant_load.py latency URI DOMAIN COUNT INTERVAL_MS
      Opens one connection and looks DOMAIN up by name COUNT times, one
      call every INTERVAL_MS (so that a tenant below its own rate limit is
      measured, not its limit). Prints JSON {"ms": [latency of each call,
      sorted]}.
"""
import json
import sys
import threading
import time

import libvirt


def quiet(_ctx, _err):
    pass


def flood(uri, connections, seconds, ready_file):
    start = time.monotonic()
    conns = [libvirt.open(uri) for _ in range(connections)]
    refused = None
    try:
        libvirt.open(uri).close()
    except libvirt.libvirtError as e:
        refused = [e.get_error_code(), e.get_error_domain(), str(e)]
    with open(ready_file, "w") as f:
        f.write("ready\n")
    counts = [0] * connections
    errors = [0] * connections
    deadline = time.monotonic() + seconds

    def run(i):
        conn = conns[i]
        while time.monotonic() < deadline:
            try:
                conn.lookupByName("red-vm1")
                conn.listAllDomains(0)
                counts[i] += 2
            except libvirt.libvirtError:
                errors[i] += 1

    threads = [threading.Thread(target=run, args=(i,))
               for i in range(connections)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    elapsed = time.monotonic() - start
    for c in conns:
        c.close()
    print(json.dumps({"refused": refused, "calls": sum(counts),
                      "errors": sum(errors), "seconds": elapsed}))


def latency(uri, domain, count, interval_ms):
    conn = libvirt.open(uri)
    ms = []
    next_call = time.monotonic()
    for _ in range(count):
        time.sleep(max(0.0, next_call - time.monotonic()))
        next_call += interval_ms / 1000.0
        t0 = time.monotonic()
        conn.lookupByName(domain)
        ms.append((time.monotonic() - t0) * 1000.0)
    conn.close()
    print(json.dumps({"ms": sorted(ms)}))


def main():
    libvirt.registerErrorHandler(quiet, None)
    if sys.argv[1] == "flood":
        flood(sys.argv[2], int(sys.argv[3]), float(sys.argv[4]), sys.argv[5])
    elif sys.argv[1] == "latency":
        latency(sys.argv[2], sys.argv[3], int(sys.argv[4]),
                float(sys.argv[5]))
    else:
        sys.exit("unknown mode " + sys.argv[1])


if __name__ == "__main__":
    main()
