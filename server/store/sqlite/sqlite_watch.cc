// SqliteStore: the task update log (schema version 3) behind WatchTasks.
#include <limits>

#include "absl/strings/str_cat.h"
#include "server/store/sqlite/sqlite_db.h"
#include "server/store/sqlite/sqlite_store.h"
#include "server/store/sqlite/status_macros.h"

namespace herald::store {
namespace {

using sqlite::Connection;
using sqlite::MicrosToTime;
using sqlite::Statement;

// Columns 0..17 of a TaskUpdate row (task_updates, or the live-state join).
constexpr absl::string_view kUpdateColumns =
    "task_id, execution_id, policy_id, project_id, policy_project_id, "
    "event_id, event_type, vendor_type, target_address, status, run_count, "
    "max_attempts, next_attempt_time, last_response_code, last_error, "
    "create_time, update_time, start_time, end_time";

absl::StatusOr<TaskUpdate> UpdateFromRow(const Statement& s, int first) {
  TaskUpdate u;
  int c = first;
  u.task.id = s.Int64(c++);
  u.execution_id = s.Int64(c++);
  u.task.execution_id = u.execution_id;
  u.policy_id = s.Int64(c++);
  u.project_id = s.Int64(c++);
  u.policy_project_id = s.Int64(c++);
  u.event_id = s.Int64(c++);
  u.event_type = s.Text(c++);
  u.vendor_type = s.Text(c++) == "SLACK" ? core::VendorType::kSlack
                                         : core::VendorType::kWebhook;
  u.target_address = s.Text(c++);
  std::optional<core::TaskStatus> status = core::ParseTaskStatus(s.Text(c++));
  if (!status) return absl::InternalError("unknown task status in the log");
  u.task.status = *status;
  u.task.run_count = s.Int(c++);
  u.task.max_attempts = s.Int(c++);
  u.task.next_attempt_time = MicrosToTime(s.Int64(c++));
  u.task.last_response_code = s.Int(c++);
  u.task.last_error = s.Text(c++);
  u.task.create_time = MicrosToTime(s.Int64(c++));
  u.task.update_time = MicrosToTime(s.Int64(c++));
  u.task.start_time = MicrosToTime(s.Int64(c++));
  u.task.end_time = MicrosToTime(s.Int64(c++));
  return u;
}

}  // namespace

absl::StatusOr<TaskUpdatePage> SqliteStore::ListTaskUpdates(int64_t after_seq,
                                                            int limit) {
  if (limit <= 0) return absl::InvalidArgumentError("limit must be positive");
  TaskUpdatePage page;
  absl::Status status = ReadStatus([&](Connection& c) -> absl::Status {
    STORE_ASSIGN_OR_RETURN(
        Statement bounds,
        // Two subqueries: SQLite answers a lone min() or max() from the
        // end of the b-tree, but min() and max() in one SELECT scan the
        // whole log (this ran after every commit).
        c.Prepare("SELECT coalesce((SELECT min(seq) FROM task_updates), 0), "
                  "coalesce((SELECT max(seq) FROM task_updates), 0)"));
    STORE_ASSIGN_OR_RETURN(bool row, bounds.Step());
    if (row) {
      page.oldest_seq = bounds.Int64(0);
      page.latest_seq = bounds.Int64(1);
    }
    // AUTOINCREMENT keeps seq increasing even after a trim emptied the log.
    STORE_ASSIGN_OR_RETURN(
        Statement last,
        c.Prepare("SELECT seq FROM sqlite_sequence WHERE name = 'task_updates'"));
    STORE_ASSIGN_OR_RETURN(bool has_last, last.Step());
    if (has_last && last.Int64(0) > page.latest_seq) {
      page.latest_seq = last.Int64(0);
    }
    STORE_ASSIGN_OR_RETURN(
        Statement s,
        c.Prepare(absl::StrCat("SELECT seq, ", kUpdateColumns,
                               " FROM task_updates WHERE seq > ?1 "
                               "ORDER BY seq LIMIT ?2")));
    s.Bind(1, after_seq);
    s.Bind(2, static_cast<int64_t>(limit));
    while (true) {
      STORE_ASSIGN_OR_RETURN(bool more, s.Step());
      if (!more) break;
      STORE_ASSIGN_OR_RETURN(TaskUpdate u, UpdateFromRow(s, 1));
      u.seq = s.Int64(0);
      page.updates.push_back(std::move(u));
    }
    return absl::OkStatus();
  });
  if (!status.ok()) return status;
  return page;
}

absl::StatusOr<std::vector<TaskUpdate>> SqliteStore::ListUnfinishedTasks(
    const UnfinishedTaskQuery& q) {
  if (q.limit <= 0) return absl::InvalidArgumentError("limit must be positive");
  std::string where = "t.due_time IS NOT NULL AND t.id > ?1";
  if (q.policy_id > 0) absl::StrAppend(&where, " AND e.policy_id = ?2");
  if (q.execution_id > 0) absl::StrAppend(&where, " AND e.id = ?3");
  if (q.policy_project_ids.has_value()) {
    std::string list;
    for (int64_t p : *q.policy_project_ids) {
      absl::StrAppend(&list, list.empty() ? "" : ",", p);
    }
    absl::StrAppend(&where, " AND p.project_id IN (", list.empty() ? "NULL" : list,
                    ")");
  }
  std::vector<TaskUpdate> out;
  absl::Status status = ReadStatus([&](Connection& c) -> absl::Status {
    STORE_ASSIGN_OR_RETURN(
        Statement s,
        c.Prepare(absl::StrCat(
            "SELECT t.id, e.id, e.policy_id, e.project_id, p.project_id, "
            "e.event_id, e.event_type, e.vendor_type, "
            "coalesce(json_extract(e.target, '$.address'), ''), t.status, "
            "t.run_count, t.max_attempts, t.next_attempt_time, "
            "t.last_response_code, t.last_error, t.create_time, "
            "t.update_time, t.start_time, t.end_time "
            "FROM tasks t JOIN executions e ON e.id = t.execution_id "
            "JOIN policies p ON p.id = e.policy_id WHERE ",
            where, " ORDER BY t.id LIMIT ?4")));
    s.Bind(1, q.after_task_id);
    s.Bind(2, q.policy_id);
    s.Bind(3, q.execution_id);
    s.Bind(4, static_cast<int64_t>(q.limit));
    while (true) {
      STORE_ASSIGN_OR_RETURN(bool more, s.Step());
      if (!more) break;
      STORE_ASSIGN_OR_RETURN(TaskUpdate u, UpdateFromRow(s, 0));
      out.push_back(std::move(u));
    }
    return absl::OkStatus();
  });
  if (!status.ok()) return status;
  return out;
}

absl::StatusOr<int64_t> SqliteStore::TrimTaskUpdates(absl::Time before) {
  int64_t deleted = 0;
  absl::Status status = WriteStatus([&](Connection& c) -> absl::Status {
    // The log is appended in time order, so the old updates are a prefix:
    // everything before the first update made at or after `before` (found
    // by scanning from the oldest row; schema v5 has no index on time).
    STORE_ASSIGN_OR_RETURN(
        Statement s,
        c.Prepare("DELETE FROM task_updates WHERE seq < coalesce("
                  "(SELECT seq FROM task_updates WHERE update_time >= ?1 "
                  "ORDER BY seq LIMIT 1), 9223372036854775807)"));
    s.Bind(1, sqlite::TimeToMicros(before));
    STORE_ASSIGN_OR_RETURN(bool row, s.Step());
    (void)row;
    deleted = c.changes();
    return absl::OkStatus();
  });
  if (!status.ok()) return status;
  return deleted;
}

void SqliteStore::SetTaskUpdateListener(std::function<void()> listener) {
  absl::MutexLock lock(&listener_mu_);
  task_update_listener_ = std::move(listener);
}

}  // namespace herald::store
