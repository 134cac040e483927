// SqliteStore: the embedded default Store, one SQLite file in WAL mode.
//
// Threads and connections
//   * One writer connection, used only by the store's writer thread. Every
//     write (CommitEvents, policy/token/settings changes) is a work item on
//     the writer's queue. The writer takes every item waiting (up to
//     SqliteOptions::max_batch_items) and runs them in ONE transaction, each
//     item under its own SAVEPOINT, then commits and signals each caller with
//     its own result (group commit). One failing item is rolled back to its
//     savepoint and does not affect the others. Within CommitEvents each
//     event has its own nested savepoint too: a bad event fails alone.
//   * A small pool of reader connections (SqliteOptions::reader_connections)
//     for Get/List/Count calls; each is leased to one calling thread at a
//     time and every read runs in one read transaction (a consistent
//     snapshot, e.g. a page and its total_size agree). In WAL mode readers
//     never block the writer and the writer never blocks readers.
//   * A write is acknowledged (the sync method returns, or the async
//     callback runs) only after its transaction has committed, so a read
//     issued after the acknowledgement sees it.
//
// Durability
//   WAL with synchronous=NORMAL (the default) writes every committed
//   transaction to the WAL file before COMMIT returns but does not fsync it
//   (only checkpoints fsync). A commit therefore survives the process being
//   killed (kill -9, crash) — herald's requirement — but the last
//   transactions before an OS crash or power loss may be lost (the database
//   stays consistent). synchronous=FULL fsyncs the WAL at every commit and
//   also survives OS crashes, at the cost of one fsync per group commit.
//
// Status derivation
//   Harbor derives an execution's status from its tasks (any Pending/Running
//   task -> Running, else any Error -> Error, else any Stopped -> Stopped,
//   else Success). herald creates exactly one task per execution, so the
//   execution's status (and end_time) is simply its task's: a new execution
//   is Pending, not Running as in Harbor. Nothing is stored twice; reads
//   join the task.
//
// Errors follow store.h. In addition Open() returns kInvalidArgument for a
// bad path or option, kFailedPrecondition when the file was written by a
// newer heraldd (schema version above ours) or belongs to another
// application, and kDataLoss when the file is not a SQLite database or is
// corrupt. Operations return kUnavailable after the store started closing.
// Ids <= 0 are reported as kNotFound like any other missing id.
//
// Not this class's job: the data-directory lock that stops two daemons from
// sharing one file (the daemon takes it).
#ifndef HERALD_SERVER_STORE_SQLITE_SQLITE_STORE_H_
#define HERALD_SERVER_STORE_SQLITE_SQLITE_STORE_H_

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <deque>
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

struct sqlite3;

namespace herald::store::sqlite {
class Connection;
}  // namespace herald::store::sqlite

namespace herald::store {

class SecretBox;

struct SqliteOptions {
  // Required. Path of the database file; created (with its -wal and -shm
  // companions) when missing. ":memory:" and "" are refused: every
  // connection must see the same database.
  std::string path;

  // Source of create/update times. nullptr = core::RealClock::Default().
  std::shared_ptr<core::Clock> clock;

  // PRAGMA synchronous for the writer (see "Durability" above).
  enum class Synchronous { kNormal, kFull };
  Synchronous synchronous = Synchronous::kNormal;

  // How long a connection waits for a lock held by another connection or
  // process before failing with kUnavailable.
  absl::Duration busy_timeout = absl::Seconds(5);

  // Reader connections in the pool (>= 1). More concurrent readers than
  // this wait for a free connection.
  int reader_connections = 4;

  // Upper bound of work items per group-commit transaction (>= 1).
  int max_batch_items = 1024;

  // How long (scope, request_id) keys of CreatePolicy and CommitEvents are
  // remembered.
  absl::Duration idempotency_window = absl::Hours(24);

  // Checkpoints (copying the WAL back into the database file, with fsyncs)
  // run on a background thread with its own connection once the WAL holds
  // this many pages, so commits do not wait for them. The writer finishes
  // the job (the few frames committed since) when it is idle, which lets
  // the WAL file start over, or at once if the WAL reaches 8x this size.
  // 0 = SQLite's default: the committing writer checkpoints at 1000 pages.
  int checkpoint_wal_pages = 1000;

  // Encryption at rest of targets' auth_header and signing secrets
  // (server/store/secret_box.h). nullptr stores them as given. With a box,
  // Open() also seals every secret still stored in plaintext (written
  // before encryption was enabled) and re-seals, with the current key,
  // every one sealed with a previous key; and it fails with kDataLoss when
  // the stored secrets were sealed with a key the box does not hold.
  std::shared_ptr<const SecretBox> secrets;
};

class SqliteStore final : public Store {
 public:
  // Opens (creating if needed) and migrates the database, opens the reader
  // pool and starts the writer thread.
  static absl::StatusOr<std::unique_ptr<SqliteStore>> Open(
      const SqliteOptions& options);

  // Finishes every write already submitted (their callers are answered),
  // stops the writer thread and closes the connections. No call may be in
  // progress or start once destruction begins.
  ~SqliteStore() override;

  SqliteStore(const SqliteStore&) = delete;
  SqliteStore& operator=(const SqliteStore&) = delete;

  // How many stored targets Open() sealed or re-sealed (see
  // SqliteOptions::secrets), for the start-up log.
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
  // Never blocks: queues the events for the writer thread. `done` runs on
  // the writer thread after the transaction committed (or failed); it must
  // be quick and must not wait for another store write (a synchronous store
  // call made from it runs inline, so it does not deadlock, but it delays
  // every other writer).
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

  // ---- Delivery engine (sqlite_delivery.cc) ----
  // Claims search on a reader connection (one index seek per endpoint key
  // with unfinished work, then at most the endpoint's room of rows), then
  // take the tasks on the writer with a compare-and-set on their due time,
  // so the writer never scans the backlog.
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

  // Task updates (sqlite_watch.cc).
  absl::StatusOr<TaskUpdatePage> ListTaskUpdates(int64_t after_seq,
                                                 int limit) override;
  absl::StatusOr<std::vector<TaskUpdate>> ListUnfinishedTasks(
      const UnfinishedTaskQuery& query) override;
  absl::StatusOr<int64_t> TrimTaskUpdates(absl::Time before) override;
  void SetTaskUpdateListener(std::function<void()> listener) override;

  // ---- Test hooks ----
  // Write transactions committed by the writer since Open.
  int64_t transactions_committed_for_test() const {
    return transactions_committed_.load(std::memory_order_relaxed);
  }
  // While paused the writer leaves submitted items queued; tests use this to
  // line up concurrent writers deterministically.
  void PauseWriterForTest();
  void ResumeWriterForTest();
  // Items submitted and not yet taken by the writer.
  size_t queued_writes_for_test();
  // Checkpoints completed by the background checkpointer and the writer.
  int64_t checkpoints_for_test() const {
    return checkpoints_.load(std::memory_order_relaxed);
  }

 private:
  // One unit of work for the writer. `run` executes inside the batch
  // transaction under its own savepoint; a non-OK result rolls the item
  // back. `done` gets run's status, or the commit's failure, after the
  // transaction ended.
  struct WriteItem {
    absl::AnyInvocable<absl::Status(sqlite::Connection&)> run;
    absl::AnyInvocable<void(absl::Status)> done;
    // False for items that keep their own savepoints and fail only when
    // the whole transaction must go: then a failure rolls back the batch
    // and every item of it gets the failure.
    bool savepoint = true;
  };

  class ReaderLease;

  SqliteStore(SqliteOptions options,
              std::unique_ptr<sqlite::Connection> writer,
              std::vector<std::unique_ptr<sqlite::Connection>> readers,
              std::unique_ptr<sqlite::Connection> checkpointer);

  // Now() of the clock, truncated to the stored resolution (microseconds).
  absl::Time Now() const;

  // Writer side.
  void Submit(WriteItem item);
  void WriterLoop();
  void ExecuteBatch(std::vector<WriteItem>& batch);
  absl::Status SweepIdempotencyKeys(sqlite::Connection& conn, absl::Time now);
  // sqlite3_wal_hook of the writer: runs after each commit with the WAL's
  // size in pages and asks for a checkpoint when it is large.
  static int OnWalCommit(void* self, sqlite3* db, const char* name, int pages);
  void CheckpointLoop();
  // Between batches: finishes a checkpoint so the WAL can start over.
  void MaybeCheckpointOnWriter();
  // Runs `fn` as one write item and waits for its result.
  template <typename T, typename Fn>
  absl::StatusOr<T> Write(Fn fn);
  absl::Status WriteStatus(
      absl::AnyInvocable<absl::Status(sqlite::Connection&)> fn);
  // Read() for code outside sqlite_store.cc: runs `fn` on a leased reader
  // inside one read transaction.
  absl::Status ReadStatus(
      absl::AnyInvocable<absl::Status(sqlite::Connection&)> fn);

  // Reader side: runs `fn` on a leased reader inside a read transaction.
  template <typename Fn>
  auto Read(Fn fn) -> decltype(fn(std::declval<sqlite::Connection&>()));

  // Reads a policy on either kind of connection.
  absl::StatusOr<core::Policy> LoadPolicy(sqlite::Connection& conn, int64_t id);

  const SqliteOptions options_;
  const std::shared_ptr<core::Clock> clock_;
  int64_t secrets_resealed_ = 0;  // set once by Open()

  // Used only by writer_thread_ (and by Submit calls made on that thread).
  const std::unique_ptr<sqlite::Connection> writer_;
  absl::Time next_key_sweep_ = absl::InfinitePast();  // writer thread only
  // WAL size after the last commit, and whether the writer has copied all
  // of it back since. Writer thread only.
  int wal_pages_ = 0;
  bool wal_caught_up_ = true;
  std::atomic<int64_t> transactions_committed_{0};
  // Called after each commit (SetTaskUpdateListener).
  absl::Mutex listener_mu_;
  std::function<void()> task_update_listener_ ABSL_GUARDED_BY(listener_mu_);

  absl::Mutex queue_mu_;
  std::deque<WriteItem> queue_ ABSL_GUARDED_BY(queue_mu_);
  bool stopping_ ABSL_GUARDED_BY(queue_mu_) = false;
  bool paused_ ABSL_GUARDED_BY(queue_mu_) = false;

  // The pool. `readers_` is immutable after construction; `free_readers_`
  // lists the connections not leased right now.
  const std::vector<std::unique_ptr<sqlite::Connection>> readers_;
  absl::Mutex readers_mu_;
  std::vector<sqlite::Connection*> free_readers_ ABSL_GUARDED_BY(readers_mu_);

  // Background checkpoints. `checkpointer_` is used only by
  // checkpoint_thread_ (null when checkpoint_wal_pages is 0).
  const std::unique_ptr<sqlite::Connection> checkpointer_;
  absl::Mutex checkpoint_mu_;
  bool checkpoint_wanted_ ABSL_GUARDED_BY(checkpoint_mu_) = false;
  bool checkpoint_stop_ ABSL_GUARDED_BY(checkpoint_mu_) = false;
  std::atomic<int64_t> checkpoints_{0};
  // Frames of the current WAL the background checkpointer has copied back.
  std::atomic<int> wal_frames_copied_{0};
  // Set while the writer waits for its turn to checkpoint: the background
  // starts no new round.
  std::atomic<bool> writer_wants_checkpoint_{false};

  // Last: started once everything else exists.
  std::thread checkpoint_thread_;
  std::thread writer_thread_;
};

}  // namespace herald::store

#endif  // HERALD_SERVER_STORE_SQLITE_SQLITE_STORE_H_
