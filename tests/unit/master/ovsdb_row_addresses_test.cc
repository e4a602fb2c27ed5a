// The OVSDB store's row addresses (ovsdb_row_addresses.h): which
// operations name a row by its uuid, what is learned from a commit, and
// what is forgotten after a failure.
#include "tvd/master/ovsdb_row_addresses.h"

#include <gtest/gtest.h>

#include <fstream>
#include <set>
#include <sstream>

#include "ovsdb_store_ops.h"

namespace tvd::master {
namespace {

using Json = nlohmann::json;
namespace ops = ovsdb_ops;

const char kZero[] = "00000000-0000-0000-0000-000000000000";

Json UuidIs(const std::string& u) {
  return Json::array({"_uuid", "==", Json::array({"uuid", u})});
}

// What a server answers for `sent`: one result per operation, inserts
// with the uuid given.
Json Results(const Json& sent, const std::string& uuid) {
  Json out = Json::array();
  for (const Json& op : sent) {
    out.push_back(op["op"] == "insert"
                      ? Json{{"uuid", Json::array({"uuid", uuid})}}
                      : Json{{"count", 1}});
  }
  return out;
}

TEST(OvsdbRowAddressesTest, AReplaceNamesTheRowItWroteBefore) {
  OvsdbRowAddresses a;
  const Json first = ops::Host("node1", "198.18.0.1");
  // Never seen: taken to be absent, the delete matches nothing.
  OvsdbRowAddresses::Plan p = a.Address(first);
  ASSERT_TRUE(p.changed);
  EXPECT_EQ(p.ops[0]["where"], Json::array({UuidIs(kZero)}));
  // The insert as it was, with a name in the transaction.
  Json named = first[1];
  named["uuid-name"] = "tvd_row1";
  EXPECT_EQ(p.ops[1], named);
  EXPECT_TRUE(p.touched.empty());
  a.Committed(first, Results(first, "11111111-1111-1111-1111-111111111111"));
  EXPECT_EQ(a.size(), 1u);
  // Known: by uuid first, and still by key.
  const Json second = ops::Host("node1", "198.18.0.9");
  p = a.Address(second);
  ASSERT_TRUE(p.changed);
  Json expected = Json::array({UuidIs("11111111-1111-1111-1111-111111111111")});
  for (const Json& c : second[0]["where"]) expected.push_back(c);
  EXPECT_EQ(p.ops[0]["where"], expected);
  EXPECT_EQ(p.touched.size(), 1u);
  // Another host's row is another key.
  EXPECT_EQ(a.Address(ops::Host("node2", "x")).ops[0]["where"],
            Json::array({UuidIs(kZero)}));
  // A failed transaction forgets what it named.
  a.Failed(p);
  EXPECT_EQ(a.size(), 0u);
  EXPECT_EQ(a.Address(second).ops[0]["where"], Json::array({UuidIs(kZero)}));
}

TEST(OvsdbRowAddressesTest, AClockWaitAndUpdateNameTheKnownRow) {
  OvsdbRowAddresses a;
  AkClockRow row;
  row.ak_name = {0x0b};
  row.clock = 5;
  // The first clock: the wait for no row holds by the zero uuid.
  const Json first = ops::PutAkClock(row, std::nullopt, 1);
  OvsdbRowAddresses::Plan p = a.Address(first);
  ASSERT_TRUE(p.changed);
  EXPECT_EQ(p.ops[0]["where"], Json::array({UuidIs(kZero)}));
  EXPECT_EQ(p.ops[0]["rows"], Json::array());
  a.Committed(first, Results(first, "22222222-2222-2222-2222-222222222222"));
  // The next: the wait for the row seen and the update both by uuid.
  AkClockRow later = row;
  later.clock = 9;
  const Json next = ops::PutAkClock(later, row, 2);
  p = a.Address(next);
  ASSERT_TRUE(p.changed);
  EXPECT_EQ(p.ops[0]["where"][0],
            UuidIs("22222222-2222-2222-2222-222222222222"));
  EXPECT_EQ(p.ops[1]["op"], "update");
  EXPECT_EQ(p.ops[1]["where"][0],
            UuidIs("22222222-2222-2222-2222-222222222222"));
  // Not known: a wait for a row and its update stay by key.
  OvsdbRowAddresses fresh;
  EXPECT_FALSE(fresh.Address(next).changed);
  // Known, a wait for no row names it (and sees it: the wait fails).
  EXPECT_EQ(a.Address(first).ops[0]["where"][0],
            UuidIs("22222222-2222-2222-2222-222222222222"));
}

TEST(OvsdbRowAddressesTest, ARowWrittenTwiceInOneTransactionIsNamed) {
  OvsdbRowAddresses a;
  // A batch: the host's row twice, never seen before.
  Json batch = ops::Host("node1", "198.18.0.1");
  for (const Json& op : ops::Host("node1", "198.18.0.2")) batch.push_back(op);
  OvsdbRowAddresses::Plan p = a.Address(batch);
  ASSERT_TRUE(p.changed);
  EXPECT_EQ(p.ops[0]["where"], Json::array({UuidIs(kZero)}));
  EXPECT_EQ(p.ops[1]["uuid-name"], "tvd_row1");
  // The second delete names the row the first insert wrote.
  EXPECT_EQ(p.ops[2]["where"][0],
            (Json::array({"_uuid", "==", Json::array({"named-uuid",
                                                      "tvd_row1"})})));
  EXPECT_EQ(p.ops[3]["uuid-name"], "tvd_row3");
  EXPECT_TRUE(p.touched.empty());  // nothing known was used
  // What the server gave the last insert is learned.
  Json results = Json::array({Json{{"count", 0}},
                              Json{{"uuid", Json::array({"uuid", "u1"})}},
                              Json{{"count", 1}},
                              Json{{"uuid", Json::array({"uuid", "u3"})}}});
  a.Committed(batch, results);
  EXPECT_EQ(a.Address(ops::Host("node1", "x")).ops[0]["where"][0],
            UuidIs("u3"));
}

TEST(OvsdbRowAddressesTest, OnlyAReplaceOrAGuardedUpdateIsAddressed) {
  OvsdbRowAddresses a;
  const Json join = ops::AddMember("blue", "node1", 1);
  a.Committed(join, Results(join, "33333333-3333-3333-3333-333333333333"));
  ASSERT_EQ(a.size(), 1u);
  // A delete alone (a removal) stays by key: a stale uuid would make it
  // delete nothing. Committed, it forgets the row.
  const Json removal = ops::RemoveMember("blue", "node1");
  EXPECT_FALSE(a.Address(removal).changed);
  a.Committed(removal, Results(removal, ""));
  EXPECT_EQ(a.size(), 0u);
  // Tables outside the per-host ones, and clauses on part of a key, stay.
  EXPECT_FALSE(a.Address(ops::RemoveTvd("blue")).changed);
  TvdRow tvd;
  tvd.name = "blue";
  EXPECT_FALSE(a.Address(ops::PutTvd(tvd)).changed);
  EXPECT_FALSE(a.Address(Json::array({Json{{"op", "delete"},
                                           {"table", "Membership"},
                                           {"where", ops::And({{"tvd", "b"}})}},
                                      Json{{"op", "insert"},
                                           {"table", "Membership"},
                                           {"row", {{"tvd", "b"}}}}}))
                   .changed);
  // Garbage is left as it is.
  EXPECT_FALSE(a.Address(Json::object()).changed);
  EXPECT_FALSE(a.Address(Json::array({1, "x", Json::array()})).changed);
}

TEST(OvsdbRowAddressesTest, RowsReadAtStartUpAreKnown) {
  OvsdbRowAddresses a;
  a.Learn("AK", {{"_uuid", Json::array({"uuid",
                                        "44444444-4444-4444-4444-"
                                        "444444444444"})},
                 {"host", "node1"},
                 {"ak_hex", "00ff"}});
  a.Learn("AK", {{"host", "node2"}, {"ak_hex", "00ff"}});  // no _uuid
  a.Learn("TVD", {{"_uuid", Json::array({"uuid", "x"})}, {"name", "b"}});
  EXPECT_EQ(a.size(), 1u);
  OvsdbRowAddresses::Plan p = a.Address(ops::AddAk("node1", {0x00, 0xff}));
  EXPECT_EQ(p.ops[0]["where"][0],
            UuidIs("44444444-4444-4444-4444-444444444444"));
}

TEST(OvsdbRowAddressesTest, TheKeysAreTheSchemaIndexes) {
  std::ifstream in(std::string(TVD_SOURCE_DIR) +
                   "/tvd-master/tvd_master.ovsschema");
  std::stringstream text;
  text << in.rdbuf();
  Json schema = Json::parse(text.str());
  for (const std::string& table : OvsdbRowAddresses::Tables()) {
    SCOPED_TRACE(table);
    const Json& indexes = schema["tables"][table]["indexes"];
    ASSERT_EQ(indexes.size(), 1u);
    EXPECT_EQ(indexes[0].get<std::vector<std::string>>(),
              *OvsdbRowAddresses::KeyOf(table));
  }
}

}  // namespace
}  // namespace tvd::master
