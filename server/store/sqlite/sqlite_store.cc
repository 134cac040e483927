#include "server/store/sqlite/sqlite_store.h"

#include <sqlite3.h>

#include <algorithm>
#include <limits>
#include <utility>

#include "absl/container/flat_hash_set.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/synchronization/notification.h"
#include "absl/time/clock.h"
#include "server/store/secret_box.h"
#include "server/store/sqlite/codec.h"
#include "server/store/sqlite/delivery_sql.h"
#include "server/store/sqlite/migrations.h"
#include "server/store/sqlite/sqlite_db.h"
#include "server/store/sqlite/status_macros.h"

namespace herald::store {

using sqlite::Connection;
using sqlite::MicrosToTime;
using sqlite::Statement;
using sqlite::TimeToMicros;

namespace {

constexpr int64_t kNever = std::numeric_limits<int64_t>::min();
// How often the writer deletes expired idempotency keys.
constexpr absl::Duration kKeySweepInterval = absl::Minutes(10);

// Runs one statement through the connection's statement cache.
absl::Status RunSql(Connection& c, absl::string_view sql) {
  STORE_ASSIGN_OR_RETURN(Statement stmt, c.Prepare(sql));
  return stmt.Run();
}

absl::Status NotFound(absl::string_view what, int64_t id) {
  return absl::NotFoundError(absl::StrCat(what, " ", id, " not found"));
}

absl::Status CheckPage(const Page& page) {
  if (page.limit <= 0) {
    return absl::InvalidArgumentError("page limit must be positive");
  }
  if (page.offset < 0) {
    return absl::InvalidArgumentError("page offset must not be negative");
  }
  return absl::OkStatus();
}

std::string DescribeProject(int64_t project_id) {
  return project_id == 0 ? std::string("among the system-wide policies")
                         : absl::StrCat("in project ", project_id);
}

// ---- Rows ----

constexpr absl::string_view kPolicyColumns =
    "p.id, p.project_id, p.name, p.description, p.targets, p.event_types, "
    "p.filters, p.retry_policy, p.enabled, p.creator, p.create_time, "
    "p.update_time";

absl::StatusOr<core::Policy> PolicyFromRow(const Statement& s,
                                           const SecretBox* secrets) {
  core::Policy p;
  p.id = s.Int64(0);
  p.project_id = s.Int64(1);
  p.name = s.Text(2);
  p.description = s.Text(3);
  STORE_ASSIGN_OR_RETURN(p.targets, sqlite::DecodeTargets(s.Text(4), secrets));
  STORE_ASSIGN_OR_RETURN(p.event_types, sqlite::DecodeStrings(s.Text(5)));
  STORE_ASSIGN_OR_RETURN(p.filters, sqlite::DecodeFilters(s.Text(6)));
  STORE_ASSIGN_OR_RETURN(p.retry_policy, sqlite::DecodeRetryPolicy(s.Text(7)));
  p.enabled = s.Bool(8);
  p.creator = s.Text(9);
  p.create_time = MicrosToTime(s.Int64(10));
  p.update_time = MicrosToTime(s.Int64(11));
  return p;
}

constexpr absl::string_view kTokenColumns =
    "id, name, role, project_ids, secret_hash, creator, create_time, "
    "expire_time, revoked";

absl::StatusOr<core::TokenRecord> TokenFromRow(const Statement& s) {
  core::TokenRecord t;
  t.id = s.Int64(0);
  t.name = s.Text(1);
  t.role = static_cast<core::Role>(s.Int(2));
  STORE_ASSIGN_OR_RETURN(t.project_ids, sqlite::DecodeIds(s.Text(3)));
  t.secret_hash = s.Text(4);
  t.creator = s.Text(5);
  t.create_time = MicrosToTime(s.Int64(6));
  t.expire_time = MicrosToTime(s.Int64(7));
  t.revoked = s.Bool(8);
  return t;
}

absl::StatusOr<core::TaskStatus> StatusFromText(const std::string& text) {
  std::optional<core::TaskStatus> status = core::ParseTaskStatus(text);
  if (!status) {
    return absl::InternalError(
        absl::StrCat("stored task status \"", text, "\" is unknown"));
  }
  return *status;
}

// Executions carry their task's status and end time (see the header).
constexpr absl::string_view kExecutionSelect =
    "SELECT e.id, e.event_id, e.policy_id, e.project_id, e.vendor_type, "
    "e.event_type, e.target_index, e.target, e.payload, e.content_type, "
    "e.webhook_id, e.start_time, t.status, t.end_time "
    "FROM executions e JOIN tasks t ON t.execution_id = e.id";

absl::StatusOr<core::Execution> ExecutionFromRow(const Statement& s,
                                                 const SecretBox* secrets) {
  core::Execution e;
  e.id = s.Int64(0);
  e.event_id = s.Int64(1);
  e.policy_id = s.Int64(2);
  e.project_id = s.Int64(3);
  e.vendor_type = sqlite::Sv(core::VendorTypeName(core::VendorType::kSlack)) == s.Text(4)
                      ? core::VendorType::kSlack
                      : core::VendorType::kWebhook;
  e.event_type = s.Text(5);
  e.target_index = s.Int(6);
  STORE_ASSIGN_OR_RETURN(e.target, sqlite::DecodeTarget(s.Text(7), secrets));
  e.payload = s.Blob(8);
  e.content_type = s.Text(9);
  e.webhook_id = s.Text(10);
  e.start_time = MicrosToTime(s.Int64(11));
  STORE_ASSIGN_OR_RETURN(e.status, StatusFromText(s.Text(12)));
  e.end_time = MicrosToTime(s.Int64(13));
  return e;
}

constexpr absl::string_view kTaskColumns =
    "id, execution_id, status, run_count, max_attempts, next_attempt_time, "
    "last_response_code, last_error, create_time, update_time, start_time, "
    "end_time";

absl::StatusOr<core::Task> TaskFromRow(const Statement& s) {
  core::Task t;
  t.id = s.Int64(0);
  t.execution_id = s.Int64(1);
  STORE_ASSIGN_OR_RETURN(t.status, StatusFromText(s.Text(2)));
  t.run_count = s.Int(3);
  t.max_attempts = s.Int(4);
  t.next_attempt_time = MicrosToTime(s.Int64(5));
  t.last_response_code = s.Int(6);
  t.last_error = s.Text(7);
  t.create_time = MicrosToTime(s.Int64(8));
  t.update_time = MicrosToTime(s.Int64(9));
  t.start_time = MicrosToTime(s.Int64(10));
  t.end_time = MicrosToTime(s.Int64(11));
  return t;
}

constexpr absl::string_view kEventColumns =
    "id, project_id, event_type, request_id, operator_name, occur_time, "
    "create_time, data";

core::EventRecord EventFromRow(const Statement& s) {
  core::EventRecord e;
  e.id = s.Int64(0);
  e.project_id = s.Int64(1);
  e.event_type = s.Text(2);
  e.request_id = s.Text(3);
  e.operator_name = s.Text(4);
  e.occur_time = MicrosToTime(s.Int64(5));
  e.create_time = MicrosToTime(s.Int64(6));
  e.data = s.Blob(7);
  return e;
}

// ---- Policy encoding (done by the calling thread, off the writer) ----

struct EncodedPolicy {
  std::string targets, event_types, filters, retry_policy;
};

absl::StatusOr<EncodedPolicy> EncodePolicy(const core::Policy& p,
                                           const SecretBox* secrets) {
  if (p.name.empty()) {
    return absl::InvalidArgumentError("a policy needs a name");
  }
  if (p.project_id < 0) {
    return absl::InvalidArgumentError("project_id must not be negative");
  }
  EncodedPolicy e;
  STORE_ASSIGN_OR_RETURN(e.targets, sqlite::EncodeTargets(p.targets, secrets));
  STORE_ASSIGN_OR_RETURN(e.event_types, sqlite::EncodeStrings(p.event_types));
  STORE_ASSIGN_OR_RETURN(e.filters, sqlite::EncodeFilters(p.filters));
  e.retry_policy = sqlite::EncodeRetryPolicy(p.retry_policy);
  return e;
}

// Maps a failed INSERT/UPDATE of a policy row: the only UNIQUE constraint
// of the table is (project_id, name).
absl::Status PolicyWriteError(const Connection& c, absl::Status status,
                              const core::Policy& p) {
  if (c.extended_errcode() == SQLITE_CONSTRAINT_UNIQUE) {
    return absl::AlreadyExistsError(
        absl::StrFormat("a policy named \"%s\" already exists %s", p.name,
                        DescribeProject(p.project_id)));
  }
  return status;
}

absl::Status WriteEventTypes(Connection& c, int64_t policy_id,
                             const std::vector<std::string>& event_types) {
  {
    STORE_ASSIGN_OR_RETURN(
        Statement del,
        c.Prepare("DELETE FROM policy_event_types WHERE policy_id = ?1"));
    STORE_RETURN_IF_ERROR(del.Bind(1, policy_id).Run());
  }
  for (const std::string& type : event_types) {
    // OR IGNORE: a type listed twice is matched once.
    STORE_ASSIGN_OR_RETURN(
        Statement ins,
        c.Prepare("INSERT OR IGNORE INTO policy_event_types "
                  "(policy_id, event_type) VALUES (?1, ?2)"));
    STORE_RETURN_IF_ERROR(ins.Bind(1, policy_id).Bind(2, type).Run());
  }
  return absl::OkStatus();
}

// ---- Settings ----

constexpr absl::string_view kNotificationEnable = "notification_enable";
constexpr absl::string_view kMaxRetry = "webhook_job_max_retry";
constexpr absl::string_view kHttpTimeoutMs =
    "webhook_job_http_client_timeout_ms";
constexpr absl::string_view kRetentionCount = "execution_retention_count";

absl::Status ValidateSettings(const core::Settings& s) {
  if (s.webhook_job_max_retry < 1 || s.webhook_job_max_retry > 100) {
    return absl::InvalidArgumentError(
        "webhook_job_max_retry must be between 1 and 100");
  }
  if (s.webhook_job_http_client_timeout < absl::Seconds(1) ||
      s.webhook_job_http_client_timeout > absl::Seconds(300)) {
    return absl::InvalidArgumentError(
        "webhook_job_http_client_timeout must be between 1 s and 300 s");
  }
  if (s.execution_retention_count < 1 ||
      s.execution_retention_count > 100000) {
    return absl::InvalidArgumentError(
        "execution_retention_count must be between 1 and 100000");
  }
  return absl::OkStatus();
}

// Writes every key of `settings` (on the writer connection).
absl::Status WriteSettings(Connection& c, const core::Settings& settings);

absl::Status ValidateDelivery(const NewDelivery& d) {
  if (d.policy_id <= 0) {
    return absl::InvalidArgumentError("a delivery needs a policy id");
  }
  if (d.max_attempts < 1) {
    return absl::InvalidArgumentError("max_attempts must be at least 1");
  }
  if (d.target_index < 0) {
    return absl::InvalidArgumentError("target_index must not be negative");
  }
  return absl::OkStatus();
}

}  // namespace

// ---- Reader pool ----

class SqliteStore::ReaderLease {
 public:
  explicit ReaderLease(SqliteStore* store) : store_(store) {
    absl::MutexLock lock(&store_->readers_mu_);
    store_->readers_mu_.Await(absl::Condition(
        +[](std::vector<Connection*>* free) { return !free->empty(); },
        &store_->free_readers_));
    conn_ = store_->free_readers_.back();
    store_->free_readers_.pop_back();
  }
  ~ReaderLease() {
    absl::MutexLock lock(&store_->readers_mu_);
    store_->free_readers_.push_back(conn_);
  }
  ReaderLease(const ReaderLease&) = delete;
  ReaderLease& operator=(const ReaderLease&) = delete;

  Connection& conn() { return *conn_; }

 private:
  SqliteStore* store_;
  Connection* conn_ = nullptr;
};

template <typename Fn>
auto SqliteStore::Read(Fn fn) -> decltype(fn(std::declval<Connection&>())) {
  ReaderLease lease(this);
  Connection& c = lease.conn();
  // One read transaction: every statement of `fn` sees the same snapshot.
  STORE_RETURN_IF_ERROR(RunSql(c, "BEGIN"));
  auto result = fn(c);
  if (!RunSql(c, "COMMIT").ok() && c.in_transaction()) {
    c.Exec("ROLLBACK").IgnoreError();
  }
  return result;
}

absl::Status SqliteStore::ReadStatus(
    absl::AnyInvocable<absl::Status(Connection&)> fn) {
  return Read([&fn](Connection& c) -> absl::Status { return fn(c); });
}

// ---- Writer ----

template <typename T, typename Fn>
absl::StatusOr<T> SqliteStore::Write(Fn fn) {
  struct State {
    absl::StatusOr<T> result = absl::InternalError("write did not run");
    absl::Notification done;
  } state;
  Submit(WriteItem{
      [&state, fn = std::move(fn)](Connection& c) mutable -> absl::Status {
        state.result = fn(c);
        return state.result.status();
      },
      [&state](absl::Status status) {
        if (!status.ok()) state.result = std::move(status);
        state.done.Notify();
      }});
  state.done.WaitForNotification();
  return std::move(state.result);
}

absl::Status SqliteStore::WriteStatus(
    absl::AnyInvocable<absl::Status(Connection&)> fn) {
  absl::Status result;
  absl::Notification done;
  Submit(WriteItem{std::move(fn), [&](absl::Status status) {
                     result = std::move(status);
                     done.Notify();
                   }});
  done.WaitForNotification();
  return result;
}

void SqliteStore::Submit(WriteItem item) {
  if (std::this_thread::get_id() == writer_thread_.get_id()) {
    // Called from a completion callback on the writer thread: queueing and
    // waiting would deadlock, so run it now in its own transaction.
    std::vector<WriteItem> batch;
    batch.push_back(std::move(item));
    ExecuteBatch(batch);
    return;
  }
  {
    absl::MutexLock lock(&queue_mu_);
    if (!stopping_) {
      queue_.push_back(std::move(item));
      return;
    }
  }
  item.done(absl::UnavailableError("the store is closing"));
}

void SqliteStore::WriterLoop() {
  std::vector<WriteItem> batch;
  while (true) {
    {
      absl::MutexLock lock(&queue_mu_);
      queue_mu_.Await(absl::Condition(
          +[](SqliteStore* s) ABSL_EXCLUSIVE_LOCKS_REQUIRED(s->queue_mu_) {
            return s->stopping_ || (!s->paused_ && !s->queue_.empty());
          },
          this));
      if (queue_.empty()) return;  // stopping and drained
      size_t n = std::min(queue_.size(),
                          static_cast<size_t>(options_.max_batch_items));
      for (size_t i = 0; i < n; ++i) {
        batch.push_back(std::move(queue_.front()));
        queue_.pop_front();
      }
    }
    ExecuteBatch(batch);
    batch.clear();
    MaybeCheckpointOnWriter();
  }
}

void SqliteStore::ExecuteBatch(std::vector<WriteItem>& batch) {
  Connection& c = *writer_;
  std::vector<absl::Status> results(batch.size());
  absl::Status txn = RunSql(c, "BEGIN IMMEDIATE");
  if (txn.ok()) {
    const absl::Time now = Now();
    if (now >= next_key_sweep_) {
      // Housekeeping rides along with the batch; a failure only delays it.
      if (RunSql(c, "SAVEPOINT sweep").ok()) {
        if (SweepIdempotencyKeys(c, now).ok()) {
          next_key_sweep_ = now + kKeySweepInterval;
        } else if (c.in_transaction()) {
          RunSql(c, "ROLLBACK TO sweep").IgnoreError();
        }
        if (c.in_transaction()) RunSql(c, "RELEASE sweep").IgnoreError();
      }
    }
    for (size_t i = 0; i < batch.size() && txn.ok(); ++i) {
      if (!c.in_transaction()) break;
      if (!batch[i].savepoint) {
        results[i] = batch[i].run(c);
        if (!results[i].ok()) txn = results[i];
        if (!c.in_transaction() && txn.ok()) {
          txn = absl::UnavailableError("the write transaction was rolled back");
        }
        continue;
      }
      txn = RunSql(c, "SAVEPOINT item");
      if (!txn.ok()) break;
      results[i] = batch[i].run(c);
      if (!c.in_transaction()) {
        // SQLite rolled the whole transaction back (I/O error, disk full):
        // every item of the batch is lost, not just this one.
        txn = results[i].ok() ? absl::UnavailableError(
                                    "the write transaction was rolled back")
                              : results[i];
        break;
      }
      if (results[i].ok()) {
        txn = RunSql(c, "RELEASE item");
      } else {
        txn = RunSql(c, "ROLLBACK TO item");
        if (txn.ok()) txn = RunSql(c, "RELEASE item");
      }
    }
    if (txn.ok() && !c.in_transaction()) {
      txn = absl::UnavailableError("the write transaction was rolled back");
    }
    if (txn.ok()) txn = RunSql(c, "COMMIT");
    if (txn.ok()) {
      transactions_committed_.fetch_add(1, std::memory_order_relaxed);
      absl::MutexLock lock(&listener_mu_);
      if (task_update_listener_) task_update_listener_();
    } else if (c.in_transaction()) {
      c.Exec("ROLLBACK").IgnoreError();
    }
  }
  for (size_t i = 0; i < batch.size(); ++i) {
    batch[i].done(txn.ok() ? std::move(results[i]) : txn);
  }
}

// Checkpointing, in two parts. The background thread copies the bulk of the
// WAL back into the database file (with its fsyncs) while commits go on.
// But the WAL file only starts over, instead of growing with everything
// ever written, when a write transaction begins while every frame has been
// copied, and under steady load the background is always a few commits
// behind. So the writer copies the remainder itself between batches when it
// is idle (usually a few frames: the bulk is already copied). While the
// writer wants to checkpoint the background starts no new round, so the
// writer's PASSIVE attempt (which never waits) succeeds at the latest after
// the round in progress. If the WAL reaches 8x the threshold, writes are
// coming faster than checkpoints copy them: the writer then waits for its
// checkpoint before taking the next batch, which slows committers down
// (backpressure) instead of letting the WAL grow without bound.
void SqliteStore::MaybeCheckpointOnWriter() {
  const int threshold = options_.checkpoint_wal_pages;
  if (threshold <= 0 || wal_caught_up_ || wal_pages_ < threshold) return;
  const bool over = wal_pages_ >= 8 * threshold;
  if (!over) {
    absl::MutexLock lock(&queue_mu_);
    if (!queue_.empty()) return;  // busy: leave it to the background
  }
  writer_wants_checkpoint_.store(true, std::memory_order_relaxed);
  const absl::Time give_up = absl::Now() + options_.busy_timeout;
  while (true) {
    int wal_frames = 0, copied_frames = 0;
    const int rc = sqlite3_wal_checkpoint_v2(
        writer_->raw(), nullptr, SQLITE_CHECKPOINT_PASSIVE, &wal_frames,
        &copied_frames);
    if (rc == SQLITE_OK) {
      checkpoints_.fetch_add(1, std::memory_order_relaxed);
      writer_wants_checkpoint_.store(false, std::memory_order_relaxed);
      // Frames a reader still uses cannot be copied yet; try again after
      // the next commit.
      wal_caught_up_ = copied_frames >= wal_frames;
      return;
    }
    if (!over || rc != SQLITE_BUSY || absl::Now() >= give_up) return;
    absl::SleepFor(absl::Microseconds(200));  // the background round ends
  }
}

int SqliteStore::OnWalCommit(void* self, sqlite3*, const char*, int pages) {
  auto* store = static_cast<SqliteStore*>(self);
  if (pages < store->wal_pages_) {
    // The WAL started over: frame numbers restart from 1.
    store->wal_frames_copied_.store(0, std::memory_order_relaxed);
  }
  store->wal_pages_ = pages;
  store->wal_caught_up_ = false;
  const int backlog =
      pages - store->wal_frames_copied_.load(std::memory_order_relaxed);
  if (backlog >= store->options_.checkpoint_wal_pages) {
    absl::MutexLock lock(&store->checkpoint_mu_);
    store->checkpoint_wanted_ = true;
  }
  return SQLITE_OK;
}

void SqliteStore::CheckpointLoop() {
  while (true) {
    {
      absl::MutexLock lock(&checkpoint_mu_);
      checkpoint_mu_.Await(absl::Condition(
          +[](SqliteStore* s) ABSL_EXCLUSIVE_LOCKS_REQUIRED(s->checkpoint_mu_) {
            return s->checkpoint_wanted_ || s->checkpoint_stop_;
          },
          this));
      if (checkpoint_stop_) return;
      checkpoint_wanted_ = false;
    }
    // PASSIVE copies what it can without waiting for readers or blocking
    // the writer. Commits keep appending meanwhile, so repeat (each round
    // copies only the new frames) until the rest is small enough for the
    // writer. A failure (SQLITE_BUSY while the writer checkpoints) is
    // retried on the next request.
    constexpr int kSmallRest = 64;
    for (int round = 0; round < 16; ++round) {
      if (writer_wants_checkpoint_.load(std::memory_order_relaxed)) break;
      int wal_frames = 0, copied_frames = 0;
      if (sqlite3_wal_checkpoint_v2(checkpointer_->raw(), nullptr,
                                    SQLITE_CHECKPOINT_PASSIVE, &wal_frames,
                                    &copied_frames) != SQLITE_OK) {
        break;
      }
      checkpoints_.fetch_add(1, std::memory_order_relaxed);
      wal_frames_copied_.store(copied_frames, std::memory_order_relaxed);
      if (wal_frames - copied_frames <= kSmallRest) break;
    }
  }
}

absl::Status SqliteStore::SweepIdempotencyKeys(Connection& c, absl::Time now) {
  const int64_t cutoff = TimeToMicros(now - options_.idempotency_window);
  {
    STORE_ASSIGN_OR_RETURN(
        Statement s,
        c.Prepare("DELETE FROM event_request_ids WHERE create_time < ?1"));
    STORE_RETURN_IF_ERROR(s.Bind(1, cutoff).Run());
  }
  STORE_ASSIGN_OR_RETURN(
      Statement s,
      c.Prepare("DELETE FROM policy_request_ids WHERE create_time < ?1"));
  return s.Bind(1, cutoff).Run();
}

void SqliteStore::PauseWriterForTest() {
  absl::MutexLock lock(&queue_mu_);
  paused_ = true;
}

void SqliteStore::ResumeWriterForTest() {
  absl::MutexLock lock(&queue_mu_);
  paused_ = false;
}

size_t SqliteStore::queued_writes_for_test() {
  absl::MutexLock lock(&queue_mu_);
  return queue_.size();
}

// ---- Open / close ----

namespace {

// Seals, in one transaction on `c`, every auth_header and signing secret
// still stored in plaintext, and re-seals with the current key those sealed
// with a previous key (policies.targets and executions.target). Fails with
// the decoder's error when a stored secret cannot be opened (wrong key).
// Returns how many rows were rewritten.
absl::StatusOr<int64_t> SealStoredSecrets(Connection& c, const SecretBox& box) {
  int64_t rewritten = 0;
  // Rewritten rows must not leave their plaintext behind in freed space.
  STORE_RETURN_IF_ERROR(c.QueryInt("PRAGMA secure_delete=ON").status());
  STORE_RETURN_IF_ERROR(c.Exec("BEGIN IMMEDIATE"));
  auto body = [&]() -> absl::Status {
    std::vector<std::pair<int64_t, std::string>> updates;
    {
      STORE_ASSIGN_OR_RETURN(Statement s,
                             c.Prepare("SELECT id, targets FROM policies"));
      while (true) {
        STORE_ASSIGN_OR_RETURN(bool row, s.Step());
        if (!row) break;
        const std::string text = s.Text(1);
        // Decoding also proves that the box opens what is sealed.
        STORE_ASSIGN_OR_RETURN(std::vector<core::Target> targets,
                               sqlite::DecodeTargets(text, &box));
        if (!sqlite::TargetSecretsNeedReseal(text, box)) continue;
        STORE_ASSIGN_OR_RETURN(std::string sealed,
                               sqlite::EncodeTargets(targets, &box));
        updates.emplace_back(s.Int64(0), std::move(sealed));
      }
    }
    for (auto& [id, text] : updates) {
      STORE_ASSIGN_OR_RETURN(
          Statement u, c.Prepare("UPDATE policies SET targets = ?2 WHERE id = ?1"));
      u.Bind(1, id).Bind(2, text);
      STORE_RETURN_IF_ERROR(u.Run());
    }
    rewritten += static_cast<int64_t>(updates.size());
    updates.clear();
    {
      // Only rows with a non-empty secret can need work.
      STORE_ASSIGN_OR_RETURN(
          Statement s,
          c.Prepare(absl::StrCat("SELECT id, target FROM executions WHERE ",
                                 sqlite::TargetHasSecretSql("target"))));
      while (true) {
        STORE_ASSIGN_OR_RETURN(bool row, s.Step());
        if (!row) break;
        const std::string text = s.Text(1);
        if (!sqlite::TargetSecretsNeedReseal(text, box)) continue;
        STORE_ASSIGN_OR_RETURN(std::string sealed,
                               sqlite::ResealTarget(text, box));
        updates.emplace_back(s.Int64(0), std::move(sealed));
      }
    }
    for (auto& [id, text] : updates) {
      STORE_ASSIGN_OR_RETURN(
          Statement u,
          c.Prepare("UPDATE executions SET target = ?2 WHERE id = ?1"));
      u.Bind(1, id).Bind(2, text);
      STORE_RETURN_IF_ERROR(u.Run());
    }
    rewritten += static_cast<int64_t>(updates.size());
    return absl::OkStatus();
  };
  absl::Status status = body();
  if (!status.ok()) {
    c.Exec("ROLLBACK").IgnoreError();
    return status;
  }
  STORE_RETURN_IF_ERROR(c.Exec("COMMIT"));
  STORE_RETURN_IF_ERROR(c.QueryInt("PRAGMA secure_delete=OFF").status());
  if (rewritten > 0) {
    // The old plaintext may still sit in WAL frames: copy everything into
    // the database file and empty the WAL.
    STORE_RETURN_IF_ERROR(
        c.QueryInt("PRAGMA wal_checkpoint(TRUNCATE)").status());
  }
  return rewritten;
}

}  // namespace

absl::StatusOr<std::unique_ptr<SqliteStore>> SqliteStore::Open(
    const SqliteOptions& options) {
  if (options.path.empty() || options.path == ":memory:" ||
      options.path.rfind("file:", 0) == 0) {
    return absl::InvalidArgumentError(
        "the SQLite store needs a file path (not empty, \":memory:\" or a URI)");
  }
  if (options.reader_connections < 1 || options.max_batch_items < 1) {
    return absl::InvalidArgumentError(
        "reader_connections and max_batch_items must be at least 1");
  }
  if (options.checkpoint_wal_pages < 0) {
    return absl::InvalidArgumentError(
        "checkpoint_wal_pages must not be negative");
  }
  if (options.idempotency_window <= absl::ZeroDuration()) {
    return absl::InvalidArgumentError("idempotency_window must be positive");
  }
  Connection::OpenOptions open;
  open.create = true;
  open.busy_timeout = options.busy_timeout;
  STORE_ASSIGN_OR_RETURN(std::unique_ptr<Connection> writer,
                         Connection::Open(options.path, open));
  // Migrate reads the header first and reports a foreign or corrupt file
  // before anything is written to it.
  STORE_RETURN_IF_ERROR(sqlite::Migrate(*writer, options.path));
  STORE_ASSIGN_OR_RETURN(std::string mode,
                         writer->QueryText("PRAGMA journal_mode=WAL"));
  if (mode != "wal") {
    return absl::FailedPreconditionError(absl::StrCat(
        options.path, ": cannot switch to WAL mode (journal_mode is ", mode,
        ")"));
  }
  STORE_RETURN_IF_ERROR(writer->Exec(
      options.synchronous == SqliteOptions::Synchronous::kFull
          ? "PRAGMA synchronous=FULL"
          : "PRAGMA synchronous=NORMAL"));
  // The writer keeps its page cache across transactions (nobody else
  // writes), so a larger one saves re-reading the pages every claim, result
  // and commit touches (tasks, their index, the update log, executions);
  // SQLite's default of 2 MiB is smaller than one busy second of them. It
  // fills only as pages are used.
  STORE_RETURN_IF_ERROR(writer->Exec(
      "PRAGMA foreign_keys=ON; PRAGMA temp_store=MEMORY; "
      "PRAGMA journal_size_limit=67108864; PRAGMA cache_size=-32768"));

  std::vector<std::unique_ptr<Connection>> readers;
  Connection::OpenOptions read;
  read.read_only = true;
  read.busy_timeout = options.busy_timeout;
  for (int i = 0; i < options.reader_connections; ++i) {
    STORE_ASSIGN_OR_RETURN(std::unique_ptr<Connection> reader,
                           Connection::Open(options.path, read));
    readers.push_back(std::move(reader));
  }
  int64_t resealed = 0;
  if (options.secrets != nullptr) {
    STORE_ASSIGN_OR_RETURN(resealed, SealStoredSecrets(*writer, *options.secrets));
  }
  std::unique_ptr<Connection> checkpointer;
  if (options.checkpoint_wal_pages > 0) {
    Connection::OpenOptions ckpt;
    ckpt.busy_timeout = options.busy_timeout;
    STORE_ASSIGN_OR_RETURN(checkpointer, Connection::Open(options.path, ckpt));
    // A connection only learns that the file is in WAL mode when it first
    // reads it; until then sqlite3_wal_checkpoint_v2 silently does nothing.
    STORE_RETURN_IF_ERROR(
        checkpointer->QueryInt("SELECT count(*) FROM sqlite_schema").status());
  }
  std::unique_ptr<SqliteStore> store(
      new SqliteStore(options, std::move(writer), std::move(readers),
                      std::move(checkpointer)));
  store->secrets_resealed_ = resealed;
  return store;
}

SqliteStore::SqliteStore(SqliteOptions options,
                         std::unique_ptr<Connection> writer,
                         std::vector<std::unique_ptr<Connection>> readers,
                         std::unique_ptr<Connection> checkpointer)
    : options_(std::move(options)),
      clock_(options_.clock ? options_.clock
                            : std::shared_ptr<core::Clock>(
                                  std::shared_ptr<core::Clock>(),
                                  core::RealClock::Default())),
      writer_(std::move(writer)),
      readers_(std::move(readers)),
      checkpointer_(std::move(checkpointer)) {
  for (const auto& r : readers_) free_readers_.push_back(r.get());
  if (checkpointer_ != nullptr) {
    // Replaces SQLite's auto-checkpoint on the writer.
    sqlite3_wal_hook(writer_->raw(), &SqliteStore::OnWalCommit, this);
    checkpoint_thread_ = std::thread([this] { CheckpointLoop(); });
  }
  writer_thread_ = std::thread([this] { WriterLoop(); });
}

SqliteStore::~SqliteStore() {
  {
    absl::MutexLock lock(&queue_mu_);
    stopping_ = true;
  }
  writer_thread_.join();
  if (checkpoint_thread_.joinable()) {
    {
      absl::MutexLock lock(&checkpoint_mu_);
      checkpoint_stop_ = true;
    }
    checkpoint_thread_.join();
  }
}

absl::Time SqliteStore::Now() const {
  return absl::FromUnixMicros(absl::ToUnixMicros(clock_->Now()));
}

// ---- Policies ----

absl::StatusOr<core::Policy> SqliteStore::LoadPolicy(Connection& c,
                                                     int64_t id) {
  STORE_ASSIGN_OR_RETURN(
      Statement s,
      c.Prepare(absl::StrCat("SELECT ", kPolicyColumns,
                             " FROM policies p WHERE p.id = ?1")));
  s.Bind(1, id);
  STORE_ASSIGN_OR_RETURN(bool row, s.Step());
  if (!row) return NotFound("policy", id);
  return PolicyFromRow(s, options_.secrets.get());
}

absl::StatusOr<core::Policy> SqliteStore::CreatePolicy(
    const core::Policy& policy, const std::string& idempotency_scope,
    const std::string& request_id) {
  STORE_ASSIGN_OR_RETURN(EncodedPolicy enc, EncodePolicy(policy, options_.secrets.get()));
  return Write<core::Policy>(
      [this, policy, enc = std::move(enc), idempotency_scope,
       request_id](Connection& c) -> absl::StatusOr<core::Policy> {
        const absl::Time now = Now();
        if (!request_id.empty()) {
          STORE_ASSIGN_OR_RETURN(
              Statement s,
              c.Prepare("SELECT policy_id FROM policy_request_ids "
                        "WHERE scope = ?1 AND request_id = ?2 "
                        "AND create_time >= ?3"));
          s.Bind(1, idempotency_scope)
              .Bind(2, request_id)
              .Bind(3, TimeToMicros(now - options_.idempotency_window));
          STORE_ASSIGN_OR_RETURN(bool row, s.Step());
          if (row) return LoadPolicy(c, s.Int64(0));
        }
        int64_t id;
        {
          STORE_ASSIGN_OR_RETURN(
              Statement s,
              c.Prepare("INSERT INTO policies (project_id, name, description, "
                        "targets, event_types, filters, retry_policy, enabled, "
                        "creator, create_time, update_time) "
                        "VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?10)"));
          s.Bind(1, policy.project_id)
              .Bind(2, policy.name)
              .Bind(3, policy.description)
              .Bind(4, enc.targets)
              .Bind(5, enc.event_types)
              .Bind(6, enc.filters)
              .Bind(7, enc.retry_policy)
              .Bind(8, policy.enabled)
              .Bind(9, policy.creator)
              .Bind(10, TimeToMicros(now));
          absl::Status inserted = s.Run();
          if (!inserted.ok()) return PolicyWriteError(c, inserted, policy);
          id = c.last_insert_rowid();
        }
        STORE_RETURN_IF_ERROR(WriteEventTypes(c, id, policy.event_types));
        if (!request_id.empty()) {
          // REPLACE: an expired key of the same name may still be there.
          STORE_ASSIGN_OR_RETURN(
              Statement s,
              c.Prepare("INSERT OR REPLACE INTO policy_request_ids "
                        "(scope, request_id, policy_id, create_time) "
                        "VALUES (?1, ?2, ?3, ?4)"));
          STORE_RETURN_IF_ERROR(s.Bind(1, idempotency_scope)
                                    .Bind(2, request_id)
                                    .Bind(3, id)
                                    .Bind(4, TimeToMicros(now))
                                    .Run());
        }
        core::Policy created = policy;
        created.id = id;
        created.create_time = now;
        created.update_time = now;
        return created;
      });
}

absl::StatusOr<core::Policy> SqliteStore::GetPolicy(int64_t id) {
  return Read([&](Connection& c) { return LoadPolicy(c, id); });
}

absl::StatusOr<PolicyList> SqliteStore::ListPolicies(const PolicyQuery& q) {
  STORE_RETURN_IF_ERROR(CheckPage(q.page));
  // The SQL text depends only on which filters are set (at most 16 shapes),
  // so every variant stays in the statement cache.
  std::string where = " WHERE 1";
  if (!q.project_ids.empty()) {
    where += " AND p.project_id IN (SELECT value FROM json_each(?1))";
  }
  if (!q.name_contains.empty()) where += " AND instr(p.name, ?2) > 0";
  if (q.enabled.has_value()) where += " AND p.enabled = ?3";
  if (!q.event_type.empty()) {
    where +=
        " AND p.id IN (SELECT policy_id FROM policy_event_types "
        "WHERE event_type = ?4)";
  }
  const std::string ids = sqlite::EncodeIds(q.project_ids);
  auto bind = [&](Statement& s) {
    if (!q.project_ids.empty()) s.Bind(1, ids);
    if (!q.name_contains.empty()) s.Bind(2, q.name_contains);
    if (q.enabled.has_value()) s.Bind(3, *q.enabled);
    if (!q.event_type.empty()) s.Bind(4, q.event_type);
  };
  return Read([&](Connection& c) -> absl::StatusOr<PolicyList> {
    PolicyList list;
    {
      STORE_ASSIGN_OR_RETURN(
          Statement s,
          c.Prepare(absl::StrCat("SELECT count(*) FROM policies p", where)));
      bind(s);
      STORE_ASSIGN_OR_RETURN(bool row, s.Step());
      list.total_size = row ? s.Int64(0) : 0;
    }
    STORE_ASSIGN_OR_RETURN(
        Statement s,
        c.Prepare(absl::StrCat("SELECT ", kPolicyColumns, " FROM policies p",
                               where,
                               " ORDER BY p.create_time DESC, p.id DESC "
                               "LIMIT ?5 OFFSET ?6")));
    bind(s);
    s.Bind(5, q.page.limit).Bind(6, q.page.offset);
    while (true) {
      STORE_ASSIGN_OR_RETURN(bool row, s.Step());
      if (!row) break;
      STORE_ASSIGN_OR_RETURN(core::Policy p, PolicyFromRow(s, options_.secrets.get()));
      list.policies.push_back(std::move(p));
    }
    return list;
  });
}

absl::StatusOr<core::Policy> SqliteStore::UpdatePolicy(
    const core::Policy& policy) {
  if (policy.id <= 0) return NotFound("policy", policy.id);
  STORE_ASSIGN_OR_RETURN(EncodedPolicy enc, EncodePolicy(policy, options_.secrets.get()));
  return Write<core::Policy>(
      [this, policy,
       enc = std::move(enc)](Connection& c) -> absl::StatusOr<core::Policy> {
        // The project is not changed by an update; the error message needs
        // the stored one.
        STORE_ASSIGN_OR_RETURN(core::Policy stored, LoadPolicy(c, policy.id));
        {
          STORE_ASSIGN_OR_RETURN(
              Statement s,
              c.Prepare("UPDATE policies SET name = ?2, description = ?3, "
                        "targets = ?4, event_types = ?5, filters = ?6, "
                        "retry_policy = ?7, enabled = ?8, update_time = ?9 "
                        "WHERE id = ?1"));
          s.Bind(1, policy.id)
              .Bind(2, policy.name)
              .Bind(3, policy.description)
              .Bind(4, enc.targets)
              .Bind(5, enc.event_types)
              .Bind(6, enc.filters)
              .Bind(7, enc.retry_policy)
              .Bind(8, policy.enabled)
              .Bind(9, TimeToMicros(Now()));
          absl::Status updated = s.Run();
          if (!updated.ok()) {
            core::Policy named = policy;
            named.project_id = stored.project_id;
            return PolicyWriteError(c, updated, named);
          }
        }
        STORE_RETURN_IF_ERROR(WriteEventTypes(c, policy.id, policy.event_types));
        return LoadPolicy(c, policy.id);
      });
}

absl::Status SqliteStore::DeletePolicy(int64_t id) {
  if (id <= 0) return NotFound("policy", id);
  return WriteStatus([id](Connection& c) -> absl::Status {
    // ON DELETE CASCADE removes its executions, tasks, task logs, event
    // types and idempotency keys in the same transaction.
    STORE_ASSIGN_OR_RETURN(Statement s,
                           c.Prepare("DELETE FROM policies WHERE id = ?1"));
    STORE_RETURN_IF_ERROR(s.Bind(1, id).Run());
    if (c.changes() == 0) return NotFound("policy", id);
    return absl::OkStatus();
  });
}

// ---- Tokens ----

absl::StatusOr<core::TokenRecord> SqliteStore::CreateToken(
    const core::TokenRecord& token) {
  if (token.secret_hash.empty()) {
    return absl::InvalidArgumentError("a token needs a secret hash");
  }
  return Write<core::TokenRecord>(
      [this, token](Connection& c) -> absl::StatusOr<core::TokenRecord> {
        core::TokenRecord created = token;
        created.create_time = Now();
        STORE_ASSIGN_OR_RETURN(
            Statement s,
            c.Prepare("INSERT INTO tokens (name, role, project_ids, "
                      "secret_hash, creator, create_time, expire_time, "
                      "revoked) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)"));
        s.Bind(1, token.name)
            .Bind(2, static_cast<int64_t>(token.role))
            .Bind(3, sqlite::EncodeIds(token.project_ids))
            .Bind(4, token.secret_hash)
            .Bind(5, token.creator)
            .Bind(6, TimeToMicros(created.create_time))
            .Bind(7, TimeToMicros(token.expire_time))
            .Bind(8, token.revoked);
        absl::Status inserted = s.Run();
        if (!inserted.ok()) {
          if (c.extended_errcode() == SQLITE_CONSTRAINT_UNIQUE) {
            // Never echo the hash.
            return absl::AlreadyExistsError(
                "a token with the same secret already exists");
          }
          return inserted;
        }
        created.id = c.last_insert_rowid();
        return created;
      });
}

absl::StatusOr<core::TokenRecord> SqliteStore::FindTokenByHash(
    const std::string& secret_hash) {
  return Read([&](Connection& c) -> absl::StatusOr<core::TokenRecord> {
    STORE_ASSIGN_OR_RETURN(
        Statement s, c.Prepare(absl::StrCat("SELECT ", kTokenColumns,
                                            " FROM tokens WHERE secret_hash = ?1")));
    s.Bind(1, secret_hash);
    STORE_ASSIGN_OR_RETURN(bool row, s.Step());
    if (!row) return absl::NotFoundError("no token has this secret");
    return TokenFromRow(s);
  });
}

absl::StatusOr<std::vector<core::TokenRecord>> SqliteStore::ListTokens() {
  return Read(
      [&](Connection& c) -> absl::StatusOr<std::vector<core::TokenRecord>> {
        STORE_ASSIGN_OR_RETURN(
            Statement s, c.Prepare(absl::StrCat("SELECT ", kTokenColumns,
                                                " FROM tokens ORDER BY id")));
        std::vector<core::TokenRecord> tokens;
        while (true) {
          STORE_ASSIGN_OR_RETURN(bool row, s.Step());
          if (!row) break;
          STORE_ASSIGN_OR_RETURN(core::TokenRecord t, TokenFromRow(s));
          tokens.push_back(std::move(t));
        }
        return tokens;
      });
}

absl::Status SqliteStore::RevokeToken(int64_t id) {
  if (id <= 0) return NotFound("token", id);
  return WriteStatus([id](Connection& c) -> absl::Status {
    STORE_ASSIGN_OR_RETURN(
        Statement s, c.Prepare("UPDATE tokens SET revoked = 1 WHERE id = ?1"));
    STORE_RETURN_IF_ERROR(s.Bind(1, id).Run());
    if (c.changes() == 0) return NotFound("token", id);
    return absl::OkStatus();
  });
}

// ---- Settings ----

absl::StatusOr<core::Settings> SqliteStore::GetSettings() {
  return Read([&](Connection& c) -> absl::StatusOr<core::Settings> {
    core::Settings settings;  // defaults for every missing key
    STORE_ASSIGN_OR_RETURN(Statement s,
                           c.Prepare("SELECT key, value FROM settings"));
    while (true) {
      STORE_ASSIGN_OR_RETURN(bool row, s.Step());
      if (!row) break;
      const std::string key = s.Text(0);
      const std::string value = s.Text(1);
      int64_t n = 0;
      bool ok = true;
      if (key == kNotificationEnable) {
        ok = value == "true" || value == "false";
        settings.notification_enable = value == "true";
      } else if (key == kMaxRetry) {
        ok = absl::SimpleAtoi(value, &n);
        settings.webhook_job_max_retry = static_cast<int>(n);
      } else if (key == kHttpTimeoutMs) {
        ok = absl::SimpleAtoi(value, &n);
        settings.webhook_job_http_client_timeout = absl::Milliseconds(n);
      } else if (key == kRetentionCount) {
        ok = absl::SimpleAtoi(value, &n);
        settings.execution_retention_count = static_cast<int>(n);
      }  // unknown keys: written by a newer herald, ignored
      if (!ok) {
        return absl::InternalError(
            absl::StrCat("stored setting ", key, " cannot be parsed"));
      }
    }
    return settings;
  });
}

absl::Status SqliteStore::PutSettings(const core::Settings& settings) {
  STORE_RETURN_IF_ERROR(ValidateSettings(settings));
  return WriteStatus([settings](Connection& c) -> absl::Status {
    return WriteSettings(c, settings);
  });
}

absl::Status SqliteStore::SeedSettings(const core::Settings& settings) {
  STORE_RETURN_IF_ERROR(ValidateSettings(settings));
  return WriteStatus([settings](Connection& c) -> absl::Status {
    // The check and the write share the writer's transaction: atomic.
    STORE_ASSIGN_OR_RETURN(int64_t stored,
                           c.QueryInt("SELECT count(*) FROM settings"));
    if (stored != 0) return absl::OkStatus();
    return WriteSettings(c, settings);
  });
}

namespace {

absl::Status WriteSettings(Connection& c, const core::Settings& settings) {
  const std::pair<absl::string_view, std::string> values[] = {
      {kNotificationEnable, settings.notification_enable ? "true" : "false"},
      {kMaxRetry, absl::StrCat(settings.webhook_job_max_retry)},
      {kHttpTimeoutMs, absl::StrCat(absl::ToInt64Milliseconds(
                           settings.webhook_job_http_client_timeout))},
      {kRetentionCount, absl::StrCat(settings.execution_retention_count)},
  };
  for (const auto& [key, value] : values) {
    STORE_ASSIGN_OR_RETURN(
        Statement s, c.Prepare("INSERT OR REPLACE INTO settings (key, value) "
                               "VALUES (?1, ?2)"));
    STORE_RETURN_IF_ERROR(s.Bind(1, key).Bind(2, value).Run());
  }
  return absl::OkStatus();
}

// ---- Events ----

// One CommitEvents call on its way through the writer. Shared by the item's
// run and done callbacks; only the writer thread touches it after Submit.
struct EventBatch {
  std::vector<NewEvent> events;
  // targets[i][j]: JSON of events[i].deliveries[j].target, encoded by the
  // caller's thread.
  std::vector<std::vector<std::string>> targets;
  std::vector<CommittedEvent> results;
};

// Policies known to exist within one write item (a policy cannot be
// deleted in the middle of one: deletes are write items of their own).
using ExistingPolicies = absl::flat_hash_set<int64_t>;

// Inserts one event with its executions and Pending tasks, or recognises a
// duplicate request id. Runs on the writer inside a savepoint.
absl::Status CommitEvent(Connection& c, const NewEvent& ev,
                         const std::vector<std::string>& targets,
                         absl::Time now, absl::Duration idempotency_window,
                         ExistingPolicies& existing, CommittedEvent& out) {
  if (!ev.request_id.empty()) {
    STORE_ASSIGN_OR_RETURN(
        Statement s,
        c.Prepare("SELECT event_id, deliveries_created FROM event_request_ids "
                  "WHERE scope = ?1 AND request_id = ?2 AND create_time >= ?3"));
    s.Bind(1, ev.idempotency_scope)
        .Bind(2, ev.request_id)
        .Bind(3, TimeToMicros(now - idempotency_window));
    STORE_ASSIGN_OR_RETURN(bool row, s.Step());
    if (row) {
      out.event_id = s.Int64(0);
      out.deliveries_created = s.Int(1);
      out.duplicate = true;
      return absl::OkStatus();
    }
  }
  const int64_t now_us = TimeToMicros(now);
  {
    STORE_ASSIGN_OR_RETURN(
        Statement s,
        c.Prepare("INSERT INTO events (project_id, event_type, request_id, "
                  "operator_name, occur_time, create_time, data) "
                  "VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)"));
    s.Bind(1, ev.event.project_id)
        .Bind(2, ev.event.event_type)
        .Bind(3, ev.event.request_id.empty() ? ev.request_id
                                             : ev.event.request_id)
        .Bind(4, ev.event.operator_name)
        .Bind(5, TimeToMicros(ev.event.occur_time))
        .Bind(6, now_us)
        .BindBlobNoCopy(7, ev.event.data);
    STORE_RETURN_IF_ERROR(s.Run());
  }
  const int64_t event_id = c.last_insert_rowid();
  int created = 0;
  for (size_t j = 0; j < ev.deliveries.size(); ++j) {
    const NewDelivery& d = ev.deliveries[j];
    if (!existing.contains(d.policy_id)) {
      // A policy deleted since the event was matched gets nothing: the
      // outcome is the same as if the delete had come first.
      STORE_ASSIGN_OR_RETURN(
          Statement s, c.Prepare("SELECT 1 FROM policies WHERE id = ?1"));
      s.Bind(1, d.policy_id);
      STORE_ASSIGN_OR_RETURN(bool exists, s.Step());
      if (!exists) continue;
      existing.insert(d.policy_id);
    }
    {
      STORE_ASSIGN_OR_RETURN(
          Statement s,
          c.Prepare("INSERT INTO executions (event_id, policy_id, project_id, "
                    "vendor_type, event_type, target_index, target, payload, "
                    "content_type, webhook_id, start_time) "
                    "VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11)"));
      s.Bind(1, event_id)
          .Bind(2, d.policy_id)
          .Bind(3, ev.event.project_id)
          .Bind(4, sqlite::Sv(core::VendorTypeName(d.vendor_type)))
          .Bind(5, ev.event.event_type)
          .Bind(6, d.target_index)
          .BindNoCopy(7, targets[j])
          .BindBlobNoCopy(8, d.payload)
          .Bind(9, d.content_type)
          .Bind(10, d.webhook_id)
          .Bind(11, now_us);
      STORE_RETURN_IF_ERROR(s.Run());
    }
    const int64_t execution_id = c.last_insert_rowid();
    STORE_ASSIGN_OR_RETURN(
        Statement s,
        c.Prepare("INSERT INTO tasks (execution_id, status, run_count, "
                  "max_attempts, next_attempt_time, last_response_code, "
                  "last_error, create_time, update_time, start_time, end_time, "
                  "due_time, endpoint) "
                  "VALUES (?1, ?2, 0, ?3, ?4, 0, '', ?5, ?5, ?6, ?6, ?4, ?7)"));
    s.Bind(1, execution_id)
        .Bind(2, sqlite::Sv(core::TaskStatusName(core::TaskStatus::kPending)))
        .Bind(3, d.max_attempts)
        .Bind(4, TimeToMicros(d.due_time))
        .Bind(5, now_us)
        .Bind(6, kNever)
        .Bind(7, sqlite::EndpointKeyOf(d.target));  // schema v2
    STORE_RETURN_IF_ERROR(s.Run());
    ++created;
  }
  if (!ev.request_id.empty()) {
    // REPLACE: an expired key of the same name may still be there.
    STORE_ASSIGN_OR_RETURN(
        Statement s,
        c.Prepare("INSERT OR REPLACE INTO event_request_ids (scope, "
                  "request_id, create_time, event_id, deliveries_created) "
                  "VALUES (?1, ?2, ?3, ?4, ?5)"));
    STORE_RETURN_IF_ERROR(s.Bind(1, ev.idempotency_scope)
                              .Bind(2, ev.request_id)
                              .Bind(3, now_us)
                              .Bind(4, event_id)
                              .Bind(5, created)
                              .Run());
  }
  out.event_id = event_id;
  out.deliveries_created = created;
  out.duplicate = false;
  return absl::OkStatus();
}

}  // namespace

void SqliteStore::CommitEventsAsync(
    std::vector<NewEvent> events,
    absl::AnyInvocable<void(absl::StatusOr<std::vector<CommittedEvent>>)>
        done) {
  auto batch = std::make_shared<EventBatch>();
  batch->events = std::move(events);
  batch->targets.resize(batch->events.size());
  batch->results.resize(batch->events.size());
  // Validation and JSON encoding happen here, on the caller's thread, so the
  // writer only runs SQL.
  for (size_t i = 0; i < batch->events.size(); ++i) {
    const NewEvent& ev = batch->events[i];
    absl::Status& status = batch->results[i].status;
    if (ev.event.event_type.empty()) {
      status = absl::InvalidArgumentError("an event needs an event type");
    }
    for (const NewDelivery& d : ev.deliveries) {
      if (!status.ok()) break;
      status = ValidateDelivery(d);
      if (!status.ok()) break;
      absl::StatusOr<std::string> target = sqlite::EncodeTarget(d.target, options_.secrets.get());
      if (!target.ok()) {
        status = target.status();
        break;
      }
      batch->targets[i].push_back(*std::move(target));
    }
  }
  Submit(WriteItem{
      [this, batch](Connection& c) -> absl::Status {
        const absl::Time now = Now();
        // First every event under one savepoint: a savepoint makes SQLite
        // copy each page it changes that the transaction had already
        // changed, so one per event cost more than the event's inserts.
        // Events almost never fail; if one does, everything goes back to
        // that savepoint and the events run again one savepoint each, so
        // that only the failing ones are left out.
        ExistingPolicies existing;
        STORE_RETURN_IF_ERROR(RunSql(c, "SAVEPOINT events"));
        bool clean = true;
        for (size_t i = 0; i < batch->events.size() && clean; ++i) {
          CommittedEvent& out = batch->results[i];
          if (!out.status.ok()) continue;
          absl::Status s =
              CommitEvent(c, batch->events[i], batch->targets[i], now,
                          options_.idempotency_window, existing, out);
          if (s.ok()) continue;
          if (absl::IsUnavailable(s) || !c.in_transaction()) return s;
          clean = false;
        }
        if (clean) return RunSql(c, "RELEASE events");
        STORE_RETURN_IF_ERROR(RunSql(c, "ROLLBACK TO events"));
        STORE_RETURN_IF_ERROR(RunSql(c, "RELEASE events"));
        for (CommittedEvent& out : batch->results) {
          if (out.status.ok()) out = CommittedEvent{};
        }
        for (size_t i = 0; i < batch->events.size(); ++i) {
          CommittedEvent& out = batch->results[i];
          if (!out.status.ok()) continue;
          STORE_RETURN_IF_ERROR(RunSql(c, "SAVEPOINT event"));
          absl::Status s =
              CommitEvent(c, batch->events[i], batch->targets[i], now,
                          options_.idempotency_window, existing, out);
          if (s.ok()) {
            STORE_RETURN_IF_ERROR(RunSql(c, "RELEASE event"));
            continue;
          }
          // A retryable failure, or one that took the transaction down,
          // fails the whole batch (see WriteItem::savepoint): the caller
          // retries everything.
          if (absl::IsUnavailable(s) || !c.in_transaction()) return s;
          STORE_RETURN_IF_ERROR(RunSql(c, "ROLLBACK TO event"));
          STORE_RETURN_IF_ERROR(RunSql(c, "RELEASE event"));
          out = CommittedEvent{};
          out.status = s;
        }
        return absl::OkStatus();
      },
      [batch, done = std::move(done)](absl::Status status) mutable {
        if (!status.ok()) {
          done(std::move(status));
        } else {
          done(std::move(batch->results));
        }
      },
      /*savepoint=*/false});
}

absl::StatusOr<std::vector<CommittedEvent>> SqliteStore::CommitEvents(
    std::vector<NewEvent> events) {
  absl::StatusOr<std::vector<CommittedEvent>> result;
  absl::Notification done;
  CommitEventsAsync(
      std::move(events),
      [&](absl::StatusOr<std::vector<CommittedEvent>> r) {
        result = std::move(r);
        done.Notify();
      });
  done.WaitForNotification();
  return result;
}

absl::StatusOr<core::EventRecord> SqliteStore::GetEvent(int64_t id) {
  return Read([&](Connection& c) -> absl::StatusOr<core::EventRecord> {
    STORE_ASSIGN_OR_RETURN(
        Statement s, c.Prepare(absl::StrCat("SELECT ", kEventColumns,
                                            " FROM events WHERE id = ?1")));
    s.Bind(1, id);
    STORE_ASSIGN_OR_RETURN(bool row, s.Step());
    if (!row) return NotFound("event", id);
    return EventFromRow(s);
  });
}

// ---- Executions and tasks ----

absl::StatusOr<ExecutionList> SqliteStore::ListExecutions(
    const ExecutionQuery& q) {
  if (q.policy_id <= 0) {
    return absl::InvalidArgumentError("listing executions needs a policy id");
  }
  STORE_RETURN_IF_ERROR(CheckPage(q.page));
  std::string where = " WHERE e.policy_id = ?1";
  if (q.status.has_value()) where += " AND t.status = ?2";
  if (!q.event_type.empty()) where += " AND e.event_type = ?3";
  auto bind = [&](Statement& s) {
    s.Bind(1, q.policy_id);
    if (q.status.has_value()) s.Bind(2, sqlite::Sv(core::TaskStatusName(*q.status)));
    if (!q.event_type.empty()) s.Bind(3, q.event_type);
  };
  return Read([&](Connection& c) -> absl::StatusOr<ExecutionList> {
    ExecutionList list;
    {
      STORE_ASSIGN_OR_RETURN(
          Statement s,
          c.Prepare(absl::StrCat("SELECT count(*) FROM executions e "
                                 "JOIN tasks t ON t.execution_id = e.id",
                                 where)));
      bind(s);
      STORE_ASSIGN_OR_RETURN(bool row, s.Step());
      list.total_size = row ? s.Int64(0) : 0;
    }
    STORE_ASSIGN_OR_RETURN(
        Statement s,
        c.Prepare(absl::StrCat(kExecutionSelect, where,
                               " ORDER BY e.id DESC LIMIT ?4 OFFSET ?5")));
    bind(s);
    s.Bind(4, q.page.limit).Bind(5, q.page.offset);
    while (true) {
      STORE_ASSIGN_OR_RETURN(bool row, s.Step());
      if (!row) break;
      STORE_ASSIGN_OR_RETURN(core::Execution e, ExecutionFromRow(s, options_.secrets.get()));
      list.executions.push_back(std::move(e));
    }
    return list;
  });
}

absl::StatusOr<core::Execution> SqliteStore::GetExecution(int64_t id) {
  return Read([&](Connection& c) -> absl::StatusOr<core::Execution> {
    STORE_ASSIGN_OR_RETURN(
        Statement s,
        c.Prepare(absl::StrCat(kExecutionSelect, " WHERE e.id = ?1")));
    s.Bind(1, id);
    STORE_ASSIGN_OR_RETURN(bool row, s.Step());
    if (!row) return NotFound("execution", id);
    return ExecutionFromRow(s, options_.secrets.get());
  });
}

namespace {

absl::Status CheckExecutionExists(Connection& c, int64_t id) {
  STORE_ASSIGN_OR_RETURN(
      Statement s, c.Prepare("SELECT 1 FROM executions WHERE id = ?1"));
  s.Bind(1, id);
  STORE_ASSIGN_OR_RETURN(bool row, s.Step());
  if (!row) return NotFound("execution", id);
  return absl::OkStatus();
}

}  // namespace

absl::StatusOr<TaskCounts> SqliteStore::CountTasks(int64_t execution_id) {
  return Read([&](Connection& c) -> absl::StatusOr<TaskCounts> {
    STORE_RETURN_IF_ERROR(CheckExecutionExists(c, execution_id));
    STORE_ASSIGN_OR_RETURN(
        Statement s, c.Prepare("SELECT status, count(*) FROM tasks "
                               "WHERE execution_id = ?1 GROUP BY status"));
    s.Bind(1, execution_id);
    TaskCounts counts;
    while (true) {
      STORE_ASSIGN_OR_RETURN(bool row, s.Step());
      if (!row) break;
      STORE_ASSIGN_OR_RETURN(core::TaskStatus status,
                             StatusFromText(s.Text(0)));
      const int64_t n = s.Int64(1);
      counts.total += n;
      switch (status) {
        case core::TaskStatus::kPending: counts.pending += n; break;
        case core::TaskStatus::kRunning: counts.running += n; break;
        case core::TaskStatus::kSuccess: counts.success += n; break;
        case core::TaskStatus::kError: counts.error += n; break;
        case core::TaskStatus::kStopped: counts.stopped += n; break;
      }
    }
    return counts;
  });
}

absl::StatusOr<std::vector<core::Task>> SqliteStore::ListTasks(
    int64_t execution_id) {
  return Read([&](Connection& c) -> absl::StatusOr<std::vector<core::Task>> {
    STORE_RETURN_IF_ERROR(CheckExecutionExists(c, execution_id));
    STORE_ASSIGN_OR_RETURN(
        Statement s,
        c.Prepare(absl::StrCat("SELECT ", kTaskColumns,
                               " FROM tasks WHERE execution_id = ?1 "
                               "ORDER BY id DESC")));
    s.Bind(1, execution_id);
    std::vector<core::Task> tasks;
    while (true) {
      STORE_ASSIGN_OR_RETURN(bool row, s.Step());
      if (!row) break;
      STORE_ASSIGN_OR_RETURN(core::Task t, TaskFromRow(s));
      tasks.push_back(std::move(t));
    }
    return tasks;
  });
}

absl::StatusOr<core::Task> SqliteStore::GetTask(int64_t id) {
  return Read([&](Connection& c) -> absl::StatusOr<core::Task> {
    STORE_ASSIGN_OR_RETURN(
        Statement s, c.Prepare(absl::StrCat("SELECT ", kTaskColumns,
                                            " FROM tasks WHERE id = ?1")));
    s.Bind(1, id);
    STORE_ASSIGN_OR_RETURN(bool row, s.Step());
    if (!row) return NotFound("task", id);
    return TaskFromRow(s);
  });
}

}  // namespace herald::store
