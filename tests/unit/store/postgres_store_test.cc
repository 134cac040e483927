// PostgreSQL-specific tests of PostgresStore (the shared contract is the
// conformance suite): several stores on one database as replicas are,
// the cursor of the task update log under concurrent writers, LISTEN/NOTIFY
// between stores, the database going away and coming back, one sweeper at
// a time, migrations.
#include <libpq-fe.h>

#include <atomic>
#include <map>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "absl/synchronization/notification.h"
#include "absl/time/clock.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "server/store/postgres/migrations.h"
#include "server/store/postgres/postgres_store.h"
#include "tests/unit/store/postgres_test_cluster.h"

namespace herald::store {
namespace {

using herald::testing::PostgresCluster;
using herald::testing::SharedPostgresCluster;

template <typename F>
bool WaitFor(F done, absl::Duration timeout = absl::Seconds(10)) {
  const absl::Time deadline = absl::Now() + timeout;
  while (!done()) {
    if (absl::Now() > deadline) return false;
    absl::SleepFor(absl::Milliseconds(10));
  }
  return true;
}

core::Policy MakePolicy(const std::string& name) {
  core::Policy p;
  p.project_id = 1;
  p.name = name;
  core::Target t;
  t.type = core::TargetType::kHttp;
  t.address = "http://receiver.example/hook";
  p.targets = {t};
  p.event_types = {"PUSH_ARTIFACT"};
  p.creator = "test";
  return p;
}

NewEvent MakeEvent(int64_t policy_id, const std::string& request_id = "",
                   const std::string& endpoint = "http://receiver.example/h") {
  NewEvent e;
  e.event.project_id = 1;
  e.event.event_type = "PUSH_ARTIFACT";
  e.event.data = "{}";
  e.request_id = request_id;
  e.idempotency_scope = "token-1";
  NewDelivery d;
  d.policy_id = policy_id;
  d.target.type = core::TargetType::kHttp;
  d.target.address = endpoint;
  d.payload = "{\"x\":1}";
  d.content_type = "application/json";
  d.webhook_id = "msg";
  d.due_time = absl::Now();
  e.deliveries.push_back(std::move(d));
  return e;
}

class PostgresStoreTest : public ::testing::Test {
 protected:
  void SetUp() override {
    absl::StatusOr<PostgresCluster*> cluster = SharedPostgresCluster();
    if (absl::IsUnimplemented(cluster.status())) {
      GTEST_SKIP() << cluster.status().message();
    }
    ASSERT_TRUE(cluster.ok()) << cluster.status();
    cluster_ = *cluster;
    absl::StatusOr<std::string> schema = cluster_->CreateSchema("herald_pg");
    ASSERT_TRUE(schema.ok()) << schema.status();
    schema_ = *schema;
  }
  void TearDown() override {
    stores_.clear();
    if (!schema_.empty()) cluster_->DropSchema(schema_).IgnoreError();
  }

  // A store on the test schema: one per "replica".
  PostgresStore& Open(const std::string& dsn = "") {
    PostgresOptions options;
    options.dsn = dsn.empty() ? cluster_->SchemaDsn(schema_) : dsn;
    options.pool_size = 4;
    absl::StatusOr<std::unique_ptr<PostgresStore>> store =
        PostgresStore::Open(options);
    EXPECT_TRUE(store.ok()) << store.status();
    if (!store.ok()) std::abort();
    stores_.push_back(*std::move(store));
    return *stores_.back();
  }

  PostgresCluster* cluster_ = nullptr;
  std::string schema_;
  std::vector<std::unique_ptr<PostgresStore>> stores_;
};

TEST_F(PostgresStoreTest, ReplicasShareEverything) {
  PostgresStore& a = Open();
  PostgresStore& b = Open();
  absl::StatusOr<core::Policy> p = a.CreatePolicy(MakePolicy("p"), "s", "r");
  ASSERT_TRUE(p.ok()) << p.status();
  EXPECT_EQ(b.GetPolicy(p->id)->name, "p");
  // Idempotency keys are shared.
  absl::StatusOr<core::Policy> again = b.CreatePolicy(MakePolicy("p"), "s", "r");
  ASSERT_TRUE(again.ok()) << again.status();
  EXPECT_EQ(again->id, p->id);
  absl::StatusOr<std::vector<CommittedEvent>> first =
      a.CommitEvents({MakeEvent(p->id, "req")});
  absl::StatusOr<std::vector<CommittedEvent>> dup =
      b.CommitEvents({MakeEvent(p->id, "req")});
  ASSERT_TRUE(first.ok() && dup.ok());
  EXPECT_TRUE((*dup)[0].duplicate);
  EXPECT_EQ((*dup)[0].event_id, (*first)[0].event_id);
  // Tokens and settings too.
  core::TokenRecord t;
  t.name = "ci";
  t.secret_hash = "abc";
  ASSERT_TRUE(a.CreateToken(t).ok());
  EXPECT_TRUE(b.FindTokenByHash("abc").ok());
  core::Settings s;
  s.execution_retention_count = 7;
  ASSERT_TRUE(a.PutSettings(s).ok());
  EXPECT_EQ(b.GetSettings()->execution_retention_count, 7);
  // A task claimed on one replica is not claimable on the other.
  ClaimOptions o;
  o.owner = "replica-a";
  o.lease = absl::Seconds(60);
  absl::StatusOr<std::vector<ClaimedTask>> claimed = a.ClaimTasks(o);
  ASSERT_TRUE(claimed.ok()) << claimed.status();
  EXPECT_EQ(claimed->size(), 1u);
  o.owner = "replica-b";
  EXPECT_TRUE(b.ClaimTasks(o)->empty());
}

// An event the server rejects (invalid UTF-8) fails alone, in the middle
// of a pipelined batch: the others before and after it commit.
TEST_F(PostgresStoreTest, AnEventTheServerRejectsFailsAlone) {
  PostgresStore& a = Open();
  int64_t policy = a.CreatePolicy(MakePolicy("p"), "", "")->id;
  for (int bad_at : {0, 2, 4}) {
    std::vector<NewEvent> events;
    for (int i = 0; i < 5; ++i) {
      events.push_back(MakeEvent(policy, absl::StrCat("r", bad_at, "-", i)));
      if (i == bad_at) events.back().event.operator_name = "bad \xff\xfe";
    }
    absl::StatusOr<std::vector<CommittedEvent>> r =
        a.CommitEvents(std::move(events));
    ASSERT_TRUE(r.ok()) << r.status();
    for (int i = 0; i < 5; ++i) {
      if (i == bad_at) {
        EXPECT_EQ((*r)[i].status.code(), absl::StatusCode::kInvalidArgument);
        EXPECT_EQ((*r)[i].event_id, 0);
      } else {
        EXPECT_TRUE((*r)[i].status.ok()) << (*r)[i].status;
        EXPECT_TRUE(a.GetEvent((*r)[i].event_id).ok());
      }
    }
  }
  ExecutionQuery q;
  q.policy_id = policy;
  EXPECT_EQ(a.ListExecutions(q)->total_size, 12);
}

TEST_F(PostgresStoreTest, SameRequestIdOnTwoReplicasAtOnceCreatesOneEvent) {
  PostgresStore& a = Open();
  PostgresStore& b = Open();
  int64_t policy = a.CreatePolicy(MakePolicy("p"), "", "")->id;
  constexpr int kRounds = 20;
  for (int round = 0; round < kRounds; ++round) {
    const std::string rid = absl::StrCat("req-", round);
    int64_t ids[2] = {0, 0};
    std::thread ta([&] { ids[0] = (*a.CommitEvents({MakeEvent(policy, rid)}))[0].event_id; });
    std::thread tb([&] { ids[1] = (*b.CommitEvents({MakeEvent(policy, rid)}))[0].event_id; });
    ta.join();
    tb.join();
    EXPECT_EQ(ids[0], ids[1]) << rid;
  }
  ExecutionQuery q;
  q.policy_id = policy;
  EXPECT_EQ(a.ListExecutions(q)->total_size, kRounds);
}

// The watch cursor: a reader tailing the log while two replicas publish,
// claim and complete concurrently must end up with exactly the log - an
// update committed late with a smaller seq would be skipped.
TEST_F(PostgresStoreTest, CursorNeverSkipsAnUpdateCommittedLater) {
  PostgresStore& a = Open();
  PostgresStore& b = Open();
  PostgresStore& reader = Open();
  int64_t policy = a.CreatePolicy(MakePolicy("p"), "", "")->id;
  std::atomic<bool> stop{false};
  std::vector<std::thread> writers;
  for (PostgresStore* s : {&a, &b}) {
    for (int t = 0; t < 3; ++t) {
      writers.emplace_back([&, s, t] {
        int n = 0;
        while (!stop.load()) {
          std::vector<NewEvent> events;
          for (int k = 0; k < 1 + (n++ % 4); ++k) {
            events.push_back(MakeEvent(
                policy, "", absl::StrCat("http://e", t, ".example/")));
          }
          s->CommitEvents(std::move(events)).IgnoreError();
        }
      });
    }
    writers.emplace_back([&, s] {
      ClaimOptions o;
      o.owner = s == &a ? "a" : "b";
      o.limit = 20;
      while (!stop.load()) {
        absl::StatusOr<std::vector<ClaimedTask>> c = s->ClaimTasks(o);
        if (!c.ok() || c->empty()) continue;
        std::vector<TaskResult> results;
        for (const ClaimedTask& t : *c) {
          TaskResult r;
          r.task_id = t.task.id;
          r.run_count = t.task.run_count;
          r.outcome = TaskResult::Outcome::kSuccess;
          results.push_back(r);
        }
        s->CompleteTasks(o.owner, std::move(results)).IgnoreError();
      }
    });
  }
  std::vector<int64_t> seen;
  int64_t cursor = 0;
  const absl::Time until = absl::Now() + absl::Seconds(4);
  while (absl::Now() < until) {
    absl::StatusOr<TaskUpdatePage> page = reader.ListTaskUpdates(cursor, 50);
    ASSERT_TRUE(page.ok()) << page.status();
    for (const TaskUpdate& u : page->updates) {
      seen.push_back(u.seq);
      cursor = u.seq;
    }
  }
  stop = true;
  for (std::thread& t : writers) t.join();
  while (true) {
    absl::StatusOr<TaskUpdatePage> page = reader.ListTaskUpdates(cursor, 1000);
    ASSERT_TRUE(page.ok());
    if (page->updates.empty()) break;
    for (const TaskUpdate& u : page->updates) {
      seen.push_back(u.seq);
      cursor = u.seq;
    }
  }
  std::vector<int64_t> log;
  int64_t after = 0;
  while (true) {
    absl::StatusOr<TaskUpdatePage> page = reader.ListTaskUpdates(after, 5000);
    ASSERT_TRUE(page.ok());
    if (page->updates.empty()) break;
    for (const TaskUpdate& u : page->updates) log.push_back(u.seq);
    after = log.back();
  }
  ASSERT_GT(log.size(), 500u) << "too little concurrency to mean anything";
  EXPECT_EQ(seen.size(), log.size());
  EXPECT_TRUE(seen == log) << "the tailing reader skipped updates";
  RecordProperty("updates", static_cast<int>(log.size()));
}

TEST_F(PostgresStoreTest, CommitsWakeTheOtherReplicasListeners) {
  PostgresStore& a = Open();
  PostgresStore& b = Open();
  int64_t policy = a.CreatePolicy(MakePolicy("p"), "", "")->id;
  std::atomic<int> updates{0}, work{0};
  // Let B's listener connection settle, then count.
  absl::SleepFor(absl::Milliseconds(300));
  b.SetTaskUpdateListener([&] { updates.fetch_add(1); });
  b.SetWorkListener([&] { work.fetch_add(1); });
  ASSERT_TRUE(a.CommitEvents({MakeEvent(policy)}).ok());
  EXPECT_TRUE(WaitFor([&] { return updates.load() > 0 && work.load() > 0; },
                      absl::Seconds(5)));
  // A claim on A is a task update (not new work) for B.
  const int work_before = work.load();
  updates = 0;
  ClaimOptions o;
  o.owner = "a";
  ASSERT_EQ(a.ClaimTasks(o)->size(), 1u);
  EXPECT_TRUE(WaitFor([&] { return updates.load() > 0; }, absl::Seconds(5)));
  absl::SleepFor(absl::Milliseconds(100));
  EXPECT_EQ(work.load(), work_before);
  b.SetTaskUpdateListener(nullptr);
  b.SetWorkListener(nullptr);
}

TEST_F(PostgresStoreTest, OneSweeperAtATime) {
  PostgresStore& a = Open();
  int64_t policy = a.CreatePolicy(MakePolicy("p"), "", "")->id;
  for (int i = 0; i < 5; ++i) ASSERT_TRUE(a.CommitEvents({MakeEvent(policy)}).ok());
  ClaimOptions o;
  o.owner = "w";
  std::vector<TaskResult> results;
  absl::StatusOr<std::vector<ClaimedTask>> claimed = a.ClaimTasks(o);
  ASSERT_TRUE(claimed.ok()) << claimed.status();
  for (const ClaimedTask& t : *claimed) {
    TaskResult r;
    r.task_id = t.task.id;
    r.run_count = t.task.run_count;
    r.outcome = TaskResult::Outcome::kSuccess;
    results.push_back(r);
  }
  ASSERT_EQ(results.size(), 5u);
  absl::StatusOr<std::vector<bool>> applied = a.CompleteTasks("w", results);
  ASSERT_TRUE(applied.ok());
  EXPECT_THAT(*applied, ::testing::Each(true));

  {
    ExecutionQuery q;
    q.policy_id = policy;
    // Keep the result alive: a range-for over a member of a temporary
    // dangles (ASan: stack-use-after-scope).
    absl::StatusOr<ExecutionList> list = a.ListExecutions(q);
    ASSERT_TRUE(list.ok()) << list.status();
    for (const auto& e : list->executions) {
      ASSERT_EQ(e.status, core::TaskStatus::kSuccess) << e.id;
    }
  }
  // Another replica is sweeping: hold the lock from a session of our own.
  PGconn* other = PQconnectdb(cluster_->SchemaDsn(schema_).c_str());
  ASSERT_EQ(PQstatus(other), CONNECTION_OK);
  const std::string key = absl::StrCat(pg::kLockClassSweep,
                                       ", hashtext(current_schema())");
  PGresult* r = PQexec(
      other, absl::StrCat("SELECT pg_advisory_lock(", key, ")").c_str());
  ASSERT_EQ(PQresultStatus(r), PGRES_TUPLES_OK);
  PQclear(r);
  EXPECT_EQ(*a.SweepExecutions(1, 100), 0);
  r = PQexec(other,
             absl::StrCat("SELECT pg_advisory_unlock(", key, ")").c_str());
  PQclear(r);
  PQfinish(other);
  EXPECT_EQ(*a.SweepExecutions(1, 100), 4);
}

TEST_F(PostgresStoreTest, ReplicasStartingTogetherMigrateOnce) {
  std::vector<std::thread> threads;
  std::vector<absl::Status> results(4);
  std::vector<std::unique_ptr<PostgresStore>> stores(4);
  for (int i = 0; i < 4; ++i) {
    threads.emplace_back([&, i] {
      PostgresOptions options;
      options.dsn = cluster_->SchemaDsn(schema_);
      options.pool_size = 2;
      absl::StatusOr<std::unique_ptr<PostgresStore>> s =
          PostgresStore::Open(options);
      results[i] = s.status();
      if (s.ok()) stores[i] = *std::move(s);
    });
  }
  for (std::thread& t : threads) t.join();
  for (const absl::Status& s : results) EXPECT_TRUE(s.ok()) << s;
  absl::StatusOr<std::string> versions = PostgresCluster::Query(
      cluster_->SchemaDsn(schema_),
      "SELECT count(*) FROM herald_schema_migrations");
  ASSERT_TRUE(versions.ok()) << versions.status();
  EXPECT_EQ(*versions, absl::StrCat(pg::LatestSchemaVersion()));
}

TEST_F(PostgresStoreTest, RefusesASchemaOfANewerHeraldAndAMissingSchema) {
  Open();
  stores_.clear();
  ASSERT_TRUE(PostgresCluster::Query(
                  cluster_->SchemaDsn(schema_),
                  "INSERT INTO herald_schema_migrations (version, name) "
                  "VALUES (999, 'from the future')")
                  .ok());
  PostgresOptions options;
  options.dsn = cluster_->SchemaDsn(schema_);
  absl::StatusOr<std::unique_ptr<PostgresStore>> s = PostgresStore::Open(options);
  EXPECT_EQ(s.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_THAT(std::string(s.status().message()), ::testing::HasSubstr("999"));

  options.dsn = cluster_->SchemaDsn("no_such_schema");
  s = PostgresStore::Open(options);
  EXPECT_EQ(s.status().code(), absl::StatusCode::kFailedPrecondition);

  // Unreachable: kUnavailable, quickly.
  options.dsn = "host=127.0.0.1 port=1 user=postgres connect_timeout=2";
  s = PostgresStore::Open(options);
  EXPECT_EQ(s.status().code(), absl::StatusCode::kUnavailable);
}

// The database going away: every call fails with kUnavailable, nothing
// crashes, and when it returns everything works again without a reopen.
TEST(PostgresOutageTest, UnavailableWhileDownAndRecoversWithoutRestart) {
  absl::StatusOr<std::unique_ptr<PostgresCluster>> started =
      PostgresCluster::Start();
  if (absl::IsUnimplemented(started.status())) {
    GTEST_SKIP() << started.status().message();
  }
  ASSERT_TRUE(started.ok()) << started.status();
  PostgresCluster& cluster = **started;
  PostgresOptions options;
  options.dsn = cluster.Dsn();
  options.pool_size = 3;
  options.connect_timeout = absl::Seconds(2);
  absl::StatusOr<std::unique_ptr<PostgresStore>> opened =
      PostgresStore::Open(options);
  ASSERT_TRUE(opened.ok()) << opened.status();
  PostgresStore& store = **opened;
  absl::StatusOr<std::unique_ptr<PostgresStore>> other_opened =
      PostgresStore::Open(options);
  ASSERT_TRUE(other_opened.ok());
  PostgresStore& other = **other_opened;
  int64_t policy = store.CreatePolicy(MakePolicy("p"), "", "")->id;
  ASSERT_TRUE(store.CommitEvents({MakeEvent(policy)}).ok());
  ASSERT_TRUE(store.GetPolicy(policy).ok());

  ASSERT_TRUE(cluster.Pause().ok());
  auto unavailable = [](absl::StatusCode code) {
    return code == absl::StatusCode::kUnavailable;
  };
  EXPECT_TRUE(unavailable(store.GetPolicy(policy).status().code()));
  absl::StatusOr<std::vector<CommittedEvent>> down =
      store.CommitEvents({MakeEvent(policy)});
  EXPECT_TRUE(unavailable(down.status().code())) << down.status();
  absl::Notification async_done;
  absl::Status async_status;
  store.CommitEventsAsync({MakeEvent(policy)},
                          [&](absl::StatusOr<std::vector<CommittedEvent>> r) {
                            async_status = r.status();
                            async_done.Notify();
                          });
  ASSERT_TRUE(async_done.WaitForNotificationWithTimeout(absl::Seconds(10)));
  EXPECT_TRUE(unavailable(async_status.code())) << async_status;
  ClaimOptions o;
  o.owner = "w";
  EXPECT_TRUE(unavailable(store.ClaimTasks(o).status().code()));
  EXPECT_TRUE(unavailable(store.ListTaskUpdates(0, 10).status().code()));
  EXPECT_TRUE(unavailable(store.CountQueue().status().code()));
  EXPECT_TRUE(unavailable(store.PutSettings(core::Settings{}).code()));

  std::atomic<int> woken{0};
  other.SetTaskUpdateListener([&] { woken.fetch_add(1); });
  ASSERT_TRUE(cluster.Resume().ok());
  // Back without reopening: writes, reads, claims.
  EXPECT_TRUE(WaitFor(
      [&] { return store.CommitEvents({MakeEvent(policy)}).ok(); },
      absl::Seconds(10)));
  EXPECT_TRUE(store.GetPolicy(policy).ok());
  absl::StatusOr<std::vector<ClaimedTask>> claimed = store.ClaimTasks(o);
  ASSERT_TRUE(claimed.ok()) << claimed.status();
  EXPECT_EQ(claimed->size(), 2u);  // the acknowledged ones, nothing else
  // The other store's listener reconnected and hears commits again.
  woken = 0;
  ASSERT_TRUE(store.CommitEvents({MakeEvent(policy)}).ok());
  EXPECT_TRUE(WaitFor([&] { return woken.load() > 0; }, absl::Seconds(10)));
  other.SetTaskUpdateListener(nullptr);
}

}  // namespace
}  // namespace herald::store
