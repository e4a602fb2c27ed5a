// Real guests on TVD networks (GuestHostTest: real OVS, charon, libvirtd
// with QEMU, the real TvdProxy): inside the guests (guest-exec over the
// serial console), a guest pings another of its TVD (answered) and one of
// another TVD (no answer); detach and leave remove domains, taps and ports.
#include <gtest/gtest.h>

#include <chrono>

#include "guest_host.h"
#include "tvd/log.h"

namespace tvd::proxy::testing {
namespace {

using tvd::testing::GuestExec;

class GuestNetworkTest : public GuestHostTest {
 protected:
  // Members, so that they outlive TearDown's Leave of the proxies.
  FakeMaster blue_master_{MakePolicy("blue", 21, {})};
  FakeMaster red_master_{MakePolicy("red", 22, {})};
};

TEST_F(GuestNetworkTest, GuestsReachTheirTvdOnlyAndLeaveNothingBehind) {
  // All three on one subnet: only the TVD separation keeps red out.
  Guest a = MakeGuest(dir_.path(), *image_, "blue-a", "blue", "bluea0",
                      "52:54:00:00:0b:0a", "198.18.9.10");
  Guest b = MakeGuest(dir_.path(), *image_, "blue-b", "blue", "blueb0",
                      "52:54:00:00:0b:0b", "198.18.9.11");
  Guest c = MakeGuest(dir_.path(), *image_, "red-c", "red", "redc0",
                      "52:54:00:00:0c:0c", "198.18.9.12");
  blue_master_.policy_ = MakePolicy("blue", 21, {a.vm, b.vm});
  red_master_.policy_ = MakePolicy("red", 22, {c.vm});
  blue_proxy_ = NewProxy("blue", blue_master_);
  red_proxy_ = NewProxy("red", red_master_);
  ASSERT_TRUE(blue_proxy_->Join().ok());
  ASSERT_TRUE(red_proxy_->Join().ok());

  auto attach_start = std::chrono::steady_clock::now();
  for (Guest* g : {&a, &b}) {
    auto r = blue_proxy_->Attach(g->vm.config_path);
    ASSERT_TRUE(r.ok()) << r.status();
    g->tap = (*r)["ports"][0];
  }
  {
    auto r = red_proxy_->Attach(c.vm.config_path);
    ASSERT_TRUE(r.ok()) << r.status();
    c.tap = (*r)["ports"][0];
  }
  EXPECT_EQ(Domains(), (std::vector<std::string>{"blue-a", "blue-b", "red-c"}));
  for (const Guest* g : {&a, &b, &c}) {
    // The tap is the proxy's name; the configuration's NIC name is no
    // host device.
    EXPECT_TRUE(TapExists(g->tap)) << g->tap;
    EXPECT_NE(VmPorts().find(g->tap), std::string::npos) << VmPorts();
    EXPECT_FALSE(TapExists(g->vm.port)) << g->vm.port;
  }
  auto attached = std::chrono::duration_cast<std::chrono::milliseconds>(
      std::chrono::steady_clock::now() - attach_start);
  for (const Guest* g : {&a, &b, &c}) {
    auto boot =
        tvd::testing::WaitForGuestShell(g->socket, std::chrono::seconds(60));
    ASSERT_TRUE(boot.ok()) << boot.status();
    auto since_attach = std::chrono::duration_cast<std::chrono::milliseconds>(
        std::chrono::steady_clock::now() - attach_start);
    log::Info("guest ", g->vm.name, ": shell prompt ", since_attach.count(),
              " ms after the first attach (3 attaches took ", attached.count(),
              " ms)");
  }

  auto step = [&, last = std::chrono::steady_clock::now()](
                  const std::string& what) mutable {
    auto now = std::chrono::steady_clock::now();
    log::Info("step took ",
              std::chrono::duration_cast<std::chrono::milliseconds>(now - last)
                  .count(),
              " ms: ", what);
    last = now;
  };
  // Inside blue-a: blue-b answers.
  auto same = GuestExec(a.socket, "ping -c 2 -w 10 " + b.ip);
  ASSERT_TRUE(same.ok()) << same.status();
  EXPECT_EQ(same->exit_status, 0) << same->out << same->err;
  EXPECT_NE(same->out.find("2 packets transmitted, 2 packets received"),
            std::string::npos)
      << same->out;
  step("ping blue-a -> blue-b");
  // red-c, on the same subnet but in TVD red, does not.
  auto other = GuestExec(a.socket, "ping -c 2 -W 1 " + c.ip);
  ASSERT_TRUE(other.ok()) << other.status();
  EXPECT_EQ(other->exit_status, 1) << other->out << other->err;
  EXPECT_NE(other->out.find("0 packets received"), std::string::npos)
      << other->out;
  step("ping blue-a -> red-c");
  // Nor does blue-a answer red-c.
  auto back = GuestExec(c.socket, "ping -c 1 -W 1 " + a.ip);
  ASSERT_TRUE(back.ok()) << back.status();
  EXPECT_EQ(back->exit_status, 1) << back->out << back->err;

  step("ping red-c -> blue-a");
  // Detach removes the domain, its tap and its OVS port.
  ASSERT_TRUE(blue_proxy_->Detach(b.vm.name).ok());
  step("detach blue-b");
  EXPECT_EQ(Domains(), (std::vector<std::string>{"blue-a", "red-c"}));
  EXPECT_FALSE(TapExists(b.tap));
  EXPECT_EQ(VmPorts().find(b.tap), std::string::npos) << VmPorts();
  // blue-a no longer reaches it.
  auto gone = GuestExec(a.socket, "ping -c 1 -W 1 " + b.ip);
  ASSERT_TRUE(gone.ok()) << gone.status();
  EXPECT_EQ(gone->exit_status, 1) << gone->out;

  step("ping blue-a -> detached blue-b");
  // Leaving removes the rest.
  ASSERT_TRUE(blue_proxy_->Leave().ok());
  step("blue leaves");
  EXPECT_EQ(Domains(), std::vector<std::string>{"red-c"});
  ASSERT_TRUE(red_proxy_->Leave().ok());
  EXPECT_TRUE(Domains().empty());
  for (const Guest* g : {&a, &b, &c}) {
    EXPECT_FALSE(TapExists(g->tap)) << g->tap;
  }
  EXPECT_EQ(VmPorts(), "");
}

}  // namespace
}  // namespace tvd::proxy::testing
