#include "server/delivery/fake_http_sender.h"

#include <atomic>
#include <string>
#include <thread>
#include <vector>

#include "absl/synchronization/mutex.h"
#include "absl/synchronization/notification.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace herald::delivery {
namespace {

HttpRequest To(std::string url) {
  HttpRequest r;
  r.url = std::move(url);
  r.body = "b";
  return r;
}

// Collects results (from any thread).
struct Results {
  absl::Mutex mu;
  std::vector<HttpResult> got ABSL_GUARDED_BY(mu);
  std::vector<std::thread::id> threads ABSL_GUARDED_BY(mu);

  absl::AnyInvocable<void(HttpResult) &&> Callback() {
    return [this](HttpResult r) {
      absl::MutexLock lock(&mu);
      got.push_back(std::move(r));
      threads.push_back(std::this_thread::get_id());
    };
  }
  bool WaitFor(size_t n) {
    absl::MutexLock lock(&mu);
    auto enough = [&]() ABSL_SHARED_LOCKS_REQUIRED(mu) { return got.size() >= n; };
    return mu.AwaitWithTimeout(absl::Condition(&enough), absl::Seconds(10));
  }
  std::vector<int> Statuses() {
    absl::MutexLock lock(&mu);
    std::vector<int> out;
    for (const HttpResult& r : got) out.push_back(r.status_code);
    return out;
  }
};

using ::testing::ElementsAre;

TEST(FakeHttpSender, AnswersFromTheScriptInOrder) {
  FakeHttpSender sender(FakeHttpSender::Mode::kInline);
  sender.Enqueue("http://a/", FakeHttpSender::Status(500));
  sender.Enqueue("http://a/", FakeHttpSender::Status(429, absl::Seconds(3)));
  sender.SetResponder("http://a/", [](const HttpRequest& r) {
    return FakeHttpSender::Status(r.body == "b" ? 201 : 400);
  });
  sender.SetDefault([](const HttpRequest&) { return FakeHttpSender::Status(204); });
  Results results;
  for (int i = 0; i < 4; ++i) sender.Send(To("http://a/"), results.Callback());
  sender.Send(To("http://other/"), results.Callback());
  EXPECT_THAT(results.Statuses(), ElementsAre(500, 429, 201, 201, 204));
  absl::MutexLock lock(&results.mu);
  EXPECT_EQ(results.got[1].retry_after, absl::Seconds(3));
  EXPECT_EQ(sender.request_count(), 5u);
  EXPECT_EQ(sender.requests()[4].url, "http://other/");
}

TEST(FakeHttpSender, DefaultIs200AndErrorsCanBeScripted) {
  FakeHttpSender sender(FakeHttpSender::Mode::kInline);
  sender.Enqueue("http://a/", FakeHttpSender::Error(HttpErrorKind::kTimeout, "t"));
  Results results;
  sender.Send(To("http://a/"), results.Callback());
  sender.Send(To("http://a/"), results.Callback());
  absl::MutexLock lock(&results.mu);
  EXPECT_EQ(results.got[0].error_kind, HttpErrorKind::kTimeout);
  EXPECT_EQ(results.got[1].status_code, 200);
}

TEST(FakeHttpSender, InlineModeCallsBackInsideSend) {
  FakeHttpSender sender(FakeHttpSender::Mode::kInline);
  Results results;
  sender.Send(To("http://a/"), results.Callback());
  absl::MutexLock lock(&results.mu);
  ASSERT_EQ(results.threads.size(), 1u);
  EXPECT_EQ(results.threads[0], std::this_thread::get_id());
}

TEST(FakeHttpSender, OwnThreadModeCallsBackOnOneOtherThread) {
  FakeHttpSender sender;
  Results results;
  for (int i = 0; i < 20; ++i) sender.Send(To("http://a/"), results.Callback());
  ASSERT_TRUE(results.WaitFor(20));
  absl::MutexLock lock(&results.mu);
  for (std::thread::id id : results.threads) {
    EXPECT_NE(id, std::this_thread::get_id());
    EXPECT_EQ(id, results.threads[0]);
  }
}

TEST(FakeHttpSender, HoldKeepsExchangesInFlightUntilReleased) {
  FakeHttpSender sender;
  sender.SetHold(true);
  Results results;
  for (int i = 0; i < 3; ++i) sender.Send(To("http://a/"), results.Callback());
  EXPECT_EQ(sender.in_flight(), 3);
  EXPECT_EQ(sender.held(), 3);
  EXPECT_EQ(sender.Release(2), 2);
  ASSERT_TRUE(results.WaitFor(2));
  EXPECT_TRUE(sender.WaitForRequests(3, absl::Seconds(1)));
  EXPECT_EQ(sender.held(), 1);
  EXPECT_EQ(sender.Release(), 1);
  ASSERT_TRUE(results.WaitFor(3));
  EXPECT_TRUE(sender.WaitForIdle(absl::Seconds(5)));
  EXPECT_EQ(sender.in_flight(), 0);
}

TEST(FakeHttpSender, ShutdownAbortsHeldExchangesAndRefusesNewOnes) {
  FakeHttpSender sender;
  sender.SetHold(true);
  Results results;
  sender.Send(To("http://a/"), results.Callback());
  sender.Shutdown(absl::Milliseconds(10));
  ASSERT_TRUE(results.WaitFor(1));
  sender.Send(To("http://a/"), results.Callback());  // inline refusal
  absl::MutexLock lock(&results.mu);
  ASSERT_EQ(results.got.size(), 2u);
  EXPECT_EQ(results.got[0].error, "shutting down");
  EXPECT_EQ(results.got[1].error, "sender is shut down");
  EXPECT_EQ(results.threads[1], std::this_thread::get_id());
  EXPECT_EQ(sender.in_flight(), 0);
  EXPECT_EQ(sender.request_count(), 1u);
}

TEST(FakeHttpSender, ShutdownWaitsForAReleaseFromAnotherThread) {
  FakeHttpSender sender;
  sender.SetHold(true);
  Results results;
  sender.Send(To("http://a/"), results.Callback());
  std::thread releaser([&] {
    absl::SleepFor(absl::Milliseconds(50));
    sender.Release();
  });
  sender.Shutdown(absl::Seconds(10));
  releaser.join();
  absl::MutexLock lock(&results.mu);
  ASSERT_EQ(results.got.size(), 1u);
  EXPECT_EQ(results.got[0].status_code, 200);
}

TEST(FakeHttpSender, CallbacksAndRespondersMayCallBack) {
  FakeHttpSender sender;
  sender.SetResponder("http://a/", [&](const HttpRequest&) {
    sender.Enqueue("http://b/", FakeHttpSender::Status(202));
    return FakeHttpSender::Status(200);
  });
  absl::Notification second;
  sender.Send(To("http://a/"), [&](HttpResult) {
    sender.Send(To("http://b/"), [&](HttpResult r) {
      EXPECT_EQ(r.status_code, 202);
      second.Notify();
    });
  });
  EXPECT_TRUE(second.WaitForNotificationWithTimeout(absl::Seconds(5)));
}

}  // namespace
}  // namespace herald::delivery
