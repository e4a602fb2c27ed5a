#include "tvd/host/control_protocol.h"

#include <gtest/gtest.h>

namespace tvd::host {
namespace {

TEST(ControlProtocolTest, RequestsRoundTrip) {
  const ControlRequest requests[] = {
      {ControlOp::kJoin, "blue", "", ""},
      {ControlOp::kLeave, "blue", "", ""},
      {ControlOp::kAttach, "blue", "/etc/tvd/vms/web.xml", ""},
      {ControlOp::kDetach, "blue", "", "web"},
      {ControlOp::kStatus, "", "", ""},
      {ControlOp::kStatus, "red", "", ""}};
  for (const ControlRequest& r : requests) {
    auto decoded = DecodeRequest(EncodeRequest(r));
    ASSERT_TRUE(decoded.ok()) << decoded.status().ToString();
    EXPECT_EQ(*decoded, r);
  }
}

TEST(ControlProtocolTest, StrictDecoderNamesTheProblem) {
  struct Case {
    std::string body;
    std::string message;
  };
  const Case cases[] = {
      {"", "request: not valid JSON"},
      {"[1]", "request: not a JSON object"},
      {R"({"tvd":"blue"})", "request: missing field 'op'"},
      {R"({"op":7})", "request: field 'op' must be a string"},
      {R"({"op":"reboot"})",
       "request: unknown op 'reboot' (expected join, leave, attach, detach, "
       "status or usage)"},
      {R"({"op":"join"})", "request: missing field 'tvd'"},
      {R"({"op":"join","tvd":"../etc"})",
       "request: field 'tvd' is not a valid TVD name (1-64 of A-Z a-z 0-9 _ "
       ". -, not starting with '.' or '-')"},
      {R"({"op":"join","tvd":"blue","vm":"x"})",
       "request: unexpected field 'vm' for op 'join'"},
      {R"({"op":"attach","tvd":"blue","vm_config":"web.xml"})",
       "request: field 'vm_config' must be an absolute path of at most 4096 "
       "bytes without NUL"},
      {R"({"op":"detach","tvd":"blue"})", "request: missing field 'vm'"},
      {R"({"op":"detach","tvd":"blue","vm":""})",
       "request: field 'vm' is not a valid VM name"},
      {R"({"op":"status","tvd":null})",
       "request: field 'tvd' must be a string"},
      {R"({"op":"usage","tvd":"blue","held":{}})",
       "request: field 'held' must be an object of exactly domains, vcpus, "
       "memory_kib, disk_bytes"},
      {R"({"op":"usage","tvd":"blue","held":{"domains":1,"vcpus":-1,)"
       R"("memory_kib":0,"disk_bytes":0},"adds":{}})",
       "request: field 'held': 'vcpus' must be an unsigned integer"},
      {R"({"op":"usage","tvd":"blue","held":{"domains":1,"vcpus":1,)"
       R"("memory_kib":0,"disk":0},"adds":{}})",
       "request: field 'held': 'disk_bytes' must be an unsigned integer"},
      {R"({"op":"usage","tvd":"blue","held":{"domains":1,"vcpus":1,)"
       R"("memory_kib":0,"disk_bytes":0}})",
       "request: missing field 'adds'"},
      {R"({"op":"join","tvd":"blue","held":{}})",
       "request: unexpected field 'held' for op 'join'"},
  };
  for (const Case& c : cases) {
    auto r = DecodeRequest(c.body);
    EXPECT_EQ(r.status(), InvalidArgument(c.message)) << c.body;
  }
  std::string big(kMaxControlFrameBytes + 1, ' ');
  EXPECT_EQ(DecodeRequest(big).status().code(), ErrorCode::kInvalidArgument);
}

TEST(ControlProtocolTest, UsageClaimsRoundTrip) {
  ControlRequest req;
  req.op = ControlOp::kUsage;
  req.tvd = "blue";
  req.held = {2, 4, 4194304, 21474836480};
  req.adds = {0, 2, 2097152, 18446744073709551615u};
  auto back = DecodeRequest(EncodeRequest(req));
  ASSERT_TRUE(back.ok()) << back.status().ToString();
  EXPECT_EQ(*back, req);
}

TEST(ControlProtocolTest, ResponsesCarryTheErrorCode) {
  ControlResponse err;
  err.status = PermissionDenied("VM 'web': measured kernel differs");
  auto d = DecodeResponse(EncodeResponse(err));
  ASSERT_TRUE(d.ok());
  EXPECT_EQ(d->status, err.status);
  ControlResponse ok;
  ok.result = {{"vm", "web"}};
  d = DecodeResponse(EncodeResponse(ok));
  ASSERT_TRUE(d.ok());
  EXPECT_TRUE(d->status.ok());
  EXPECT_EQ(d->result["vm"], "web");
  EXPECT_EQ(DecodeResponse(R"({"ok":"yes"})").status(),
            ProtocolError("response: missing boolean 'ok'"));
}

TEST(ControlProtocolTest, NamesAreRestricted) {
  EXPECT_TRUE(IsValidControlName("blue"));
  EXPECT_TRUE(IsValidControlName("tvd_1.a-b"));
  EXPECT_FALSE(IsValidControlName(""));
  EXPECT_FALSE(IsValidControlName("-x"));
  EXPECT_FALSE(IsValidControlName(".."));
  EXPECT_FALSE(IsValidControlName("a/b"));
  EXPECT_FALSE(IsValidControlName(std::string(65, 'a')));
}

}  // namespace
}  // namespace tvd::host
