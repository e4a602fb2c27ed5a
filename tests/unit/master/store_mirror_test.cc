#include "tvd/master/store_mirror.h"

#include <gtest/gtest.h>

namespace tvd::master {
namespace {

using Json = nlohmann::json;

Json TvdRowJson(const std::string& name, int epoch, const std::string& token) {
  return {{"name", name},   {"policy_xml", "<p/>"},
          {"digest", "ab"}, {"epoch", epoch},
          {"token", token}, {"key_wrapped_hex", "0aff"}};
}

Json Member(const std::string& tvd, const std::string& host) {
  return {{"tvd", tvd}, {"host", host}};
}

TEST(StoreMirrorTest, InitialContentsNameEveryTvdWithItsMembers) {
  StoreMirror m;
  auto c = m.Apply(
      {{"TVD", {{"u1", {{"new", TvdRowJson("blue", 3, "t1")}}}}},
       {"Membership",
        {{"m1", {{"new", Member("blue", "h2")}}},
         {"m2", {{"new", Member("blue", "h1")}}}}},
       {"Host",
        {{"x1", {{"new", {{"name", "h1"}, {"underlay", "198.18.0.1"}}}}}}}},
      true);
  ASSERT_TRUE(c.ok()) << c.status().ToString();
  ASSERT_EQ(c->tvds.count("blue"), 1u);
  ASSERT_TRUE(c->tvds["blue"].row.has_value());
  EXPECT_EQ(c->tvds["blue"].row->epoch, 3u);
  EXPECT_EQ(c->tvds["blue"].row->key_wrapped,
            (std::vector<std::uint8_t>{0x0a, 0xff}));
  EXPECT_EQ(c->tvds["blue"].members, (std::vector<std::string>{"h1", "h2"}));
  EXPECT_TRUE(c->joins.empty());
  EXPECT_EQ(
      c->underlays,
      (std::vector<std::pair<std::string, std::string>>{{"h1", "198.18.0.1"}}));
}

TEST(StoreMirrorTest, JoinsRowChangesAndRemovals) {
  StoreMirror m;
  ASSERT_TRUE(
      m.Apply({{"TVD", {{"u1", {{"new", TvdRowJson("blue", 1, "t1")}}}}},
               {"Membership", {{"m1", {{"new", Member("blue", "h1")}}}}}},
              true)
          .ok());
  // A join on another master: the row stays, a membership comes.
  auto join = m.Apply(
      {{"Membership", {{"m2", {{"new", Member("blue", "h2")}}}}}}, false);
  ASSERT_TRUE(join.ok());
  EXPECT_TRUE(join->tvds.empty());
  ASSERT_EQ(join->joins.count("blue"), 1u);
  EXPECT_EQ(join->joins["blue"].token, "t1");
  EXPECT_EQ(join->joins["blue"].hosts, (std::vector<std::string>{"h2"}));
  // A rejoin deletes and inserts the same membership: no join.
  auto rejoin = m.Apply({{"Membership",
                          {{"m2", {{"old", Member("blue", "h2")}}},
                           {"m0", {{"new", Member("blue", "h2")}}}}}},
                        false);
  ASSERT_TRUE(rejoin.ok());
  EXPECT_TRUE(rejoin->empty());
  // An eviction: the row changes with the membership, in one update.
  Json evict_update = Json::object();
  evict_update["TVD"]["u1"]["old"] = TvdRowJson("blue", 1, "t1");
  evict_update["TVD"]["u2"]["new"] = TvdRowJson("blue", 2, "t2");
  evict_update["Membership"]["m1"]["old"] = Member("blue", "h1");
  auto evict = m.Apply(evict_update, false);
  ASSERT_TRUE(evict.ok());
  ASSERT_EQ(evict->tvds.count("blue"), 1u);
  EXPECT_EQ(evict->tvds["blue"].row->token, "t2");
  EXPECT_EQ(evict->tvds["blue"].members, (std::vector<std::string>{"h2"}));
  // The TVD goes.
  auto gone = m.Apply(
      {{"TVD", {{"u2", {{"old", TvdRowJson("blue", 2, "t2")}}}}}}, false);
  ASSERT_TRUE(gone.ok());
  ASSERT_EQ(gone->tvds.count("blue"), 1u);
  EXPECT_FALSE(gone->tvds["blue"].row.has_value());
}

TEST(StoreMirrorTest, ARemovalComesWithWhyTheMemberWent) {
  StoreMirror m;
  ASSERT_TRUE(
      m.Apply({{"TVD", {{"u1", {{"new", TvdRowJson("blue", 1, "t1")}}}}},
               {"Membership",
                {{"m1", {{"new", Member("blue", "h1")}}},
                 {"m2", {{"new", Member("blue", "h2")}}}}}},
              true)
          .ok());
  Json leave = Json::object();
  leave["TVD"]["u1"]["old"] = TvdRowJson("blue", 1, "t1");
  leave["TVD"]["u2"]["new"] = TvdRowJson("blue", 2, "t2");
  leave["Membership"]["m1"]["old"] = Member("blue", "h1");
  leave["Departure"]["d1"]["new"] = {
      {"tvd", "blue"}, {"host", "h1"}, {"change", "left"}, {"reason", "bye"}};
  auto c = m.Apply(leave, false);
  ASSERT_TRUE(c.ok()) << c.status().ToString();
  ASSERT_EQ(c->tvds["blue"].departures.count("h1"), 1u);
  EXPECT_TRUE(c->tvds["blue"].departures["h1"].left);
  EXPECT_EQ(c->tvds["blue"].departures["h1"].reason, "bye");
  // The next removal brings its own; the earlier one is not repeated.
  Json evict = Json::object();
  evict["TVD"]["u2"]["old"] = TvdRowJson("blue", 2, "t2");
  evict["TVD"]["u3"]["new"] = TvdRowJson("blue", 3, "t3");
  evict["Membership"]["m2"]["old"] = Member("blue", "h2");
  evict["Departure"]["d2"]["new"] = {{"tvd", "blue"},
                                     {"host", "h2"},
                                     {"change", "evicted"},
                                     {"reason", "evicted: quote"}};
  auto e = m.Apply(evict, false);
  ASSERT_TRUE(e.ok()) << e.status().ToString();
  ASSERT_EQ(e->tvds["blue"].departures.size(), 1u);
  EXPECT_FALSE(e->tvds["blue"].departures["h2"].left);
  // A departure that does not decode refuses the whole update.
  Json bad = Json::object();
  bad["TVD"]["u3"]["old"] = TvdRowJson("blue", 3, "t3");
  bad["TVD"]["u4"]["new"] = TvdRowJson("blue", 4, "t4");
  bad["Departure"]["d3"]["new"] = {
      {"tvd", "blue"}, {"host", "h3"}, {"change", "moved"}, {"reason", ""}};
  EXPECT_EQ(m.Apply(bad, false).status(),
            ProtocolError("store monitor: Departure row d3: OVSDB Departure "
                          "row: column 'change' is neither \"left\" nor "
                          "\"evicted\""));
  EXPECT_EQ(m.tvd_count(), 1u);
}

TEST(StoreMirrorTest, AnUpdateThatDoesNotDecodeChangesNothing) {
  StoreMirror m;
  ASSERT_TRUE(
      m.Apply({{"TVD", {{"u1", {{"new", TvdRowJson("blue", 1, "t1")}}}}}}, true)
          .ok());
  Json bad_row = TvdRowJson("red", 1, "t9");
  bad_row["epoch"] = "one";
  auto c = m.Apply({{"Membership", {{"m1", {{"new", Member("blue", "h1")}}}}},
                    {"TVD", {{"u9", {{"new", bad_row}}}}}},
                   false);
  ASSERT_FALSE(c.ok());
  EXPECT_EQ(c.status().code(), ErrorCode::kProtocol);
  EXPECT_NE(c.status().message().find("store monitor: TVD row u9"),
            std::string::npos)
      << c.status().message();
  EXPECT_EQ(m.membership_count(), 0u);
  EXPECT_EQ(m.tvd_count(), 1u);
  EXPECT_EQ(m.Apply(Json::array(), false).status(),
            ProtocolError("store monitor: update is not an object"));
  EXPECT_EQ(m.Apply({{"TVD", 1}}, false).status(),
            ProtocolError("store monitor: TVD update is not an object"));
}

}  // namespace
}  // namespace tvd::master
