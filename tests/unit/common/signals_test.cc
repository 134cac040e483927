#include "server/common/signals.h"

#include <pthread.h>
#include <unistd.h>

#include <csignal>
#include <future>
#include <thread>

#include "gtest/gtest.h"

namespace herald::common {
namespace {

// Blocks the termination signals for one test and restores the mask after.
class SignalsTest : public ::testing::Test {
 protected:
  void SetUp() override {
    pthread_sigmask(SIG_SETMASK, nullptr, &saved_);
    BlockTerminationSignals();
  }
  void TearDown() override { pthread_sigmask(SIG_SETMASK, &saved_, nullptr); }

 private:
  sigset_t saved_;
};

TEST_F(SignalsTest, BlocksTerminationSignalsInTheCallingThread) {
  sigset_t mask;
  pthread_sigmask(SIG_SETMASK, nullptr, &mask);
  EXPECT_TRUE(sigismember(&mask, SIGTERM));
  EXPECT_TRUE(sigismember(&mask, SIGINT));
  EXPECT_TRUE(sigismember(&mask, SIGHUP));
}

TEST_F(SignalsTest, ThreadsCreatedAfterwardsInheritTheMask) {
  std::promise<bool> blocked;
  std::thread([&] {
    sigset_t mask;
    pthread_sigmask(SIG_SETMASK, nullptr, &mask);
    blocked.set_value(sigismember(&mask, SIGTERM) == 1);
  }).join();
  EXPECT_TRUE(blocked.get_future().get());
}

TEST_F(SignalsTest, IgnoresSigpipe) {
  struct sigaction sa;
  ASSERT_EQ(sigaction(SIGPIPE, nullptr, &sa), 0);
  EXPECT_EQ(sa.sa_handler, SIG_IGN);
}

TEST_F(SignalsTest, WaitReturnsAProcessDirectedSignal) {
  ASSERT_EQ(::kill(::getpid(), SIGTERM), 0);  // pending: every thread blocks it
  EXPECT_EQ(WaitForTerminationSignal(), SIGTERM);
}

TEST_F(SignalsTest, RequestTerminationWakesAWaitingThread) {
  auto waiter =
      std::async(std::launch::async, [] { return WaitForTerminationSignal(); });
  // Whether the waiter is already in sigwait or not, the signal is delivered
  // to it (directed at it, or pending on the process).
  RequestTermination(SIGHUP);
  EXPECT_EQ(waiter.get(), SIGHUP);
}

TEST_F(SignalsTest, RequestTerminationBeforeAnyoneWaitsStaysPending) {
  RequestTermination(SIGINT);
  EXPECT_EQ(WaitForTerminationSignal(), SIGINT);
}

TEST_F(SignalsTest, WaitCanBeCalledAgain) {
  RequestTermination(SIGTERM);
  EXPECT_EQ(WaitForTerminationSignal(), SIGTERM);
  RequestTermination(SIGINT);
  EXPECT_EQ(WaitForTerminationSignal(), SIGINT);
}

}  // namespace
}  // namespace herald::common
