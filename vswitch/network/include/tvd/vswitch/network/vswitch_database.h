// The part of the Open_vSwitch database the TVD network model uses, in rows
// and operations: one bridge, its ports (each with one interface of the same
// name) and the external_ids the model keeps its state in.
//
// OvsdbVswitchDatabase (ovsdb_vswitch_database.h) implements it over a real
// ovsdb-server; tests use FakeVswitchDatabase. One contract test suite runs
// the same cases against both, so the fake cannot drift from OVSDB.
//
// Every write is ONE OVSDB transaction: it is applied whole or not at all,
// and the write returns only when ovs-vswitchd has applied it (or `apply_wait`
// passed). Identity is by name: Bridge, Port and Interface names are unique
// in the database (a port name on one bridge is taken on every bridge).
#pragma once

#include <chrono>
#include <cstdint>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "tvd/status.h"

namespace tvd::vswitch {

using ExternalIds = std::map<std::string, std::string>;

struct BridgeRow {
  std::string name;
  std::string datapath_type;        // "netdev", "system"
  std::string fail_mode;            // "secure", "standalone", "" (unset)
  std::set<std::string> protocols;  // e.g. {"OpenFlow10", "OpenFlow13"}
  ExternalIds external_ids;
  friend bool operator==(const BridgeRow&, const BridgeRow&) = default;
};

struct PortRow {
  std::string name;
  std::optional<std::uint16_t> tag;  // access VLAN 0..4095; unset: trunk
  ExternalIds external_ids;
  friend bool operator==(const PortRow&, const PortRow&) = default;
};

struct InterfaceRow {
  std::string name;
  std::string type;  // "" (a system device), "internal", ...
  // OpenFlow port number as ovs-vswitchd reports it: unset until it looked
  // at the interface, -1 when it could not attach it (then `error` says why).
  std::optional<std::int64_t> ofport;
  std::string error;
  friend bool operator==(const InterfaceRow&, const InterfaceRow&) = default;
};

// A bridge as one consistent read: its row, the ports on it (by name) and
// their interfaces (by name).
struct BridgeState {
  BridgeRow bridge;
  std::map<std::string, PortRow> ports;
  std::map<std::string, InterfaceRow> interfaces;
};

// A port to add: the Port row and its one Interface of the same name.
struct NewPort {
  std::string name;
  std::optional<std::uint16_t> tag;
  ExternalIds external_ids;
  std::string interface_type;  // "" for an existing system device
};

// Changes to one bridge, applied together in one transaction. A port name
// appears at most once in add_ports, update_ports and remove_ports together,
// and a key at most once in remove_bridge_ids and set_bridge_ids together.
struct BridgeChange {
  std::vector<std::string> remove_bridge_ids;  // absent keys are ignored
  ExternalIds set_bridge_ids;                  // added, or value replaced
  std::vector<NewPort> add_ports;
  // Each named port's tag and external_ids become exactly the given ones.
  std::vector<PortRow> update_ports;
  // Removed with their interfaces.
  std::vector<std::string> remove_ports;

  bool empty() const {
    return remove_bridge_ids.empty() && set_bridge_ids.empty() &&
           add_ports.empty() && update_ports.empty() && remove_ports.empty();
  }
};

class VswitchDatabase {
 public:
  virtual ~VswitchDatabase() = default;

  // The bridge named `bridge`, its ports and their interfaces, read in one
  // transaction. NotFound "no bridge <bridge>" when there is none; the
  // database's error when it cannot be read.
  virtual StatusOr<BridgeState> ReadBridge(const std::string& bridge) = 0;

  // The ports on `bridge` whose external_ids hold every pair of `match`
  // (all its ports for an empty `match`), ordered by name. NotFound
  // "no bridge <bridge>" when there is none.
  virtual StatusOr<std::vector<PortRow>> FindPorts(
      const std::string& bridge, const ExternalIds& match) = 0;

  // The interface named `name` on any bridge. NotFound "no interface
  // <name>" when there is none.
  virtual StatusOr<InterfaceRow> GetInterface(const std::string& name) = 0;

  // Creates the bridge when it is missing: the row as given, an internal
  // port and interface of the same name, attached to the Open_vSwitch
  // root. When it exists, sets its datapath_type, fail_mode and protocols
  // as given and leaves its external_ids and ports alone. Returns whether
  // it was created. InvalidArgument "bridge name is empty"; AlreadyExists
  // "port <name> already exists" when it is missing but a port or an
  // interface already has its name.
  virtual StatusOr<bool> EnsureBridge(const BridgeRow& bridge,
                                      std::chrono::milliseconds apply_wait) = 0;

  // Applies `change` to `bridge` in one transaction: everything or, on any
  // error, nothing. An empty change is a no-op that touches nothing. Errors,
  // checked in this order, all before anything is written:
  //   InvalidArgument "port name is empty"
  //   InvalidArgument "port <name> appears more than once in the change"
  //   InvalidArgument "bridge key <key> is both set and removed"
  //   InvalidArgument "port <name>: tag <tag> is not in 0..4095"
  //   NotFound        "no bridge <bridge>"
  //   NotFound        "no port <name> on bridge <bridge>" (update/remove)
  //   AlreadyExists   "port <name> already exists" (add; a port or an
  //                   interface of that name, on any bridge)
  // then whatever the database returned; Timeout when ovs-vswitchd has not
  // applied the committed change within `apply_wait`.
  virtual Status Apply(const std::string& bridge, const BridgeChange& change,
                       std::chrono::milliseconds apply_wait) = 0;
};

// The argument checks Apply makes before it looks at the database (the
// first four errors above), shared by every implementation.
Status ValidateBridgeChange(const BridgeChange& change);

}  // namespace tvd::vswitch
