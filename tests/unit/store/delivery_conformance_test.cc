// The Store conformance suite, delivery engine part: claims with leases,
// results, releases, task logs, redelivery, RecoverFailed pages, retention
// and queue depth. Every implementation in StoreFactories() must pass.
#include <algorithm>
#include <atomic>
#include <map>
#include <memory>
#include <set>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "server/core/clock.h"
#include "server/store/store.h"
#include "tests/unit/store/store_test_env.h"

namespace herald::store::testing {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::IsEmpty;
using ::testing::SizeIs;
using Outcome = TaskResult::Outcome;

const absl::Time kStart = absl::FromUnixSeconds(1'700'000'000);

core::Target Http(const std::string& address) {
  core::Target t;
  t.type = core::TargetType::kHttp;
  t.address = address;
  t.auth_header = "Bearer s3cr3t";
  t.payload_format = core::PayloadFormat::kDefault;
  return t;
}

core::Target Slack(const std::string& address) {
  core::Target t;
  t.type = core::TargetType::kSlack;
  t.address = address;
  return t;
}

core::Policy MakePolicy(int64_t project_id, const std::string& name) {
  core::Policy p;
  p.project_id = project_id;
  p.name = name;
  p.targets = {Http("http://a.example/hook")};
  p.event_types = {"PUSH_ARTIFACT"};
  p.retry_policy.backoff = core::BackoffKind::kExponential;
  p.retry_policy.http_timeout = absl::Seconds(2);
  p.creator = "alice";
  return p;
}

class DeliveryConformanceTest : public ::testing::TestWithParam<StoreFactory> {
 protected:
  void SetUp() override {
    clock_ = std::make_shared<core::FakeClock>(kStart);
    backend_ = GetParam().make();
    if (IsSkipped()) return;  // the backend is not available here (it said why)
    Reopen();
  }
  void TearDown() override { handle_ = StoreHandle{}; }

  void Reopen() {
    handle_ = StoreHandle{};
    absl::StatusOr<StoreHandle> handle = backend_->Open(clock_);
    ASSERT_TRUE(handle.ok()) << handle.status();
    handle_ = *std::move(handle);
  }

  Store& store() { return *handle_.store; }

  int64_t CreatePolicy(int64_t project_id, const std::string& name) {
    absl::StatusOr<core::Policy> p =
        store().CreatePolicy(MakePolicy(project_id, name), "", "");
    EXPECT_TRUE(p.ok()) << p.status();
    return p.ok() ? p->id : 0;
  }

  // Commits one event with one delivery per target; returns the task ids.
  std::vector<int64_t> Commit(int64_t policy_id,
                              const std::vector<core::Target>& targets,
                              absl::Time due, int max_attempts = 3,
                              int64_t project_id = 1) {
    NewEvent e;
    e.event.project_id = project_id;
    e.event.event_type = "PUSH_ARTIFACT";
    e.event.occur_time = kStart;
    e.event.data = "{}";
    for (size_t i = 0; i < targets.size(); ++i) {
      NewDelivery d;
      d.policy_id = policy_id;
      d.target_index = static_cast<int>(i);
      d.target = targets[i];
      d.vendor_type = core::VendorTypeFor(targets[i].type);
      d.payload = "{\"n\":" + std::to_string(++payloads_) + "}";
      d.content_type = "application/json";
      d.webhook_id = "msg_" + std::to_string(payloads_);
      d.max_attempts = max_attempts;
      d.due_time = due;
      e.deliveries.push_back(std::move(d));
    }
    std::vector<NewEvent> events;
    events.push_back(std::move(e));
    absl::StatusOr<std::vector<CommittedEvent>> r =
        store().CommitEvents(std::move(events));
    EXPECT_TRUE(r.ok()) << r.status();
    std::vector<int64_t> tasks;
    if (!r.ok()) return tasks;
    ExecutionQuery q;
    q.policy_id = policy_id;
    q.page.limit = 1000;
    absl::StatusOr<ExecutionList> list = store().ListExecutions(q);
    EXPECT_TRUE(list.ok());
    for (const core::Execution& ex : list->executions) {
      if (ex.event_id != (*r)[0].event_id) continue;
      tasks.push_back(store().ListTasks(ex.id)->front().id);
    }
    std::sort(tasks.begin(), tasks.end());
    return tasks;
  }

  int64_t CommitOne(int64_t policy_id, absl::Time due = kStart,
                    const std::string& address = "http://a.example/hook",
                    int max_attempts = 3) {
    std::vector<int64_t> ids =
        Commit(policy_id, {Http(address)}, due, max_attempts);
    return ids.empty() ? 0 : ids[0];
  }

  std::vector<ClaimedTask> Claim(const std::string& owner, int limit = 100,
                                 int room = 100,
                                 std::vector<std::pair<std::string, int>>
                                     rooms = {}) {
    ClaimOptions o;
    o.owner = owner;
    o.lease = absl::Seconds(60);
    o.limit = limit;
    o.default_endpoint_room = room;
    o.endpoint_room = std::move(rooms);
    absl::StatusOr<std::vector<ClaimedTask>> c = store().ClaimTasks(o);
    EXPECT_TRUE(c.ok()) << c.status();
    return c.ok() ? *std::move(c) : std::vector<ClaimedTask>{};
  }

  static std::vector<int64_t> Ids(const std::vector<ClaimedTask>& c) {
    std::vector<int64_t> ids;
    for (const ClaimedTask& t : c) ids.push_back(t.task.id);
    return ids;
  }

  std::vector<bool> Complete(const std::string& owner,
                             std::vector<TaskResult> results) {
    absl::StatusOr<std::vector<bool>> r =
        store().CompleteTasks(owner, std::move(results));
    EXPECT_TRUE(r.ok()) << r.status();
    return r.ok() ? *r : std::vector<bool>{};
  }

  static TaskResult Result(const ClaimedTask& c, Outcome outcome,
                           int code = 200, std::string line = "") {
    TaskResult r;
    r.task_id = c.task.id;
    r.run_count = c.task.run_count;
    r.outcome = outcome;
    r.response_code = code;
    r.error = outcome == Outcome::kSuccess ? "" : "abnormal response code";
    r.log_line = std::move(line);
    return r;
  }

  core::Task Task(int64_t id) {
    absl::StatusOr<core::Task> t = store().GetTask(id);
    EXPECT_TRUE(t.ok()) << t.status();
    return t.ok() ? *t : core::Task{};
  }

  // Drives a task to a final Error.
  void FailFinally(int64_t task_id, const std::string& owner = "w") {
    for (const ClaimedTask& c : Claim(owner)) {
      if (c.task.id == task_id) {
        ASSERT_THAT(Complete(owner, {Result(c, Outcome::kFailed, 500)}),
                    ElementsAre(true));
        return;
      }
    }
    ADD_FAILURE() << "task " << task_id << " was not claimable";
  }

  std::shared_ptr<core::FakeClock> clock_;
  std::unique_ptr<StoreBackend> backend_;
  StoreHandle handle_;
  int payloads_ = 0;
};

// ------------------------------------------------------------------ Claims

TEST_P(DeliveryConformanceTest, ClaimTakesDueTasksEarliestFirst) {
  int64_t p = CreatePolicy(1, "p");
  int64_t later = CommitOne(p, kStart + absl::Seconds(2));
  int64_t now = CommitOne(p, kStart);
  int64_t future = CommitOne(p, kStart + absl::Hours(1));
  clock_->Advance(absl::Seconds(5));

  std::vector<ClaimedTask> claimed = Claim("w1");
  ASSERT_THAT(Ids(claimed), ElementsAre(now, later));
  const ClaimedTask& c = claimed[0];
  EXPECT_EQ(c.task.status, core::TaskStatus::kRunning);
  EXPECT_EQ(c.task.run_count, 1);
  EXPECT_EQ(c.task.max_attempts, 3);
  EXPECT_EQ(c.task.start_time, kStart + absl::Seconds(5));
  EXPECT_EQ(c.task.next_attempt_time, absl::InfiniteFuture());
  EXPECT_EQ(c.lease_expire_time, kStart + absl::Seconds(65));
  // Everything an attempt needs.
  EXPECT_EQ(c.execution.status, core::TaskStatus::kRunning);
  EXPECT_EQ(c.execution.target.address, "http://a.example/hook");
  EXPECT_EQ(c.execution.target.auth_header, "Bearer s3cr3t");
  EXPECT_THAT(c.execution.payload, HasSubstr("\"n\":2"));
  EXPECT_EQ(c.execution.webhook_id, "msg_2");
  EXPECT_EQ(c.execution.content_type, "application/json");
  EXPECT_EQ(c.retry_policy.backoff, core::BackoffKind::kExponential);
  EXPECT_EQ(c.retry_policy.http_timeout, absl::Seconds(2));
  EXPECT_EQ(c.endpoint, "http://a.example:80");

  // Reads agree: the task and its execution are Running.
  EXPECT_EQ(Task(now).status, core::TaskStatus::kRunning);
  EXPECT_EQ(store().GetExecution(c.execution.id)->status,
            core::TaskStatus::kRunning);
  // Nothing else is due; the future task stays Pending.
  EXPECT_THAT(Claim("w2"), IsEmpty());
  EXPECT_EQ(Task(future).status, core::TaskStatus::kPending);
}

TEST_P(DeliveryConformanceTest, ClaimHonoursLimit) {
  int64_t p = CreatePolicy(1, "p");
  std::vector<int64_t> ids;
  for (int i = 0; i < 5; ++i) {
    ids.push_back(CommitOne(p, kStart + absl::Milliseconds(i)));
  }
  clock_->Advance(absl::Seconds(1));
  EXPECT_THAT(Ids(Claim("w", 2)), ElementsAre(ids[0], ids[1]));
  EXPECT_THAT(Ids(Claim("w", 10)), ElementsAre(ids[2], ids[3], ids[4]));
}

TEST_P(DeliveryConformanceTest, EndpointKeysAreNormalisedAndSlackIsPerUrl) {
  int64_t p = CreatePolicy(1, "p");
  Commit(p,
         {Http("HTTP://A.Example/x"), Http("http://user:pw@a.example:80/y"),
          Http("https://b.example/z"), Http("http://[::1]:8080/v6"),
          Slack("https://hooks.slack.com/services/T/B/one")},
         kStart);
  std::map<int, std::string> by_index;
  for (const ClaimedTask& c : Claim("w")) {
    by_index[c.execution.target_index] = c.endpoint;
  }
  EXPECT_EQ(by_index[0], "http://a.example:80");
  EXPECT_EQ(by_index[1], "http://a.example:80");
  EXPECT_EQ(by_index[2], "https://b.example:443");
  EXPECT_EQ(by_index[3], "http://[::1]:8080");
  EXPECT_EQ(by_index[4], "https://hooks.slack.com/services/T/B/one");
}

TEST_P(DeliveryConformanceTest, ClaimGivesEachEndpointAtMostItsRoom) {
  int64_t p = CreatePolicy(1, "p");
  // A dead endpoint with a big backlog, due first...
  for (int i = 0; i < 40; ++i) CommitOne(p, kStart, "http://dead.example/h");
  // ...and a healthy one, due later.
  std::vector<int64_t> healthy;
  for (int i = 0; i < 3; ++i) {
    healthy.push_back(
        CommitOne(p, kStart + absl::Seconds(1), "http://ok.example/h"));
  }
  clock_->Advance(absl::Seconds(2));

  // Default room 4: the dead endpoint cannot fill the batch of 10.
  std::vector<ClaimedTask> first = Claim("w", 10, 4);
  std::map<std::string, int> count;
  for (const ClaimedTask& c : first) ++count[c.endpoint];
  EXPECT_EQ(count["http://dead.example:80"], 4);
  EXPECT_EQ(count["http://ok.example:80"], 3);

  // An endpoint with no room gets nothing, others their default.
  for (int i = 0; i < 3; ++i) CommitOne(p, kStart, "http://ok.example/h");
  std::vector<ClaimedTask> second =
      Claim("w", 10, 2, {{"http://dead.example:80", 0}});
  count.clear();
  for (const ClaimedTask& c : second) ++count[c.endpoint];
  EXPECT_EQ(count["http://dead.example:80"], 0);
  EXPECT_EQ(count["http://ok.example:80"], 2);
  // An explicit room overrides the default.
  std::vector<ClaimedTask> third =
      Claim("w", 10, 0, {{"http://dead.example:80", 5}});
  EXPECT_THAT(third, SizeIs(5));
}

TEST_P(DeliveryConformanceTest, ConcurrentClaimersNeverShareATask) {
  int64_t p = CreatePolicy(1, "p");
  std::set<int64_t> all;
  for (int i = 0; i < 60; ++i) {
    for (int64_t id :
         Commit(p,
                {Http("http://e" + std::to_string(i % 3) + ".example/"),
                 Http("http://f.example/")},
                kStart)) {
      all.insert(id);
    }
  }
  ASSERT_EQ(all.size(), 120u);
  absl::Mutex mu;
  std::multiset<int64_t> seen;
  std::vector<std::thread> threads;
  for (int w = 0; w < 4; ++w) {
    threads.emplace_back([&, w] {
      ClaimOptions o;
      o.owner = "worker-" + std::to_string(w);
      o.limit = 7;
      o.default_endpoint_room = 5;
      while (true) {
        absl::StatusOr<std::vector<ClaimedTask>> c = store().ClaimTasks(o);
        ASSERT_TRUE(c.ok()) << c.status();
        absl::MutexLock lock(&mu);
        if (c->empty() && seen.size() == all.size()) return;
        for (const ClaimedTask& t : *c) seen.insert(t.task.id);
      }
    });
  }
  for (std::thread& t : threads) t.join();
  EXPECT_EQ(seen.size(), all.size());
  EXPECT_EQ(std::set<int64_t>(seen.begin(), seen.end()), all);
}

TEST_P(DeliveryConformanceTest, ExpiredLeaseIsReclaimedByAnotherOwnerOnly) {
  int64_t p = CreatePolicy(1, "p");
  int64_t id = CommitOne(p);
  std::vector<ClaimedTask> a = Claim("A");
  ASSERT_THAT(Ids(a), ElementsAre(id));

  clock_->Advance(absl::Seconds(59));
  EXPECT_THAT(Claim("B"), IsEmpty());  // still leased
  clock_->Advance(absl::Seconds(2));
  // A claimer never reclaims its own lease: it still holds the task.
  EXPECT_THAT(Claim("A"), IsEmpty());
  // Another owner does, re-running the interrupted attempt.
  std::vector<ClaimedTask> b = Claim("B");
  ASSERT_THAT(Ids(b), ElementsAre(id));
  EXPECT_EQ(b[0].task.run_count, 1);
  EXPECT_EQ(b[0].task.start_time, a[0].task.start_time);

  // A's late result is ignored; B's counts.
  EXPECT_THAT(Complete("A", {Result(a[0], Outcome::kSuccess)}),
              ElementsAre(false));
  EXPECT_EQ(Task(id).status, core::TaskStatus::kRunning);
  EXPECT_THAT(Complete("B", {Result(b[0], Outcome::kSuccess)}),
              ElementsAre(true));
  EXPECT_EQ(Task(id).status, core::TaskStatus::kSuccess);
}

TEST_P(DeliveryConformanceTest, ExpireLeasesMakesOtherOwnersTasksDueNow) {
  int64_t p = CreatePolicy(1, "p");
  int64_t id = CommitOne(p);
  ASSERT_THAT(Ids(Claim("dead-process")), ElementsAre(id));
  absl::StatusOr<int> expired = store().ExpireLeases("new-process");
  ASSERT_TRUE(expired.ok()) << expired.status();
  EXPECT_EQ(*expired, 1);
  EXPECT_THAT(Ids(Claim("new-process")), ElementsAre(id));
  // Its own leases are left alone.
  EXPECT_EQ(*store().ExpireLeases("new-process"), 0);
}

TEST_P(DeliveryConformanceTest, LeasesSurviveReopen) {
  int64_t p = CreatePolicy(1, "p");
  int64_t id = CommitOne(p);
  ASSERT_THAT(Ids(Claim("A")), ElementsAre(id));
  Reopen();
  EXPECT_EQ(Task(id).status, core::TaskStatus::kRunning);
  EXPECT_THAT(Claim("B"), IsEmpty());
  ASSERT_TRUE(store().ExpireLeases("B").ok());
  EXPECT_THAT(Ids(Claim("B")), ElementsAre(id));
}

// ----------------------------------------------------------------- Results

TEST_P(DeliveryConformanceTest, SuccessIsFinalAndSetsEndTime) {
  int64_t p = CreatePolicy(1, "p");
  int64_t id = CommitOne(p);
  std::vector<ClaimedTask> c = Claim("w");
  clock_->Advance(absl::Milliseconds(250));
  ASSERT_THAT(Complete("w", {Result(c[0], Outcome::kSuccess, 204, "line 1")}),
              ElementsAre(true));
  core::Task t = Task(id);
  EXPECT_EQ(t.status, core::TaskStatus::kSuccess);
  EXPECT_TRUE(t.final());
  EXPECT_EQ(t.last_response_code, 204);
  EXPECT_EQ(t.last_error, "");
  EXPECT_EQ(t.end_time, kStart + absl::Milliseconds(250));
  core::Execution e = *store().GetExecution(c[0].execution.id);
  EXPECT_EQ(e.status, core::TaskStatus::kSuccess);
  EXPECT_EQ(e.end_time, kStart + absl::Milliseconds(250));
  EXPECT_EQ(*store().GetTaskLog(id), "line 1\n");
  clock_->Advance(absl::Hours(2));
  EXPECT_THAT(Claim("w"), IsEmpty());
}

TEST_P(DeliveryConformanceTest, RetryIsScheduledThenFailureIsFinal) {
  int64_t p = CreatePolicy(1, "p");
  int64_t id = CommitOne(p, kStart, "http://a.example/hook", 2);
  std::vector<ClaimedTask> c = Claim("w");
  TaskResult retry = Result(c[0], Outcome::kRetry, 500, "attempt 1");
  retry.next_attempt_time = kStart + absl::Seconds(30);
  ASSERT_THAT(Complete("w", {retry}), ElementsAre(true));
  core::Task t = Task(id);
  EXPECT_EQ(t.status, core::TaskStatus::kError);
  EXPECT_TRUE(t.retry_scheduled());
  EXPECT_FALSE(t.final());
  EXPECT_EQ(t.next_attempt_time, kStart + absl::Seconds(30));
  EXPECT_EQ(t.last_response_code, 500);
  EXPECT_EQ(t.last_error, "abnormal response code");
  EXPECT_EQ(t.end_time, absl::InfinitePast());
  EXPECT_EQ(store().GetExecution(c[0].execution.id)->end_time,
            absl::InfinitePast());

  EXPECT_THAT(Claim("w"), IsEmpty());  // not due yet
  clock_->Advance(absl::Seconds(30));
  std::vector<ClaimedTask> again = Claim("w");
  ASSERT_THAT(Ids(again), ElementsAre(id));
  EXPECT_EQ(again[0].task.run_count, 2);
  EXPECT_EQ(again[0].task.start_time, kStart);  // the cycle's first attempt
  ASSERT_THAT(Complete("w", {Result(again[0], Outcome::kFailed, 502,
                                    "attempt 2")}),
              ElementsAre(true));
  t = Task(id);
  EXPECT_EQ(t.status, core::TaskStatus::kError);
  EXPECT_TRUE(t.final());
  EXPECT_EQ(t.run_count, 2);
  EXPECT_EQ(t.end_time, kStart + absl::Seconds(30));
  EXPECT_EQ(*store().GetTaskLog(id), "attempt 1\nattempt 2\n");
  EXPECT_EQ(store().GetExecution(c[0].execution.id)->status,
            core::TaskStatus::kError);
}

// Several results in one call, with texts that need escaping on the way
// into the database: each task gets exactly its own values.
TEST_P(DeliveryConformanceTest, ResultBatchKeepsEveryTextAsIs) {
  int64_t p = CreatePolicy(1, "p");
  std::vector<int64_t> ids;
  for (int i = 0; i < 3; ++i) ids.push_back(CommitOne(p));
  std::vector<ClaimedTask> c = Claim("w");
  ASSERT_EQ(c.size(), 3u);
  const std::string awkward =
      "say \"hi\" \\ back\\slash\ttab \x01\x1f caf\xc3\xa9 [1,2] {}";
  std::vector<TaskResult> results;
  results.push_back(Result(c[2], Outcome::kSuccess, 204, "ok " + awkward));
  TaskResult retry = Result(c[0], Outcome::kRetry, 503, "retry");
  retry.error = awkward;
  retry.next_attempt_time = kStart + absl::Seconds(7);
  results.push_back(retry);
  TaskResult failed = Result(c[1], Outcome::kFailed, 410, "");
  failed.error = "gone\nfor good";
  results.push_back(failed);
  ASSERT_THAT(Complete("w", results), ElementsAre(true, true, true));

  core::Task ok = Task(c[2].task.id);
  EXPECT_EQ(ok.status, core::TaskStatus::kSuccess);
  EXPECT_EQ(ok.last_response_code, 204);
  EXPECT_EQ(*store().GetTaskLog(c[2].task.id), "ok " + awkward + "\n");
  core::Task r = Task(c[0].task.id);
  EXPECT_EQ(r.status, core::TaskStatus::kError);
  EXPECT_EQ(r.next_attempt_time, kStart + absl::Seconds(7));
  EXPECT_EQ(r.last_error, awkward);
  EXPECT_EQ(r.last_response_code, 503);
  EXPECT_EQ(*store().GetTaskLog(c[0].task.id), "retry\n");
  core::Task f = Task(c[1].task.id);
  EXPECT_TRUE(f.final());
  EXPECT_EQ(f.status, core::TaskStatus::kError);
  EXPECT_EQ(f.last_error, "gone\nfor good");
  EXPECT_EQ(*store().GetTaskLog(c[1].task.id), "");
}

TEST_P(DeliveryConformanceTest, StaleResultsAreIgnored) {
  int64_t p = CreatePolicy(1, "p");
  int64_t id = CommitOne(p);
  int64_t other = CommitOne(p);
  std::vector<ClaimedTask> c = Claim("w");
  ASSERT_EQ(c.size(), 2u);
  // Wrong run_count, wrong owner.
  TaskResult wrong_run = Result(c[0], Outcome::kSuccess);
  wrong_run.run_count = 7;
  EXPECT_THAT(Complete("w", {wrong_run}), ElementsAre(false));
  EXPECT_THAT(Complete("intruder", {Result(c[0], Outcome::kSuccess)}),
              ElementsAre(false));
  EXPECT_EQ(Task(id).status, core::TaskStatus::kRunning);
  EXPECT_EQ(*store().GetTaskLog(id), "");
  // A result after the policy is deleted: the task is gone, nothing fails.
  ASSERT_TRUE(store().DeletePolicy(p).ok());
  EXPECT_THAT(Complete("w", {Result(c[0], Outcome::kSuccess, 200, "late"),
                             Result(c[1], Outcome::kFailed, 500, "late")}),
              ElementsAre(false, false));
  EXPECT_EQ(store().GetTask(other).status().code(),
            absl::StatusCode::kNotFound);
  // Applying the same result twice: only the first counts.
  int64_t q = CreatePolicy(1, "q");
  CommitOne(q);
  std::vector<ClaimedTask> d = Claim("w");
  EXPECT_THAT(Complete("w", {Result(d[0], Outcome::kSuccess),
                             Result(d[0], Outcome::kSuccess)}),
              ElementsAre(true, false));
}

TEST_P(DeliveryConformanceTest, CompleteTasksValidates) {
  EXPECT_EQ(store().CompleteTasks("", {}).status().code(),
            absl::StatusCode::kInvalidArgument);
  TaskResult retry;
  retry.task_id = 1;
  retry.outcome = Outcome::kRetry;  // without a time
  EXPECT_EQ(store().CompleteTasks("w", {retry}).status().code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(store().ClaimTasks(ClaimOptions{}).status().code(),
            absl::StatusCode::kInvalidArgument);
}

TEST_P(DeliveryConformanceTest, ReleaseHandsTasksBackWithoutCountingAnAttempt) {
  int64_t p = CreatePolicy(1, "p");
  int64_t fresh = CommitOne(p);
  int64_t retried = CommitOne(p);
  std::vector<ClaimedTask> c = Claim("w");
  ASSERT_EQ(c.size(), 2u);
  TaskResult r = Result(c[1], Outcome::kRetry, 500, "attempt 1");
  r.next_attempt_time = kStart;
  ASSERT_THAT(Complete("w", {r}), ElementsAre(true));
  std::vector<ClaimedTask> second = Claim("w");
  ASSERT_THAT(Ids(second), ElementsAre(retried));
  ASSERT_EQ(second[0].task.run_count, 2);

  clock_->Advance(absl::Seconds(3));
  // Wrong owner or run: nothing released.
  EXPECT_EQ(*store().ReleaseTasks("other", {{fresh, 1}}), 0);
  EXPECT_EQ(*store().ReleaseTasks("w", {{fresh, 5}}), 0);
  absl::StatusOr<int> released =
      store().ReleaseTasks("w", {{fresh, 1}, {retried, 2}});
  ASSERT_TRUE(released.ok()) << released.status();
  EXPECT_EQ(*released, 2);

  core::Task f = Task(fresh);
  EXPECT_EQ(f.status, core::TaskStatus::kPending);
  EXPECT_EQ(f.run_count, 0);
  EXPECT_EQ(f.start_time, absl::InfinitePast());
  EXPECT_EQ(f.next_attempt_time, kStart + absl::Seconds(3));
  core::Task rt = Task(retried);
  EXPECT_EQ(rt.status, core::TaskStatus::kError);
  EXPECT_TRUE(rt.retry_scheduled());
  EXPECT_EQ(rt.run_count, 1);
  EXPECT_EQ(rt.next_attempt_time, kStart + absl::Seconds(3));

  // Due at once, for anyone (the releaser included).
  std::vector<ClaimedTask> back = Claim("w");
  ASSERT_THAT(Ids(back), ElementsAre(fresh, retried));
  EXPECT_EQ(back[0].task.run_count, 1);
  EXPECT_EQ(back[1].task.run_count, 2);
}

// -------------------------------------------------------------------- Logs

TEST_P(DeliveryConformanceTest, TaskLogNotFound) {
  EXPECT_EQ(store().GetTaskLog(12345).status().code(),
            absl::StatusCode::kNotFound);
}

// -------------------------------------------------------------- Redelivery

TEST_P(DeliveryConformanceTest, RedeliverStartsANewCycleOfAFinalTask) {
  int64_t p = CreatePolicy(1, "p");
  int64_t id = CommitOne(p);
  std::vector<ClaimedTask> c = Claim("w");
  ASSERT_THAT(Complete("w", {Result(c[0], Outcome::kFailed, 410, "gone")}),
              ElementsAre(true));

  int notified = 0;
  store().SetWorkListener([&] { ++notified; });
  clock_->Advance(absl::Minutes(5));
  absl::StatusOr<core::Task> t = store().RedeliverTask({id, 7});
  ASSERT_TRUE(t.ok()) << t.status();
  store().SetWorkListener(nullptr);
  EXPECT_EQ(notified, 1);
  EXPECT_EQ(t->status, core::TaskStatus::kPending);
  EXPECT_EQ(t->run_count, 0);
  EXPECT_EQ(t->max_attempts, 7);
  EXPECT_EQ(t->last_response_code, 0);
  EXPECT_EQ(t->last_error, "");
  EXPECT_EQ(t->start_time, absl::InfinitePast());
  EXPECT_EQ(t->end_time, absl::InfinitePast());
  EXPECT_EQ(t->next_attempt_time, kStart + absl::Minutes(5));
  EXPECT_EQ(store().GetTask(id)->update_time, t->update_time);
  EXPECT_EQ(store().GetTask(id)->status, core::TaskStatus::kPending);
  EXPECT_EQ(store().GetExecution(c[0].execution.id)->status,
            core::TaskStatus::kPending);
  EXPECT_THAT(*store().GetTaskLog(id),
              HasSubstr("gone\n2023-11-14T22:18:20.000Z redelivery requested: "
                        "new cycle of 7 attempts\n"));

  // Same execution, payload and webhook-id.
  std::vector<ClaimedTask> again = Claim("w");
  ASSERT_THAT(Ids(again), ElementsAre(id));
  EXPECT_EQ(again[0].task.run_count, 1);
  EXPECT_EQ(again[0].execution.id, c[0].execution.id);
  EXPECT_EQ(again[0].execution.payload, c[0].execution.payload);
  EXPECT_EQ(again[0].execution.webhook_id, c[0].execution.webhook_id);
  EXPECT_EQ(again[0].task.start_time, kStart + absl::Minutes(5));
}

TEST_P(DeliveryConformanceTest, RedeliverRefusesUnfinishedTasks) {
  int64_t p = CreatePolicy(1, "p");
  int64_t pending = CommitOne(p, kStart + absl::Hours(1));
  int64_t running = CommitOne(p);
  int64_t retrying = CommitOne(p);
  int64_t done = CommitOne(p);
  std::vector<ClaimedTask> c = Claim("w");
  ASSERT_EQ(c.size(), 3u);
  TaskResult r = Result(c[1], Outcome::kRetry, 503);
  r.next_attempt_time = kStart + absl::Hours(1);
  ASSERT_THAT(Complete("w", {r, Result(c[2], Outcome::kSuccess)}),
              ElementsAre(true, true));
  for (int64_t id : {pending, running, retrying}) {
    EXPECT_EQ(store().RedeliverTask({id, 3}).status().code(),
              absl::StatusCode::kFailedPrecondition)
        << id;
  }
  EXPECT_EQ(store().RedeliverTask({999999, 3}).status().code(),
            absl::StatusCode::kNotFound);
  EXPECT_EQ(store().RedeliverTask({done, 0}).status().code(),
            absl::StatusCode::kInvalidArgument);
  // A Success can be redelivered (e.g. the receiver lost it).
  EXPECT_TRUE(store().RedeliverTask({done, 3}).ok());

  // The batch form reports each task on its own.
  int64_t failed = CommitOne(p);
  FailFinally(failed);
  absl::StatusOr<std::vector<absl::Status>> batch = store().RedeliverTasks(
      {{failed, 2}, {running, 2}, {424242, 2}});
  ASSERT_TRUE(batch.ok()) << batch.status();
  ASSERT_EQ(batch->size(), 3u);
  EXPECT_TRUE((*batch)[0].ok()) << (*batch)[0];
  EXPECT_EQ((*batch)[1].code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_EQ((*batch)[2].code(), absl::StatusCode::kNotFound);
  EXPECT_EQ(Task(failed).status, core::TaskStatus::kPending);
  EXPECT_EQ(Task(failed).max_attempts, 2);
  EXPECT_EQ(Task(running).status, core::TaskStatus::kRunning);
}

TEST_P(DeliveryConformanceTest, ListFailedTasksByPolicyOrProjectInAWindow) {
  int64_t p1 = CreatePolicy(1, "p1");
  int64_t p2 = CreatePolicy(1, "p2");
  int64_t other_project = CreatePolicy(2, "p3");
  std::vector<int64_t> p1_failed, p2_failed;
  for (int i = 0; i < 5; ++i) {
    p1_failed.push_back(CommitOne(p1));
    p2_failed.push_back(CommitOne(p2));
    clock_->Advance(absl::Seconds(10));
  }
  int64_t ok = CommitOne(p1);
  int64_t elsewhere = CommitOne(other_project);
  for (const ClaimedTask& c : Claim("w")) {
    Complete("w", {Result(c, c.task.id == ok ? Outcome::kSuccess
                                             : Outcome::kFailed)});
  }
  EXPECT_EQ(Task(ok).status, core::TaskStatus::kSuccess);
  EXPECT_TRUE(Task(elsewhere).final());

  FailedTaskQuery q;
  q.policy_id = p1;
  absl::StatusOr<std::vector<FailedTask>> page = store().ListFailedTasks(q);
  ASSERT_TRUE(page.ok()) << page.status();
  std::vector<int64_t> ids;
  for (const FailedTask& f : *page) {
    ids.push_back(f.task_id);
    EXPECT_EQ(f.policy_id, p1);
  }
  EXPECT_EQ(ids, p1_failed);

  // Window on the execution start time: [kStart+10s, kStart+30s).
  q.start_time = kStart + absl::Seconds(10);
  q.end_time = kStart + absl::Seconds(30);
  page = store().ListFailedTasks(q);
  ASSERT_EQ(page->size(), 2u);
  EXPECT_EQ((*page)[0].task_id, p1_failed[1]);
  EXPECT_EQ((*page)[1].task_id, p1_failed[2]);

  // Project scope, paged.
  FailedTaskQuery pq;
  pq.project_id = 1;
  pq.limit = 3;
  std::vector<int64_t> all;
  while (true) {
    absl::StatusOr<std::vector<FailedTask>> got = store().ListFailedTasks(pq);
    ASSERT_TRUE(got.ok()) << got.status();
    if (got->empty()) break;
    for (const FailedTask& f : *got) all.push_back(f.task_id);
    pq.after_execution_id = got->back().execution_id;
  }
  std::vector<int64_t> expected = p1_failed;
  expected.insert(expected.end(), p2_failed.begin(), p2_failed.end());
  std::sort(expected.begin(), expected.end());
  EXPECT_EQ(all, expected);

  FailedTaskQuery bad;
  EXPECT_EQ(store().ListFailedTasks(bad).status().code(),
            absl::StatusCode::kInvalidArgument);
  bad.policy_id = p1;
  bad.project_id = 1;
  EXPECT_EQ(store().ListFailedTasks(bad).status().code(),
            absl::StatusCode::kInvalidArgument);
}

// --------------------------------------------------------------- Retention

TEST_P(DeliveryConformanceTest, SweepKeepsNewestFinishedPerPolicyAndVendor) {
  int64_t p = CreatePolicy(1, "p");
  int64_t q = CreatePolicy(1, "q");
  std::vector<int64_t> webhook, slack, unfinished;
  for (int i = 0; i < 5; ++i) {
    std::vector<int64_t> ids =
        Commit(p, {Http("http://a.example/"),
                   Slack("https://hooks.slack.com/services/x")},
               kStart);
    webhook.push_back(ids[0]);
    slack.push_back(ids[1]);
  }
  for (int i = 0; i < 3; ++i) {
    unfinished.push_back(CommitOne(p, kStart + absl::Hours(1)));
  }
  int64_t other = CommitOne(q);
  for (const ClaimedTask& c : Claim("w")) {
    Complete("w", {Result(c, c.task.id % 2 ? Outcome::kSuccess
                                           : Outcome::kFailed)});
  }
  ASSERT_TRUE(Task(other).final());
  // Logs are deleted with their tasks.
  ASSERT_TRUE(store().GetTaskLog(webhook[0]).ok());

  absl::StatusOr<int64_t> deleted = store().SweepExecutions(2, 1000);
  ASSERT_TRUE(deleted.ok()) << deleted.status();
  EXPECT_EQ(*deleted, 6);  // 3 webhook + 3 slack of p
  for (int i = 0; i < 5; ++i) {
    EXPECT_EQ(store().GetTask(webhook[i]).ok(), i >= 3) << i;
    EXPECT_EQ(store().GetTask(slack[i]).ok(), i >= 3) << i;
  }
  for (int64_t id : unfinished) EXPECT_TRUE(store().GetTask(id).ok());
  EXPECT_TRUE(store().GetTask(other).ok());
  EXPECT_EQ(store().GetTaskLog(webhook[0]).status().code(),
            absl::StatusCode::kNotFound);
  // Idempotent.
  EXPECT_EQ(*store().SweepExecutions(2, 1000), 0);
}

TEST_P(DeliveryConformanceTest, SweepDeletesAtMostMaxDeletePerCall) {
  int64_t p = CreatePolicy(1, "p");
  for (int i = 0; i < 7; ++i) CommitOne(p);
  for (const ClaimedTask& c : Claim("w")) {
    Complete("w", {Result(c, Outcome::kSuccess)});
  }
  EXPECT_EQ(*store().SweepExecutions(1, 4), 4);
  EXPECT_EQ(*store().SweepExecutions(1, 4), 2);
  EXPECT_EQ(*store().SweepExecutions(1, 4), 0);
  EXPECT_EQ(store().SweepExecutions(1, 0).status().code(),
            absl::StatusCode::kInvalidArgument);
}

// ------------------------------------------------------------- Queue depth

TEST_P(DeliveryConformanceTest, CountQueueByState) {
  int64_t p = CreatePolicy(1, "p");
  for (int i = 0; i < 4; ++i) CommitOne(p);
  CommitOne(p, kStart + absl::Hours(1));  // pending, not due
  std::vector<ClaimedTask> c = Claim("w", 4);
  ASSERT_EQ(c.size(), 4u);
  TaskResult retry = Result(c[0], Outcome::kRetry, 500);
  retry.next_attempt_time = kStart + absl::Minutes(1);
  Complete("w", {retry, Result(c[1], Outcome::kSuccess),
                 Result(c[2], Outcome::kFailed, 500)});
  absl::StatusOr<QueueDepth> depth = store().CountQueue();
  ASSERT_TRUE(depth.ok()) << depth.status();
  EXPECT_EQ(depth->pending, 1);
  EXPECT_EQ(depth->retrying, 1);
  EXPECT_EQ(depth->running, 1);
}

INSTANTIATE_TEST_SUITE_P(
    Stores, DeliveryConformanceTest, ::testing::ValuesIn(StoreFactories()),
    [](const ::testing::TestParamInfo<StoreFactory>& info) {
      return info.param.name;
    });

}  // namespace
}  // namespace herald::store::testing
