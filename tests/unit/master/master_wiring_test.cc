// Master::Create through its seams: the store, the clock and the listener
// are fakes, so start-up decisions are checked without a socket or a disk.
#include <gtest/gtest.h>

#include "fakes.h"
#include "tvd/master/master.h"

namespace tvd::master {
namespace {

using testing::FakeClock;
using testing::FakeListenerFactory;
using testing::FakeStore;

const char kPolicy[] =
    "<tvd-policy xmlns=\"urn:tvd:policy:1\" name=\"blue\" id=\"1\">\n"
    "  <owner subject=\"CN=blue-tenant,O=T\"/>\n"
    "  <networks><network name=\"blue-data\" kind=\"data\" vni=\"1001\"/>"
    "</networks>\n"
    "  <transport><ipsec ike=\"aes256gcm16-prfsha256-ecp256\" "
    "esp=\"aes256gcm16-ecp256\"/></transport>\n"
    "  <host-requirements allow-no-tpm=\"false\" "
    "attestation-interval=\"60\"><pcr bank=\"sha256\" index=\"16\">"
    "<known-good "
    "value="
    "\"0000000000000000000000000000000000000000000000000000000000000000\"/></"
    "pcr>"
    "</host-requirements>\n"
    "  <authorized-hosts><host subject=\"CN=node1,O=VDC\"/>"
    "</authorized-hosts>\n"
    "</tvd-policy>\n";

MasterOptions Options() {
  MasterOptions o;
  o.kek = SecureBytes::Random(32);
  return o;
}

TEST(MasterWiringTest, StartGivesEveryStoredTvdANewEpochBeforeListening) {
  auto store = std::make_unique<FakeStore>();
  FakeStore* fake = store.get();
  fake->Seed({"blue", kPolicy, "", 4}, {"node1"});
  int stops = 0, starts = 0;
  auto m =
      Master::Create(Options(), std::move(store), std::make_shared<FakeClock>(),
                     FakeListenerFactory(&stops, &starts));
  ASSERT_TRUE(m.ok()) << m.status().ToString();
  EXPECT_EQ(starts, 1);
  EXPECT_EQ((*m)->port(), 4242);
  EXPECT_EQ(fake->writes(),
            (std::vector<std::string>{"Transition blue epoch 5"}));
  // The stored membership survives the restart.
  EXPECT_EQ(*(*m)->store().Members("blue"),
            (std::vector<std::string>{"node1"}));
  (*m)->Stop();
  (*m)->Stop();  // idempotent
  EXPECT_EQ(stops, 2);
}

TEST(MasterWiringTest, AStoreThatCannotListQuotaUsageStopsTheStart) {
  auto store = std::make_unique<FakeStore>();
  store->FailNext("ListQuotaUsage", IoError("state db s: no quota table"));
  int stops = 0, starts = 0;
  auto m =
      Master::Create(Options(), std::move(store), std::make_shared<FakeClock>(),
                     FakeListenerFactory(&stops, &starts));
  EXPECT_EQ(m.status(), IoError("state db s: no quota table"));
}

TEST(MasterWiringTest, AKekOfTheWrongSizeIsRefused) {
  MasterOptions o;
  o.kek = SecureBytes::Random(16);
  int stops = 0, starts = 0;
  auto m = Master::Create(std::move(o), std::make_unique<FakeStore>(),
                          std::make_shared<FakeClock>(),
                          FakeListenerFactory(&stops, &starts));
  EXPECT_EQ(m.status(), InvalidArgument("master KEK must be 32 bytes"));
  EXPECT_EQ(starts, 0);
}

TEST(MasterWiringTest, AnEpochThatCannotBeStoredStopsTheStart) {
  auto store = std::make_unique<FakeStore>();
  store->Seed({"blue", kPolicy, "", 1}, {});
  store->FailNext("Transition", IoError("state db s: disk I/O error"));
  int stops = 0, starts = 0;
  auto m =
      Master::Create(Options(), std::move(store), std::make_shared<FakeClock>(),
                     FakeListenerFactory(&stops, &starts));
  EXPECT_EQ(m.status(), IoError("state db s: disk I/O error"));
  EXPECT_EQ(starts, 0);  // nothing listens on state that is not stored
}

TEST(MasterWiringTest, AStoreThatCannotBeReadStopsTheStart) {
  auto store = std::make_unique<FakeStore>();
  store->FailNext("ListTvds", IoError("state db s: unreadable"));
  int stops = 0, starts = 0;
  auto m =
      Master::Create(Options(), std::move(store), std::make_shared<FakeClock>(),
                     FakeListenerFactory(&stops, &starts));
  EXPECT_EQ(m.status(), IoError("state db s: unreadable"));
}

}  // namespace
}  // namespace tvd::master
