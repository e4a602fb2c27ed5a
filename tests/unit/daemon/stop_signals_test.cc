#include "tvd/daemon/stop_signals.h"

#include <gtest/gtest.h>
#include <poll.h>
#include <signal.h>
#include <unistd.h>

#include <atomic>

namespace tvd::daemon {
namespace {

// raise() directs the signal at this thread, which has it blocked: it stays
// pending and only the signalfd sees it (no handler, no death).
TEST(StopSignalsTest, PollAndWaitReturnTheSignal) {
  auto signals = StopSignals::Install();
  ASSERT_TRUE(signals.ok()) << signals.status();
  EXPECT_EQ((*signals)->Poll(), std::nullopt);
  ASSERT_EQ(::raise(SIGTERM), 0);
  pollfd p{(*signals)->fd(), POLLIN, 0};
  EXPECT_EQ(::poll(&p, 1, 1000), 1);
  EXPECT_EQ((*signals)->Poll(), SIGTERM);
  EXPECT_EQ((*signals)->Poll(), std::nullopt);
  ASSERT_EQ(::raise(SIGINT), 0);
  EXPECT_EQ((*signals)->Wait(), SIGINT);
}

TEST(StopSignalsTest, SigpipeIsIgnored) {
  auto signals = StopSignals::Install();
  ASSERT_TRUE(signals.ok()) << signals.status();
  struct sigaction current {};
  ASSERT_EQ(::sigaction(SIGPIPE, nullptr, &current), 0);
  EXPECT_EQ(current.sa_handler, SIG_IGN);
}

TEST(RunUntilStopSignalTest, ASignalRequestsTheStop) {
  auto signals = StopSignals::Install();
  ASSERT_TRUE(signals.ok()) << signals.status();
  std::atomic<bool> stop{false};
  Status s = RunUntilStopSignal(
      **signals,
      [&] {
        // Process-directed, as from `kill PID`: every thread has it blocked,
        // so it stays pending until the watcher reads it.
        ::kill(::getpid(), SIGTERM);
        while (!stop) {
        }
        return Status::Ok();
      },
      [&] { stop = true; });
  EXPECT_EQ(s, Status::Ok());
  EXPECT_EQ((*signals)->Poll(), std::nullopt);
}

TEST(RunUntilStopSignalTest, ARunThatEndsByItselfReturnsItsStatus) {
  auto signals = StopSignals::Install();
  ASSERT_TRUE(signals.ok()) << signals.status();
  bool stop_requested = false;
  Status s = RunUntilStopSignal(
      **signals, [] { return IoError("socket gone"); },
      [&] { stop_requested = true; });
  EXPECT_EQ(s, IoError("socket gone"));
  EXPECT_FALSE(stop_requested);
}

}  // namespace
}  // namespace tvd::daemon
