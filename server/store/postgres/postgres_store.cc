#include "server/store/postgres/postgres_store.h"

#include <libpq-fe.h>
#include <poll.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include <algorithm>
#include <utility>

#include "absl/random/random.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/synchronization/notification.h"
#include "server/store/postgres/batches.h"
#include "server/store/postgres/migrations.h"
#include "server/store/postgres/pg_conn.h"
#include "server/store/postgres/pg_pool.h"
#include "server/store/postgres/rows.h"
#include "server/store/postgres/secrets.h"
#include "server/store/sqlite/codec.h"
#include "server/store/sqlite/delivery_sql.h"

namespace herald::store {

using pg::Params;
using pg::Query;
using pg::Result;
using pg::TimeToMicros;

namespace {

// How often the writer deletes expired idempotency keys.
constexpr absl::Duration kKeySweepInterval = absl::Minutes(10);
// Pipelined units (items, events) per network round trip: a whole batch
// (PostgresOptions::max_batch_items is 1024 by default). A large pipeline
// cannot deadlock on full socket buffers: while libpq waits to send, it
// reads and buffers what the server sends back.
constexpr size_t kUnitsPerPipeline = 1024;

constexpr const char* kLockTaskUpdates = "SELECT herald_lock_task_updates()";

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

std::string RandomId() {
  absl::BitGen gen;
  return absl::StrFormat("%016x", absl::Uniform<uint64_t>(gen));
}

// ---- Policy encoding (on the calling thread) ----

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
  PG_ASSIGN_OR_RETURN(e.targets, sqlite::EncodeTargets(p.targets, secrets));
  PG_ASSIGN_OR_RETURN(e.event_types, sqlite::EncodeStrings(p.event_types));
  PG_ASSIGN_OR_RETURN(e.filters, sqlite::EncodeFilters(p.filters));
  e.retry_policy = sqlite::EncodeRetryPolicy(p.retry_policy);
  return e;
}

absl::Status WriteEventTypes(pg::Connection& c, int64_t policy_id,
                             const std::vector<std::string>& event_types) {
  return c
      .Run({Query{"DELETE FROM policy_event_types WHERE policy_id = $1::int8",
                  Params().Int(policy_id)},
            Query{"INSERT INTO policy_event_types (policy_id, event_type) "
                  "SELECT $1::int8, unnest($2::text[]) "
                  "ON CONFLICT DO NOTHING",
                  Params().Int(policy_id).TextArray(event_types)}})
      .status();
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

Query WriteSettingsQuery(const core::Settings& settings) {
  std::vector<std::string> keys = {
      std::string(kNotificationEnable), std::string(kMaxRetry),
      std::string(kHttpTimeoutMs), std::string(kRetentionCount)};
  std::vector<std::string> values = {
      settings.notification_enable ? "true" : "false",
      absl::StrCat(settings.webhook_job_max_retry),
      absl::StrCat(
          absl::ToInt64Milliseconds(settings.webhook_job_http_client_timeout)),
      absl::StrCat(settings.execution_retention_count)};
  return Query{
      "INSERT INTO settings (key, value) "
      "SELECT * FROM unnest($1::text[], $2::text[]) "
      "ON CONFLICT (key) DO UPDATE SET value = excluded.value",
      Params().TextArray(keys).TextArray(values)};
}

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

// One event with its executions and Pending tasks, or the recognition of a
// duplicate request id, in one statement. A delivery whose policy no longer
// exists is skipped (the join with policies). Returns (event id,
// deliveries created, duplicate).
constexpr const char* kCommitEventSql = R"sql(
WITH dup AS (
  SELECT event_id, deliveries_created FROM event_request_ids
  WHERE $9::text <> '' AND scope = $8::text AND request_id = $9::text
    AND create_time >= $10::int8),
ev AS (
  INSERT INTO events (project_id, event_type, request_id, operator_name,
                      occur_time, create_time, data)
  SELECT $1::int8, $2::text, $3::text, $4::text, $5::int8, $6::int8, $7::bytea
  WHERE NOT EXISTS (SELECT 1 FROM dup)
  RETURNING id),
d AS MATERIALIZED (
  SELECT nextval('executions_id_seq') AS eid, x.* FROM (
    SELECT ev.id AS event_id, u.*, p.project_id AS policy_project_id
    FROM ev CROSS JOIN unnest($11::int8[], $12::int4[], $13::text[],
        $14::text[], $15::text[], $16::bytea[], $17::text[], $18::text[],
        $19::int4[], $20::int8[], $21::text[]) WITH ORDINALITY
      AS u(policy_id, target_index, vendor_type, target, target_address,
           payload, content_type, webhook_id, max_attempts, due, endpoint, ord)
    JOIN policies p ON p.id = u.policy_id
    ORDER BY u.ord OFFSET 0) x),
ex AS (
  INSERT INTO executions (id, event_id, policy_id, project_id,
    policy_project_id, vendor_type, event_type, target_index, target,
    target_address, payload, content_type, webhook_id, start_time)
  SELECT eid, event_id, policy_id, $1::int8, policy_project_id, vendor_type,
    $2::text, target_index, target, target_address, payload, content_type,
    webhook_id, $6::int8
  FROM d ORDER BY eid
  RETURNING id),
tk AS (
  INSERT INTO tasks (execution_id, status, run_count, max_attempts,
    next_attempt_time, last_response_code, last_error, create_time,
    update_time, start_time, end_time, due_time, endpoint)
  SELECT d.eid, 'Pending', 0, d.max_attempts, d.due, 0, '', $6::int8,
    $6::int8, $22::int8, $22::int8, d.due, d.endpoint
  FROM d JOIN ex ON ex.id = d.eid ORDER BY d.eid
  RETURNING id),
k AS (
  INSERT INTO event_request_ids (scope, request_id, create_time, event_id,
                                 deliveries_created)
  SELECT $8::text, $9::text, $6::int8, ev.id, (SELECT count(*) FROM tk)
  FROM ev WHERE $9::text <> ''
  ON CONFLICT (scope, request_id) DO UPDATE SET
    create_time = excluded.create_time, event_id = excluded.event_id,
    deliveries_created = excluded.deliveries_created
  RETURNING 1)
SELECT coalesce((SELECT id FROM ev), (SELECT event_id FROM dup)),
       coalesce((SELECT deliveries_created FROM dup), (SELECT count(*) FROM tk)),
       EXISTS (SELECT 1 FROM dup)
)sql";

}  // namespace

// A statement of the writer's transaction, run under its own savepoint.
struct PostgresStore::Unit {
  Query query;
  // The statement succeeded (and its savepoint was released).
  absl::AnyInvocable<absl::Status(const Result&)> ok;
  // The statement failed and was rolled back alone. Returning non-OK fails
  // the whole batch instead (retryable failures: the caller retries all).
  absl::AnyInvocable<absl::Status(absl::Status)> failed;
};

// ---- Open / close ----

absl::StatusOr<std::unique_ptr<PostgresStore>> PostgresStore::Open(
    const PostgresOptions& options) {
  if (options.dsn.empty()) {
    return absl::InvalidArgumentError(
        "the PostgreSQL store needs a connection string (postgres_dsn)");
  }
  if (options.pool_size < 1 || options.max_batch_items < 1) {
    return absl::InvalidArgumentError(
        "pool_size and max_batch_items must be at least 1");
  }
  if (options.idempotency_window <= absl::ZeroDuration()) {
    return absl::InvalidArgumentError("idempotency_window must be positive");
  }
  const std::string instance =
      options.instance_id.empty() ? RandomId() : options.instance_id;
  pg::Pool::Options pool_options;
  pool_options.dsn = options.dsn;
  pool_options.size = options.pool_size;
  pool_options.connect.connect_timeout = options.connect_timeout;
  pool_options.acquire_timeout = options.acquire_timeout;
  pool_options.on_connect = [](pg::Connection& c) -> absl::Status {
    // A replica that freezes (not dies: then its sessions end at once) while
    // holding the task-update lock holds up every other: its session is
    // ended after idle_in_transaction_session_timeout, and a wait for a
    // lock fails (kUnavailable, retried by the caller) after lock_timeout.
    return c
        .Run1("SELECT set_config('idle_in_transaction_session_timeout', "
              "'30s', false), set_config('lock_timeout', '30s', false)")
        .status();
  };
  auto pool = std::make_unique<pg::Pool>(std::move(pool_options));
  std::string update_channel, work_channel;
  int64_t resealed = 0;
  {
    PG_ASSIGN_OR_RETURN(std::unique_ptr<pg::Connection> conn, pool->Connect());
    PG_RETURN_IF_ERROR(pg::Migrate(*conn));
    PG_ASSIGN_OR_RETURN(
        Result r, conn->Run1("SELECT herald_channel('u'), herald_channel('w')"));
    update_channel = r.Text(0, 0);
    work_channel = r.Text(0, 1);
    if (options.secrets != nullptr) {
      PG_ASSIGN_OR_RETURN(resealed,
                          pg::SealStoredSecrets(*conn, *options.secrets));
    } else {
      PG_RETURN_IF_ERROR(pg::CheckNoSecretsSealed(*conn));
    }
  }
  std::unique_ptr<PostgresStore> store(
      new PostgresStore(options, std::move(pool), instance,
                        std::move(update_channel), std::move(work_channel)));
  store->secrets_resealed_ = resealed;
  return store;
}

PostgresStore::PostgresStore(PostgresOptions options,
                             std::unique_ptr<pg::Pool> pool,
                             std::string instance_id,
                             std::string update_channel,
                             std::string work_channel)
    : options_(std::move(options)),
      clock_(options_.clock ? options_.clock
                            : std::shared_ptr<core::Clock>(
                                  std::shared_ptr<core::Clock>(),
                                  core::RealClock::Default())),
      pool_(std::move(pool)),
      instance_id_(std::move(instance_id)),
      update_channel_(std::move(update_channel)),
      work_channel_(std::move(work_channel)) {
  wake_fd_ = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
  writer_thread_ = std::thread([this] { WriterLoop(); });
  listen_thread_ = std::thread([this] { ListenLoop(); });
}

PostgresStore::~PostgresStore() {
  {
    absl::MutexLock lock(&queue_mu_);
    stopping_ = true;
  }
  writer_thread_.join();
  listen_stop_.store(true);
  WakeListener();
  listen_thread_.join();
  if (wake_fd_ >= 0) close(wake_fd_);
  writer_.reset();
  pool_->Close();
}

absl::Time PostgresStore::Now() const {
  return absl::FromUnixMicros(absl::ToUnixMicros(clock_->Now()));
}

// ---- Pool side ----

absl::StatusOr<std::vector<Result>> PostgresStore::Run(
    std::vector<Query> queries) {
  PG_ASSIGN_OR_RETURN(pg::Pool::Lease lease, pool_->Acquire());
  return lease->Run(std::move(queries));
}

absl::StatusOr<std::vector<Result>> PostgresStore::Read(
    std::vector<Query> queries) {
  for (int attempt = 0;; ++attempt) {
    PG_ASSIGN_OR_RETURN(pg::Pool::Lease lease, pool_->Acquire());
    absl::StatusOr<std::vector<Result>> r =
        lease->Run(attempt == 0 ? queries : std::move(queries));
    // A pooled connection the server had already closed (it restarted)
    // fails the first statement: reads are safe to repeat on a new one.
    if (r.ok() || attempt > 0 || !lease->broken()) return r;
  }
}

absl::StatusOr<std::vector<Result>> PostgresStore::Locked(
    std::vector<Query> queries) {
  queries.insert(queries.begin(), Query{kLockTaskUpdates, Params()});
  PG_ASSIGN_OR_RETURN(std::vector<Result> results, Run(std::move(queries)));
  results.erase(results.begin());
  return results;
}

absl::StatusOr<std::vector<Result>> PostgresStore::Snapshot(
    std::vector<Query> queries) {
  queries.insert(queries.begin(),
                 Query{"BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY",
                       Params()});
  queries.push_back(Query{"COMMIT", Params()});
  PG_ASSIGN_OR_RETURN(std::vector<Result> results, Read(std::move(queries)));
  results.pop_back();
  results.erase(results.begin());
  return results;
}

pg::Query PostgresStore::Notify(const std::string& channel) const {
  return Query{"SELECT pg_notify($1, $2)",
               Params().Text(channel).Text(instance_id_)};
}

void PostgresStore::TaskUpdatesCommitted() {
  absl::MutexLock lock(&listener_mu_);
  if (task_update_listener_) task_update_listener_();
}

void PostgresStore::SetTaskUpdateListener(std::function<void()> listener) {
  absl::MutexLock lock(&listener_mu_);
  task_update_listener_ = std::move(listener);
}

// ---- Listener (LISTEN/NOTIFY) ----

void PostgresStore::WakeListener() {
  if (wake_fd_ < 0) return;
  const uint64_t one = 1;
  ssize_t ignored = write(wake_fd_, &one, sizeof(one));
  (void)ignored;
}

void PostgresStore::ListenLoop() {
  std::unique_ptr<pg::Connection> conn;
  absl::Duration backoff = absl::Milliseconds(100);
  auto wait = [this](int fd, absl::Duration timeout) {
    pollfd fds[2] = {{wake_fd_, POLLIN, 0}, {fd, POLLIN, 0}};
    poll(fds, fd >= 0 ? 2 : 1,
         static_cast<int>(absl::ToInt64Milliseconds(timeout)));
    if (fds[0].revents & POLLIN) {
      uint64_t n;
      ssize_t ignored = read(wake_fd_, &n, sizeof(n));
      (void)ignored;
    }
  };
  while (!listen_stop_.load()) {
    if (conn == nullptr) {
      absl::StatusOr<std::unique_ptr<pg::Connection>> c = pool_->Connect();
      if (c.ok() && (*c)
                        ->Exec(absl::StrCat("LISTEN \"", update_channel_,
                                            "\"; LISTEN \"", work_channel_,
                                            "\""))
                        .ok()) {
        conn = *std::move(c);
        backoff = absl::Milliseconds(100);
        // Notifications sent while we were not listening are lost: let
        // the readers look.
        TaskUpdatesCommitted();
        NotifyWork();
        continue;
      }
      wait(-1, backoff);
      backoff = std::min(backoff * 2, absl::Seconds(2));
      continue;
    }
    PGconn* raw = conn->raw();
    wait(PQsocket(raw), absl::Seconds(1));
    if (listen_stop_.load()) break;
    if (PQconsumeInput(raw) != 1 || PQstatus(raw) != CONNECTION_OK) {
      conn.reset();
      continue;
    }
    bool updates = false, work = false;
    while (PGnotify* n = PQnotifies(raw)) {
      if (instance_id_ != n->extra) {
        if (update_channel_ == n->relname) updates = true;
        if (work_channel_ == n->relname) work = true;
      }
      PQfreemem(n);
    }
    if (updates) TaskUpdatesCommitted();
    if (work) NotifyWork();
  }
}

// ---- Writer ----

template <typename T, typename Fn>
absl::StatusOr<T> PostgresStore::Write(Fn fn) {
  struct State {
    absl::StatusOr<T> result = absl::InternalError("write did not run");
    absl::Notification done;
  } state;
  WriteItem item;
  item.run = [&state, fn = std::move(fn)](pg::Connection& c) mutable
      -> absl::Status {
    state.result = fn(c);
    return state.result.status();
  };
  item.done = [&state](absl::Status status) {
    if (!status.ok()) state.result = std::move(status);
    state.done.Notify();
  };
  Submit(std::move(item));
  state.done.WaitForNotification();
  return std::move(state.result);
}

absl::Status PostgresStore::WriteStatus(
    absl::AnyInvocable<absl::Status(pg::Connection&)> fn) {
  absl::Status result;
  absl::Notification done;
  WriteItem item;
  item.run = std::move(fn);
  item.done = [&](absl::Status status) {
    result = std::move(status);
    done.Notify();
  };
  Submit(std::move(item));
  done.WaitForNotification();
  return result;
}

void PostgresStore::Submit(WriteItem item) {
  if (std::this_thread::get_id() == writer_thread_.get_id()) {
    // From a completion callback on the writer thread: queueing and
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

void PostgresStore::WriterLoop() {
  std::vector<WriteItem> batch;
  while (true) {
    {
      absl::MutexLock lock(&queue_mu_);
      queue_mu_.AwaitWithTimeout(
          absl::Condition(
              +[](PostgresStore* s) ABSL_EXCLUSIVE_LOCKS_REQUIRED(s->queue_mu_) {
                return s->stopping_ || (!s->paused_ && !s->queue_.empty());
              },
              this),
          kKeySweepInterval);
      if (queue_.empty() && stopping_) return;  // stopping and drained
      if (!paused_) {
        size_t n = std::min(queue_.size(),
                            static_cast<size_t>(options_.max_batch_items));
        for (size_t i = 0; i < n; ++i) {
          batch.push_back(std::move(queue_.front()));
          queue_.pop_front();
        }
      }
    }
    if (!batch.empty()) ExecuteBatch(batch);
    batch.clear();
    MaybeSweepIdempotencyKeys();
  }
}

void PostgresStore::MaybeSweepIdempotencyKeys() {
  const absl::Time now = Now();
  if (now < next_key_sweep_ || writer_ == nullptr || writer_->broken()) return;
  const int64_t cutoff = TimeToMicros(now - options_.idempotency_window);
  absl::Status s =
      writer_
          ->Run({Query{"DELETE FROM event_request_ids WHERE create_time < "
                       "$1::int8",
                       Params().Int(cutoff)},
                 Query{"DELETE FROM policy_request_ids WHERE create_time < "
                       "$1::int8",
                       Params().Int(cutoff)}})
          .status();
  // A failure only delays it.
  if (s.ok()) next_key_sweep_ = now + kKeySweepInterval;
}

absl::Status PostgresStore::RunUnits(pg::Connection& c,
                                     std::vector<Unit>& units,
                                     const std::vector<Query>* prefix,
                                     const std::vector<Query>* suffix,
                                     std::vector<Result>* suffix_results) {
  static const Query kSavepoint{"SAVEPOINT u", Params()};
  static const Query kRelease{"RELEASE SAVEPOINT u", Params()};
  const size_t n_prefix = prefix != nullptr ? prefix->size() : 0;
  const size_t n_suffix = suffix != nullptr ? suffix->size() : 0;
  size_t i = 0;
  bool first = true;
  bool suffix_done = suffix == nullptr;
  std::vector<const Query*> queries;
  std::vector<pg::Outcome> out;
  while (i < units.size() || first || !suffix_done) {
    const size_t end = std::min(units.size(), i + kUnitsPerPipeline);
    const bool with_prefix = first && prefix != nullptr;
    const bool with_suffix = end == units.size() && suffix != nullptr;
    queries.clear();
    if (with_prefix) {
      for (const Query& q : *prefix) queries.push_back(&q);
    }
    for (size_t k = i; k < end; ++k) {
      queries.push_back(&kSavepoint);
      queries.push_back(&units[k].query);
      queries.push_back(&kRelease);
    }
    if (with_suffix) {
      for (const Query& q : *suffix) queries.push_back(&q);
    }
    PG_RETURN_IF_ERROR(c.Pipeline(queries, out));
    first = false;
    size_t at = 0;
    if (with_prefix) {
      for (; at < n_prefix; ++at) PG_RETURN_IF_ERROR(out[at].status);
    }
    size_t next = end;
    bool failed = false;
    for (size_t k = i; k < end; ++k, at += 3) {
      pg::Outcome& savepoint = out[at];
      pg::Outcome& statement = out[at + 1];
      pg::Outcome& release = out[at + 2];
      if (!savepoint.status.ok()) return savepoint.status;
      if (statement.status.ok()) {
        if (!release.status.ok()) return release.status;
        PG_RETURN_IF_ERROR(units[k].ok(statement.result));
        continue;
      }
      // This statement failed alone: undo it, then resume after it (the
      // server skipped everything behind it in this pipeline, the suffix
      // included).
      PG_RETURN_IF_ERROR(c.Run({Query{"ROLLBACK TO SAVEPOINT u", Params()},
                                Query{"RELEASE SAVEPOINT u", Params()}})
                             .status());
      PG_RETURN_IF_ERROR(units[k].failed(statement.status));
      next = k + 1;
      failed = true;
      break;
    }
    if (!failed && with_suffix) {
      for (size_t q = 0; q < n_suffix; ++q) {
        PG_RETURN_IF_ERROR(out[at + q].status);
        if (suffix_results != nullptr) {
          suffix_results->push_back(std::move(out[at + q].result));
        }
      }
      suffix_done = true;
    }
    i = next;
  }
  return absl::OkStatus();
}

void PostgresStore::ExecuteBatch(std::vector<WriteItem>& batch) {
  std::vector<absl::Status> results(batch.size());
  absl::Status txn;
  if (writer_ != nullptr) writer_->CheckAlive();
  if (writer_ != nullptr && writer_->broken()) writer_.reset();
  if (writer_ == nullptr) {
    absl::StatusOr<std::unique_ptr<pg::Connection>> conn = pool_->Connect();
    if (conn.ok()) {
      writer_ = *std::move(conn);
    } else {
      txn = conn.status();
    }
  }
  if (txn.ok()) {
    pg::Connection& c = *writer_;
    // The transaction is sent pipelined: BEGIN and the task-update lock
    // (see "Cursor safety" in the header: it orders this transaction's
    // seqs after every earlier commit) go with the first statements, the
    // NOTIFYs and COMMIT with the last ones. A batch of up to 1024 publishes
    // and results is one network round trip, and the lock is held only
    // while the server executes it, never while this process is waiting to
    // be scheduled.
    std::vector<Query> prefix;
    prefix.push_back(Query{"BEGIN", Params()});
    prefix.push_back(Query{kLockTaskUpdates, Params()});
    bool any_events = false;
    for (const WriteItem& item : batch) {
      any_events = any_events ||
                   (item.events != nullptr && !item.events->queries.empty());
    }
    std::vector<Query> suffix;
    suffix.push_back(Notify(update_channel_));
    if (any_events) suffix.push_back(Notify(work_channel_));
    suffix.push_back(Query{"COMMIT", Params()});
    bool begun = false;
    std::vector<Unit> units;
    for (size_t i = 0; i < batch.size() && txn.ok(); ++i) {
      WriteItem& item = batch[i];
      if (item.events != nullptr) {
        EventBatch* events = item.events.get();
        for (size_t k = 0; k < events->queries.size(); ++k) {
          const size_t index = events->index[k];
          Unit unit;
          unit.query = std::move(events->queries[k]);
          unit.ok = [events, index](const Result& r) -> absl::Status {
            CommittedEvent& out = events->results[index];
            if (r.rows() != 1) return absl::InternalError("no event row");
            out.event_id = r.Int64(0, 0);
            out.deliveries_created = r.Int(0, 1);
            out.duplicate = r.Bool(0, 2);
            return absl::OkStatus();
          };
          unit.failed = [events, index](absl::Status s) -> absl::Status {
            if (absl::IsUnavailable(s)) return s;
            CommittedEvent& out = events->results[index];
            out = CommittedEvent{};
            out.status = std::move(s);
            return absl::OkStatus();
          };
          units.push_back(std::move(unit));
        }
        continue;
      }
      if (item.results != nullptr) {
        ResultBatch* rb = item.results.get();
        Unit unit;
        unit.query = std::move(rb->query);
        unit.ok = [rb](const Result& r) -> absl::Status {
          for (int row = 0; row < r.rows(); ++row) {
            const int64_t ord = r.Int64(row, 0);
            if (ord >= 1 && ord <= static_cast<int64_t>(rb->applied.size())) {
              rb->applied[ord - 1] = true;
            }
          }
          return absl::OkStatus();
        };
        unit.failed = [rb](absl::Status s) -> absl::Status {
          if (absl::IsUnavailable(s)) return s;
          rb->status = std::move(s);
          return absl::OkStatus();
        };
        units.push_back(std::move(unit));
        continue;
      }
      // A closure: what is pipelined so far goes first.
      txn = RunUnits(c, units, begun ? nullptr : &prefix, nullptr, nullptr);
      begun = true;
      units.clear();
      if (!txn.ok()) break;
      txn = c.Run1("SAVEPOINT item").status();
      if (!txn.ok()) break;
      results[i] = item.run(c);
      if (c.broken()) {
        txn = results[i].ok() ? absl::UnavailableError(
                                    "PostgreSQL connection lost")
                              : results[i];
        break;
      }
      if (results[i].ok()) {
        txn = c.Run1("RELEASE SAVEPOINT item").status();
      } else {
        txn = c.Run({Query{"ROLLBACK TO SAVEPOINT item", Params()},
                     Query{"RELEASE SAVEPOINT item", Params()}})
                  .status();
      }
    }
    if (txn.ok()) {
      std::vector<Result> ended;
      txn = RunUnits(c, units, begun ? nullptr : &prefix, &suffix, &ended);
      if (txn.ok() && (ended.empty() || ended.back().Tag() != "COMMIT")) {
        txn = absl::UnavailableError("the write transaction was rolled back");
      }
    }
    if (txn.ok()) {
      transactions_committed_.fetch_add(1, std::memory_order_relaxed);
      TaskUpdatesCommitted();
    } else if (!c.broken() && !c.idle()) {
      c.Exec("ROLLBACK").IgnoreError();
    }
    if (c.broken()) writer_.reset();
  }
  for (size_t i = 0; i < batch.size(); ++i) {
    batch[i].done(txn.ok() ? std::move(results[i]) : txn);
  }
}

void PostgresStore::PauseWriterForTest() {
  absl::MutexLock lock(&queue_mu_);
  paused_ = true;
}

void PostgresStore::ResumeWriterForTest() {
  absl::MutexLock lock(&queue_mu_);
  paused_ = false;
}

size_t PostgresStore::queued_writes_for_test() {
  absl::MutexLock lock(&queue_mu_);
  return queue_.size();
}

// ---- Policies ----

absl::StatusOr<core::Policy> PostgresStore::LoadPolicy(pg::Connection& c,
                                                       int64_t id) {
  PG_ASSIGN_OR_RETURN(
      Result r, c.Run1(absl::StrCat("SELECT ", pg::kPolicyColumns,
                                    " FROM policies p WHERE p.id = $1::int8"),
                       Params().Int(id)));
  if (r.rows() == 0) return pg::NotFound("policy", id);
  return pg::PolicyAt(r, 0, options_.secrets.get());
}

absl::StatusOr<core::Policy> PostgresStore::CreatePolicy(
    const core::Policy& policy, const std::string& idempotency_scope,
    const std::string& request_id) {
  PG_ASSIGN_OR_RETURN(EncodedPolicy enc,
                      EncodePolicy(policy, options_.secrets.get()));
  return Write<core::Policy>([this, policy, enc = std::move(enc),
                              idempotency_scope, request_id](
                                 pg::Connection& c)
                                 -> absl::StatusOr<core::Policy> {
    const absl::Time now = Now();
    if (!request_id.empty()) {
      PG_ASSIGN_OR_RETURN(
          Result r,
          c.Run1("SELECT policy_id FROM policy_request_ids WHERE scope = $1 "
                 "AND request_id = $2 AND create_time >= $3::int8",
                 Params()
                     .Text(idempotency_scope)
                     .Text(request_id)
                     .Int(TimeToMicros(now - options_.idempotency_window))));
      if (r.rows() > 0) return LoadPolicy(c, r.Int64(0, 0));
    }
    absl::StatusOr<Result> inserted = c.Run1(
        "INSERT INTO policies (project_id, name, description, targets, "
        "event_types, filters, retry_policy, enabled, creator, create_time, "
        "update_time) VALUES ($1::int8, $2, $3, $4, $5, $6, $7, $8, $9, "
        "$10::int8, $10::int8) RETURNING id",
        Params()
            .Int(policy.project_id)
            .Text(policy.name)
            .Text(policy.description)
            .Text(enc.targets)
            .Text(enc.event_types)
            .Text(enc.filters)
            .Text(enc.retry_policy)
            .Bool(policy.enabled)
            .Text(policy.creator)
            .Int(TimeToMicros(now)));
    if (!inserted.ok()) {
      if (absl::IsAlreadyExists(inserted.status())) {
        return absl::AlreadyExistsError(
            absl::StrFormat("a policy named \"%s\" already exists %s",
                            policy.name, DescribeProject(policy.project_id)));
      }
      return inserted.status();
    }
    const int64_t id = inserted->Int64(0, 0);
    PG_RETURN_IF_ERROR(WriteEventTypes(c, id, policy.event_types));
    if (!request_id.empty()) {
      PG_RETURN_IF_ERROR(
          c.Run1("INSERT INTO policy_request_ids (scope, request_id, "
                 "policy_id, create_time) VALUES ($1, $2, $3::int8, $4::int8) "
                 "ON CONFLICT (scope, request_id) DO UPDATE SET "
                 "policy_id = excluded.policy_id, "
                 "create_time = excluded.create_time",
                 Params()
                     .Text(idempotency_scope)
                     .Text(request_id)
                     .Int(id)
                     .Int(TimeToMicros(now)))
              .status());
    }
    core::Policy created = policy;
    created.id = id;
    created.create_time = now;
    created.update_time = now;
    return created;
  });
}

absl::StatusOr<core::Policy> PostgresStore::GetPolicy(int64_t id) {
  for (int attempt = 0;; ++attempt) {
    PG_ASSIGN_OR_RETURN(pg::Pool::Lease lease, pool_->Acquire());
    absl::StatusOr<core::Policy> p = LoadPolicy(*lease, id);
    if (p.ok() || attempt > 0 || !lease->broken()) return p;  // see Read()
  }
}

absl::StatusOr<PolicyList> PostgresStore::ListPolicies(const PolicyQuery& q) {
  PG_RETURN_IF_ERROR(CheckPage(q.page));
  // The SQL text depends only on which filters are set (16 shapes), so
  // every variant stays prepared.
  std::string where = " WHERE true";
  Params params;
  int n = 0;
  if (!q.project_ids.empty()) {
    absl::StrAppend(&where, " AND p.project_id = ANY($", ++n, "::int8[])");
    params.Int8Array(q.project_ids);
  }
  if (!q.name_contains.empty()) {
    absl::StrAppend(&where, " AND strpos(p.name, $", ++n, ") > 0");
    params.Text(q.name_contains);
  }
  if (q.enabled.has_value()) {
    absl::StrAppend(&where, " AND p.enabled = $", ++n);
    params.Bool(*q.enabled);
  }
  if (!q.event_type.empty()) {
    absl::StrAppend(&where,
                    " AND p.id IN (SELECT policy_id FROM policy_event_types "
                    "WHERE event_type = $",
                    ++n, ")");
    params.Text(q.event_type);
  }
  Params page = params;
  page.Int(q.page.limit).Int(q.page.offset);
  std::vector<Query> queries;
  queries.push_back(
      Query{absl::StrCat("SELECT count(*) FROM policies p", where), params});
  queries.push_back(Query{
      absl::StrCat("SELECT ", pg::kPolicyColumns, " FROM policies p", where,
                   " ORDER BY p.create_time DESC, p.id DESC LIMIT $", n + 1,
                   "::int8 OFFSET $", n + 2, "::int8"),
      std::move(page)});
  PG_ASSIGN_OR_RETURN(std::vector<Result> r, Snapshot(std::move(queries)));
  PolicyList list;
  list.total_size = r[0].Int64(0, 0);
  for (int row = 0; row < r[1].rows(); ++row) {
    PG_ASSIGN_OR_RETURN(core::Policy p, pg::PolicyAt(r[1], row, options_.secrets.get()));
    list.policies.push_back(std::move(p));
  }
  return list;
}

absl::StatusOr<core::Policy> PostgresStore::UpdatePolicy(
    const core::Policy& policy) {
  if (policy.id <= 0) return pg::NotFound("policy", policy.id);
  PG_ASSIGN_OR_RETURN(EncodedPolicy enc,
                      EncodePolicy(policy, options_.secrets.get()));
  return Write<core::Policy>([this, policy, enc = std::move(enc)](
                                 pg::Connection& c)
                                 -> absl::StatusOr<core::Policy> {
    PG_ASSIGN_OR_RETURN(core::Policy stored, LoadPolicy(c, policy.id));
    absl::StatusOr<Result> updated = c.Run1(
        "UPDATE policies SET name = $2, description = $3, targets = $4, "
        "event_types = $5, filters = $6, retry_policy = $7, enabled = $8, "
        "update_time = $9::int8 WHERE id = $1::int8",
        Params()
            .Int(policy.id)
            .Text(policy.name)
            .Text(policy.description)
            .Text(enc.targets)
            .Text(enc.event_types)
            .Text(enc.filters)
            .Text(enc.retry_policy)
            .Bool(policy.enabled)
            .Int(TimeToMicros(Now())));
    if (!updated.ok()) {
      if (absl::IsAlreadyExists(updated.status())) {
        return absl::AlreadyExistsError(
            absl::StrFormat("a policy named \"%s\" already exists %s",
                            policy.name, DescribeProject(stored.project_id)));
      }
      return updated.status();
    }
    PG_RETURN_IF_ERROR(WriteEventTypes(c, policy.id, policy.event_types));
    return LoadPolicy(c, policy.id);
  });
}

absl::Status PostgresStore::DeletePolicy(int64_t id) {
  if (id <= 0) return pg::NotFound("policy", id);
  return WriteStatus([id](pg::Connection& c) -> absl::Status {
    // ON DELETE CASCADE removes its executions, tasks, task logs, event
    // types and idempotency keys in the same transaction.
    PG_ASSIGN_OR_RETURN(Result r,
                        c.Run1("DELETE FROM policies WHERE id = $1::int8",
                               Params().Int(id)));
    if (r.Affected() == 0) return pg::NotFound("policy", id);
    return absl::OkStatus();
  });
}

// ---- Tokens ----

absl::StatusOr<core::TokenRecord> PostgresStore::CreateToken(
    const core::TokenRecord& token) {
  if (token.secret_hash.empty()) {
    return absl::InvalidArgumentError("a token needs a secret hash");
  }
  return Write<core::TokenRecord>(
      [this, token](pg::Connection& c) -> absl::StatusOr<core::TokenRecord> {
        core::TokenRecord created = token;
        created.create_time = Now();
        absl::StatusOr<Result> r = c.Run1(
            "INSERT INTO tokens (name, role, project_ids, secret_hash, "
            "creator, create_time, expire_time, revoked) VALUES ($1, "
            "$2::int4, $3, $4, $5, $6::int8, $7::int8, $8) RETURNING id",
            Params()
                .Text(token.name)
                .Int(static_cast<int64_t>(token.role))
                .Text(sqlite::EncodeIds(token.project_ids))
                .Text(token.secret_hash)
                .Text(token.creator)
                .Int(TimeToMicros(created.create_time))
                .Int(TimeToMicros(token.expire_time))
                .Bool(token.revoked));
        if (!r.ok()) {
          if (absl::IsAlreadyExists(r.status())) {
            // Never echo the hash.
            return absl::AlreadyExistsError(
                "a token with the same secret already exists");
          }
          return r.status();
        }
        created.id = r->Int64(0, 0);
        return created;
      });
}

absl::StatusOr<core::TokenRecord> PostgresStore::FindTokenByHash(
    const std::string& secret_hash) {
  PG_ASSIGN_OR_RETURN(
      std::vector<Result> r,
      Read({Query{absl::StrCat("SELECT ", pg::kTokenColumns,
                              " FROM tokens WHERE secret_hash = $1"),
                 Params().Text(secret_hash)}}));
  if (r[0].rows() == 0) return absl::NotFoundError("no token has this secret");
  return pg::TokenAt(r[0], 0);
}

absl::StatusOr<std::vector<core::TokenRecord>> PostgresStore::ListTokens() {
  PG_ASSIGN_OR_RETURN(
      std::vector<Result> r,
      Read({Query{absl::StrCat("SELECT ", pg::kTokenColumns,
                              " FROM tokens ORDER BY id"),
                 Params()}}));
  std::vector<core::TokenRecord> tokens;
  for (int row = 0; row < r[0].rows(); ++row) {
    PG_ASSIGN_OR_RETURN(core::TokenRecord t, pg::TokenAt(r[0], row));
    tokens.push_back(std::move(t));
  }
  return tokens;
}

absl::Status PostgresStore::RevokeToken(int64_t id) {
  if (id <= 0) return pg::NotFound("token", id);
  return WriteStatus([id](pg::Connection& c) -> absl::Status {
    PG_ASSIGN_OR_RETURN(
        Result r, c.Run1("UPDATE tokens SET revoked = true WHERE id = $1::int8",
                         Params().Int(id)));
    if (r.Affected() == 0) return pg::NotFound("token", id);
    return absl::OkStatus();
  });
}

// ---- Settings ----

absl::StatusOr<core::Settings> PostgresStore::GetSettings() {
  PG_ASSIGN_OR_RETURN(std::vector<Result> r,
                      Read({Query{"SELECT key, value FROM settings", Params()}}));
  core::Settings settings;  // defaults for every missing key
  for (int row = 0; row < r[0].rows(); ++row) {
    const std::string key = r[0].Text(row, 0);
    const std::string value = r[0].Text(row, 1);
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
}

absl::Status PostgresStore::PutSettings(const core::Settings& settings) {
  PG_RETURN_IF_ERROR(ValidateSettings(settings));
  return WriteStatus([settings](pg::Connection& c) -> absl::Status {
    return c.Run({WriteSettingsQuery(settings)}).status();
  });
}

absl::Status PostgresStore::SeedSettings(const core::Settings& settings) {
  PG_RETURN_IF_ERROR(ValidateSettings(settings));
  return WriteStatus([settings](pg::Connection& c) -> absl::Status {
    // The writer holds the task-update lock, so the check and the write
    // are atomic across replicas too.
    PG_ASSIGN_OR_RETURN(Result r, c.Run1("SELECT count(*) FROM settings"));
    if (r.Int64(0, 0) != 0) return absl::OkStatus();
    return c.Run({WriteSettingsQuery(settings)}).status();
  });
}

// ---- Events ----

void PostgresStore::CommitEventsAsync(
    std::vector<NewEvent> events,
    absl::AnyInvocable<void(absl::StatusOr<std::vector<CommittedEvent>>)>
        done) {
  auto batch = std::make_shared<EventBatch>();
  batch->results.resize(events.size());
  // Validation, encoding and binding happen here, on the caller's thread,
  // so the writer only talks to the server.
  const absl::Time now = Now();
  const int64_t now_us = TimeToMicros(now);
  const int64_t cutoff = TimeToMicros(now - options_.idempotency_window);
  for (size_t i = 0; i < events.size(); ++i) {
    const NewEvent& ev = events[i];
    absl::Status& status = batch->results[i].status;
    if (ev.event.event_type.empty()) {
      status = absl::InvalidArgumentError("an event needs an event type");
      continue;
    }
    std::vector<int64_t> policy_ids;
    std::vector<int32_t> target_index, max_attempts;
    std::vector<std::string> vendor, target, address, content_type, webhook_id,
        endpoint;
    std::vector<std::string_view> payload;
    std::vector<int64_t> due;
    for (const NewDelivery& d : ev.deliveries) {
      status = ValidateDelivery(d);
      if (!status.ok()) break;
      absl::StatusOr<std::string> json = sqlite::EncodeTarget(d.target, options_.secrets.get());
      if (!json.ok()) {
        status = json.status();
        break;
      }
      policy_ids.push_back(d.policy_id);
      target_index.push_back(d.target_index);
      vendor.push_back(pg::VendorText(d.vendor_type));
      target.push_back(*std::move(json));
      address.push_back(d.target.address);
      payload.push_back(d.payload);
      content_type.push_back(d.content_type);
      webhook_id.push_back(d.webhook_id);
      max_attempts.push_back(d.max_attempts);
      due.push_back(TimeToMicros(d.due_time));
      endpoint.push_back(sqlite::EndpointKeyOf(d.target));
    }
    if (!status.ok()) continue;
    Params p;
    p.Int(ev.event.project_id)
        .Text(ev.event.event_type)
        .Text(ev.event.request_id.empty() ? ev.request_id
                                          : ev.event.request_id)
        .Text(ev.event.operator_name)
        .Int(TimeToMicros(ev.event.occur_time))
        .Int(now_us)
        .Bytes(ev.event.data)
        .Text(ev.idempotency_scope)
        .Text(ev.request_id)
        .Int(cutoff)
        .Int8Array(policy_ids)
        .Int4Array(target_index)
        .TextArray(vendor)
        .TextArray(target)
        .TextArray(address)
        .ByteaArray(payload)
        .TextArray(content_type)
        .TextArray(webhook_id)
        .Int4Array(max_attempts)
        .Int8Array(due)
        .TextArray(endpoint)
        .Int(pg::kNever);
    batch->queries.push_back(Query{kCommitEventSql, std::move(p)});
    batch->index.push_back(i);
  }
  WriteItem item;
  item.events = batch;
  item.done = [batch, done = std::move(done)](absl::Status status) mutable {
    if (!status.ok()) {
      done(std::move(status));
    } else {
      done(std::move(batch->results));
    }
  };
  Submit(std::move(item));
}

absl::StatusOr<std::vector<CommittedEvent>> PostgresStore::CommitEvents(
    std::vector<NewEvent> events) {
  absl::StatusOr<std::vector<CommittedEvent>> result;
  absl::Notification done;
  CommitEventsAsync(std::move(events),
                    [&](absl::StatusOr<std::vector<CommittedEvent>> r) {
                      result = std::move(r);
                      done.Notify();
                    });
  done.WaitForNotification();
  return result;
}

absl::StatusOr<core::EventRecord> PostgresStore::GetEvent(int64_t id) {
  PG_ASSIGN_OR_RETURN(
      std::vector<Result> r,
      Read({Query{"SELECT id, project_id, event_type, request_id, "
                 "operator_name, occur_time, create_time, data FROM events "
                 "WHERE id = $1::int8",
                 Params().Int(id)}}));
  if (r[0].rows() == 0) return pg::NotFound("event", id);
  const Result& row = r[0];
  core::EventRecord e;
  e.id = row.Int64(0, 0);
  e.project_id = row.Int64(0, 1);
  e.event_type = row.Text(0, 2);
  e.request_id = row.Text(0, 3);
  e.operator_name = row.Text(0, 4);
  e.occur_time = pg::MicrosToTime(row.Int64(0, 5));
  e.create_time = pg::MicrosToTime(row.Int64(0, 6));
  e.data = row.Bytes(0, 7);
  return e;
}

// ---- Executions and tasks ----

absl::StatusOr<ExecutionList> PostgresStore::ListExecutions(
    const ExecutionQuery& q) {
  if (q.policy_id <= 0) {
    return absl::InvalidArgumentError("listing executions needs a policy id");
  }
  PG_RETURN_IF_ERROR(CheckPage(q.page));
  std::string where = " WHERE e.policy_id = $1::int8";
  Params params;
  params.Int(q.policy_id);
  int n = 1;
  if (q.status.has_value()) {
    absl::StrAppend(&where, " AND t.status = $", ++n);
    params.Text(pg::StatusText(*q.status));
  }
  if (!q.event_type.empty()) {
    absl::StrAppend(&where, " AND e.event_type = $", ++n);
    params.Text(q.event_type);
  }
  Params page = params;
  page.Int(q.page.limit).Int(q.page.offset);
  std::vector<Query> queries;
  queries.push_back(Query{
      absl::StrCat("SELECT count(*) FROM executions e "
                   "JOIN tasks t ON t.execution_id = e.id",
                   where),
      params});
  queries.push_back(
      Query{absl::StrCat(pg::kExecutionSelect, where,
                         " ORDER BY e.id DESC LIMIT $", n + 1,
                         "::int8 OFFSET $", n + 2, "::int8"),
            std::move(page)});
  PG_ASSIGN_OR_RETURN(std::vector<Result> r, Snapshot(std::move(queries)));
  ExecutionList list;
  list.total_size = r[0].Int64(0, 0);
  for (int row = 0; row < r[1].rows(); ++row) {
    PG_ASSIGN_OR_RETURN(core::Execution e, pg::ExecutionAt(r[1], row, options_.secrets.get()));
    list.executions.push_back(std::move(e));
  }
  return list;
}

absl::StatusOr<core::Execution> PostgresStore::GetExecution(int64_t id) {
  PG_ASSIGN_OR_RETURN(
      std::vector<Result> r,
      Read({Query{absl::StrCat(pg::kExecutionSelect, " WHERE e.id = $1::int8"),
                 Params().Int(id)}}));
  if (r[0].rows() == 0) return pg::NotFound("execution", id);
  return pg::ExecutionAt(r[0], 0, options_.secrets.get());
}

absl::StatusOr<TaskCounts> PostgresStore::CountTasks(int64_t execution_id) {
  PG_ASSIGN_OR_RETURN(
      std::vector<Result> r,
      Read({Query{"SELECT e.id, t.status, count(t.id) FROM executions e "
                 "LEFT JOIN tasks t ON t.execution_id = e.id "
                 "WHERE e.id = $1::int8 GROUP BY e.id, t.status",
                 Params().Int(execution_id)}}));
  if (r[0].rows() == 0) return pg::NotFound("execution", execution_id);
  TaskCounts counts;
  for (int row = 0; row < r[0].rows(); ++row) {
    if (r[0].IsNull(row, 1)) continue;
    PG_ASSIGN_OR_RETURN(core::TaskStatus status,
                        pg::ParseStatus(r[0].View(row, 1)));
    const int64_t n = r[0].Int64(row, 2);
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
}

absl::StatusOr<std::vector<core::Task>> PostgresStore::ListTasks(
    int64_t execution_id) {
  PG_ASSIGN_OR_RETURN(
      std::vector<Result> r,
      Read({Query{absl::StrCat("SELECT e.id, ", pg::kTaskColumns,
                              " FROM executions e LEFT JOIN tasks t "
                              "ON t.execution_id = e.id WHERE e.id = $1::int8 "
                              "ORDER BY t.id DESC"),
                 Params().Int(execution_id)}}));
  if (r[0].rows() == 0) return pg::NotFound("execution", execution_id);
  std::vector<core::Task> tasks;
  for (int row = 0; row < r[0].rows(); ++row) {
    if (r[0].IsNull(row, 1)) continue;
    PG_ASSIGN_OR_RETURN(core::Task t, pg::TaskAt(r[0], row, 1));
    tasks.push_back(std::move(t));
  }
  return tasks;
}

absl::StatusOr<core::Task> PostgresStore::GetTask(int64_t id) {
  PG_ASSIGN_OR_RETURN(
      std::vector<Result> r,
      Read({Query{absl::StrCat("SELECT ", pg::kTaskColumns,
                              " FROM tasks t WHERE t.id = $1::int8"),
                 Params().Int(id)}}));
  if (r[0].rows() == 0) return pg::NotFound("task", id);
  return pg::TaskAt(r[0], 0, 0);
}

}  // namespace herald::store
