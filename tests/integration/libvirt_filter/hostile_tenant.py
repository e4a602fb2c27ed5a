#!/usr/bin/python3
"""An unmodified python-libvirt client acting as a hostile tenant.

Each command makes one libvirt call through URI and prints one JSON object:
{"error": [code, domain, message]} when libvirt raised, otherwise
{"ok": <result>}. The test compares the error exactly and checks the
admin's view itself.

Usage:
  hostile_tenant.py define URI XML_FILE      virDomainDefineXML
  hostile_tenant.py create URI XML_FILE      virDomainCreateXML (transient)
  hostile_tenant.py start URI NAME           virDomainCreate
  hostile_tenant.py rename URI NAME NEW      virDomainRename
  hostile_tenant.py autostart URI NAME       virDomainSetAutostart(1)
  hostile_tenant.py domcaps URI EMULATOR     virConnectGetDomainCapabilities
  hostile_tenant.py lookup URI NAME          virDomainLookupByName
  hostile_tenant.py uuid URI NAME            the UUID of the tenant's NAME
"""
import json
import sys

import libvirt


def _silence(_ctx, _err):
    # libvirt prints every error to stderr by default; the JSON carries it.
    pass


def run(cmd, uri, args):
    conn = libvirt.open(uri)
    try:
        if cmd == "define":
            with open(args[0], encoding="utf-8") as f:
                return conn.defineXML(f.read()).name()
        if cmd == "create":
            with open(args[0], encoding="utf-8") as f:
                return conn.createXML(f.read(), 0).name()
        if cmd == "start":
            return conn.lookupByName(args[0]).create()
        if cmd == "rename":
            return conn.lookupByName(args[0]).rename(args[1], 0)
        if cmd == "autostart":
            return conn.lookupByName(args[0]).setAutostart(1)
        if cmd == "domcaps":
            return len(conn.getDomainCapabilities(args[0], None, None, None,
                                                  0))
        if cmd == "lookup":
            return conn.lookupByName(args[0]).name()
        if cmd == "uuid":
            return conn.lookupByName(args[0]).UUIDString()
        raise SystemExit("unknown command " + cmd)
    finally:
        conn.close()


def main():
    if len(sys.argv) < 3:
        raise SystemExit(__doc__)
    libvirt.registerErrorHandler(_silence, None)
    try:
        out = {"ok": run(sys.argv[1], sys.argv[2], sys.argv[3:])}
    except libvirt.libvirtError as e:
        out = {"error": [e.get_error_code(), e.get_error_domain(), str(e)]}
    print(json.dumps(out, sort_keys=True))


if __name__ == "__main__":
    main()
