#include "tvd/master/guest_quote_broker.h"

#include <gtest/gtest.h>

#include <chrono>
#include <thread>

namespace tvd::master {
namespace {

using std::chrono::milliseconds;
using Steady = std::chrono::steady_clock;

protocol::GuestQuoteReport BrokerReport(std::uint64_t id, const std::string& vm) {
  return {id, "blue", vm, "ok ...\n", ""};
}

TEST(GuestQuoteBrokerTest, TheAnswerOfTheAskedHostReachesTheWaiter) {
  GuestQuoteBroker broker;
  auto id = broker.Open("blue", "web1", "node1");
  ASSERT_TRUE(id.ok()) << id.status();
  std::thread host([&] {
    EXPECT_EQ(broker.Fulfil("node1", BrokerReport(*id, "web1")), Status::Ok());
  });
  auto answer = broker.Wait(*id, Steady::now() + std::chrono::seconds(30),
                            milliseconds(30000));
  host.join();
  ASSERT_TRUE(answer.ok()) << answer.status();
  EXPECT_EQ(*answer, BrokerReport(*id, "web1"));
  EXPECT_EQ(broker.open(), 0u);
  // Answered: a second answer has no order to go to.
  EXPECT_EQ(broker.Fulfil("node1", BrokerReport(*id, "web1")),
            NotFound("no guest quote " + std::to_string(*id) +
                     " is under way"));
}

TEST(GuestQuoteBrokerTest, AnswersFromAnotherHostOrForAnotherVmAreRefused) {
  GuestQuoteBroker broker;
  auto id = broker.Open("blue", "web1", "node1");
  ASSERT_TRUE(id.ok());
  const std::string n = std::to_string(*id);
  EXPECT_EQ(broker.Fulfil("node2", BrokerReport(*id, "web1")),
            PermissionDenied("guest quote " + n +
                             " was asked of host node1, not node2"));
  EXPECT_EQ(broker.Fulfil("node1", BrokerReport(*id, "db1")),
            PermissionDenied("guest quote " + n +
                             " is for VM web1 of TVD blue, not db1 of blue"));
  EXPECT_EQ(broker.Fulfil("node1", BrokerReport(*id + 100, "web1")),
            NotFound("no guest quote " + std::to_string(*id + 100) +
                     " is under way"));
  // None of them was taken: the right answer still is.
  EXPECT_EQ(broker.Fulfil("node1", BrokerReport(*id, "web1")), Status::Ok());
  EXPECT_TRUE(broker.Wait(*id, Steady::now(), milliseconds(0)).ok());
}

TEST(GuestQuoteBrokerTest, AWaitThatEndsUnansweredClosesTheOrder) {
  GuestQuoteBroker broker;
  auto id = broker.Open("blue", "web1", "node1");
  ASSERT_TRUE(id.ok());
  EXPECT_EQ(broker.Wait(*id, Steady::now() + milliseconds(20),
                        milliseconds(20))
                .status(),
            Unavailable("host node1 did not answer within 20 ms"));
  EXPECT_EQ(broker.open(), 0u);
  // The late answer finds nothing; the VM may be asked again.
  EXPECT_EQ(broker.Fulfil("node1", BrokerReport(*id, "web1")).code(),
            ErrorCode::kNotFound);
  EXPECT_TRUE(broker.Open("blue", "web1", "node1").ok());
}

TEST(GuestQuoteBrokerTest, OneOrderPerVmAndABoundOnAll) {
  GuestQuoteBroker broker(/*max_open=*/2);
  ASSERT_TRUE(broker.Open("blue", "web1", "node1").ok());
  EXPECT_EQ(broker.Open("blue", "web1", "node1").status(),
            ResourceExhausted(
                "a deep quote of VM web1 of TVD blue is already under way"));
  // The same VM name in another TVD is another VM.
  ASSERT_TRUE(broker.Open("red", "web1", "node2").ok());
  EXPECT_EQ(broker.Open("red", "db1", "node2").status(),
            ResourceExhausted("2 deep quotes are under way, the limit"));
  EXPECT_EQ(broker.Wait(999, Steady::now(), milliseconds(0)).status(),
            NotFound("no guest quote 999 is under way"));
}

}  // namespace
}  // namespace tvd::master
