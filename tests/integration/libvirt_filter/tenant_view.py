#!/usr/bin/python3
"""python-libvirt as a tenant through the relay (and as the admin directly).

Usage:
  tenant_view.py view URI                 prints the tenant's view as JSON
  tenant_view.py events BLUE RED ADMIN    prints the events each tenant got
  tenant_view.py define URI NAME...       defines each NAME (a minimal test
                                          domain) and prints the error of each
"""
import json
import sys
import threading
import time

import libvirt


def error_of(call):
    try:
        call()
    except libvirt.libvirtError as e:
        return [e.get_error_code(), e.get_error_domain(), str(e)]
    return None


def view(uri):
    conn = libvirt.open(uri)
    out = {
        "all": sorted(d.name() for d in conn.listAllDomains(0)),
        "num_active": conn.numOfDomains(),
        "num_inactive": conn.numOfDefinedDomains(),
        "active_ids": sorted(conn.listDomainsID()),
        "inactive_names": sorted(conn.listDefinedDomains()),
        "stats": sorted(d.name() for d, _ in conn.getAllDomainStats(
            libvirt.VIR_DOMAIN_STATS_STATE)),
        "networks": conn.numOfNetworks(),
        "pools": len(conn.listAllStoragePools(0)),
        "lookup_missing_name": error_of(lambda: conn.lookupByName("nope")),
        "lookup_missing_uuid": error_of(lambda: conn.lookupByUUIDString(
            "99999999-0000-4000-8000-000000000009")),
        "lookup_missing_id": error_of(lambda: conn.lookupByID(9999)),
    }
    for name in ["blue-vm1", "red-vm1", "test"]:
        out["lookup_" + name] = error_of(lambda: conn.lookupByName(name))
    for uuid in ["b1000000-0000-4000-8000-000000000001",
                 "2ed00000-0000-4000-8000-000000000001"]:
        out["uuid_" + uuid] = error_of(lambda: conn.lookupByUUIDString(uuid))
    conn.close()
    print(json.dumps(out, sort_keys=True))


def events(blue_uri, red_uri, admin_uri):
    libvirt.virEventRegisterDefaultImpl()
    stop = False

    def loop():
        while not stop:
            libvirt.virEventRunDefaultImpl()
    thread = threading.Thread(target=loop, daemon=True)
    thread.start()
    got = {"blue": [], "red": [], "blue-legacy": [], "red-legacy": []}
    conns = {}
    for tenant, uri in (("blue", blue_uri), ("red", red_uri)):
        conn = libvirt.open(uri)
        conns[tenant] = conn
        conn.domainEventRegisterAny(
            None, libvirt.VIR_DOMAIN_EVENT_ID_LIFECYCLE,
            lambda c, d, ev, det, opaque, t=tenant: got[t].append([d.name(), ev]),
            None)
        conn.domainEventRegister(
            lambda c, d, ev, det, opaque, t=tenant + "-legacy": got[t].append(
                [d.name(), ev]), None)
    admin = libvirt.open(admin_uri)
    admin.lookupByName("blue-vm1").create()
    admin.lookupByName("blue-vm1").destroy()
    admin.lookupByName("red-vm1").suspend()
    admin.lookupByName("red-vm1").resume()
    admin.lookupByName("test").suspend()
    admin.lookupByName("test").resume()
    deadline = time.time() + 5
    while time.time() < deadline and (
            len(got["blue"]) < 2 or len(got["red"]) < 2 or
            len(got["blue-legacy"]) < 2 or len(got["red-legacy"]) < 2):
        time.sleep(0.05)
    time.sleep(0.3)  # anything that should not come would come by now
    stop = True
    print(json.dumps(got, sort_keys=True))
    for c in conns.values():
        c.close()
    admin.close()


def define(uri, names):
    conn = libvirt.open(uri)
    out = {}
    for name in names:
        xml = ("<domain type='test'><name>%s</name><memory>8192</memory>"
               "<os><type>hvm</type></os></domain>" % name)
        out[name] = error_of(lambda: conn.defineXML(xml))
    conn.close()
    print(json.dumps(out, sort_keys=True))


if __name__ == "__main__":
    if sys.argv[1] == "view":
        view(sys.argv[2])
    elif sys.argv[1] == "define":
        define(sys.argv[2], sys.argv[3:])
    else:
        events(sys.argv[2], sys.argv[3], sys.argv[4])
