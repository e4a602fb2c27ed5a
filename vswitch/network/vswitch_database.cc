#include "tvd/vswitch/network/vswitch_database.h"

namespace tvd::vswitch {

Status ValidateBridgeChange(const BridgeChange& change) {
  std::set<std::string> names;
  auto check_name = [&](const std::string& name) -> Status {
    if (name.empty()) return InvalidArgument("port name is empty");
    if (!names.insert(name).second) {
      return InvalidArgument("port " + name +
                             " appears more than once in the change");
    }
    return Status::Ok();
  };
  for (const NewPort& p : change.add_ports)
    TVD_RETURN_IF_ERROR(check_name(p.name));
  for (const PortRow& p : change.update_ports) {
    TVD_RETURN_IF_ERROR(check_name(p.name));
  }
  for (const std::string& p : change.remove_ports) {
    TVD_RETURN_IF_ERROR(check_name(p));
  }
  for (const std::string& key : change.remove_bridge_ids) {
    if (change.set_bridge_ids.count(key) != 0) {
      return InvalidArgument("bridge key " + key + " is both set and removed");
    }
  }
  auto check_tag = [](const std::string& name,
                      const std::optional<std::uint16_t>& tag) -> Status {
    if (tag && *tag > 4095) {
      return InvalidArgument("port " + name + ": tag " + std::to_string(*tag) +
                             " is not in 0..4095");
    }
    return Status::Ok();
  };
  for (const NewPort& p : change.add_ports) {
    TVD_RETURN_IF_ERROR(check_tag(p.name, p.tag));
  }
  for (const PortRow& p : change.update_ports) {
    TVD_RETURN_IF_ERROR(check_tag(p.name, p.tag));
  }
  return Status::Ok();
}

}  // namespace tvd::vswitch
