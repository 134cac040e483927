// SQLite-specific behaviour of SqliteStore that the conformance suite cannot
// express: opening bad files, schema versions, savepoint isolation of a
// failing event, status derivation, crash durability (fork + SIGKILL) and a
// group-commit throughput figure.
#include "server/store/sqlite/sqlite_store.h"

#include <signal.h>
#include <sqlite3.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstdio>
#include <fstream>
#include <iostream>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "server/store/sqlite/migrations.h"
#include "tests/unit/store/store_test_env.h"

namespace herald::store {
namespace {

using ::testing::HasSubstr;
using testing::TempDir;

// Direct access to the file, for setting up and inspecting what the store
// API cannot.
class RawDb {
 public:
  explicit RawDb(const std::string& path) {
    EXPECT_EQ(sqlite3_open(path.c_str(), &db_), SQLITE_OK);
    sqlite3_busy_timeout(db_, 5000);
  }
  ~RawDb() { sqlite3_close(db_); }
  void Exec(const std::string& sql) {
    char* err = nullptr;
    EXPECT_EQ(sqlite3_exec(db_, sql.c_str(), nullptr, nullptr, &err), SQLITE_OK)
        << sql << ": " << (err ? err : "");
    sqlite3_free(err);
  }
  std::string Text(const std::string& sql) {
    sqlite3_stmt* stmt = nullptr;
    EXPECT_EQ(sqlite3_prepare_v2(db_, sql.c_str(), -1, &stmt, nullptr),
              SQLITE_OK)
        << sql;
    std::string out;
    if (stmt && sqlite3_step(stmt) == SQLITE_ROW) {
      const unsigned char* p = sqlite3_column_text(stmt, 0);
      if (p) out = reinterpret_cast<const char*>(p);
    }
    sqlite3_finalize(stmt);
    return out;
  }
  int64_t Int(const std::string& sql) { return std::stoll(Text(sql)); }

 private:
  sqlite3* db_ = nullptr;
};

SqliteOptions Options(const std::string& path) {
  SqliteOptions o;
  o.path = path;
  return o;
}

std::unique_ptr<SqliteStore> OpenOrDie(const SqliteOptions& o) {
  absl::StatusOr<std::unique_ptr<SqliteStore>> s = SqliteStore::Open(o);
  EXPECT_TRUE(s.ok()) << s.status();
  return s.ok() ? *std::move(s) : nullptr;
}

core::Policy SimplePolicy(const std::string& name) {
  core::Policy p;
  p.project_id = 1;
  p.name = name;
  p.event_types = {"PUSH_ARTIFACT"};
  core::Target t;
  t.address = "http://127.0.0.1:9/hook";
  t.payload_format = core::PayloadFormat::kDefault;
  p.targets = {t};
  return p;
}

NewEvent SimpleEvent(int64_t policy_id, const std::string& request_id = "",
                     size_t payload_bytes = 64) {
  NewEvent e;
  e.event.project_id = 1;
  e.event.event_type = "PUSH_ARTIFACT";
  e.event.operator_name = "ci";
  e.event.data = std::string(payload_bytes, 'd');
  e.request_id = request_id;
  e.idempotency_scope = "publisher";
  NewDelivery d;
  d.policy_id = policy_id;
  d.target.address = "http://127.0.0.1:9/hook";
  d.payload = std::string(payload_bytes, 'p');
  d.content_type = "application/json";
  d.webhook_id = "msg_" + request_id;
  e.deliveries.push_back(d);
  return e;
}

// ------------------------------------------------------------------ Open

TEST(SqliteStoreOpenTest, RejectsPathsThatAreNotFiles) {
  for (const char* path : {"", ":memory:", "file:x.db?mode=memory"}) {
    EXPECT_EQ(SqliteStore::Open(Options(path)).status().code(),
              absl::StatusCode::kInvalidArgument)
        << path;
  }
  TempDir dir;
  SqliteOptions o = Options(dir.File("a.db"));
  o.reader_connections = 0;
  EXPECT_EQ(SqliteStore::Open(o).status().code(),
            absl::StatusCode::kInvalidArgument);
}

TEST(SqliteStoreOpenTest, UnreachableDirectoryIsUnavailable) {
  TempDir dir;
  absl::Status s =
      SqliteStore::Open(Options(dir.File("missing/dir/herald.db"))).status();
  EXPECT_EQ(s.code(), absl::StatusCode::kUnavailable) << s;
}

TEST(SqliteStoreOpenTest, CorruptFileGivesAClearError) {
  TempDir dir;
  const std::string path = dir.File("herald.db");
  {
    std::ofstream f(path, std::ios::binary);
    for (int i = 0; i < 256; ++i) f << "this is not a database, just text. ";
  }
  absl::Status s = SqliteStore::Open(Options(path)).status();
  EXPECT_EQ(s.code(), absl::StatusCode::kDataLoss) << s;
  EXPECT_THAT(std::string(s.message()), HasSubstr(path));
  EXPECT_THAT(std::string(s.message()),
              HasSubstr("not a SQLite database or is corrupt"));
}

TEST(SqliteStoreOpenTest, NewerSchemaIsRefused) {
  TempDir dir;
  const std::string path = dir.File("herald.db");
  OpenOrDie(Options(path)).reset();
  RawDb(path).Exec(absl::StrCat("PRAGMA user_version = ",
                                sqlite::LatestSchemaVersion() + 1));
  absl::Status s = SqliteStore::Open(Options(path)).status();
  EXPECT_EQ(s.code(), absl::StatusCode::kFailedPrecondition) << s;
  EXPECT_THAT(std::string(s.message()), HasSubstr("newer"));
}

TEST(SqliteStoreOpenTest, OtherApplicationsDatabasesAreRefused) {
  TempDir dir;
  const std::string foreign = dir.File("foreign.db");
  RawDb(foreign).Exec("CREATE TABLE stuff (x)");
  absl::Status s = SqliteStore::Open(Options(foreign)).status();
  EXPECT_EQ(s.code(), absl::StatusCode::kFailedPrecondition) << s;
  EXPECT_THAT(std::string(s.message()), HasSubstr("no herald schema"));

  const std::string other_app = dir.File("other.db");
  RawDb(other_app).Exec("PRAGMA application_id = 1234");
  s = SqliteStore::Open(Options(other_app)).status();
  EXPECT_EQ(s.code(), absl::StatusCode::kFailedPrecondition) << s;
  EXPECT_THAT(std::string(s.message()), HasSubstr("another application"));
}

TEST(SqliteStoreOpenTest, MigratesOnceAndRunsInWalMode) {
  const std::vector<sqlite::Migration>& migrations = sqlite::Migrations();
  ASSERT_FALSE(migrations.empty());
  for (size_t i = 0; i < migrations.size(); ++i) {
    EXPECT_EQ(migrations[i].version, static_cast<int>(i + 1));
  }

  TempDir dir;
  const std::string path = dir.File("herald.db");
  std::string schema;
  for (int round = 0; round < 3; ++round) {
    std::unique_ptr<SqliteStore> store = OpenOrDie(Options(path));
    ASSERT_NE(store, nullptr);
    RawDb raw(path);
    EXPECT_EQ(raw.Int("PRAGMA user_version"), sqlite::LatestSchemaVersion());
    EXPECT_EQ(raw.Int("PRAGMA application_id"), sqlite::kApplicationId);
    EXPECT_EQ(raw.Text("PRAGMA journal_mode"), "wal");
    const std::string now = raw.Text(
        "SELECT group_concat(name, ',') FROM "
        "(SELECT name FROM sqlite_schema ORDER BY name)");
    if (round == 0) schema = now;
    EXPECT_EQ(now, schema);  // re-running Open changes nothing
  }
  EXPECT_THAT(schema, HasSubstr("task_logs"));
  EXPECT_THAT(schema, HasSubstr("event_request_ids"));
}

TEST(SqliteStoreOpenTest, SynchronousFullWorks) {
  TempDir dir;
  SqliteOptions o = Options(dir.File("herald.db"));
  o.synchronous = SqliteOptions::Synchronous::kFull;
  std::unique_ptr<SqliteStore> store = OpenOrDie(o);
  ASSERT_NE(store, nullptr);
  absl::StatusOr<core::Policy> p = store->CreatePolicy(SimplePolicy("p"), "", "");
  ASSERT_TRUE(p.ok()) << p.status();
  absl::StatusOr<std::vector<CommittedEvent>> r =
      store->CommitEvents({SimpleEvent(p->id)});
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_TRUE((*r)[0].status.ok());
}

// ------------------------------------------------------------- Behaviour

// An event that fails inside SQL (here: a trigger injected into the file)
// is rolled back to its savepoint: its event row and its first execution
// disappear, and the other events of the batch are committed.
TEST(SqliteStoreTest, FailingEventRollsBackAloneToItsSavepoint) {
  TempDir dir;
  const std::string path = dir.File("herald.db");
  int64_t policy_id;
  {
    std::unique_ptr<SqliteStore> store = OpenOrDie(Options(path));
    policy_id = store->CreatePolicy(SimplePolicy("p"), "", "")->id;
  }
  RawDb(path).Exec(
      "CREATE TRIGGER fail_boom BEFORE INSERT ON executions "
      "WHEN NEW.webhook_id = 'boom' BEGIN SELECT RAISE(ABORT, 'injected'); END");
  std::unique_ptr<SqliteStore> store = OpenOrDie(Options(path));

  NewEvent bad = SimpleEvent(policy_id, "bad");
  bad.deliveries.push_back(bad.deliveries[0]);
  bad.deliveries[1].webhook_id = "boom";  // the second delivery fails
  std::vector<NewEvent> events;
  events.push_back(SimpleEvent(policy_id, "good-1"));
  events.push_back(bad);
  events.push_back(SimpleEvent(policy_id, "good-2"));
  absl::StatusOr<std::vector<CommittedEvent>> r =
      store->CommitEvents(std::move(events));
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_TRUE((*r)[0].status.ok());
  EXPECT_EQ((*r)[1].status.code(), absl::StatusCode::kInternal);
  EXPECT_EQ((*r)[1].event_id, 0);
  EXPECT_TRUE((*r)[2].status.ok());

  RawDb raw(path);
  EXPECT_EQ(raw.Int("SELECT count(*) FROM events"), 2);
  EXPECT_EQ(raw.Int("SELECT count(*) FROM executions"), 2);
  EXPECT_EQ(raw.Int("SELECT count(*) FROM tasks"), 2);
  EXPECT_EQ(raw.Int("SELECT count(*) FROM event_request_ids "
                    "WHERE request_id = 'bad'"),
            0);
}

// herald has one task per execution: the execution's status and end time
// are its task's.
TEST(SqliteStoreTest, ExecutionStatusIsItsTasksStatus) {
  TempDir dir;
  const std::string path = dir.File("herald.db");
  std::unique_ptr<SqliteStore> store = OpenOrDie(Options(path));
  int64_t policy_id = store->CreatePolicy(SimplePolicy("p"), "", "")->id;
  ASSERT_TRUE(store->CommitEvents({SimpleEvent(policy_id)}).ok());
  ASSERT_TRUE(store->CommitEvents({SimpleEvent(policy_id)}).ok());
  ExecutionQuery q;
  q.policy_id = policy_id;
  const std::vector<core::Execution> execs =
      store->ListExecutions(q)->executions;
  ASSERT_EQ(execs.size(), 2u);

  const absl::Time end = absl::FromUnixSeconds(1'800'000'000);
  RawDb(path).Exec(absl::StrCat(
      "UPDATE tasks SET status = 'Success', end_time = ",
      absl::ToUnixMicros(end), " WHERE execution_id = ", execs[0].id));
  absl::StatusOr<core::Execution> e = store->GetExecution(execs[0].id);
  ASSERT_TRUE(e.ok()) << e.status();
  EXPECT_EQ(e->status, core::TaskStatus::kSuccess);
  EXPECT_EQ(e->end_time, end);

  q.status = core::TaskStatus::kSuccess;
  absl::StatusOr<ExecutionList> success = store->ListExecutions(q);
  ASSERT_EQ(success->total_size, 1);
  EXPECT_EQ(success->executions[0].id, execs[0].id);
  q.status = core::TaskStatus::kPending;
  EXPECT_EQ(store->ListExecutions(q)->executions[0].id, execs[1].id);

  absl::StatusOr<TaskCounts> counts = store->CountTasks(execs[0].id);
  EXPECT_EQ(counts->success, 1);
  EXPECT_EQ(counts->pending, 0);
}

// ------------------------------------------------------------ Durability

// What a child process reports for each acknowledged event.
struct Ack {
  int64_t thread;
  int64_t index;
  int64_t event_id;
};

std::string RequestId(int64_t thread, int64_t index) {
  return absl::StrCat("dur-", thread, "-", index);
}

// Runs in the forked child: commits events from `threads` threads, writes an
// Ack to `fd` as soon as each CommitEvents returns, and either SIGKILLs
// itself right after the `die_after`-th acknowledgement (when > 0) or runs
// until the parent kills it. Never returns.
[[noreturn]] void CommitUntilKilled(const std::string& path, int64_t policy_id,
                                    int fd, int threads, int die_after) {
  absl::StatusOr<std::unique_ptr<SqliteStore>> store =
      SqliteStore::Open(Options(path));
  if (!store.ok()) _exit(3);
  std::atomic<int> acked{0};
  std::vector<std::thread> workers;
  for (int t = 0; t < threads; ++t) {
    workers.emplace_back([&, t] {
      for (int64_t i = 0;; ++i) {
        absl::StatusOr<std::vector<CommittedEvent>> r = (*store)->CommitEvents(
            {SimpleEvent(policy_id, RequestId(t, i), 512)});
        if (!r.ok() || !(*r)[0].status.ok()) _exit(4);
        Ack ack{t, i, (*r)[0].event_id};
        if (write(fd, &ack, sizeof ack) != sizeof ack) _exit(5);
        if (acked.fetch_add(1) + 1 == die_after) raise(SIGKILL);
      }
    });
  }
  for (std::thread& w : workers) w.join();
  _exit(6);
}

// Forks a committing child, collects its acknowledgements, kills it (or
// lets it kill itself), then checks every acknowledged event on reopen.
void RunKillTest(int threads, int die_after, int kill_after_acks) {
  TempDir dir;
  const std::string path = dir.File("herald.db");
  int64_t policy_id;
  {
    std::unique_ptr<SqliteStore> store = OpenOrDie(Options(path));
    ASSERT_NE(store, nullptr);
    policy_id = store->CreatePolicy(SimplePolicy("p"), "", "")->id;
  }
  int fds[2];
  ASSERT_EQ(pipe(fds), 0);
  fflush(nullptr);
  pid_t pid = fork();
  ASSERT_GE(pid, 0);
  if (pid == 0) {
    close(fds[0]);
    CommitUntilKilled(path, policy_id, fds[1], threads, die_after);
  }
  close(fds[1]);
  std::vector<Ack> acks;
  bool killed = false;
  Ack ack;
  // Reads until EOF: everything the child wrote before dying is delivered.
  while (read(fds[0], &ack, sizeof ack) == sizeof ack) {
    acks.push_back(ack);
    if (!killed && kill_after_acks > 0 &&
        static_cast<int>(acks.size()) >= kill_after_acks) {
      ASSERT_EQ(kill(pid, SIGKILL), 0);
      killed = true;
    }
  }
  close(fds[0]);
  int wstatus = 0;
  ASSERT_EQ(waitpid(pid, &wstatus, 0), pid);
  ASSERT_TRUE(WIFSIGNALED(wstatus))
      << "child exited with " << WEXITSTATUS(wstatus);
  EXPECT_EQ(WTERMSIG(wstatus), SIGKILL);
  ASSERT_FALSE(acks.empty());
  if (die_after > 0) {
    EXPECT_EQ(static_cast<int>(acks.size()), die_after);
  }

  // Every acknowledged event is there, with its delivery, and its request id
  // is still remembered.
  std::unique_ptr<SqliteStore> store = OpenOrDie(Options(path));
  ASSERT_NE(store, nullptr);
  int missing = 0;
  for (const Ack& a : acks) {
    if (!store->GetEvent(a.event_id).ok()) ++missing;
  }
  EXPECT_EQ(missing, 0) << "of " << acks.size() << " acknowledged events";
  ExecutionQuery q;
  q.policy_id = policy_id;
  EXPECT_GE(store->ListExecutions(q)->total_size,
            static_cast<int64_t>(acks.size()));
  for (size_t i = 0; i < acks.size(); i += std::max<size_t>(1, acks.size() / 50)) {
    absl::StatusOr<std::vector<CommittedEvent>> again = store->CommitEvents(
        {SimpleEvent(policy_id, RequestId(acks[i].thread, acks[i].index))});
    ASSERT_TRUE(again.ok()) << again.status();
    EXPECT_TRUE((*again)[0].duplicate);
    EXPECT_EQ((*again)[0].event_id, acks[i].event_id);
  }
  std::cout << "[ durability ] " << acks.size()
            << " acknowledged events survived SIGKILL\n";
}

TEST(SqliteDurabilityTest, KilledRightAfterCommitReturnsLosesNothing) {
  RunKillTest(/*threads=*/1, /*die_after=*/300, /*kill_after_acks=*/0);
}

TEST(SqliteDurabilityTest, KilledMidStreamLosesNoAcknowledgedEvent) {
  RunKillTest(/*threads=*/4, /*die_after=*/0, /*kill_after_acks=*/2000);
}

// ------------------------------------------------------------ Throughput

// Not a pass/fail benchmark: prints events/s and events per transaction
// for 8 concurrent single-event committers (the ingest shape).
void MeasureGroupCommit(SqliteOptions::Synchronous sync, const char* label) {
  TempDir dir;
  SqliteOptions o = Options(dir.File("herald.db"));
  o.synchronous = sync;
  std::unique_ptr<SqliteStore> store = OpenOrDie(o);
  ASSERT_NE(store, nullptr);
  int64_t policy_id = store->CreatePolicy(SimplePolicy("p"), "", "")->id;
  constexpr int kThreads = 8;
  const absl::Duration run_for = absl::Seconds(1);
  std::atomic<int64_t> events{0};
  std::atomic<bool> failed{false};
  const int64_t txn_before = store->transactions_committed_for_test();
  const absl::Time start = absl::Now();
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      for (int64_t i = 0; absl::Now() - start < run_for; ++i) {
        absl::StatusOr<std::vector<CommittedEvent>> r = store->CommitEvents(
            {SimpleEvent(policy_id, RequestId(t, i), 600)});
        if (!r.ok() || !(*r)[0].status.ok()) failed = true;
        events.fetch_add(1);
      }
    });
  }
  for (std::thread& t : threads) t.join();
  const double seconds = absl::ToDoubleSeconds(absl::Now() - start);
  const int64_t txns = store->transactions_committed_for_test() - txn_before;
  EXPECT_FALSE(failed.load());
  EXPECT_LT(txns, events.load());
  std::cout << "[ group commit " << label << " ] " << kThreads
            << " committers: " << static_cast<int64_t>(events / seconds)
            << " events/s (each with 1 execution + 1 task), " << txns
            << " transactions, "
            << static_cast<double>(events) / std::max<int64_t>(1, txns)
            << " events/transaction\n";
}

TEST(SqliteThroughputTest, GroupCommitSynchronousNormal) {
  MeasureGroupCommit(SqliteOptions::Synchronous::kNormal, "NORMAL");
}

TEST(SqliteThroughputTest, GroupCommitSynchronousFull) {
  MeasureGroupCommit(SqliteOptions::Synchronous::kFull, "FULL");
}

}  // namespace
}  // namespace herald::store
