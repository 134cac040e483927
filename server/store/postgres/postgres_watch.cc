// PostgresStore: the task update log behind WatchTasks. The log is written
// by the triggers of migration 1; its seq is safe as a cursor because it is
// allocated under the task-update lock (postgres_store.h, "Cursor
// safety"), so one statement's snapshot always sees a prefix of it.
#include <string>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "server/store/postgres/pg_conn.h"
#include "server/store/postgres/postgres_store.h"
#include "server/store/postgres/rows.h"

namespace herald::store {

using pg::Params;
using pg::Query;
using pg::Result;

absl::StatusOr<TaskUpdatePage> PostgresStore::ListTaskUpdates(int64_t after_seq,
                                                              int limit) {
  if (limit <= 0) return absl::InvalidArgumentError("limit must be positive");
  // One statement, one snapshot: the bounds and the page agree.
  PG_ASSIGN_OR_RETURN(
      std::vector<Result> r,
      Read({Query{absl::StrCat(
                     "SELECT b.oldest, b.latest, u.seq, u.task_id, "
                     "u.execution_id, u.policy_id, u.project_id, "
                     "u.policy_project_id, u.event_id, u.event_type, "
                     "u.vendor_type, u.target_address, u.status, u.run_count, "
                     "u.max_attempts, u.next_attempt_time, "
                     "u.last_response_code, u.last_error, u.create_time, "
                     "u.update_time, u.start_time, u.end_time "
                     "FROM (SELECT coalesce(min(seq), 0) AS oldest, "
                     "greatest(coalesce(max(seq), 0), (SELECT seq FROM "
                     "task_updates_trimmed)) AS latest FROM task_updates) b "
                     "LEFT JOIN LATERAL (SELECT * FROM task_updates "
                     "WHERE seq > $1::int8 ORDER BY seq LIMIT $2::int8) u "
                     "ON true ORDER BY u.seq"),
                 Params().Int(after_seq).Int(limit)}}));
  TaskUpdatePage page;
  const Result& rows = r[0];
  for (int row = 0; row < rows.rows(); ++row) {
    page.oldest_seq = rows.Int64(row, 0);
    page.latest_seq = rows.Int64(row, 1);
    if (rows.IsNull(row, 2)) continue;
    PG_ASSIGN_OR_RETURN(TaskUpdate u, pg::UpdateAt(rows, row, 3));
    u.seq = rows.Int64(row, 2);
    page.updates.push_back(std::move(u));
  }
  return page;
}

absl::StatusOr<std::vector<TaskUpdate>> PostgresStore::ListUnfinishedTasks(
    const UnfinishedTaskQuery& q) {
  if (q.limit <= 0) return absl::InvalidArgumentError("limit must be positive");
  std::string where = "t.due_time IS NOT NULL AND t.id > $1::int8";
  Params params;
  params.Int(q.after_task_id).Int(q.limit);
  int n = 2;
  if (q.policy_id > 0) {
    absl::StrAppend(&where, " AND e.policy_id = $", ++n, "::int8");
    params.Int(q.policy_id);
  }
  if (q.execution_id > 0) {
    absl::StrAppend(&where, " AND e.id = $", ++n, "::int8");
    params.Int(q.execution_id);
  }
  if (q.policy_project_ids.has_value()) {
    absl::StrAppend(&where, " AND e.policy_project_id = ANY($", ++n,
                    "::int8[])");
    params.Int8Array(*q.policy_project_ids);
  }
  PG_ASSIGN_OR_RETURN(
      std::vector<Result> r,
      Read({Query{absl::StrCat(
                     "SELECT t.id, e.id, e.policy_id, e.project_id, "
                     "e.policy_project_id, e.event_id, e.event_type, "
                     "e.vendor_type, e.target_address, t.status, t.run_count, "
                     "t.max_attempts, t.next_attempt_time, "
                     "t.last_response_code, t.last_error, t.create_time, "
                     "t.update_time, t.start_time, t.end_time "
                     "FROM tasks t JOIN executions e ON e.id = t.execution_id "
                     "WHERE ",
                     where, " ORDER BY t.id LIMIT $2::int8"),
                 std::move(params)}}));
  std::vector<TaskUpdate> out;
  for (int row = 0; row < r[0].rows(); ++row) {
    PG_ASSIGN_OR_RETURN(TaskUpdate u, pg::UpdateAt(r[0], row, 0));
    out.push_back(std::move(u));
  }
  return out;
}

absl::StatusOr<int64_t> PostgresStore::TrimTaskUpdates(absl::Time before) {
  PG_ASSIGN_OR_RETURN(
      std::vector<Result> r,
      Run({Query{"WITH d AS (DELETE FROM task_updates "
                 "WHERE update_time < $1::int8 RETURNING seq), "
                 "m AS (UPDATE task_updates_trimmed SET seq = greatest(seq, "
                 "(SELECT coalesce(max(seq), 0) FROM d)) RETURNING 1) "
                 "SELECT (SELECT count(*) FROM d), (SELECT count(*) FROM m)",
                 Params().Int(pg::TimeToMicros(before))}}));
  return r[0].Int64(0, 0);
}

}  // namespace herald::store
