// The delivery engine's part of PostgresStore: claims with leases (FOR
// UPDATE SKIP LOCKED), results, releases, task logs, redelivery,
// RecoverFailed pages, retention (one replica at a time) and queue depth.
// Every transaction that writes tasks takes the task-update lock first
// (postgres_store.h, "Cursor safety").
#include <algorithm>
#include <map>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "absl/cleanup/cleanup.h"
#include "absl/strings/str_cat.h"
#include "absl/synchronization/notification.h"
#include "absl/time/time.h"
#include "server/store/postgres/batches.h"
#include "server/store/postgres/migrations.h"
#include "server/store/postgres/pg_conn.h"
#include "server/store/postgres/pg_pool.h"
#include "server/store/postgres/postgres_store.h"
#include "server/store/postgres/rows.h"
#include "server/store/sqlite/codec.h"

namespace herald::store {

using pg::Params;
using pg::Query;
using pg::Result;
using pg::TimeToMicros;

namespace {

// Rows deleted per retention transaction.
constexpr int kSweepChunk = 256;

std::string FormatLogTime(absl::Time t) {
  return absl::FormatTime("%Y-%m-%dT%H:%M:%E3SZ", t, absl::UTCTimeZone());
}

// One statement: the endpoint keys with unfinished work (a loose index scan
// over tasks_due), per key its earliest due tasks up to its room, locked
// with SKIP LOCKED (a task another transaction holds is not waited for),
// the earliest `limit` of those taken under a lease, returned with what an
// attempt needs, earliest due first.
//  $1 owner, $2 now, $3 limit, $4 default room, $5/$6 room overrides,
//  $7 lease expiry, $8 "not scheduled", $9 "never", $10/$11 the NOTIFY
//  channel and payload: sent once, and only when a task was claimed (an
//  empty claim then stays a read-only transaction: no commit record).
constexpr const char* kClaimSql = R"sql(
WITH RECURSIVE eps(endpoint) AS (
  (SELECT endpoint FROM tasks WHERE due_time IS NOT NULL
   ORDER BY endpoint LIMIT 1)
  UNION ALL
  SELECT (SELECT t.endpoint FROM tasks t
          WHERE t.due_time IS NOT NULL AND t.endpoint > eps.endpoint
          ORDER BY t.endpoint LIMIT 1)
  FROM eps WHERE eps.endpoint IS NOT NULL),
rooms AS (
  SELECT eps.endpoint,
    coalesce((SELECT r.room FROM unnest($5::text[], $6::int4[])
                AS r(endpoint, room)
              WHERE r.endpoint = eps.endpoint LIMIT 1), $4::int4) AS room
  FROM eps WHERE eps.endpoint IS NOT NULL),
cand AS (
  SELECT c.id, c.due_time FROM rooms
  CROSS JOIN LATERAL (
    SELECT t.id, t.due_time FROM tasks t
    WHERE t.endpoint = rooms.endpoint AND t.due_time IS NOT NULL
      AND t.due_time <= $2::int8
      AND (t.lease_owner IS NULL OR t.lease_owner <> $1::text)
    ORDER BY t.due_time LIMIT least(rooms.room, $3::int8)
    FOR UPDATE OF t SKIP LOCKED) c
  WHERE rooms.room > 0
  ORDER BY c.due_time, c.id LIMIT $3::int8),
upd AS (
  UPDATE tasks t SET status = 'Running',
    run_count = CASE WHEN t.status = 'Running' THEN t.run_count
                ELSE t.run_count + 1 END,
    lease_owner = $1::text, lease_expire_time = $7::int8, due_time = $7::int8,
    next_attempt_time = $8::int8,
    start_time = CASE WHEN t.start_time = $9::int8 THEN $2::int8
                 ELSE t.start_time END,
    update_time = $2::int8
  FROM cand WHERE t.id = cand.id
  RETURNING t.id, t.execution_id, t.status, t.run_count, t.max_attempts,
    t.next_attempt_time, t.last_response_code, t.last_error, t.create_time,
    t.update_time, t.start_time, t.end_time, t.endpoint, t.lease_expire_time,
    cand.due_time AS claim_due)
SELECT upd.id, upd.execution_id, upd.status, upd.run_count, upd.max_attempts,
  upd.next_attempt_time, upd.last_response_code, upd.last_error,
  upd.create_time, upd.update_time, upd.start_time, upd.end_time,
  e.id, e.event_id, e.policy_id, e.project_id, e.vendor_type, e.event_type,
  e.target_index, e.target, e.payload, e.content_type, e.webhook_id,
  e.start_time, p.retry_policy, upd.endpoint, upd.lease_expire_time,
  (SELECT pg_notify($10::text, $11::text)) AS notified
FROM upd JOIN executions e ON e.id = upd.execution_id
JOIN policies p ON p.id = e.policy_id
ORDER BY upd.claim_due, upd.id
)sql";

absl::StatusOr<ClaimedTask> ClaimedAt(const Result& r, int row,
                                      const SecretBox* secrets) {
  ClaimedTask out;
  PG_ASSIGN_OR_RETURN(out.task, pg::TaskAt(r, row, 0));
  core::Execution& e = out.execution;
  e.id = r.Int64(row, 12);
  e.event_id = r.Int64(row, 13);
  e.policy_id = r.Int64(row, 14);
  e.project_id = r.Int64(row, 15);
  e.vendor_type = pg::ParseVendor(r.View(row, 16));
  e.event_type = r.Text(row, 17);
  e.target_index = r.Int(row, 18);
  PG_ASSIGN_OR_RETURN(e.target,
                      sqlite::DecodeTarget(pg::Sv(r.View(row, 19)), secrets));
  e.payload = r.Bytes(row, 20);
  e.content_type = r.Text(row, 21);
  e.webhook_id = r.Text(row, 22);
  e.start_time = pg::MicrosToTime(r.Int64(row, 23));
  e.status = out.task.status;
  e.end_time = out.task.end_time;
  PG_ASSIGN_OR_RETURN(out.retry_policy,
                      sqlite::DecodeRetryPolicy(pg::Sv(r.View(row, 24))));
  out.endpoint = r.Text(row, 25);
  out.lease_expire_time = pg::MicrosToTime(r.Int64(row, 26));
  return out;
}

// Results of one CompleteTasks call. Only the first result per task can
// apply (DISTINCT ON); a result applies when the task is Running under
// (owner, run_count). Returns the 1-based positions applied.
//  $1 owner, $2 now, $3.. one array per field.
constexpr const char* kCompleteSql = R"sql(
WITH r AS (
  SELECT DISTINCT ON (id) * FROM unnest($3::int8[], $4::int4[], $5::text[],
      $6::int8[], $7::int8[], $8::int4[], $9::text[], $10::int8[],
      $11::text[]) WITH ORDINALITY
    AS r(id, run_count, status, next_time, due, code, error, end_time, line,
         ord)
  ORDER BY id, ord),
u AS (
  UPDATE tasks t SET status = r.status, next_attempt_time = r.next_time,
    due_time = r.due, last_response_code = r.code, last_error = r.error,
    end_time = r.end_time, update_time = $2::int8, lease_owner = NULL,
    lease_expire_time = NULL
  FROM r
  WHERE t.id = r.id AND t.status = 'Running' AND t.lease_owner = $1::text
    AND t.run_count = r.run_count
  RETURNING r.ord, t.id, r.line),
l AS (
  INSERT INTO task_logs (task_id, create_time, line)
  SELECT id, $2::int8, line FROM u WHERE line <> '' ORDER BY ord)
SELECT ord FROM u
)sql";

absl::Status ValidateResult(const TaskResult& r) {
  if (r.task_id <= 0) {
    return absl::InvalidArgumentError("a task result needs a task id");
  }
  if (r.outcome == TaskResult::Outcome::kRetry &&
      (r.next_attempt_time == absl::InfiniteFuture() ||
       r.next_attempt_time == absl::InfinitePast())) {
    return absl::InvalidArgumentError(
        "a retry needs a finite next_attempt_time");
  }
  return absl::OkStatus();
}

// Starts a new cycle of a final task: (status before, final before, the
// task after) - no row when the task does not exist.
//  $1 task, $2 max attempts, $3 now, $4 "never", $5 log line.
constexpr const char* kRedeliverSql = R"sql(
WITH cur AS (
  SELECT id, status, due_time IS NULL AS final FROM tasks WHERE id = $1::int8),
u AS (
  UPDATE tasks t SET status = 'Pending', run_count = 0,
    max_attempts = $2::int4, next_attempt_time = $3::int8,
    due_time = $3::int8, last_response_code = 0, last_error = '',
    start_time = $4::int8, end_time = $4::int8, lease_owner = NULL,
    lease_expire_time = NULL, update_time = $3::int8
  FROM cur WHERE t.id = cur.id AND cur.final
  RETURNING t.id, t.execution_id, t.status, t.run_count, t.max_attempts,
    t.next_attempt_time, t.last_response_code, t.last_error, t.create_time,
    t.update_time, t.start_time, t.end_time),
l AS (
  INSERT INTO task_logs (task_id, create_time, line)
  SELECT u.id, $3::int8, $5::text FROM u)
SELECT cur.status, cur.final, u.* FROM cur LEFT JOIN u ON true
)sql";

Query RedeliverQuery(const Redelivery& r, absl::Time now) {
  return Query{
      kRedeliverSql,
      Params()
          .Int(r.task_id)
          .Int(r.max_attempts)
          .Int(TimeToMicros(now))
          .Int(pg::kNever)
          .Text(absl::StrCat(FormatLogTime(now),
                             " redelivery requested: new cycle of ",
                             r.max_attempts, " attempt",
                             r.max_attempts == 1 ? "" : "s"))};
}

// OK (with the task), kNotFound or kFailedPrecondition.
absl::StatusOr<core::Task> RedeliveryOutcome(const Result& r, int64_t task_id) {
  if (r.rows() == 0) {
    return absl::NotFoundError(absl::StrCat("task ", task_id, " not found"));
  }
  if (!r.Bool(0, 1)) {
    return absl::FailedPreconditionError(
        absl::StrCat("task ", task_id, " is not final (", r.Text(0, 0),
                     "): only a finished task can be redelivered"));
  }
  return pg::TaskAt(r, 0, 2);
}

absl::Status ValidateRedelivery(const Redelivery& r) {
  if (r.max_attempts < 1) {
    return absl::InvalidArgumentError("max_attempts must be at least 1");
  }
  return absl::OkStatus();
}

}  // namespace

// ---- Claims ----

absl::StatusOr<std::vector<ClaimedTask>> PostgresStore::ClaimTasks(
    const ClaimOptions& o) {
  if (o.owner.empty()) {
    return absl::InvalidArgumentError("a claim needs a lease owner");
  }
  if (o.lease <= absl::ZeroDuration() || o.limit <= 0 ||
      o.default_endpoint_room < 0) {
    return absl::InvalidArgumentError(
        "a claim needs a positive lease and limit and a non-negative room");
  }
  std::vector<std::string> keys;
  std::vector<int32_t> rooms;
  for (const auto& [key, room] : o.endpoint_room) {
    keys.push_back(key);
    rooms.push_back(room);
  }
  const absl::Time now = Now();
  PG_ASSIGN_OR_RETURN(
      std::vector<Result> r,
      Locked({Query{kClaimSql, Params()
                                   .Text(o.owner)
                                   .Int(TimeToMicros(now))
                                   .Int(o.limit)
                                   .Int(o.default_endpoint_room)
                                   .TextArray(keys)
                                   .Int4Array(rooms)
                                   .Int(TimeToMicros(now + o.lease))
                                   .Int(pg::kNotScheduled)
                                   .Int(pg::kNever)
                                   .Text(update_channel_)
                                   .Text(instance_id_)}}));
  std::vector<ClaimedTask> claimed;
  claimed.reserve(r[0].rows());
  for (int row = 0; row < r[0].rows(); ++row) {
    absl::StatusOr<ClaimedTask> t = ClaimedAt(r[0], row, options_.secrets.get());
    if (!t.ok()) {
      // Nobody will work on them: hand everything back.
      std::vector<TaskLease> leases;
      for (int k = 0; k < r[0].rows(); ++k) {
        leases.push_back({r[0].Int64(k, 0), r[0].Int(k, 3)});
      }
      ReleaseTasks(o.owner, std::move(leases)).IgnoreError();
      return t.status();
    }
    claimed.push_back(*std::move(t));
  }
  if (!claimed.empty()) TaskUpdatesCommitted();
  return claimed;
}

// ---- Results ----

void PostgresStore::CompleteTasksAsync(
    const std::string& owner, std::vector<TaskResult> results,
    absl::AnyInvocable<void(absl::StatusOr<std::vector<bool>>)> done) {
  if (owner.empty()) {
    done(absl::InvalidArgumentError("results need the lease owner"));
    return;
  }
  for (const TaskResult& r : results) {
    if (absl::Status s = ValidateResult(r); !s.ok()) {
      done(s);
      return;
    }
  }
  if (results.empty()) {
    done(std::vector<bool>{});
    return;
  }
  const int64_t now_us = TimeToMicros(Now());
  std::vector<int64_t> ids, next, end;
  std::vector<std::optional<int64_t>> due;
  std::vector<int32_t> runs, codes;
  std::vector<std::string> statuses, errors, lines;
  for (const TaskResult& r : results) {
    core::TaskStatus status = core::TaskStatus::kError;
    int64_t next_us = pg::kNotScheduled;
    std::optional<int64_t> due_us;  // NULL = final
    int64_t end_us = now_us;
    switch (r.outcome) {
      case TaskResult::Outcome::kSuccess:
        status = core::TaskStatus::kSuccess;
        break;
      case TaskResult::Outcome::kRetry:
        next_us = TimeToMicros(r.next_attempt_time);
        due_us = next_us;
        end_us = pg::kNever;
        break;
      case TaskResult::Outcome::kFailed:
        break;
    }
    ids.push_back(r.task_id);
    runs.push_back(r.run_count);
    statuses.push_back(pg::StatusText(status));
    next.push_back(next_us);
    due.push_back(due_us);
    codes.push_back(r.response_code);
    errors.push_back(r.error);
    end.push_back(end_us);
    lines.push_back(r.log_line);
  }
  auto batch = std::make_shared<ResultBatch>();
  batch->applied.assign(results.size(), false);
  batch->query = Query{kCompleteSql, Params()
                                         .Text(owner)
                                         .Int(now_us)
                                         .Int8Array(ids)
                                         .Int4Array(runs)
                                         .TextArray(statuses)
                                         .Int8Array(next)
                                         .Int8ArrayNullable(due)
                                         .Int4Array(codes)
                                         .TextArray(errors)
                                         .Int8Array(end)
                                         .TextArray(lines)};
  WriteItem item;
  item.results = batch;
  item.done = [batch, done = std::move(done)](absl::Status status) mutable {
    if (status.ok()) status = batch->status;
    if (!status.ok()) {
      done(std::move(status));
    } else {
      done(std::move(batch->applied));
    }
  };
  Submit(std::move(item));
}

absl::StatusOr<std::vector<bool>> PostgresStore::CompleteTasks(
    const std::string& owner, std::vector<TaskResult> results) {
  absl::StatusOr<std::vector<bool>> out;
  absl::Notification done;
  CompleteTasksAsync(owner, std::move(results),
                     [&](absl::StatusOr<std::vector<bool>> r) {
                       out = std::move(r);
                       done.Notify();
                     });
  done.WaitForNotification();
  return out;
}

absl::StatusOr<int> PostgresStore::ReleaseTasks(const std::string& owner,
                                                std::vector<TaskLease> leases) {
  if (owner.empty()) {
    return absl::InvalidArgumentError("releasing needs the lease owner");
  }
  if (leases.empty()) return 0;
  std::vector<int64_t> ids;
  std::vector<int32_t> runs;
  for (const TaskLease& l : leases) {
    ids.push_back(l.task_id);
    runs.push_back(l.run_count);
  }
  const int64_t now_us = TimeToMicros(Now());
  // SET expressions see the row as it was before the update.
  PG_ASSIGN_OR_RETURN(
      std::vector<Result> r,
      Locked({Query{"UPDATE tasks t SET status = CASE WHEN t.run_count <= 1 "
                    "THEN 'Pending' ELSE 'Error' END, "
                    "run_count = greatest(t.run_count - 1, 0), "
                    "start_time = CASE WHEN t.run_count <= 1 THEN $5::int8 "
                    "ELSE t.start_time END, "
                    "next_attempt_time = $4::int8, due_time = $4::int8, "
                    "update_time = $4::int8, lease_owner = NULL, "
                    "lease_expire_time = NULL "
                    "FROM unnest($2::int8[], $3::int4[]) AS l(id, run) "
                    "WHERE t.id = l.id AND t.status = 'Running' "
                    "AND t.lease_owner = $1::text AND t.run_count = l.run",
                    Params()
                        .Text(owner)
                        .Int8Array(ids)
                        .Int4Array(runs)
                        .Int(now_us)
                        .Int(pg::kNever)},
              Notify(update_channel_), Notify(work_channel_)}));
  const int released = static_cast<int>(r[0].Affected());
  if (released > 0) {
    TaskUpdatesCommitted();
    NotifyWork();
  }
  return released;
}

absl::StatusOr<int> PostgresStore::ExpireLeases(const std::string& owner) {
  const int64_t now_us = TimeToMicros(Now());
  PG_ASSIGN_OR_RETURN(
      std::vector<Result> r,
      Locked({Query{"UPDATE tasks SET due_time = least(due_time, $1::int8), "
                    "lease_expire_time = least(coalesce(lease_expire_time, "
                    "$1::int8), $1::int8) WHERE due_time IS NOT NULL "
                    "AND status = 'Running' "
                    "AND (lease_owner IS NULL OR lease_owner <> $2::text)",
                    Params().Int(now_us).Text(owner)}}));
  return static_cast<int>(r[0].Affected());
}

// ---- Logs ----

absl::StatusOr<std::string> PostgresStore::GetTaskLog(int64_t task_id) {
  PG_ASSIGN_OR_RETURN(
      std::vector<Result> r,
      Read({Query{"SELECT l.line FROM tasks t "
                 "LEFT JOIN task_logs l ON l.task_id = t.id "
                 "WHERE t.id = $1::int8 ORDER BY l.id",
                 Params().Int(task_id)}}));
  if (r[0].rows() == 0) {
    return absl::NotFoundError(absl::StrCat("task ", task_id, " not found"));
  }
  std::string log;
  for (int row = 0; row < r[0].rows(); ++row) {
    if (r[0].IsNull(row, 0)) continue;
    absl::StrAppend(&log, pg::Sv(r[0].View(row, 0)), "\n");
  }
  return log;
}

// ---- Redelivery ----

absl::StatusOr<core::Task> PostgresStore::RedeliverTask(const Redelivery& r) {
  PG_RETURN_IF_ERROR(ValidateRedelivery(r));
  PG_ASSIGN_OR_RETURN(
      std::vector<Result> results,
      Locked({RedeliverQuery(r, Now()), Notify(update_channel_),
              Notify(work_channel_)}));
  PG_ASSIGN_OR_RETURN(core::Task task, RedeliveryOutcome(results[0], r.task_id));
  TaskUpdatesCommitted();
  NotifyWork();
  return task;
}

absl::StatusOr<std::vector<absl::Status>> PostgresStore::RedeliverTasks(
    std::vector<Redelivery> redeliveries) {
  for (const Redelivery& r : redeliveries) {
    PG_RETURN_IF_ERROR(ValidateRedelivery(r));
  }
  if (redeliveries.empty()) return std::vector<absl::Status>{};
  const absl::Time now = Now();
  std::vector<Query> queries;
  for (const Redelivery& r : redeliveries) {
    queries.push_back(RedeliverQuery(r, now));
  }
  queries.push_back(Notify(update_channel_));
  queries.push_back(Notify(work_channel_));
  PG_ASSIGN_OR_RETURN(std::vector<Result> results, Locked(std::move(queries)));
  std::vector<absl::Status> out;
  bool any = false;
  for (size_t i = 0; i < redeliveries.size(); ++i) {
    out.push_back(
        RedeliveryOutcome(results[i], redeliveries[i].task_id).status());
    any = any || out.back().ok();
  }
  if (any) {
    TaskUpdatesCommitted();
    NotifyWork();
  }
  return out;
}

absl::StatusOr<std::vector<FailedTask>> PostgresStore::ListFailedTasks(
    const FailedTaskQuery& q) {
  if ((q.policy_id > 0) == q.project_id.has_value()) {
    return absl::InvalidArgumentError(
        "listing failed tasks needs exactly one of a policy or a project");
  }
  if (q.limit <= 0 || q.after_execution_id < 0) {
    return absl::InvalidArgumentError("bad page of failed tasks");
  }
  const std::string scope =
      q.policy_id > 0 ? "e.policy_id = $4::int8"
                      : "e.policy_project_id = $4::int8";
  PG_ASSIGN_OR_RETURN(
      std::vector<Result> r,
      Read({Query{absl::StrCat(
                     "SELECT t.id, t.execution_id, e.policy_id FROM tasks t "
                     "JOIN executions e ON e.id = t.execution_id "
                     "WHERE t.status = 'Error' AND t.due_time IS NULL "
                     "AND e.id > $1::int8 AND e.start_time >= $2::int8 "
                     "AND e.start_time < $3::int8 AND ",
                     scope, " ORDER BY e.id LIMIT $5::int8"),
                 Params()
                     .Int(q.after_execution_id)
                     .Int(TimeToMicros(q.start_time))
                     .Int(TimeToMicros(q.end_time))
                     .Int(q.policy_id > 0 ? q.policy_id : *q.project_id)
                     .Int(q.limit)}}));
  std::vector<FailedTask> out;
  for (int row = 0; row < r[0].rows(); ++row) {
    out.push_back({r[0].Int64(row, 0), r[0].Int64(row, 1), r[0].Int64(row, 2)});
  }
  return out;
}

// ---- Retention ----

absl::StatusOr<int64_t> PostgresStore::SweepExecutions(int keep,
                                                       int64_t max_delete) {
  if (keep < 0 || max_delete <= 0) {
    return absl::InvalidArgumentError(
        "retention needs keep >= 0 and max_delete > 0");
  }
  PG_ASSIGN_OR_RETURN(pg::Pool::Lease lease, pool_->Acquire());
  const std::string key = absl::StrCat(pg::kLockClassSweep,
                                       ", hashtext(current_schema())");
  // One replica at a time: the others skip this round.
  PG_ASSIGN_OR_RETURN(
      Result locked,
      lease->Run1(absl::StrCat("SELECT pg_try_advisory_lock(", key, ")")));
  if (!locked.Bool(0, 0)) return 0;
  absl::Cleanup unlock = [&lease, &key] {
    if (!lease->broken()) {
      lease->Run1(absl::StrCat("SELECT pg_advisory_unlock(", key, ")"))
          .IgnoreError();
    }
  };
  // Per policy and vendor type, the finished executions after the newest
  // `keep` finished ones (executions_by_policy, newest first).
  PG_ASSIGN_OR_RETURN(
      Result found,
      lease->Run1("SELECT x.id FROM policies p "
                  "CROSS JOIN (VALUES ('WEBHOOK'), ('SLACK')) AS v(vendor) "
                  "CROSS JOIN LATERAL (SELECT e.id FROM executions e "
                  "JOIN tasks t ON t.execution_id = e.id "
                  "WHERE e.policy_id = p.id AND e.vendor_type = v.vendor "
                  "AND t.due_time IS NULL ORDER BY e.id DESC "
                  "OFFSET $1::int8 LIMIT $2::int8) x LIMIT $2::int8",
                  Params().Int(keep).Int(max_delete)));
  std::vector<int64_t> doomed;
  for (int row = 0; row < found.rows(); ++row) {
    doomed.push_back(found.Int64(row, 0));
  }
  // Delete in small transactions, re-checking that each is still finished
  // (a redelivery may have restarted it meanwhile). Tasks and logs go with
  // their execution (ON DELETE CASCADE).
  int64_t deleted = 0;
  for (size_t from = 0; from < doomed.size(); from += kSweepChunk) {
    const size_t to = std::min(doomed.size(), from + kSweepChunk);
    std::vector<int64_t> chunk(doomed.begin() + from, doomed.begin() + to);
    PG_ASSIGN_OR_RETURN(
        std::vector<Result> r,
        lease->Run({Query{"SELECT herald_lock_task_updates()", Params()},
                    Query{"DELETE FROM executions e "
                          "WHERE e.id = ANY($1::int8[]) AND EXISTS "
                          "(SELECT 1 FROM tasks t WHERE t.execution_id = e.id "
                          "AND t.due_time IS NULL)",
                          Params().Int8Array(chunk)}}));
    deleted += r[1].Affected();
  }
  return deleted;
}

absl::StatusOr<QueueDepth> PostgresStore::CountQueue() {
  PG_ASSIGN_OR_RETURN(
      std::vector<Result> r,
      Read({Query{"SELECT status, count(*) FROM tasks "
                 "WHERE due_time IS NOT NULL GROUP BY status",
                 Params()}}));
  QueueDepth depth;
  for (int row = 0; row < r[0].rows(); ++row) {
    PG_ASSIGN_OR_RETURN(core::TaskStatus status,
                        pg::ParseStatus(r[0].View(row, 0)));
    const int64_t n = r[0].Int64(row, 1);
    switch (status) {
      case core::TaskStatus::kPending: depth.pending += n; break;
      case core::TaskStatus::kError: depth.retrying += n; break;
      case core::TaskStatus::kRunning: depth.running += n; break;
      default: break;
    }
  }
  return depth;
}

}  // namespace herald::store
