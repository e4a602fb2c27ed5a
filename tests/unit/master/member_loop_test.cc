// The member loop over real TLS channels on loopback: pushes reach the
// peer, MembershipUpdates within one window leave merged, anything else
// leaves at once, and a peer that reads nothing holds up no other.
#include "member_loop.h"

#include <gtest/gtest.h>

#include <condition_variable>
#include <map>
#include <mutex>

#include "tvd/channel/channel_client.h"
#include "tvd/channel/channel_server.h"
#include "tvd/pki/certificate_authority.h"
#include "tvd/testing/fake_clock.h"

namespace tvd::master {
namespace {

using channel::MessageType;
using protocol::MembershipChange;
using std::chrono::milliseconds;

channel::TlsCredentials Issue(const pki::KeyAndCertificate& ca,
                              const std::string& name) {
  auto c = pki::IssueCertificate(ca, pki::Role::kHost, name,
                                 pki::Validity::ForDays(1));
  EXPECT_TRUE(c.ok());
  return {ca.cert_pem, c->cert_pem, c->key_pem.Clone()};
}

class MemberLoopTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto ca = pki::CreateCa("vdc", pki::Validity::ForDays(1));
    ASSERT_TRUE(ca.ok());
    ca_ = std::move(*ca);
    auto server_tls = channel::TlsContext::Create(channel::TlsSide::kServer,
                                                  Issue(ca_, "tvd-master"));
    ASSERT_TRUE(server_tls.ok());
    MemberLoop::Hooks hooks;
    hooks.first_interval = [](const MemberSessionPtr&) {
      return milliseconds(3'600'000);  // no round in these tests
    };
    hooks.round = [](channel::Connection&,
                     const MemberSessionPtr&) -> StatusOr<milliseconds> {
      return Internal("no round expected");
    };
    hooks.ended = [this](const MemberSessionPtr& s, const channel::Connection&,
                         const Status& status) {
      std::lock_guard l(mutex_);
      ended_[s->host()] = status;
      changed_.notify_all();
    };
    auto loop = MemberLoop::Start(clock_, std::move(hooks));
    ASSERT_TRUE(loop.ok()) << loop.status().ToString();
    loop_ = std::move(*loop);
    hub_.SetFeedNotifier([l = loop_.get()](const std::string& tvd,
                                           MemberSession::Urgency u,
                                           std::size_t members) {
      l->TellTvd(tvd, u, members);
    });
    auto server = channel::ChannelServer::Start(
        {}, std::move(*server_tls),
        [this](channel::Connection& c) -> Status {
          TVD_ASSIGN_OR_RETURN(MemberSessionPtr s,
                               MemberSession::Create("blue", c.peer().name));
          hub_.Attach(s);  // reads the TVD's broadcasts from now on
          TVD_RETURN_IF_ERROR(loop_->Adopt(c.TakeOver(), s));
          std::lock_guard l(mutex_);
          sessions_[s->host()] = s;
          changed_.notify_all();
          return Status::Ok();
        },
        nullptr);
    ASSERT_TRUE(server.ok()) << server.status().ToString();
    server_ = std::move(*server);
  }

  void TearDown() override {
    if (server_) server_->Stop();
    hub_.SetFeedNotifier(nullptr);
    if (loop_) loop_->Stop();
  }

  // A host's channel, once the loop serves it, and its session.
  std::pair<channel::ConnectionPtr, MemberSessionPtr> Connect(
      const std::string& host) {
    auto tls = channel::TlsContext::Create(channel::TlsSide::kClient,
                                           Issue(ca_, host));
    EXPECT_TRUE(tls.ok());
    clients_tls_.push_back(std::move(*tls));
    auto conn = channel::ConnectChannel("127.0.0.1", server_->port(),
                                        *clients_tls_.back());
    EXPECT_TRUE(conn.ok()) << conn.status().ToString();
    std::unique_lock l(mutex_);
    changed_.wait_for(l, std::chrono::seconds(5),
                      [&] { return sessions_.count(host) != 0; });
    return {std::move(*conn), sessions_[host]};
  }

  void PushUpdate(const MemberSessionPtr& s, std::uint32_t count,
                  const std::string& joined) {
    protocol::MembershipUpdate u;
    u.tvd = "blue";
    u.epoch = 1;
    u.member_count = count;
    u.changes = {{MembershipChange::kJoined, {joined, "10.0.0.9"}}};
    std::vector<std::uint8_t> encoded = protocol::Encode(u);
    auto payload = std::make_shared<const SecureBytes>(
        std::span<const std::uint8_t>(encoded));
    FrameOnce frames;
    s->Push(MessageType::kMembershipUpdate,
            frames.Frame(MessageType::kMembershipUpdate, payload),
            frames.Decoded(payload));
  }

  void PushPolicy(const MemberSessionPtr& s, std::size_t size) {
    auto payload =
        std::make_shared<const SecureBytes>(std::vector<std::uint8_t>(size, 1));
    FrameOnce frames;
    s->Push(MessageType::kPolicyUpdate,
            frames.Frame(MessageType::kPolicyUpdate, payload));
  }

  Status Ended(const std::string& host) {
    std::unique_lock l(mutex_);
    changed_.wait_for(l, std::chrono::seconds(5),
                      [&] { return ended_.count(host) != 0; });
    auto it = ended_.find(host);
    return it == ended_.end() ? Timeout("not ended") : it->second;
  }

  pki::KeyAndCertificate ca_;
  testing::FakeClock clock_;
  MemberHub hub_;
  std::unique_ptr<MemberLoop> loop_;
  channel::ChannelServerPtr server_;
  std::vector<std::unique_ptr<channel::TlsContext>> clients_tls_;
  std::mutex mutex_;
  std::condition_variable changed_;
  std::map<std::string, MemberSessionPtr> sessions_;
  std::map<std::string, Status> ended_;
};

StatusOr<protocol::MembershipUpdate> ReadUpdate(channel::Connection& c) {
  TVD_ASSIGN_OR_RETURN(channel::Frame f, c.ReadFrame(milliseconds(5000)));
  if (f.type != MessageType::kMembershipUpdate) {
    return ProtocolError("type " + std::to_string(static_cast<int>(f.type)));
  }
  return protocol::DecodeMembershipUpdate(f.payload);
}

TEST_F(MemberLoopTest, UpdatesInOneWindowLeaveMergedAndAPolicyAtOnce) {
  auto [conn, session] = Connect("node1");
  ASSERT_NE(session, nullptr);
  EXPECT_EQ(loop_->size(), 1u);
  // After a quiet window: at once, as it was.
  PushUpdate(session, 2, "n2");
  auto first = ReadUpdate(*conn);
  ASSERT_TRUE(first.ok()) << first.status().ToString();
  EXPECT_EQ(first->member_count, 2u);
  // Within the window of that write: held back, then one message.
  for (std::uint32_t i = 3; i <= 7; ++i)
    PushUpdate(session, i, "n" + std::to_string(i));
  auto merged = ReadUpdate(*conn);
  ASSERT_TRUE(merged.ok()) << merged.status().ToString();
  EXPECT_EQ(merged->member_count, 7u);
  ASSERT_EQ(merged->changes.size(), 5u);
  EXPECT_EQ(merged->changes[0].member.host, "n3");
  EXPECT_EQ(merged->changes[4].member.host, "n7");
  // A policy update does not wait for the window, and takes the update
  // queued before it along, in order.
  PushUpdate(session, 8, "n8");
  PushPolicy(session, 10);
  auto before = ReadUpdate(*conn);
  ASSERT_TRUE(before.ok()) << before.status().ToString();
  EXPECT_EQ(before->member_count, 8u);
  auto policy = conn->ReadFrame(milliseconds(5000));
  ASSERT_TRUE(policy.ok()) << policy.status().ToString();
  EXPECT_EQ(policy->type, MessageType::kPolicyUpdate);
  // The end: what is queued, then the channel closes.
  PushPolicy(session, 3);
  session->End();
  auto last = conn->ReadFrame(milliseconds(5000));
  ASSERT_TRUE(last.ok()) << last.status().ToString();
  EXPECT_EQ(last->type, MessageType::kPolicyUpdate);
  EXPECT_EQ(conn->ReadFrame(milliseconds(5000)).status().code(),
            ErrorCode::kUnavailable);
  EXPECT_EQ(Ended("node1"), Status::Ok());
  EXPECT_EQ(loop_->size(), 0u);
}

TEST_F(MemberLoopTest, APeerThatReadsNothingHoldsUpNoOther) {
  auto [silent, silent_session] = Connect("node1");
  auto [reader, reader_session] = Connect("node2");
  ASSERT_NE(silent_session, nullptr);
  ASSERT_NE(reader_session, nullptr);
  // Far more than the socket buffers hold, to a peer that does not read.
  for (int i = 0; i < 40; ++i) PushPolicy(silent_session, 900 * 1024);
  PushPolicy(reader_session, 10);
  auto got = reader->ReadFrame(milliseconds(5000));
  ASSERT_TRUE(got.ok()) << got.status().ToString();
  EXPECT_EQ(got->type, MessageType::kPolicyUpdate);
  // Unsolicited input ends a channel with a clear error.
  ASSERT_TRUE(
      reader->WriteFrame(MessageType::kVmReport, {}, milliseconds(1000)).ok());
  EXPECT_EQ(Ended("node2"),
            ProtocolError("unsolicited message type 107 on the member channel "
                          "(requests go on their own connection)"));
  // Stop closes the rest.
  loop_->Stop();
  EXPECT_EQ(Ended("node1"), Status::Ok());
  EXPECT_EQ(loop_->size(), 0u);
}

TEST(MemberLoopWindowTest, GrowsWithTheTvdWithinItsBounds) {
  EXPECT_EQ(MemberLoop::Window(1), milliseconds(50));
  EXPECT_EQ(MemberLoop::Window(250), milliseconds(50));
  EXPECT_EQ(MemberLoop::Window(1000), milliseconds(200));
  EXPECT_EQ(MemberLoop::Window(4000), milliseconds(800));
  EXPECT_EQ(MemberLoop::Window(10000), milliseconds(2000));
  EXPECT_EQ(MemberLoop::Window(100000), milliseconds(2000));
}

// A TVD's broadcast tells the loop once; every channel of the TVD takes
// it (more than kParallelWrites of them: written on two threads), but the
// host it leaves out.
TEST_F(MemberLoopTest, ABroadcastReachesEveryChannelOfTheTvdButTheOneLeftOut) {
  std::vector<std::pair<channel::ConnectionPtr, MemberSessionPtr>> peers;
  for (int i = 0; i < 24; ++i)
    peers.push_back(Connect("node" + std::to_string(i)));
  FrameOnce frames;
  auto policy =
      std::make_shared<const SecureBytes>(std::vector<std::uint8_t>(65536, 7));
  hub_.Publish("blue", hub_.Reserve("blue"), MessageType::kPolicyUpdate,
               frames.Frame(MessageType::kPolicyUpdate, policy), nullptr, "");
  for (auto& [conn, session] : peers) {
    auto f = conn->ReadFrame(milliseconds(5000));
    ASSERT_TRUE(f.ok()) << session->host() << ": " << f.status().ToString();
    EXPECT_EQ(f->type, MessageType::kPolicyUpdate);
    EXPECT_EQ(f->payload.size(), 65536u);
  }
  protocol::MembershipUpdate u;
  u.tvd = "blue";
  u.epoch = 1;
  u.member_count = 25;
  u.changes = {{MembershipChange::kJoined, {"node99", "10.0.0.99"}}};
  std::vector<std::uint8_t> encoded = protocol::Encode(u);
  auto payload = std::make_shared<const SecureBytes>(
      std::span<const std::uint8_t>(encoded));
  hub_.Publish("blue", hub_.Reserve("blue"), MessageType::kMembershipUpdate,
               frames.Frame(MessageType::kMembershipUpdate, payload),
               frames.Decoded(payload), "node0");
  for (std::size_t i = 1; i < peers.size(); ++i) {
    auto got = ReadUpdate(*peers[i].first);
    ASSERT_TRUE(got.ok()) << i << ": " << got.status().ToString();
    ASSERT_EQ(got->changes.size(), 1u);
    EXPECT_EQ(got->changes[0].member.host, "node99");
    EXPECT_EQ(got->member_count, 25u);
  }
  EXPECT_FALSE(peers[0].first->WaitReadable(milliseconds(300)));
}

}  // namespace
}  // namespace tvd::master
