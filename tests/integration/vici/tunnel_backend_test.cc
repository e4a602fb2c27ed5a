// ViciTunnelBackend between two test hosts: two network namespaces joined by a
// veth underlay, each with its own real charon (userspace ESP). Checks that
// tunnels come up, carry only their TVD's VXLAN port as ESP-in-UDP, stay
// separate per TVD, are removed without a trace, and are restored after a
// charon restart.
#include <gtest/gtest.h>

#include <algorithm>
#include <chrono>
#include <filesystem>
#include <iostream>
#include <thread>

#include "tvd/testing/charon.h"
#include "tvd/testing/netns.h"
#include "tvd/vswitch/vici/vici_tunnel_backend.h"

namespace tvd::vici {
namespace {

using tvd::testing::CharonInstance;
using tvd::testing::NetworkNamespace;
using vswitch::TunnelSpec;

constexpr const char* kAddrA = "198.18.0.1";
constexpr const char* kAddrB = "198.18.0.2";

struct Host {
  NetworkNamespace ns;
  std::unique_ptr<CharonInstance> charon;
  std::unique_ptr<ViciTunnelBackend> backend;
};

class TunnelBackendTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    a_ = new Host;
    b_ = new Host;
    StatusOr<NetworkNamespace> na =
        NetworkNamespace::Create(tvd::testing::UniqueName("tvA"));
    ASSERT_TRUE(na.ok()) << na.status().ToString();
    a_->ns = std::move(na).value();
    StatusOr<NetworkNamespace> nb =
        NetworkNamespace::Create(tvd::testing::UniqueName("tvB"));
    ASSERT_TRUE(nb.ok()) << nb.status().ToString();
    b_->ns = std::move(nb).value();
    ASSERT_TRUE(
        tvd::testing::CreateVethPair("ua", a_->ns.name(), "ub", b_->ns.name())
            .ok());
    ASSERT_TRUE(a_->ns
                    .Run({"ip", "addr", "add", std::string(kAddrA) + "/24",
                          "dev", "ua"})
                    .ok());
    ASSERT_TRUE(b_->ns
                    .Run({"ip", "addr", "add", std::string(kAddrB) + "/24",
                          "dev", "ub"})
                    .ok());
    for (Host* h : {a_, b_}) {
      StatusOr<std::unique_ptr<CharonInstance>> c =
          CharonInstance::Start(h->ns);
      ASSERT_TRUE(c.ok()) << c.status().ToString();
      h->charon = std::move(c).value();
      ASSERT_TRUE(Reconnect(*h).ok());
    }
  }
  static void TearDownTestSuite() {
    for (Host* h : {a_, b_}) {
      if (h == nullptr) continue;
      h->backend.reset();
      h->charon.reset();
      delete h;
    }
    a_ = b_ = nullptr;
  }
  void SetUp() override {
    ASSERT_NE(a_, nullptr);
    ASSERT_NE(a_->backend, nullptr);
    ASSERT_NE(b_->backend, nullptr);
  }
  void TearDown() override {
    // Each test leaves both charons empty for the next one.
    for (Host* h : {a_, b_}) {
      StatusOr<std::vector<std::string>> names = h->backend->ListTunnels();
      if (!names.ok()) continue;
      for (const std::string& n : *names) (void)h->backend->RemoveTunnel(n);
    }
  }

  static Status Reconnect(Host& h) {
    TVD_ASSIGN_OR_RETURN(h.backend,
                         ViciTunnelBackend::Connect(h.charon->vici_socket()));
    return Status::Ok();
  }

  // The spec of TVD `tvd` as host A (initiator) or B sees it.
  static TunnelSpec Spec(bool on_a, const std::string& tvd, std::uint32_t id,
                         const SecureBytes& psk) {
    TunnelSpec s;
    s.tvd = tvd;
    s.tvd_id = id;
    s.local_host = on_a ? "h1" : "h2";
    s.peer_host = on_a ? "h2" : "h1";
    s.local_address = on_a ? kAddrA : kAddrB;
    s.peer_address = on_a ? kAddrB : kAddrA;
    s.ike_proposals = {"aes256gcm16-prfsha256-ecp256"};
    s.esp_proposals = {"aes256gcm16"};
    s.psk = &psk;
    s.initiator = on_a;
    return s;
  }

  // Brings TVD `tvd` up between A and B (responder first).
  static Status Up(const std::string& tvd, std::uint32_t id,
                   const SecureBytes& psk) {
    TVD_RETURN_IF_ERROR(b_->backend->EnsureTunnel(Spec(false, tvd, id, psk)));
    return a_->backend->EnsureTunnel(Spec(true, tvd, id, psk));
  }

  // list-sas on `h` for tunnel `name`: the IKE_SA sections.
  static std::vector<Message> Sas(Host& h, const std::string& name) {
    StatusOr<std::vector<Message>> sas = h.backend->client().ListSas(name);
    EXPECT_TRUE(sas.ok()) << sas.status().ToString();
    std::vector<Message> out;
    if (!sas.ok()) return out;
    for (const Message& m : *sas) {
      if (const Message* s = m.Section(name)) out.push_back(*s);
    }
    return out;
  }

  // The child SA named `child` inside an IKE_SA section, or nullptr.
  static const Message* Child(const Message& ike, const std::string& child) {
    const Message* children = ike.Section("child-sas");
    if (children == nullptr) return nullptr;
    for (const Message::Entry& e : children->entries()) {
      const Message& c = children->SectionAt(e);
      if (c.ValueOr("name", "") == child) return &c;
    }
    return nullptr;
  }

  static Status AddVxlan(Host& h, const std::string& dev, int vni,
                         std::uint16_t port, const std::string& local,
                         const std::string& remote, const std::string& inner) {
    TVD_RETURN_IF_ERROR(h.ns.Run(
        {"ip", "link", "add", dev, "type", "vxlan", "id", std::to_string(vni),
         "dstport", std::to_string(port), "local", local, "remote", remote}));
    TVD_RETURN_IF_ERROR(h.ns.Run({"ip", "addr", "add", inner, "dev", dev}));
    return h.ns.Run({"ip", "link", "set", dev, "up"});
  }

  // Pings `target` from `h` while capturing the underlay of A; returns the
  // decoded capture (one packet per line).
  static StatusOr<std::string> PingAndCapture(Host& h,
                                              const std::string& target) {
    const std::string pcap =
        "/tmp/tvd-vici-" + tvd::testing::UniqueName("cap") + ".pcap";
    ProcessOptions o =
        a_->ns.Options({"tcpdump", "--immediate-mode", "-U", "-n", "-i", "ua",
                        "-w", pcap, "udp or icmp"});
    o.stderr_path = pcap + ".err";
    TVD_ASSIGN_OR_RETURN(ChildProcess dump, ChildProcess::Start(o));
    // tcpdump says "listening on" once the capture is live.
    for (int i = 0; i < 200; ++i) {
      std::error_code ec;
      if (std::filesystem::file_size(pcap + ".err", ec) > 0 && !ec) break;
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
    Status ping = h.ns.Run({"ping", "-c", "3", "-i", "0.2", "-W", "2", target});
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
    (void)dump.Stop(std::chrono::seconds(2));
    ProcessOptions read;
    read.argv = {"tcpdump", "-n", "-r", pcap};
    StatusOr<CommandResult> r = RunCommand(read);
    if (r.ok() && r->exit_status != 0) {
      return IoError("reading capture " + pcap + ": " + r->err);
    }
    std::error_code ec;
    std::filesystem::remove(pcap, ec);
    std::filesystem::remove(pcap + ".err", ec);
    TVD_RETURN_IF_ERROR(ping);
    if (!r.ok()) return r.status();
    return r->out;
  }

  static Host* a_;
  static Host* b_;
};

Host* TunnelBackendTest::a_ = nullptr;
Host* TunnelBackendTest::b_ = nullptr;

TEST_F(TunnelBackendTest, TunnelComesUpWithBothChildrenAndEventsArrive) {
  // A separate connection listens for events while the backend works.
  ClientOptions o;
  o.socket_path = a_->charon->vici_socket();
  StatusOr<ViciClientPtr> events = ViciClient::Connect(o);
  ASSERT_TRUE(events.ok());
  std::vector<std::string> seen;
  auto record = [&](const std::string& event, const Message& m) {
    std::string name;
    for (const Message::Entry& e : m.entries()) {
      if (e.kind == Message::Kind::kSection) name = e.name;
    }
    seen.push_back(event + " " + m.ValueOr("up", "no") + " " + name);
  };
  ASSERT_TRUE((*events)->Subscribe("ike-updown", record).ok());
  ASSERT_TRUE((*events)->Subscribe("child-updown", record).ok());

  SecureBytes psk = SecureBytes::Random(32);
  const auto start = std::chrono::steady_clock::now();
  Status up = Up("blue", 7, psk);
  const auto took = std::chrono::steady_clock::now() - start;
  ASSERT_TRUE(up.ok()) << up.ToString() << "\n" << a_->charon->LogTail();
  std::cout
      << "tunnel set-up (responder load + initiator load + 2 children): "
      << std::chrono::duration_cast<std::chrono::microseconds>(took).count() /
             1000.0
      << " ms\n";

  const std::string name = "tvd-blue-h2";
  std::vector<Message> sas = Sas(*a_, name);
  ASSERT_EQ(sas.size(), 1u);
  EXPECT_EQ(sas[0].ValueOr("state", ""), "ESTABLISHED");
  EXPECT_EQ(sas[0].ValueOr("local-id", ""), "blue@h1");
  EXPECT_EQ(sas[0].ValueOr("remote-id", ""), "blue@h2");
  const Message* out = Child(sas[0], name + "-out");
  const Message* in = Child(sas[0], name + "-in");
  ASSERT_NE(out, nullptr) << sas[0].DebugString();
  ASSERT_NE(in, nullptr) << sas[0].DebugString();
  EXPECT_EQ(out->ValueOr("state", ""), "INSTALLED");
  EXPECT_EQ(out->ValueOr("mode", ""), "TUNNEL");
  EXPECT_EQ(out->ValueOr("encap", ""), "yes");
  EXPECT_EQ(*out->List("local-ts"),
            std::vector<std::string>{"198.18.0.1/32[udp]"});
  EXPECT_EQ(*out->List("remote-ts"),
            std::vector<std::string>{"198.18.0.2/32[udp/49159]"});
  EXPECT_EQ(*in->List("local-ts"),
            std::vector<std::string>{"198.18.0.1/32[udp/49159]"});
  EXPECT_EQ(*in->List("remote-ts"),
            std::vector<std::string>{"198.18.0.2/32[udp]"});
  // B sees the same SA from its side, as responder.
  std::vector<Message> sas_b = Sas(*b_, "tvd-blue-h1");
  ASSERT_EQ(sas_b.size(), 1u);
  EXPECT_EQ(sas_b[0].ValueOr("remote-id", ""), "blue@h1");

  ASSERT_TRUE((*events)
                  ->PollEvents(std::chrono::seconds(5),
                               [&] { return seen.size() >= 3; })
                  .ok());
  EXPECT_NE(std::find(seen.begin(), seen.end(), "ike-updown yes " + name),
            seen.end());
  EXPECT_EQ(std::count(seen.begin(), seen.end(), "child-updown yes " + name),
            2);

  seen.clear();
  ASSERT_TRUE(a_->backend->RemoveTunnel(name).ok());
  ASSERT_TRUE((*events)
                  ->PollEvents(std::chrono::seconds(5),
                               [&] { return seen.size() >= 3; })
                  .ok());
  EXPECT_NE(std::find(seen.begin(), seen.end(), "ike-updown no " + name),
            seen.end());
}

TEST_F(TunnelBackendTest, VxlanBetweenTheHostsTravelsOnlyAsEspInUdp) {
  SecureBytes psk = SecureBytes::Random(32);
  ASSERT_TRUE(Up("blue", 7, psk).ok()) << a_->charon->LogTail();
  const std::uint16_t port = vswitch::VxlanPortForTvd(7);
  ASSERT_TRUE(
      AddVxlan(*a_, "vxb", 100, port, kAddrA, kAddrB, "10.77.0.1/24").ok());
  ASSERT_TRUE(
      AddVxlan(*b_, "vxb", 100, port, kAddrB, kAddrA, "10.77.0.2/24").ok());

  const std::string name = "tvd-blue-h2";
  std::vector<Message> before = Sas(*a_, name);
  ASSERT_EQ(before.size(), 1u);
  const long out_before =
      std::stol(Child(before[0], name + "-out")->ValueOr("bytes-out", "0"));

  StatusOr<std::string> cap = PingAndCapture(*a_, "10.77.0.2");
  ASSERT_TRUE(cap.ok()) << cap.status().ToString();
  EXPECT_NE(cap->find("198.18.0.1.4500 > 198.18.0.2.4500: UDP-encap: ESP"),
            std::string::npos)
      << *cap;
  EXPECT_NE(cap->find("198.18.0.2.4500 > 198.18.0.1.4500: UDP-encap: ESP"),
            std::string::npos)
      << *cap;
  EXPECT_EQ(cap->find("." + std::to_string(port) + ":"), std::string::npos)
      << "plaintext VXLAN on the underlay:\n"
      << *cap;
  EXPECT_EQ(cap->find("ICMP"), std::string::npos) << *cap;

  std::vector<Message> after = Sas(*a_, name);
  ASSERT_EQ(after.size(), 1u);
  const Message* out = Child(after[0], name + "-out");
  const Message* in = Child(after[0], name + "-in");
  EXPECT_GT(std::stol(out->ValueOr("bytes-out", "0")), out_before);
  // B's VXLAN answers to A's port arrive on the "-in" child.
  EXPECT_GT(std::stol(in->ValueOr("bytes-in", "0")), 0);

  // Other traffic to the peer's underlay address goes into the TUN device
  // too and matches no SA: dropped while a tunnel to that peer exists.
  EXPECT_FALSE(a_->ns.Run({"ping", "-c", "1", "-W", "1", kAddrB}).ok());

  // Control: without the tunnel the same ping is plaintext VXLAN on the
  // underlay, which the checks above would have caught.
  ASSERT_TRUE(a_->backend->RemoveTunnel(name).ok());
  ASSERT_TRUE(b_->backend->RemoveTunnel("tvd-blue-h1").ok());
  StatusOr<std::string> plain = PingAndCapture(*a_, "10.77.0.2");
  ASSERT_TRUE(plain.ok()) << plain.status().ToString();
  EXPECT_NE(plain->find("." + std::to_string(port) + ":"), std::string::npos)
      << *plain;
  EXPECT_TRUE(a_->ns.Run({"ping", "-c", "1", "-W", "2", kAddrB}).ok());
  EXPECT_TRUE(a_->ns.Run({"ip", "link", "del", "vxb"}).ok());
  EXPECT_TRUE(b_->ns.Run({"ip", "link", "del", "vxb"}).ok());
}

TEST_F(TunnelBackendTest, TwoTvdsHaveSeparateSasAndRemovingOneKeepsTheOther) {
  SecureBytes blue_psk = SecureBytes::Random(32);
  SecureBytes red_psk = SecureBytes::Random(32);
  ASSERT_TRUE(Up("blue", 7, blue_psk).ok()) << a_->charon->LogTail();
  ASSERT_TRUE(Up("red", 8, red_psk).ok()) << a_->charon->LogTail();
  std::vector<Message> blue = Sas(*a_, "tvd-blue-h2");
  std::vector<Message> red = Sas(*a_, "tvd-red-h2");
  ASSERT_EQ(blue.size(), 1u);
  ASSERT_EQ(red.size(), 1u);
  EXPECT_NE(blue[0].ValueOr("uniqueid", "a"), red[0].ValueOr("uniqueid", "a"));
  EXPECT_EQ(red[0].ValueOr("local-id", ""), "red@h1");
  EXPECT_EQ(*Child(red[0], "tvd-red-h2-out")->List("remote-ts"),
            std::vector<std::string>{"198.18.0.2/32[udp/49160]"});
  EXPECT_NE(Child(blue[0], "tvd-blue-h2-out")->ValueOr("spi-out", "x"),
            Child(red[0], "tvd-red-h2-out")->ValueOr("spi-out", "x"));

  // Both TVDs' VXLAN pass, each on its own SA.
  ASSERT_TRUE(AddVxlan(*a_, "vxb", 100, vswitch::VxlanPortForTvd(7), kAddrA,
                       kAddrB, "10.77.0.1/24")
                  .ok());
  ASSERT_TRUE(AddVxlan(*b_, "vxb", 100, vswitch::VxlanPortForTvd(7), kAddrB,
                       kAddrA, "10.77.0.2/24")
                  .ok());
  ASSERT_TRUE(AddVxlan(*a_, "vxr", 200, vswitch::VxlanPortForTvd(8), kAddrA,
                       kAddrB, "10.88.0.1/24")
                  .ok());
  ASSERT_TRUE(AddVxlan(*b_, "vxr", 200, vswitch::VxlanPortForTvd(8), kAddrB,
                       kAddrA, "10.88.0.2/24")
                  .ok());
  EXPECT_TRUE(a_->ns.Run({"ping", "-c", "1", "-W", "2", "10.77.0.2"}).ok());
  EXPECT_TRUE(a_->ns.Run({"ping", "-c", "1", "-W", "2", "10.88.0.2"}).ok());
  red = Sas(*a_, "tvd-red-h2");
  ASSERT_EQ(red.size(), 1u);
  EXPECT_GT(
      std::stol(Child(red[0], "tvd-red-h2-out")->ValueOr("bytes-out", "0")), 0);

  ASSERT_TRUE(a_->backend->RemoveTunnel("tvd-red-h2").ok());
  ASSERT_TRUE(b_->backend->RemoveTunnel("tvd-red-h1").ok());
  EXPECT_TRUE(Sas(*a_, "tvd-red-h2").empty());
  blue = Sas(*a_, "tvd-blue-h2");
  ASSERT_EQ(blue.size(), 1u);
  EXPECT_EQ(Child(blue[0], "tvd-blue-h2-out")->ValueOr("state", ""),
            "INSTALLED");
  const long blue_before =
      std::stol(Child(blue[0], "tvd-blue-h2-out")->ValueOr("bytes-out", "0"));
  EXPECT_TRUE(a_->ns.Run({"ping", "-c", "1", "-W", "2", "10.77.0.2"}).ok());
  blue = Sas(*a_, "tvd-blue-h2");
  ASSERT_EQ(blue.size(), 1u);
  EXPECT_GT(
      std::stol(Child(blue[0], "tvd-blue-h2-out")->ValueOr("bytes-out", "0")),
      blue_before);
  StatusOr<std::vector<std::string>> left = a_->backend->ListTunnels();
  ASSERT_TRUE(left.ok());
  EXPECT_EQ(*left, std::vector<std::string>{"tvd-blue-h2"});
  for (Host* h : {a_, b_}) {
    EXPECT_TRUE(h->ns.Run({"ip", "link", "del", "vxb"}).ok());
    EXPECT_TRUE(h->ns.Run({"ip", "link", "del", "vxr"}).ok());
  }
}

TEST_F(TunnelBackendTest, RemoveTunnelLeavesNothingBehind) {
  SecureBytes psk = SecureBytes::Random(32);
  ASSERT_TRUE(Up("blue", 7, psk).ok()) << a_->charon->LogTail();
  for (auto [h, name] :
       {std::pair{a_, "tvd-blue-h2"}, std::pair{b_, "tvd-blue-h1"}}) {
    ASSERT_TRUE(h->backend->RemoveTunnel(name).ok());
    ViciClient& c = h->backend->client();
    StatusOr<std::vector<Message>> sas = c.ListSas();
    ASSERT_TRUE(sas.ok());
    EXPECT_TRUE(sas->empty()) << (*sas)[0].DebugString();
    StatusOr<std::vector<std::string>> conns = c.GetConns();
    ASSERT_TRUE(conns.ok());
    EXPECT_TRUE(conns->empty());
    StatusOr<std::vector<Message>> listed = c.ListConns();
    ASSERT_TRUE(listed.ok());
    EXPECT_TRUE(listed->empty());
    StatusOr<std::vector<std::string>> keys = c.GetShared();
    ASSERT_TRUE(keys.ok());
    EXPECT_TRUE(keys->empty());
    EXPECT_EQ(h->backend->RemoveTunnel(name),
              NotFound("no tunnel '" + std::string(name) + "'"));
  }
  EXPECT_EQ(a_->backend->RemoveTunnel("other-conn"),
            InvalidArgument("tunnel name 'other-conn' does not start with "
                            "'tvd-': not ours to remove"));
}

TEST_F(TunnelBackendTest, EnsureTunnelTwiceKeepsTheEstablishedSa) {
  SecureBytes psk = SecureBytes::Random(32);
  ASSERT_TRUE(Up("blue", 7, psk).ok()) << a_->charon->LogTail();
  std::vector<Message> first = Sas(*a_, "tvd-blue-h2");
  ASSERT_EQ(first.size(), 1u);
  ASSERT_TRUE(Up("blue", 7, psk).ok()) << a_->charon->LogTail();
  std::vector<Message> second = Sas(*a_, "tvd-blue-h2");
  ASSERT_EQ(second.size(), 1u);
  EXPECT_EQ(first[0].ValueOr("uniqueid", "a"),
            second[0].ValueOr("uniqueid", "b"));
  EXPECT_EQ(Child(first[0], "tvd-blue-h2-out")->ValueOr("spi-in", "a"),
            Child(second[0], "tvd-blue-h2-out")->ValueOr("spi-in", "b"));
  StatusOr<std::vector<std::string>> names = a_->backend->ListTunnels();
  ASSERT_TRUE(names.ok());
  EXPECT_EQ(*names, std::vector<std::string>{"tvd-blue-h2"});
}

TEST_F(TunnelBackendTest, WrongKeyOnOneEndDoesNotComeUp) {
  SecureBytes psk_a = SecureBytes::Random(32);
  SecureBytes psk_b = SecureBytes::Random(32);
  ASSERT_TRUE(b_->backend->EnsureTunnel(Spec(false, "blue", 7, psk_b)).ok());
  Status st = a_->backend->EnsureTunnel(Spec(true, "blue", 7, psk_a));
  EXPECT_EQ(st.code(), ErrorCode::kUnavailable) << st.ToString();
  EXPECT_EQ(st.message().rfind("tunnel 'tvd-blue-h2': initiating "
                               "'tvd-blue-h2-out' failed: ",
                               0),
            0u)
      << st.ToString();
  EXPECT_TRUE(Sas(*a_, "tvd-blue-h2").empty());
  // The configuration stays, so a later EnsureTunnel can retry.
  StatusOr<std::vector<std::string>> names = a_->backend->ListTunnels();
  ASSERT_TRUE(names.ok());
  EXPECT_EQ(*names, std::vector<std::string>{"tvd-blue-h2"});
}

TEST_F(TunnelBackendTest, InitiatorFirstIsPendingUntilCalledAgain) {
  SecureBytes psk = SecureBytes::Random(32);
  Status first = a_->backend->EnsureTunnel(Spec(true, "blue", 7, psk));
  EXPECT_EQ(first.code(), ErrorCode::kUnavailable) << first.ToString();
  EXPECT_EQ(first.message().rfind("tunnel 'tvd-blue-h2': initiating ", 0), 0u)
      << first.ToString();
  ASSERT_TRUE(b_->backend->EnsureTunnel(Spec(false, "blue", 7, psk)).ok());
  // The responder does not initiate by itself.
  EXPECT_TRUE(Sas(*b_, "tvd-blue-h1").empty());
  Status again = a_->backend->EnsureTunnel(Spec(true, "blue", 7, psk));
  ASSERT_TRUE(again.ok()) << again.ToString() << a_->charon->LogTail();
  std::vector<Message> sas = Sas(*a_, "tvd-blue-h2");
  ASSERT_EQ(sas.size(), 1u);
  EXPECT_EQ(Child(sas[0], "tvd-blue-h2-in")->ValueOr("state", ""), "INSTALLED");
}

TEST_F(TunnelBackendTest, AfterCharonRestartListIsEmptyAndEnsureRestores) {
  SecureBytes psk = SecureBytes::Random(32);
  ASSERT_TRUE(Up("blue", 7, psk).ok()) << a_->charon->LogTail();
  ASSERT_TRUE(a_->charon->Restart().ok()) << a_->charon->LogTail();
  // The backend's client reconnects by itself.
  StatusOr<std::vector<std::string>> names = a_->backend->ListTunnels();
  ASSERT_TRUE(names.ok()) << names.status().ToString();
  EXPECT_TRUE(names->empty());
  ASSERT_TRUE(a_->backend->EnsureTunnel(Spec(true, "blue", 7, psk)).ok())
      << a_->charon->LogTail();
  std::vector<Message> sas = Sas(*a_, "tvd-blue-h2");
  ASSERT_EQ(sas.size(), 1u);
  EXPECT_EQ(Child(sas[0], "tvd-blue-h2-in")->ValueOr("state", ""), "INSTALLED");
  // The peer replaced its stale SA with the new one instead of keeping both.
  EXPECT_EQ(Sas(*b_, "tvd-blue-h1").size(), 1u);
}

TEST_F(TunnelBackendTest, BadSpecIsRefusedBeforeTouchingCharon) {
  SecureBytes psk = SecureBytes::Random(32);
  TunnelSpec s = Spec(true, "blue", 7, psk);
  s.tvd_id = 0;
  EXPECT_EQ(a_->backend->EnsureTunnel(s),
            InvalidArgument("tunnel spec: tvd_id 0 is outside 1..16383"));
  StatusOr<std::vector<std::string>> names = a_->backend->ListTunnels();
  ASSERT_TRUE(names.ok());
  EXPECT_TRUE(names->empty());
}

}  // namespace
}  // namespace tvd::vici
