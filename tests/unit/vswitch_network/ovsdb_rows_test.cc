// The typed-row parsers of OvsdbVswitchDatabase on OVSDB's wire forms: the
// rows they build, and the exact error for what RFC 7047 does not allow.
#include "tvd/vswitch/network/ovsdb_rows.h"

#include <gtest/gtest.h>

#include "tvd/vswitch/ovsdb/ovsdb_datum.h"

namespace tvd::vswitch::ovsdb {
namespace {

Json Results(Json bridges, Json ports, Json ifaces) {
  return Json::array({{{"rows", std::move(bridges)}},
                      {{"rows", std::move(ports)}},
                      {{"rows", std::move(ifaces)}}});
}

TEST(OvsdbRowsTest, SnapshotJoinsTheBridgesPortsAndTheirInterfaces) {
  Json bridge = {{"_uuid", {"uuid", "b1"}},
                 {"name", "br-tvd"},
                 {"datapath_type", "netdev"},
                 {"fail_mode", "secure"},
                 {"protocols", Set({"OpenFlow10", "OpenFlow13"})},
                 {"external_ids", StringMap({{"tvd-bridge", "true"}})},
                 {"ports", {"uuid", "p1"}}};
  Json ports = Json::array({{{"_uuid", {"uuid", "p1"}},
                             {"name", "tvx100"},
                             {"tag", 1},
                             {"external_ids", StringMap({{"tvd", "blue"}})},
                             {"interfaces", Set({Uuid("i1")})}},
                            {{"_uuid", {"uuid", "p2"}},
                             {"name", "other"},
                             {"tag", {"set", Json::array()}},
                             {"external_ids", {"map", Json::array()}},
                             {"interfaces", {"uuid", "i2"}}}});
  Json ifaces = Json::array({{{"_uuid", {"uuid", "i1"}},
                              {"name", "tvx100"},
                              {"type", ""},
                              {"ofport", -1},
                              {"error", "could not open network device"}},
                             {{"_uuid", {"uuid", "i2"}},
                              {"name", "other"},
                              {"type", "internal"},
                              {"ofport", {"set", Json::array()}},
                              {"error", {"set", Json::array()}}}});
  auto snap = ParseSnapshot(Results(Json::array({bridge}), ports, ifaces));
  ASSERT_TRUE(snap.ok()) << snap.status().ToString();
  BridgeState state = snap->State();
  EXPECT_EQ(state.bridge, (BridgeRow{"br-tvd",
                                     "netdev",
                                     "secure",
                                     {"OpenFlow10", "OpenFlow13"},
                                     {{"tvd-bridge", "true"}}}));
  ASSERT_EQ(state.ports.size(), 1u);  // "other" is on no bridge read here
  EXPECT_EQ(state.ports.at("tvx100"),
            (PortRow{"tvx100", 1, {{"tvd", "blue"}}}));
  EXPECT_EQ(state.interfaces.at("tvx100"),
            (InterfaceRow{"tvx100", "", -1, "could not open network device"}));
  EXPECT_EQ(snap->PortOnBridge("tvx100"), "p1");
  EXPECT_EQ(snap->PortOnBridge("other"), "");
  EXPECT_TRUE(snap->NameTaken("other"));
  EXPECT_FALSE(snap->NameTaken("nobody"));
}

TEST(OvsdbRowsTest, NoBridgeIsAnEmptyUuid) {
  auto snap =
      ParseSnapshot(Results(Json::array(), Json::array(), Json::array()));
  ASSERT_TRUE(snap.ok());
  EXPECT_EQ(snap->bridge_uuid, "");
}

TEST(OvsdbRowsTest, WhatTheWireFormsDoNotAllowIsAProtocolError) {
  Json port = {{"_uuid", {"uuid", "p1"}},
               {"name", "vm1"},
               {"tag", 5000},
               {"external_ids", {"map", Json::array()}},
               {"interfaces", {"set", Json::array()}}};
  EXPECT_EQ(ParsePortRow(port).status(),
            ProtocolError("OVSDB Port column tag: not in 0..4095"));
  port["tag"] = "1";
  EXPECT_EQ(ParsePortRow(port).status(),
            ProtocolError("OVSDB Port column tag: expected an integer or an "
                          "empty set"));
  port.erase("tag");
  EXPECT_EQ(ParsePortRow(port).status(),
            ProtocolError("OVSDB Port row lacks column tag"));
  EXPECT_EQ(ParsePortRow(Json::array()).status(),
            ProtocolError("OVSDB Port row lacks column name"));
  Json iface = {{"name", "x"},
                {"type", "internal"},
                {"ofport", 1},
                {"error", Set({"a", "b"})}};
  EXPECT_EQ(ParseInterfaceRow(iface).status(),
            ProtocolError("OVSDB Interface column error: more than one value"));
  EXPECT_EQ(ParseRowUuid({{"_uuid", "b1"}}, "Bridge").status(),
            ProtocolError("OVSDB Bridge column _uuid: expected [\"uuid\", "
                          "<string>], got \"b1\""));
  EXPECT_EQ(ParseSnapshot(Json::array({{{"rows", Json::array()}}})).status(),
            ProtocolError("OVSDB select result 1 has no rows"));
}

}  // namespace
}  // namespace tvd::vswitch::ovsdb
