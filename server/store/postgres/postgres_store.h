// PostgresStore: the Store on PostgreSQL, shared by several heraldd
// replicas (any replica serves any call). Same contract as every Store
// (store.h; tests/unit/store is the conformance suite both stores pass).
//
// Connections
//   * A pool of PostgresOptions::pool_size connections for reads, claims,
//     releases, redeliveries and retention, opened lazily and reopened
//     after a failure (pg_pool.h).
//   * One writer connection, used only by the writer thread: group commit.
//     Every write of the API (publishes, attempt results, policy, token
//     and settings changes) is a work item on the writer's queue. The
//     writer takes everything queued and runs it in ONE transaction, each
//     item (and each event of a publish) under its own SAVEPOINT, sending
//     the statements of up to 1024 items in one pipeline (one network round
//     trip, BEGIN and COMMIT included when they fit), then answers every
//     caller. A failing item is
//     rolled back to its savepoint alone; a failing connection or COMMIT
//     fails the batch (kUnavailable: nothing of it is acknowledged).
//   * One listener connection (LISTEN, see "Replicas").
//   So a replica holds pool_size + 2 connections.
//
// Cursor safety (the task update log behind WatchTasks)
//   Every change of a task appends a row to task_updates, from statement
//   triggers, in the change's own transaction. Its seq must be a cursor a
//   reader can keep: a reader that has seen seq N must never later find a
//   newly committed update with seq <= N. With plain sequence values that
//   fails (T1 takes seq 5, T2 takes 6 and commits first; a reader sees 6,
//   then T1 commits 5 behind it). So every transaction that writes tasks
//   first takes one transaction-scoped advisory lock (per schema; the
//   triggers take it too, so nothing can bypass it) and allocates seq only
//   while holding it. Writers of tasks are therefore serialised across all
//   replicas and seq order is commit order: PostgreSQL makes a commit
//   visible before it releases the transaction's locks, so every seq a
//   later holder allocates is above every seq already visible, and a
//   snapshot always sees a prefix of the log (gaps only from rollbacks).
//   Taking the lock first, before any row lock, also means two writers of
//   tasks can never deadlock on each other. The cost: task writes do not
//   run in parallel (group commit and FOR UPDATE SKIP LOCKED claims keep
//   each holder short); docs/operations.md has the figures.
//
// Replicas
//   * Claims: FOR UPDATE SKIP LOCKED with leases, the same per-endpoint
//     room as the SQLite store, in one statement; results apply only for
//     a matching (lease owner, run_count).
//   * LISTEN/NOTIFY: every transaction that writes tasks NOTIFYs channel
//     herald_u_<schema hash> (task updates) and, when it creates due work
//     (publishes, releases, redeliveries), herald_w_<schema hash>, once per
//     transaction, with the committing store's instance id as payload. The listener thread calls the task update listener
//     (the WatchHub) and NotifyWork() (the dispatcher) for notifications
//     of other replicas; local commits call them directly. After the
//     listener reconnects it calls both once (notifications sent while it
//     was away are lost; the readers catch up from the log).
//   * Idempotency keys, settings and tokens live in the database, so they
//     are shared; the task-update lock also serialises publishes, so two
//     replicas cannot both accept the same (scope, request_id).
//   * Retention: SweepExecutions holds a session advisory lock
//     (pg_try_advisory_lock) for the call; a replica that cannot take it
//     returns 0 (another replica is sweeping).
//   * ExpireLeases is only for a single-claimer deployment (store.h): with
//     several replicas a lease is reclaimed when it expires.
//
// The database going away
//   Every call fails with kUnavailable (never crashes); connections are
//   reopened when it returns (at most one attempt per 250 ms while it is
//   down, failing fast in between). A publish whose COMMIT outcome is
//   unknown (connection lost during COMMIT) reports kUnavailable: the
//   producer retries, and with a request_id the retry is recognised.
//
// Times come from the clock (never now() of the server), like SQLite.
// Open() returns kInvalidArgument for bad options, kUnavailable when the
// database cannot be reached, kFailedPrecondition for a schema of a newer
// heraldd or a search_path without a schema.
#ifndef HERALD_SERVER_STORE_POSTGRES_POSTGRES_STORE_H_
#define HERALD_SERVER_STORE_POSTGRES_POSTGRES_STORE_H_

#include <atomic>
#include <cstdint>
#include <deque>
#include <functional>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/functional/any_invocable.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "server/core/clock.h"
#include "server/store/store.h"

namespace herald::store {
class SecretBox;
namespace pg {
class Connection;
class Pool;
struct Query;
class Result;
}  // namespace pg

struct PostgresOptions {
  // Required. libpq connection string ("host=... dbname=... user=..." or
  // "postgresql://user@host/db"). Passwords belong in PGPASSFILE.
  std::string dsn;
  // Pooled connections (>= 1); the writer and the listener have their own.
  int pool_size = 8;
  // Source of create/update times. nullptr = core::RealClock::Default().
  std::shared_ptr<core::Clock> clock;
  // Upper bound of work items per group-commit transaction (>= 1).
  int max_batch_items = 1024;
  // How long (scope, request_id) keys are remembered.
  absl::Duration idempotency_window = absl::Hours(24);
  absl::Duration connect_timeout = absl::Seconds(5);
  // How long a call waits for a free pooled connection.
  absl::Duration acquire_timeout = absl::Seconds(10);
  // Identifies this store's commits in NOTIFY payloads; "" = random.
  std::string instance_id;
  // Encryption at rest of targets' auth_header and signing secrets
  // (server/store/secret_box.h). Every replica must hold the same key.
  // With a box, Open() checks it against the database (kFailedPrecondition
  // for another key), seals every secret still stored in plaintext and
  // re-seals those sealed with a previous key (pg/secrets.h). nullptr
  // stores secrets as given, and Open() refuses a database whose secrets
  // are sealed.
  std::shared_ptr<const SecretBox> secrets;
};

class PostgresStore final : public Store {
 public:
  // Connects, migrates (pg/migrations.h), starts the writer and listener.
  static absl::StatusOr<std::unique_ptr<PostgresStore>> Open(
      const PostgresOptions& options);

  // Finishes every write already submitted (their callers are answered),
  // stops the threads and closes the connections. No call may be in
  // progress or start once destruction begins.
  ~PostgresStore() override;

  PostgresStore(const PostgresStore&) = delete;
  PostgresStore& operator=(const PostgresStore&) = delete;

  // How many stored rows Open() sealed or re-sealed (see
  // PostgresOptions::secrets), for the start-up log.
  int64_t secrets_resealed() const { return secrets_resealed_; }

  // ---- Store ----
  absl::StatusOr<core::Policy> CreatePolicy(
      const core::Policy& policy, const std::string& idempotency_scope,
      const std::string& request_id) override;
  absl::StatusOr<core::Policy> GetPolicy(int64_t id) override;
  absl::StatusOr<PolicyList> ListPolicies(const PolicyQuery& query) override;
  absl::StatusOr<core::Policy> UpdatePolicy(const core::Policy& policy) override;
  absl::Status DeletePolicy(int64_t id) override;

  absl::StatusOr<core::TokenRecord> CreateToken(
      const core::TokenRecord& token) override;
  absl::StatusOr<core::TokenRecord> FindTokenByHash(
      const std::string& secret_hash) override;
  absl::StatusOr<std::vector<core::TokenRecord>> ListTokens() override;
  absl::Status RevokeToken(int64_t id) override;

  absl::StatusOr<core::Settings> GetSettings() override;
  absl::Status PutSettings(const core::Settings& settings) override;
  absl::Status SeedSettings(const core::Settings& settings) override;

  absl::StatusOr<std::vector<CommittedEvent>> CommitEvents(
      std::vector<NewEvent> events) override;
  // Never blocks: queued for the writer; `done` runs on the writer thread
  // after COMMIT (or the failure) and must be quick. A store call made from
  // `done` runs inline in a transaction of its own.
  void CommitEventsAsync(
      std::vector<NewEvent> events,
      absl::AnyInvocable<void(absl::StatusOr<std::vector<CommittedEvent>>)>
          done) override;
  absl::StatusOr<core::EventRecord> GetEvent(int64_t id) override;
  absl::StatusOr<ExecutionList> ListExecutions(
      const ExecutionQuery& query) override;
  absl::StatusOr<core::Execution> GetExecution(int64_t id) override;
  absl::StatusOr<TaskCounts> CountTasks(int64_t execution_id) override;
  absl::StatusOr<std::vector<core::Task>> ListTasks(
      int64_t execution_id) override;
  absl::StatusOr<core::Task> GetTask(int64_t id) override;

  // ---- Delivery engine (postgres_delivery.cc) ----
  absl::StatusOr<std::vector<ClaimedTask>> ClaimTasks(
      const ClaimOptions& options) override;
  absl::StatusOr<std::vector<bool>> CompleteTasks(
      const std::string& owner, std::vector<TaskResult> results) override;
  // Never blocks: queued for the writer; `done` runs on the writer thread.
  void CompleteTasksAsync(
      const std::string& owner, std::vector<TaskResult> results,
      absl::AnyInvocable<void(absl::StatusOr<std::vector<bool>>)> done)
      override;
  absl::StatusOr<int> ReleaseTasks(const std::string& owner,
                                   std::vector<TaskLease> leases) override;
  absl::StatusOr<int> ExpireLeases(const std::string& owner) override;
  absl::StatusOr<std::string> GetTaskLog(int64_t task_id) override;
  absl::StatusOr<core::Task> RedeliverTask(
      const Redelivery& redelivery) override;
  absl::StatusOr<std::vector<absl::Status>> RedeliverTasks(
      std::vector<Redelivery> redeliveries) override;
  absl::StatusOr<std::vector<FailedTask>> ListFailedTasks(
      const FailedTaskQuery& query) override;
  absl::StatusOr<int64_t> SweepExecutions(int keep,
                                          int64_t max_delete) override;
  absl::StatusOr<QueueDepth> CountQueue() override;

  // ---- Task updates (postgres_watch.cc) ----
  absl::StatusOr<TaskUpdatePage> ListTaskUpdates(int64_t after_seq,
                                                 int limit) override;
  absl::StatusOr<std::vector<TaskUpdate>> ListUnfinishedTasks(
      const UnfinishedTaskQuery& query) override;
  absl::StatusOr<int64_t> TrimTaskUpdates(absl::Time before) override;
  void SetTaskUpdateListener(std::function<void()> listener) override;

  // ---- Test hooks ----
  int64_t transactions_committed_for_test() const {
    return transactions_committed_.load(std::memory_order_relaxed);
  }
  void PauseWriterForTest();
  void ResumeWriterForTest();
  size_t queued_writes_for_test();
  const std::string& instance_id() const { return instance_id_; }

  // Implementation details shared by the .cc files.
  struct EventBatch;
  struct ResultBatch;

 private:
  // One unit of work for the writer: exactly one of `events`, `results`
  // (sent pipelined) or `run` (a closure under its own savepoint).
  struct WriteItem {
    std::shared_ptr<EventBatch> events;
    std::shared_ptr<ResultBatch> results;
    absl::AnyInvocable<absl::Status(pg::Connection&)> run;
    absl::AnyInvocable<void(absl::Status)> done;
  };
  struct Unit;

  PostgresStore(PostgresOptions options, std::unique_ptr<pg::Pool> pool,
                std::string instance_id, std::string update_channel,
                std::string work_channel);

  absl::Time Now() const;

  // Writer side.
  void Submit(WriteItem item);
  void WriterLoop();
  void ExecuteBatch(std::vector<WriteItem>& batch);
  // Runs pipelined units inside the batch transaction, each under its own
  // savepoint, 1024 per round trip; `prefix` goes before the first, `suffix`
  // after the last (its results, if wanted, into suffix_results), both
  // also when there are no units. Non-OK when the transaction is lost.
  absl::Status RunUnits(pg::Connection& c, std::vector<Unit>& units,
                        const std::vector<pg::Query>* prefix,
                        const std::vector<pg::Query>* suffix,
                        std::vector<pg::Result>* suffix_results);
  void MaybeSweepIdempotencyKeys();
  template <typename T, typename Fn>
  absl::StatusOr<T> Write(Fn fn);
  absl::Status WriteStatus(absl::AnyInvocable<absl::Status(pg::Connection&)> fn);

  // Pool side: one pipeline on a pooled connection (one implicit
  // transaction). Locked() takes the task-update lock first; Snapshot()
  // runs the queries in one REPEATABLE READ read-only transaction.
  absl::StatusOr<std::vector<pg::Result>> Run(std::vector<pg::Query> queries);
  // Run() for read-only queries: repeated once on a new connection when
  // the pooled one turns out to be dead (the server restarted).
  absl::StatusOr<std::vector<pg::Result>> Read(std::vector<pg::Query> queries);
  absl::StatusOr<std::vector<pg::Result>> Locked(std::vector<pg::Query> queries);
  absl::StatusOr<std::vector<pg::Result>> Snapshot(
      std::vector<pg::Query> queries);

  absl::StatusOr<core::Policy> LoadPolicy(pg::Connection& c, int64_t id);
  // Calls the task update listener (after a local commit).
  void TaskUpdatesCommitted();
  // NOTIFY `channel` at COMMIT, with this store's instance id as payload.
  pg::Query Notify(const std::string& channel) const;

  // Listener thread (LISTEN/NOTIFY).
  void ListenLoop();
  void WakeListener();

  const PostgresOptions options_;
  const std::shared_ptr<core::Clock> clock_;
  const std::unique_ptr<pg::Pool> pool_;
  const std::string instance_id_;
  const std::string update_channel_;
  const std::string work_channel_;
  int64_t secrets_resealed_ = 0;  // set once by Open()

  // Writer thread only.
  std::unique_ptr<pg::Connection> writer_;
  absl::Time next_key_sweep_ = absl::InfinitePast();
  std::atomic<int64_t> transactions_committed_{0};

  absl::Mutex listener_mu_;
  std::function<void()> task_update_listener_ ABSL_GUARDED_BY(listener_mu_);

  absl::Mutex queue_mu_;
  std::deque<WriteItem> queue_ ABSL_GUARDED_BY(queue_mu_);
  bool stopping_ ABSL_GUARDED_BY(queue_mu_) = false;
  bool paused_ ABSL_GUARDED_BY(queue_mu_) = false;

  std::atomic<bool> listen_stop_{false};
  int wake_fd_ = -1;  // eventfd that interrupts the listener's poll

  // Last: started once everything else exists.
  std::thread writer_thread_;
  std::thread listen_thread_;
};

}  // namespace herald::store

#endif  // HERALD_SERVER_STORE_POSTGRES_POSTGRES_STORE_H_
