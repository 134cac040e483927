// The Dispatcher against the real SQLite store, a FakeHttpSender and a
// FakeClock: what is sent, what is recorded, retries, limits, Slack pacing,
// deletion and shutdown.
#include "server/delivery/dispatcher.h"

#include <algorithm>
#include <map>
#include <memory>
#include <set>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "absl/strings/ascii.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/clock.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "server/core/clock.h"
#include "server/delivery/fake_http_sender.h"
#include "server/store/sqlite/sqlite_store.h"
#include "tests/unit/common/temp_dir.h"

namespace herald::delivery {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;
using ::testing::SizeIs;

const absl::Time kStart = absl::FromUnixSeconds(1'700'000'000);

template <typename F>
bool WaitFor(F done, absl::Duration timeout = absl::Seconds(10)) {
  const absl::Time deadline = absl::Now() + timeout;
  while (!done()) {
    if (absl::Now() > deadline) return false;
    absl::SleepFor(absl::Milliseconds(2));
  }
  return true;
}

std::optional<std::string> HeaderOf(const HttpRequest& r,
                                    const std::string& name) {
  for (const core::Header& h : r.headers) {
    if (absl::AsciiStrToLower(h.name) == absl::AsciiStrToLower(name)) {
      return h.value;
    }
  }
  return std::nullopt;
}

// An HttpSender that never answers requests to "dead" URLs (until
// shutdown) and hands everything else to a FakeHttpSender.
class HangingSender final : public HttpSender {
 public:
  explicit HangingSender(FakeHttpSender* next) : next_(next) {}
  void Hang(const std::string& url) {
    absl::MutexLock lock(&mu_);
    dead_.insert(url);
  }
  int hung() const {
    absl::MutexLock lock(&mu_);
    return static_cast<int>(held_.size());
  }
  void Send(HttpRequest request,
            absl::AnyInvocable<void(HttpResult) &&> done) override {
    {
      absl::MutexLock lock(&mu_);
      if (!stopped_ && dead_.count(request.url) > 0) {
        held_.push_back(std::move(done));
        return;
      }
    }
    next_->Send(std::move(request), std::move(done));
  }
  int in_flight() const override { return hung() + next_->in_flight(); }
  void Shutdown(absl::Duration deadline) override {
    std::vector<absl::AnyInvocable<void(HttpResult) &&>> held;
    {
      absl::MutexLock lock(&mu_);
      stopped_ = true;
      held.swap(held_);
    }
    for (auto& done : held) {
      std::move(done)(FakeHttpSender::Error(HttpErrorKind::kOther,
                                            "shutting down"));
    }
    next_->Shutdown(deadline);
  }

 private:
  FakeHttpSender* next_;
  mutable absl::Mutex mu_;
  std::set<std::string> dead_ ABSL_GUARDED_BY(mu_);
  std::vector<absl::AnyInvocable<void(HttpResult) &&>> held_
      ABSL_GUARDED_BY(mu_);
  bool stopped_ ABSL_GUARDED_BY(mu_) = false;
};

class DispatcherTest : public ::testing::Test {
 protected:
  void SetUp() override {
    clock_ = std::make_shared<core::FakeClock>(kStart);
    store::SqliteOptions options;
    options.path = dir_.Join("herald.db");
    options.clock = clock_;
    absl::StatusOr<std::unique_ptr<store::SqliteStore>> s =
        store::SqliteStore::Open(options);
    ASSERT_TRUE(s.ok()) << s.status();
    store_ = *std::move(s);
    sender_ = std::make_unique<FakeHttpSender>();
    hanging_ = std::make_unique<HangingSender>(sender_.get());
  }

  void TearDown() override {
    if (dispatcher_) dispatcher_->Shutdown(absl::ZeroDuration());
    dispatcher_.reset();
    sender_->Shutdown(absl::ZeroDuration());
  }

  DispatcherOptions Options() {
    DispatcherOptions o;
    o.owner = "test-owner";
    o.uniform = [] { return 0.0; };
    o.poll_interval = absl::Milliseconds(20);
    o.user_agent = "herald/test";
    return o;
  }

  void StartDispatcher(DispatcherOptions o, bool hanging = false) {
    dispatcher_ = std::make_unique<Dispatcher>(
        store_.get(),
        hanging ? static_cast<HttpSender*>(hanging_.get()) : sender_.get(),
        clock_.get(), std::move(o));
    ASSERT_TRUE(dispatcher_->Start().ok());
  }

  core::Target Target(const std::string& url) {
    core::Target t;
    t.type = core::TargetType::kHttp;
    t.address = url;
    t.auth_header = "Bearer very-secret-token";
    t.payload_format = core::PayloadFormat::kDefault;
    return t;
  }

  int64_t CreatePolicy(const std::string& name, core::RetryPolicy retry = {}) {
    core::Policy p;
    p.project_id = 1;
    p.name = name;
    p.targets = {Target("http://a.example/hook")};
    p.event_types = {"PUSH_ARTIFACT"};
    p.retry_policy = retry;
    absl::StatusOr<core::Policy> created = store_->CreatePolicy(p, "", "");
    EXPECT_TRUE(created.ok()) << created.status();
    return created->id;
  }

  // Commits `n` deliveries of one event each; returns their task ids.
  std::vector<int64_t> Commit(int64_t policy_id, const core::Target& target,
                              int n = 1, int max_attempts = 3) {
    std::vector<store::NewEvent> events;
    for (int i = 0; i < n; ++i) {
      store::NewEvent e;
      e.event.project_id = 1;
      e.event.event_type = "PUSH_ARTIFACT";
      e.event.data = "{}";
      store::NewDelivery d;
      d.policy_id = policy_id;
      d.target = target;
      d.vendor_type = core::VendorTypeFor(target.type);
      d.payload = "{\"seq\":" + std::to_string(++seq_) + "}";
      d.content_type = "application/json";
      d.webhook_id = "msg_" + std::to_string(seq_);
      d.max_attempts = max_attempts;
      d.due_time = clock_->Now();
      e.deliveries.push_back(std::move(d));
      events.push_back(std::move(e));
    }
    absl::StatusOr<std::vector<store::CommittedEvent>> r =
        store_->CommitEvents(std::move(events));
    EXPECT_TRUE(r.ok()) << r.status();
    std::set<int64_t> event_ids;
    for (const store::CommittedEvent& c : *r) event_ids.insert(c.event_id);
    store::ExecutionQuery q;
    q.policy_id = policy_id;
    q.page.limit = 100000;
    absl::StatusOr<store::ExecutionList> list = store_->ListExecutions(q);
    std::vector<int64_t> tasks;
    for (const core::Execution& e : list->executions) {
      if (event_ids.count(e.event_id) == 0) continue;
      tasks.push_back(store_->ListTasks(e.id)->front().id);
    }
    std::sort(tasks.begin(), tasks.end());
    EXPECT_EQ(tasks.size(), static_cast<size_t>(n));
    store_->NotifyWork();
    return tasks;
  }

  core::Task Task(int64_t id) { return *store_->GetTask(id); }

  bool WaitForStatus(int64_t id, core::TaskStatus status,
                     absl::Duration timeout = absl::Seconds(10)) {
    return WaitFor([&] { return Task(id).status == status; }, timeout);
  }
  bool WaitForFinal(int64_t id) {
    return WaitFor([&] { return Task(id).final(); });
  }

  herald::testing::TempDir dir_;
  std::shared_ptr<core::FakeClock> clock_;
  std::unique_ptr<store::SqliteStore> store_;
  std::unique_ptr<FakeHttpSender> sender_;
  std::unique_ptr<HangingSender> hanging_;
  std::unique_ptr<Dispatcher> dispatcher_;
  int seq_ = 0;
};

TEST_F(DispatcherTest, DeliversWithHarborsRequestAndRecordsSuccess) {
  int64_t p = CreatePolicy("p");
  StartDispatcher(Options());
  std::vector<int64_t> ids = Commit(p, Target("http://a.example/hook"));
  ASSERT_TRUE(WaitForStatus(ids[0], core::TaskStatus::kSuccess));
  ASSERT_THAT(sender_->requests(), SizeIs(1));
  const HttpRequest r = sender_->requests()[0];
  EXPECT_EQ(r.url, "http://a.example/hook");
  EXPECT_EQ(r.body, "{\"seq\":1}");
  EXPECT_EQ(HeaderOf(r, "Content-Type"), "application/json");
  EXPECT_EQ(HeaderOf(r, "Authorization"), "Bearer very-secret-token");
  EXPECT_EQ(HeaderOf(r, "User-Agent"), "herald/test");
  EXPECT_EQ(HeaderOf(r, "webhook-id"), "msg_1");
  EXPECT_EQ(r.timeout, absl::Seconds(3));  // the setting's default
  EXPECT_EQ(r.endpoint_key, "http://a.example:80");

  core::Task t = Task(ids[0]);
  EXPECT_EQ(t.run_count, 1);
  EXPECT_EQ(t.last_response_code, 200);
  EXPECT_EQ(t.end_time, kStart);
  std::string log = *store_->GetTaskLog(ids[0]);
  EXPECT_EQ(log,
            "2023-11-14T22:13:20.000Z attempt 1 of 3: status 200, latency "
            "1ms, delivered\n");
  EXPECT_EQ(dispatcher_->stats().succeeded, 1);
}

TEST_F(DispatcherTest, NotifyClaimsAtOnceWithoutWaitingForThePoll) {
  int64_t p = CreatePolicy("p");
  DispatcherOptions o = Options();
  o.poll_interval = absl::Hours(1);
  StartDispatcher(o);
  absl::SleepFor(absl::Milliseconds(50));  // the first (empty) poll is over
  const absl::Time before = absl::Now();
  std::vector<int64_t> ids = Commit(p, Target("http://a.example/hook"));
  ASSERT_TRUE(WaitForStatus(ids[0], core::TaskStatus::kSuccess,
                            absl::Seconds(5)));
  EXPECT_LT(absl::Now() - before, absl::Seconds(2));
}

TEST_F(DispatcherTest, PolicyTimeoutOverridesTheSetting) {
  core::RetryPolicy retry;
  retry.http_timeout = absl::Milliseconds(1500);
  int64_t p = CreatePolicy("p", retry);
  core::Settings settings;
  settings.webhook_job_http_client_timeout = absl::Seconds(9);
  ASSERT_TRUE(store_->PutSettings(settings).ok());
  int64_t q = CreatePolicy("q");
  StartDispatcher(Options());
  std::vector<int64_t> a = Commit(p, Target("http://a.example/p"));
  std::vector<int64_t> b = Commit(q, Target("http://a.example/q"));
  ASSERT_TRUE(WaitForFinal(a[0]) && WaitForFinal(b[0]));
  for (const HttpRequest& r : sender_->requests()) {
    EXPECT_EQ(r.timeout, r.url == "http://a.example/p" ? absl::Milliseconds(1500)
                                                       : absl::Seconds(9));
  }
}

TEST_F(DispatcherTest, RetriesWithHarborBackoffThenSucceeds) {
  int64_t p = CreatePolicy("p");
  sender_->Enqueue("http://a.example/hook", FakeHttpSender::Status(500));
  sender_->Enqueue("http://a.example/hook", FakeHttpSender::Status(200));
  StartDispatcher(Options());
  std::vector<int64_t> ids = Commit(p, Target("http://a.example/hook"));
  ASSERT_TRUE(WaitFor([&] { return Task(ids[0]).retry_scheduled(); }));
  core::Task t = Task(ids[0]);
  EXPECT_EQ(t.run_count, 1);
  EXPECT_EQ(t.last_response_code, 500);
  EXPECT_EQ(t.last_error, "abnormal response code: 500");
  // Harbor's first backoff with rand = 0: 16 s.
  EXPECT_EQ(t.next_attempt_time, kStart + absl::Seconds(16));

  absl::SleepFor(absl::Milliseconds(100));
  EXPECT_EQ(sender_->request_count(), 1u);  // not due yet
  clock_->Advance(absl::Seconds(16));
  dispatcher_->Notify();
  ASSERT_TRUE(WaitForStatus(ids[0], core::TaskStatus::kSuccess));
  t = Task(ids[0]);
  EXPECT_EQ(t.run_count, 2);
  ASSERT_EQ(sender_->request_count(), 2u);
  // The same webhook-id and body on every attempt.
  EXPECT_EQ(HeaderOf(sender_->requests()[0], "webhook-id"),
            HeaderOf(sender_->requests()[1], "webhook-id"));
  EXPECT_EQ(sender_->requests()[0].body, sender_->requests()[1].body);
  std::string log = *store_->GetTaskLog(ids[0]);
  EXPECT_THAT(log, HasSubstr("attempt 1 of 3: status 500"));
  EXPECT_THAT(log, HasSubstr("; retry in 16s\n"));
  EXPECT_THAT(log, HasSubstr("attempt 2 of 3: status 200"));
}

TEST_F(DispatcherTest, AlwaysFailingEndsAfterMaxAttempts) {
  int64_t p = CreatePolicy("p");
  sender_->SetResponder("http://a.example/hook", [](const HttpRequest&) {
    HttpResult r = FakeHttpSender::Status(500);
    r.body_excerpt = "echo: Bearer very-secret-token";
    return r;
  });
  DispatcherOptions o = Options();
  o.backoff_scale = 0.0;  // retries due at once
  StartDispatcher(o);
  std::vector<int64_t> ids = Commit(p, Target("http://a.example/hook"));
  ASSERT_TRUE(WaitForFinal(ids[0]));
  core::Task t = Task(ids[0]);
  EXPECT_EQ(t.status, core::TaskStatus::kError);
  EXPECT_EQ(t.run_count, 3);
  EXPECT_EQ(sender_->request_count(), 3u);
  std::string log = *store_->GetTaskLog(ids[0]);
  EXPECT_EQ(std::count(log.begin(), log.end(), '\n'), 3);
  EXPECT_THAT(log, HasSubstr("attempt 3 of 3: status 500"));
  EXPECT_THAT(log, HasSubstr("no more attempts (no attempts left)"));
  // The receiver echoed the Authorization header: redacted.
  EXPECT_THAT(log, Not(HasSubstr("very-secret-token")));
  EXPECT_THAT(log, HasSubstr("echo: [redacted]"));
  EXPECT_THAT(t.last_error, Not(HasSubstr("very-secret-token")));
}

TEST_F(DispatcherTest, GoneEndsAtOnceAndRetryAfterIsHonoured) {
  int64_t p = CreatePolicy("p");
  sender_->SetResponder("http://a.example/gone", [](const HttpRequest&) {
    return FakeHttpSender::Status(410);
  });
  sender_->Enqueue("http://a.example/busy",
                   FakeHttpSender::Status(429, absl::Seconds(30)));
  DispatcherOptions o = Options();
  o.backoff_scale = 0.0;
  StartDispatcher(o);
  std::vector<int64_t> gone = Commit(p, Target("http://a.example/gone"), 1, 5);
  std::vector<int64_t> busy = Commit(p, Target("http://a.example/busy"));
  ASSERT_TRUE(WaitForFinal(gone[0]));
  EXPECT_EQ(Task(gone[0]).run_count, 1);
  EXPECT_EQ(Task(gone[0]).status, core::TaskStatus::kError);
  ASSERT_TRUE(WaitFor([&] { return Task(busy[0]).retry_scheduled(); }));
  // Retry-After is not scaled by the backoff scale.
  EXPECT_EQ(Task(busy[0]).next_attempt_time, kStart + absl::Seconds(30));
  clock_->Advance(absl::Seconds(30));
  dispatcher_->Notify();
  ASSERT_TRUE(WaitForStatus(busy[0], core::TaskStatus::kSuccess));
}

TEST_F(DispatcherTest, HonoursGlobalAndPerEndpointLimits) {
  int64_t p = CreatePolicy("p");
  sender_->SetHold(true);
  DispatcherOptions o = Options();
  o.max_in_flight = 6;
  o.per_endpoint_concurrency = 4;
  StartDispatcher(o);
  std::vector<int64_t> a = Commit(p, Target("http://a.example/x"), 30);
  std::vector<int64_t> b = Commit(p, Target("http://b.example/y"), 30);
  ASSERT_TRUE(WaitFor([&] { return sender_->held() == 6; }));
  absl::SleepFor(absl::Milliseconds(100));
  EXPECT_EQ(sender_->held(), 6);
  std::map<std::string, int> per_endpoint;
  for (const HttpRequest& r : sender_->requests()) ++per_endpoint[r.endpoint_key];
  EXPECT_LE(per_endpoint["http://a.example:80"], 4);
  EXPECT_LE(per_endpoint["http://b.example:80"], 4);
  EXPECT_EQ(dispatcher_->stats().in_flight, 6);
  // Claimed ahead: at most 2 x per-endpoint concurrency per endpoint.
  EXPECT_LE(dispatcher_->stats().in_flight + dispatcher_->stats().queued, 16);

  // Everything gets through as slots free up.
  sender_->SetHold(false);
  sender_->Release();
  for (int64_t id : a) ASSERT_TRUE(WaitForStatus(id, core::TaskStatus::kSuccess));
  for (int64_t id : b) ASSERT_TRUE(WaitForStatus(id, core::TaskStatus::kSuccess));
  EXPECT_EQ(sender_->request_count(), 60u);
}

TEST_F(DispatcherTest, DeadEndpointDoesNotDelayAHealthyOne) {
  int64_t p = CreatePolicy("p");
  hanging_->Hang("http://dead.example/hook");
  DispatcherOptions o = Options();
  o.per_endpoint_concurrency = 4;
  o.batch_size = 16;
  std::vector<int64_t> dead = Commit(p, Target("http://dead.example/hook"), 500);
  StartDispatcher(o, /*hanging=*/true);
  ASSERT_TRUE(WaitFor([&] { return hanging_->hung() == 4; }));
  const absl::Time before = absl::Now();
  std::vector<int64_t> healthy = Commit(p, Target("http://ok.example/hook"), 20);
  for (int64_t id : healthy) {
    ASSERT_TRUE(WaitForStatus(id, core::TaskStatus::kSuccess, absl::Seconds(5)));
  }
  EXPECT_LT(absl::Now() - before, absl::Seconds(3));
  EXPECT_EQ(hanging_->hung(), 4);
  // The backlog stays in the store, not in memory.
  EXPECT_LE(dispatcher_->stats().queued, 4);
  absl::StatusOr<store::QueueDepth> depth = store_->CountQueue();
  EXPECT_GE(depth->pending, 490);
}

TEST_F(DispatcherTest, SlackIsPacedPerUrlAndHonours429) {
  int64_t p = CreatePolicy("p");
  core::Target one;
  one.type = core::TargetType::kSlack;
  one.address = "https://hooks.slack.com/services/T/B/one";
  core::Target two = one;
  two.address = "https://hooks.slack.com/services/T/B/two";
  sender_->Enqueue(one.address, FakeHttpSender::Status(429, absl::Seconds(5)));
  DispatcherOptions o = Options();
  o.backoff_scale = 0.0;
  StartDispatcher(o);
  Commit(p, one, 3);
  Commit(p, two, 3);
  auto count = [&](const std::string& url) {
    int n = 0;
    for (const HttpRequest& r : sender_->requests()) n += r.url == url;
    return n;
  };
  // One message per URL at once: the URLs do not wait for each other.
  ASSERT_TRUE(WaitFor([&] { return count(one.address) == 1 && count(two.address) == 1; }));
  absl::SleepFor(absl::Milliseconds(150));
  EXPECT_EQ(sender_->request_count(), 2u);

  // A second later: the next of `two`; `one` got a 429 with Retry-After 5 s
  // and waits.
  clock_->Advance(absl::Seconds(1));
  dispatcher_->Notify();
  ASSERT_TRUE(WaitFor([&] { return count(two.address) == 2; }));
  absl::SleepFor(absl::Milliseconds(150));
  EXPECT_EQ(count(one.address), 1);
  EXPECT_EQ(count(two.address), 2);

  clock_->Advance(absl::Seconds(5));
  dispatcher_->Notify();
  ASSERT_TRUE(WaitFor([&] { return count(one.address) == 2; }));
  // Never two messages to one URL within the interval.
  absl::SleepFor(absl::Milliseconds(150));
  EXPECT_EQ(count(one.address), 2);
}

TEST_F(DispatcherTest, DeletedPolicyTasksAreNotSentAndLateResultsIgnored) {
  int64_t p = CreatePolicy("p");
  sender_->SetHold(true);
  DispatcherOptions o = Options();
  o.per_endpoint_concurrency = 1;
  StartDispatcher(o);
  std::vector<int64_t> ids = Commit(p, Target("http://a.example/hook"), 5);
  ASSERT_TRUE(WaitFor([&] { return sender_->held() == 1; }));
  // One in flight, one claimed ahead and queued here, three in the store.
  ASSERT_TRUE(WaitFor([&] { return dispatcher_->stats().queued == 1; }));
  ASSERT_TRUE(store_->DeletePolicy(p).ok());
  absl::SleepFor(Dispatcher::kRecheckAfter + absl::Milliseconds(20));
  sender_->SetHold(false);
  sender_->Release();
  ASSERT_TRUE(WaitFor([&] { return dispatcher_->stats().stale_results == 1; }));
  ASSERT_TRUE(WaitFor([&] { return dispatcher_->stats().dropped == 1; }));
  absl::SleepFor(absl::Milliseconds(100));
  EXPECT_EQ(sender_->request_count(), 1u);
}

TEST_F(DispatcherTest, ShutdownReleasesQueuedAndLetsInFlightFinish) {
  int64_t p = CreatePolicy("p");
  sender_->SetHold(true);
  DispatcherOptions o = Options();
  o.per_endpoint_concurrency = 2;
  StartDispatcher(o);
  std::vector<int64_t> ids = Commit(p, Target("http://a.example/hook"), 6);
  ASSERT_TRUE(WaitFor([&] { return sender_->held() == 2; }));
  ASSERT_TRUE(WaitFor([&] { return dispatcher_->stats().queued == 2; }));
  // The two in flight complete during the grace period.
  std::thread releaser([&] {
    absl::SleepFor(absl::Milliseconds(100));
    sender_->Release();
  });
  dispatcher_->Shutdown(absl::Seconds(5));
  releaser.join();
  int success = 0, pending = 0;
  for (int64_t id : ids) {
    core::Task t = Task(id);
    if (t.status == core::TaskStatus::kSuccess) ++success;
    if (t.status == core::TaskStatus::kPending) {
      ++pending;
      EXPECT_EQ(t.run_count, 0);  // released: no attempt counted
    }
  }
  EXPECT_EQ(success, 2);
  EXPECT_EQ(pending, 4);
  EXPECT_EQ(dispatcher_->stats().released, 2);
}

TEST_F(DispatcherTest, ShutdownDeadlineAbortsAndReleasesTheRest) {
  int64_t p = CreatePolicy("p");
  sender_->SetHold(true);
  StartDispatcher(Options());
  std::vector<int64_t> ids = Commit(p, Target("http://a.example/hook"), 3);
  ASSERT_TRUE(WaitFor([&] { return sender_->held() == 3; }));
  const absl::Time before = absl::Now();
  dispatcher_->Shutdown(absl::Milliseconds(200));
  EXPECT_LT(absl::Now() - before, absl::Seconds(3));
  for (int64_t id : ids) {
    core::Task t = Task(id);
    EXPECT_EQ(t.status, core::TaskStatus::kPending);
    EXPECT_EQ(t.run_count, 0);
  }
  EXPECT_EQ(*store_->GetTaskLog(ids[0]), "");
}

TEST_F(DispatcherTest, ExpiresLeasesOfADeadProcessAtStart) {
  int64_t p = CreatePolicy("p");
  std::vector<int64_t> ids = Commit(p, Target("http://a.example/hook"));
  store::ClaimOptions claim;
  claim.owner = "killed-process";
  ASSERT_THAT(*store_->ClaimTasks(claim), SizeIs(1));
  DispatcherOptions o = Options();
  o.expire_foreign_leases_at_start = true;
  StartDispatcher(o);
  ASSERT_TRUE(WaitForStatus(ids[0], core::TaskStatus::kSuccess));
  // The interrupted attempt was re-run, not counted twice.
  EXPECT_EQ(Task(ids[0]).run_count, 1);
}

}  // namespace
}  // namespace herald::delivery
