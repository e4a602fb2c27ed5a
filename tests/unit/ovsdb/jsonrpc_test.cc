#include "tvd/vswitch/ovsdb/jsonrpc.h"

#include <gtest/gtest.h>

#include "tvd/vswitch/ovsdb/ovsdb_datum.h"

namespace tvd::vswitch {
namespace {

TEST(JsonRpcDecoderTest, SplitsBackToBackMessagesFedByteByByte) {
  std::string stream = R"({"id":1,"result":["a}{"],"error":null} )"
                       R"({"id":"e","method":"echo","params":[]})"
                       "\n"
                       R"({"id":null,"method":"update","params":["m",{}]})";
  JsonRpcDecoder d;
  std::vector<JsonRpcMessage> out;
  for (char c : stream) ASSERT_TRUE(d.Feed(std::string_view(&c, 1), &out).ok());
  ASSERT_EQ(out.size(), 3u);
  EXPECT_EQ(out[0].kind, JsonRpcMessage::Kind::kResponse);
  EXPECT_EQ(out[0].result, Json::array({"a}{"}));
  EXPECT_EQ(out[1].kind, JsonRpcMessage::Kind::kRequest);
  EXPECT_EQ(out[1].method, "echo");
  EXPECT_EQ(out[2].kind, JsonRpcMessage::Kind::kNotification);
  EXPECT_EQ(d.buffered(), 0u);
}

TEST(JsonRpcDecoderTest, KeepsAnIncompleteMessageForLater) {
  JsonRpcDecoder d;
  std::vector<JsonRpcMessage> out;
  ASSERT_TRUE(d.Feed(R"({"id":1,"result":"x\"}",)", &out).ok());
  EXPECT_TRUE(out.empty());
  EXPECT_GT(d.buffered(), 0u);
  ASSERT_TRUE(d.Feed(R"("error":null})", &out).ok());
  ASSERT_EQ(out.size(), 1u);
  EXPECT_EQ(out[0].result, "x\"}");
}

TEST(JsonRpcDecoderTest, OversizeMessageIsRefused) {
  JsonRpcDecoder d(32);
  std::vector<JsonRpcMessage> out;
  Status s =
      d.Feed(R"({"id":1,"result":"0123456789012345678901234567"})", &out);
  EXPECT_EQ(s, ProtocolError("JSON-RPC stream at byte 0: message exceeds 32 "
                             "bytes"));
  // Sticky: the stream cannot be resynchronised.
  EXPECT_EQ(d.Feed("{}", &out), s);
}

TEST(JsonRpcDecoderTest, NonObjectIsRefusedWithOffset) {
  JsonRpcDecoder d;
  std::vector<JsonRpcMessage> out;
  EXPECT_EQ(d.Feed("  [1]", &out),
            ProtocolError("JSON-RPC stream at byte 2: expected '{' to start a "
                          "message, got byte 91"));
}

TEST(JsonRpcDecoderTest, InvalidJsonIsRefused) {
  JsonRpcDecoder d;
  std::vector<JsonRpcMessage> out;
  ASSERT_TRUE(d.Feed(R"({"id":1,"result":null,"error":null})", &out).ok());
  EXPECT_EQ(d.Feed(R"({"id":tru})", &out),
            ProtocolError("JSON-RPC message at byte 35: invalid JSON"));
  EXPECT_EQ(out.size(), 1u);  // the good message before it was kept
}

TEST(JsonRpcDecoderTest, DeepNestingIsRefused) {
  JsonRpcDecoder d;
  std::vector<JsonRpcMessage> out;
  std::string deep = "{\"a\":" + std::string(70, '[');
  EXPECT_EQ(
      d.Feed(deep, &out),
      ProtocolError("JSON-RPC stream at byte 68: nesting deeper than 64"));
}

TEST(JsonRpcDecoderTest, WrongMemberTypesAreNamed) {
  std::vector<JsonRpcMessage> out;
  JsonRpcDecoder a;
  EXPECT_EQ(a.Feed(R"({"method":1,"params":[]})", &out),
            ProtocolError("JSON-RPC message at byte 0: JSON-RPC member "
                          "'method' is not a string"));
  JsonRpcDecoder b;
  EXPECT_EQ(b.Feed(R"({"method":"echo","params":{}})", &out),
            ProtocolError("JSON-RPC message at byte 0: JSON-RPC request "
                          "'echo': 'params' is not an array"));
  JsonRpcDecoder c;
  EXPECT_EQ(c.Feed(R"({"result":1,"error":null})", &out),
            ProtocolError("JSON-RPC message at byte 0: JSON-RPC response has "
                          "no 'id'"));
  JsonRpcDecoder e;
  EXPECT_EQ(e.Feed(R"({"id":1})", &out),
            ProtocolError("JSON-RPC message at byte 0: JSON-RPC message has "
                          "neither 'method' nor 'result'/'error'"));
  EXPECT_TRUE(out.empty());
}

TEST(JsonRpcEncodeTest, RequestAndResponse) {
  EXPECT_EQ(EncodeJsonRpcRequest("echo", Json::array({"x"}), 3),
            R"({"id":3,"method":"echo","params":["x"]})");
  EXPECT_EQ(EncodeJsonRpcResponse(Json::array(), "e"),
            R"({"error":null,"id":"e","result":[]})");
  // Invalid UTF-8 is replaced, not thrown.
  EXPECT_NO_THROW(EncodeJsonRpcRequest("x", Json::array({"\xff"}), 1));
}

TEST(OvsdbDatumTest, ParsesWireForms) {
  auto map = ovsdb::ParseStringMap(
      Json::parse(R"(["map",[["tvd","blue"],["vm","a"]]])"));
  ASSERT_TRUE(map.ok());
  EXPECT_EQ(map->at("tvd"), "blue");
  EXPECT_EQ(ovsdb::ParseStringMap(Json::parse(R"(["map",[["k",1]]])")).status(),
            InvalidArgument("map entry is not a [string, string] pair"));
  auto tag = ovsdb::ParseOptionalInteger(Json::parse(R"(["set",[]])"));
  ASSERT_TRUE(tag.ok());
  EXPECT_FALSE(tag->has_value());
  EXPECT_EQ(ovsdb::ParseOptionalInteger(Json("7")).status(),
            InvalidArgument("expected an integer or an empty set"));
  EXPECT_EQ(*ovsdb::ParseOptionalInteger(Json(7)), 7);
  EXPECT_EQ(*ovsdb::ParseUuid(ovsdb::Uuid("u")), "u");
  EXPECT_EQ(ovsdb::ParseUuid(Json(1)).status(),
            InvalidArgument("expected [\"uuid\", <string>], got 1"));
  auto set = ovsdb::ParseSet(ovsdb::Uuid("u"));
  ASSERT_TRUE(set.ok());
  EXPECT_EQ(set->size(), 1u);
  EXPECT_EQ(ovsdb::StringMap({{"a", "b"}}).dump(), R"(["map",[["a","b"]]])");
}

}  // namespace
}  // namespace tvd::vswitch
