// Decoding the master's rows from OVSDB replies: every column checked, exact
// errors; and the KEK check value.
#include "tvd/master/ovsdb_store_rows.h"

#include <gtest/gtest.h>

#include "tvd/master/kek_check.h"

namespace tvd::master::ovsdb_rows {
namespace {

Json Parse(const char* text) { return Json::parse(text); }

TEST(OvsdbStoreRowsTest, DecodesEveryTable) {
  auto tvd = DecodeTvd(Parse(
      R"({"_uuid":["uuid","x"],"name":"blue","policy_xml":"<p/>","digest":"ab","epoch":7,"token":"t1","key_wrapped_hex":"0aff"})"));
  ASSERT_TRUE(tvd.ok()) << tvd.status().ToString();
  EXPECT_EQ(tvd->name, "blue");
  EXPECT_EQ(tvd->epoch, 7u);
  EXPECT_EQ(tvd->token, "t1");
  EXPECT_EQ(tvd->key_wrapped, (std::vector<std::uint8_t>{0x0a, 0xff}));
  auto host = DecodeAttestation(
      Parse(R"({"host":"n1","attested":true,"reason":"","at":12})"));
  ASSERT_TRUE(host.ok());
  EXPECT_EQ(host->name, "n1");
  EXPECT_TRUE(host->attested);
  EXPECT_EQ(host->attested_at, 12);
  auto ak = DecodeAk(Parse(R"({"host":"n1","ak_hex":"00ff10"})"));
  ASSERT_TRUE(ak.ok());
  EXPECT_EQ(ak->second, (std::vector<std::uint8_t>{0, 0xff, 0x10}));
  auto clock = DecodeAkClock(Parse(
      R"({"ak_name_hex":"0b","reset_count":4294967295,"restart_count":0,"clock":9223372036854775807})"));
  ASSERT_TRUE(clock.ok()) << clock.status().ToString();
  EXPECT_EQ(clock->reset_count, 4294967295u);
  EXPECT_EQ(clock->clock, 9223372036854775807u);
  auto usage = DecodeQuotaUsage(Parse(
      R"({"tvd":"b","host":"h","domains":1,"vcpus":2,"memory_kib":3,"disk_bytes":4})"));
  ASSERT_TRUE(usage.ok());
  EXPECT_EQ(usage->amounts.memory_kib, 3u);
  auto audit = DecodeAudit(Parse(
      R"({"id":3,"at":5,"actor":"a","action":"join","subject":"s","allowed":false,"reason":"r","token":"t"})"));
  ASSERT_TRUE(audit.ok());
  EXPECT_EQ(audit->id, 3);
  auto departure = DecodeDeparture(
      Parse(R"({"tvd":"b","host":"h","change":"left","reason":"left: bye"})"));
  ASSERT_TRUE(departure.ok()) << departure.status().ToString();
  EXPECT_EQ(departure->first, (std::pair<std::string, std::string>{"b", "h"}));
  EXPECT_TRUE(departure->second.left);
  EXPECT_EQ(departure->second.reason, "left: bye");
  auto id = DecodeIdentity(Parse(
      R"({"kek_check":"0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef","audit_seq":2})"));
  ASSERT_TRUE(id.ok()) << id.status().ToString();
  EXPECT_EQ(id->audit_seq, 2);
  auto db = DecodeServerDatabase(Parse(
      R"({"name":"TVD_Master","model":"clustered","connected":true,"leader":false})"));
  ASSERT_TRUE(db.ok());
  EXPECT_FALSE(db->leader);
}

TEST(OvsdbStoreRowsTest, ExactErrors) {
  // Only the two kinds of departure the schema allows.
  EXPECT_EQ(DecodeDeparture(
                Parse(R"({"tvd":"b","host":"h","change":"quit","reason":""})"))
                .status(),
            ProtocolError("OVSDB Departure row: column 'change' is neither "
                          "\"left\" nor \"evicted\""));
  EXPECT_EQ(DecodeDeparture(Parse(R"({"tvd":"b","host":"h","change":"left"})"))
                .status(),
            ProtocolError("OVSDB Departure row: column 'reason' is missing"));
  EXPECT_EQ(
      DecodeTvd(Parse(R"({"name":"b","policy_xml":"","digest":""})")).status(),
      ProtocolError("OVSDB TVD row: column 'epoch' is missing"));
  EXPECT_EQ(
      DecodeTvd(Parse(R"({"name":"b","policy_xml":"","digest":"","epoch":-1})"))
          .status(),
      ProtocolError("OVSDB TVD row: column 'epoch' is not an integer in "
                    "0..9223372036854775807"));
  EXPECT_EQ(
      DecodeTvd(
          Parse(
              R"({"name":"b","policy_xml":"","digest":"","epoch":18446744073709551615})"))
          .status(),
      ProtocolError("OVSDB TVD row: column 'epoch' is not an integer in "
                    "0..9223372036854775807"));
  EXPECT_EQ(DecodeTvd(Parse(R"({"name":1})")).status(),
            ProtocolError("OVSDB TVD row: column 'name' is not a string"));
  EXPECT_EQ(DecodeTvd(Parse("[1]")).status(),
            ProtocolError("OVSDB TVD row is not a JSON object"));
  EXPECT_EQ(DecodeAttestation(
                Parse(R"({"host":"n","attested":1,"reason":"","at":0})"))
                .status(),
            ProtocolError(
                "OVSDB Attestation row: column 'attested' is not a boolean"));
  EXPECT_EQ(DecodeAk(Parse(R"({"host":"n","ak_hex":"0g"})")).status(),
            ProtocolError("OVSDB AK row: column 'ak_hex' is not hex"));
  EXPECT_EQ(DecodeAk(Parse(R"({"host":"n","ak_hex":"ABCD"})")).status(),
            ProtocolError("OVSDB AK row: column 'ak_hex' is not hex"));
  EXPECT_EQ(
      DecodeDiskKey(Parse(R"({"wrapped_hex":"abc"})")).status(),
      ProtocolError("OVSDB Disk_Key row: column 'wrapped_hex' is not hex"));
  EXPECT_EQ(
      DecodeVtpmKey(Parse(R"({"key_wrapped_hex":"xy"})")).status(),
      ProtocolError("OVSDB Vtpm row: column 'key_wrapped_hex' is not hex"));
  EXPECT_EQ(
      DecodeVtpmBinding(
          Parse(
              R"({"tvd":"b","vm":"w","host":"n","ek_hex":"0","ak_hex":"","created_at":0})"))
          .status(),
      ProtocolError("OVSDB Vtpm row: column 'ek_hex' is not hex"));
  EXPECT_EQ(
      DecodeVtpmBinding(
          Parse(
              R"({"tvd":"b","vm":"w","host":"n","ek_hex":"00","ak_hex":"01","created_at":-1})"))
          .status(),
      ProtocolError("OVSDB Vtpm row: column 'created_at' is not an integer "
                    "in 0..9223372036854775807"));
  EXPECT_EQ(DecodeVtpmBinding(Parse(R"({"tvd":"b","vm":"w"})")).status(),
            ProtocolError("OVSDB Vtpm row: column 'host' is missing"));
  auto binding = DecodeVtpmBinding(Parse(
      R"({"tvd":"b","vm":"w","host":"n","ek_hex":"00ff","ak_hex":"01","created_at":5})"));
  ASSERT_TRUE(binding.ok()) << binding.status().ToString();
  EXPECT_EQ(binding->ek_public, (std::vector<std::uint8_t>{0x00, 0xff}));
  EXPECT_EQ(binding->created_at, 5);
  EXPECT_EQ(
      DecodeAkClock(
          Parse(
              R"({"ak_name_hex":"","reset_count":4294967296,"restart_count":0,"clock":0})"))
          .status(),
      ProtocolError("OVSDB AK_Clock row: column 'reset_count' is not an "
                    "integer in 0..4294967295"));
  EXPECT_EQ(
      DecodeIdentity(Parse(R"({"kek_check":"00","audit_seq":0})")).status(),
      ProtocolError("OVSDB Store_Identity row: column 'kek_check' is not "
                    "64 hex digits"));
  EXPECT_EQ(
      DecodeAudit(
          Parse(
              R"({"id":0,"at":0,"actor":"","action":"","subject":"","allowed":true,"reason":""})"))
          .status(),
      ProtocolError("OVSDB Audit row: column 'id' is not an integer in "
                    "1..9223372036854775807"));
  EXPECT_EQ(SelectedRows(Parse("[]"), 0, "TVD").status(),
            ProtocolError("OVSDB select of TVD: no result at position 0"));
  EXPECT_EQ(SelectedRows(Parse(R"([{"count":1}])"), 0, "TVD").status(),
            ProtocolError("OVSDB select of TVD: result has no \"rows\" array"));
  EXPECT_EQ(SelectedRows(Parse(R"([{"rows":[1]}])"), 0, "TVD").status(),
            ProtocolError("OVSDB select of TVD: a row is not an object"));
  EXPECT_EQ(SchemaNameVersion(Parse(R"({"name":"TVD_Master"})")).status(),
            ProtocolError("OVSDB schema row: column 'version' is missing"));
}

TEST(KekCheckTest, DependsOnTheKekOnlyAndIsNotTheKek) {
  SecureBytes a(32), b(32);
  b.data()[0] = 1;
  auto ca = KekCheckValue(a);
  auto cb = KekCheckValue(b);
  ASSERT_TRUE(ca.ok() && cb.ok());
  EXPECT_EQ(ca->size(), 64u);
  EXPECT_NE(*ca, *cb);
  EXPECT_EQ(*ca, *KekCheckValue(a));
  // HMAC-SHA256(32 zero bytes, "tvd-master store KEK check v1"), computed
  // independently with: python3 -c 'import hmac,hashlib;
  // print(hmac.new(bytes(32), b"tvd-master store KEK check v1",
  // hashlib.sha256).hexdigest())'
  EXPECT_EQ(*ca,
            "431cc963c853f3843546656ebdc10033462cebf1a6b5451c1c08a55aa8fcba4f");
  EXPECT_EQ(KekCheckValue(SecureBytes(31)).status(),
            InvalidArgument("master KEK must be 32 bytes"));
}

}  // namespace
}  // namespace tvd::master::ovsdb_rows
