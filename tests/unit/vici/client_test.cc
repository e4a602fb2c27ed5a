// ViciClient against a scripted peer on a socketpair: what it sends, how it
// handles streamed events, unknown commands, silence, garbage and hang-ups.
#include "tvd/vswitch/vici/client.h"

#include <gtest/gtest.h>
#include <sys/socket.h>
#include <unistd.h>

#include <functional>
#include <thread>
#include <vector>

namespace tvd::vici {
namespace {

// The charon side of a socketpair, driven by a script on its own thread.
class FakeCharon {
 public:
  using Script = std::function<void(FakeCharon&)>;

  FakeCharon() {
    int fds[2];
    EXPECT_EQ(::socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, fds), 0);
    client_fd_ = fds[0];
    fd_ = fds[1];
  }
  ~FakeCharon() {
    if (thread_.joinable()) thread_.join();
    if (fd_ >= 0) ::close(fd_);
  }

  int TakeClientFd() { return client_fd_; }
  void Run(Script script) {
    thread_ = std::thread([this, script] { script(*this); });
  }
  void Join() { thread_.join(); }

  // Reads one packet from the client.
  Packet Read() {
    for (;;) {
      StatusOr<std::optional<SecureBytes>> next = reader_.Next();
      EXPECT_TRUE(next.ok());
      if (next.ok() && next->has_value()) {
        StatusOr<Packet> p = DecodePacket((*next)->view());
        EXPECT_TRUE(p.ok()) << p.status().ToString();
        return p.ok() ? std::move(p).value() : Packet();
      }
      std::uint8_t buf[4096];
      ssize_t n = ::read(fd_, buf, sizeof(buf));
      if (n <= 0) return Packet();
      reader_.Append(std::span<const std::uint8_t>(buf, n));
    }
  }
  void Send(PacketType type, std::string name = "", Message m = {}) {
    Packet p;
    p.type = type;
    p.name = std::move(name);
    p.message = std::move(m);
    StatusOr<SecureBytes> seg = EncodeSegment(p);
    ASSERT_TRUE(seg.ok());
    SendRaw(std::vector<std::uint8_t>(seg->data(), seg->data() + seg->size()));
  }
  void SendRaw(const std::vector<std::uint8_t>& bytes) {
    ASSERT_EQ(::write(fd_, bytes.data(), bytes.size()),
              static_cast<ssize_t>(bytes.size()));
  }
  void Close() {
    ::close(fd_);
    fd_ = -1;
  }
  std::vector<Packet> received;

 private:
  int fd_ = -1;
  int client_fd_ = -1;
  SegmentReader reader_;
  std::thread thread_;
};

Message Success() {
  Message m;
  m.Add("success", "yes");
  return m;
}

TEST(ViciClientTest, CommandSendsRequestAndReturnsResponse) {
  FakeCharon charon;
  Packet seen;
  charon.Run([&](FakeCharon& c) {
    seen = c.Read();
    Message v;
    v.Add("daemon", "charon");
    v.Add("version", "5.9.8");
    c.Send(PacketType::kCmdResponse, "", v);
  });
  auto client =
      ViciClient::FromFd(charon.TakeClientFd(), std::chrono::seconds(5));
  StatusOr<Message> v = client->Version();
  charon.Join();
  ASSERT_TRUE(v.ok()) << v.status().ToString();
  EXPECT_EQ(v->ValueOr("version", ""), "5.9.8");
  EXPECT_EQ(seen.type, PacketType::kCmdRequest);
  EXPECT_EQ(seen.name, "version");
}

TEST(ViciClientTest, LoadSharedSendsTheSecretAsRawBytes) {
  FakeCharon charon;
  Packet seen;
  charon.Run([&](FakeCharon& c) {
    seen = c.Read();
    c.Send(PacketType::kCmdResponse, "", Success());
  });
  auto client =
      ViciClient::FromFd(charon.TakeClientFd(), std::chrono::seconds(5));
  const std::uint8_t key[] = {0, 1, 2, 0xff};
  Status st = client->LoadShared("tvd-blue-h2", "IKE", key, {"a@h1", "a@h2"});
  charon.Join();
  ASSERT_TRUE(st.ok()) << st.ToString();
  EXPECT_EQ(seen.name, "load-shared");
  EXPECT_EQ(seen.message.ValueOr("id", ""), "tvd-blue-h2");
  EXPECT_EQ(seen.message.ValueOr("type", ""), "IKE");
  EXPECT_EQ(seen.message.ValueOr("data", ""),
            std::string("\x00\x01\x02\xff", 4));
  ASSERT_NE(seen.message.List("owners"), nullptr);
  EXPECT_EQ(*seen.message.List("owners"),
            (std::vector<std::string>{"a@h1", "a@h2"}));
}

TEST(ViciClientTest, FailureResponsesCarryCharonsMessage) {
  FakeCharon charon;
  charon.Run([&](FakeCharon& c) {
    (void)c.Read();
    Message no;
    no.Add("success", "no");
    no.Add("errmsg", "unload: connection 'x' not found");
    c.Send(PacketType::kCmdResponse, "", no);
    (void)c.Read();
    Message no2;
    no2.Add("success", "no");
    no2.Add("errmsg", "parsing request failed");
    c.Send(PacketType::kCmdResponse, "", no2);
  });
  auto client =
      ViciClient::FromFd(charon.TakeClientFd(), std::chrono::seconds(5));
  Status a = client->UnloadConn("x");
  Status b = client->LoadConn("y", Message());
  charon.Join();
  EXPECT_EQ(a, NotFound("vici unload-conn: unload: connection 'x' not found"));
  EXPECT_EQ(b,
            FailedPrecondition("vici load-conn 'y': parsing request failed"));
}

TEST(ViciClientTest, UnknownCommandIsNotFound) {
  FakeCharon charon;
  charon.Run([&](FakeCharon& c) {
    (void)c.Read();
    c.Send(PacketType::kCmdUnknown);
  });
  auto client =
      ViciClient::FromFd(charon.TakeClientFd(), std::chrono::seconds(5));
  StatusOr<Message> r = client->Call("no-such-command", Message());
  charon.Join();
  EXPECT_EQ(r.status(),
            NotFound("vici: charon does not know command 'no-such-command'"));
}

TEST(ViciClientTest, StreamedCommandRegistersCollectsAndUnregisters) {
  FakeCharon charon;
  std::vector<Packet> seen;
  charon.Run([&](FakeCharon& c) {
    seen.push_back(c.Read());  // register list-sa
    c.Send(PacketType::kEventConfirm);
    seen.push_back(c.Read());  // list-sas
    for (const char* name : {"tvd-a-h2", "tvd-b-h2"}) {
      Message sa;
      sa.AddSection(name).Add("state", "ESTABLISHED");
      c.Send(PacketType::kEvent, "list-sa", sa);
    }
    // An unrelated event in the middle goes to its subscriber, not the list.
    Message up;
    up.Add("up", "yes");
    c.Send(PacketType::kEvent, "ike-updown", up);
    c.Send(PacketType::kCmdResponse);
    seen.push_back(c.Read());  // unregister list-sa
    c.Send(PacketType::kEventConfirm);
  });
  auto client =
      ViciClient::FromFd(charon.TakeClientFd(), std::chrono::seconds(5));
  StatusOr<std::vector<Message>> sas = client->ListSas();
  charon.Join();
  ASSERT_TRUE(sas.ok()) << sas.status().ToString();
  ASSERT_EQ(sas->size(), 2u);
  EXPECT_NE((*sas)[0].Section("tvd-a-h2"), nullptr);
  EXPECT_NE((*sas)[1].Section("tvd-b-h2"), nullptr);
  ASSERT_EQ(seen.size(), 3u);
  EXPECT_EQ(seen[0].type, PacketType::kEventRegister);
  EXPECT_EQ(seen[0].name, "list-sa");
  EXPECT_EQ(seen[1].name, "list-sas");
  EXPECT_EQ(seen[2].type, PacketType::kEventUnregister);
}

TEST(ViciClientTest, SubscriptionsReceiveEventsDuringCallsAndPolls) {
  FakeCharon charon;
  charon.Run([&](FakeCharon& c) {
    (void)c.Read();  // register child-updown
    c.Send(PacketType::kEventConfirm);
    (void)c.Read();  // version
    Message up;
    up.Add("up", "yes");
    c.Send(PacketType::kEvent, "child-updown", up);
    c.Send(PacketType::kCmdResponse);
    Message down;
    down.Add("up", "no");
    c.Send(PacketType::kEvent, "child-updown", down);
  });
  auto client =
      ViciClient::FromFd(charon.TakeClientFd(), std::chrono::seconds(5));
  std::vector<std::string> ups;
  ASSERT_TRUE(client
                  ->Subscribe("child-updown",
                              [&](const std::string& name, const Message& m) {
                                EXPECT_EQ(name, "child-updown");
                                ups.push_back(m.ValueOr("up", "?"));
                              })
                  .ok());
  ASSERT_TRUE(client->Version().ok());
  EXPECT_EQ(ups, (std::vector<std::string>{"yes"}));
  ASSERT_TRUE(
      client
          ->PollEvents(std::chrono::seconds(5), [&] { return ups.size() == 2; })
          .ok());
  charon.Join();
  EXPECT_EQ(ups, (std::vector<std::string>{"yes", "no"}));
}

TEST(ViciClientTest, UnknownEventIsNotFound) {
  FakeCharon charon;
  charon.Run([&](FakeCharon& c) {
    (void)c.Read();
    c.Send(PacketType::kEventUnknown);
  });
  auto client =
      ViciClient::FromFd(charon.TakeClientFd(), std::chrono::seconds(5));
  Status st = client->Subscribe("no-such-event", nullptr);
  charon.Join();
  EXPECT_EQ(st, NotFound("vici: charon has no event 'no-such-event'"));
}

TEST(ViciClientTest, SilentPeerTimesOutAndConnectionIsDropped) {
  FakeCharon charon;
  charon.Run([&](FakeCharon& c) { (void)c.Read(); });
  auto client =
      ViciClient::FromFd(charon.TakeClientFd(), std::chrono::milliseconds(200));
  StatusOr<Message> r = client->Version();
  charon.Join();
  EXPECT_EQ(r.status(), Timeout("vici: no answer from charon in time"));
  // The late answer could be mistaken for the next one: the client closed the
  // connection and, having no path to reconnect to, says so.
  EXPECT_EQ(client->Version().status(),
            Unavailable("vici: connection closed (socket given by caller)"));
}

TEST(ViciClientTest, HangUpIsUnavailable) {
  FakeCharon charon;
  charon.Run([&](FakeCharon& c) {
    (void)c.Read();
    c.Close();
  });
  auto client =
      ViciClient::FromFd(charon.TakeClientFd(), std::chrono::seconds(5));
  StatusOr<Message> r = client->Version();
  charon.Join();
  EXPECT_EQ(r.status(), Unavailable("vici: connection closed by charon"));
}

TEST(ViciClientTest, GarbageFromPeerIsAProtocolError) {
  FakeCharon charon;
  charon.Run([&](FakeCharon& c) {
    (void)c.Read();
    c.SendRaw({0, 0, 0, 3, 1, 2, 2});  // response with unbalanced section end
  });
  auto client =
      ViciClient::FromFd(charon.TakeClientFd(), std::chrono::seconds(5));
  StatusOr<Message> r = client->Version();
  charon.Join();
  EXPECT_EQ(r.status(),
            ProtocolError("vici packet cmd-response (message starts at offset "
                          "1): vici message: section end with no open section "
                          "at offset 0"));
}

TEST(ViciClientTest, OversizeSegmentFromPeerIsAProtocolError) {
  FakeCharon charon;
  charon.Run([&](FakeCharon& c) {
    (void)c.Read();
    c.SendRaw({0x7f, 0xff, 0xff, 0xff, 1});
  });
  auto client =
      ViciClient::FromFd(charon.TakeClientFd(), std::chrono::seconds(5));
  StatusOr<Message> r = client->Version();
  charon.Join();
  EXPECT_EQ(r.status(),
            ProtocolError("vici segment: length 2147483647 exceeds the "
                          "524288-byte limit"));
}

TEST(ViciClientTest, ConnectToMissingSocketIsUnavailable) {
  ClientOptions o;
  o.socket_path = "/nonexistent/charon.vici";
  StatusOr<ViciClientPtr> c = ViciClient::Connect(o);
  EXPECT_EQ(c.status(),
            Unavailable("vici: connecting to /nonexistent/charon.vici: No such "
                        "file or directory"));
}

}  // namespace
}  // namespace tvd::vici
