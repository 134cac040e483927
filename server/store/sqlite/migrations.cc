#include "server/store/sqlite/migrations.h"

#include <sqlite3.h>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "server/store/sqlite/status_macros.h"

namespace herald::store::sqlite {
namespace {

// Version 1: the initial schema. Times are unix microseconds, with
// INT64_MIN/INT64_MAX standing for "never"/"not scheduled" (see
// TimeToMicros). Ids use AUTOINCREMENT so an id is never reused, even after
// the newest row is deleted (watch cursors and caches rely on that).
constexpr absl::string_view kSchemaV1 = R"sql(
CREATE TABLE policies (
  id            INTEGER PRIMARY KEY AUTOINCREMENT,
  project_id    INTEGER NOT NULL,
  name          TEXT    NOT NULL,
  description   TEXT    NOT NULL,
  targets       TEXT    NOT NULL,  -- JSON array of targets, secrets included
  event_types   TEXT    NOT NULL,  -- JSON array, in the policy's order
  filters       TEXT    NOT NULL,  -- JSON object
  retry_policy  TEXT    NOT NULL,  -- JSON object
  enabled       INTEGER NOT NULL,
  creator       TEXT    NOT NULL,
  create_time   INTEGER NOT NULL,
  update_time   INTEGER NOT NULL,
  UNIQUE (project_id, name)
);
-- The event types of each policy again, indexed for matching and filtering.
CREATE TABLE policy_event_types (
  policy_id   INTEGER NOT NULL REFERENCES policies(id) ON DELETE CASCADE,
  event_type  TEXT    NOT NULL,
  PRIMARY KEY (policy_id, event_type)
) WITHOUT ROWID;
CREATE INDEX policy_event_types_by_type ON policy_event_types(event_type, policy_id);

-- CreatePolicy idempotency keys (kept 24 h).
CREATE TABLE policy_request_ids (
  scope        TEXT    NOT NULL,
  request_id   TEXT    NOT NULL,
  policy_id    INTEGER NOT NULL REFERENCES policies(id) ON DELETE CASCADE,
  create_time  INTEGER NOT NULL,
  PRIMARY KEY (scope, request_id)
) WITHOUT ROWID;
CREATE INDEX policy_request_ids_by_time ON policy_request_ids(create_time);
CREATE INDEX policy_request_ids_by_policy ON policy_request_ids(policy_id);

CREATE TABLE tokens (
  id           INTEGER PRIMARY KEY AUTOINCREMENT,
  name         TEXT    NOT NULL,
  role         INTEGER NOT NULL,
  project_ids  TEXT    NOT NULL,  -- JSON array of integers
  secret_hash  TEXT    NOT NULL UNIQUE,
  creator      TEXT    NOT NULL,
  create_time  INTEGER NOT NULL,
  expire_time  INTEGER NOT NULL,
  revoked      INTEGER NOT NULL DEFAULT 0
);

-- Server settings; a missing key means the default of core::Settings.
CREATE TABLE settings (
  key    TEXT PRIMARY KEY,
  value  TEXT NOT NULL
) WITHOUT ROWID;

CREATE TABLE events (
  id             INTEGER PRIMARY KEY AUTOINCREMENT,
  project_id     INTEGER NOT NULL,
  event_type     TEXT    NOT NULL,
  request_id     TEXT    NOT NULL,
  operator_name  TEXT    NOT NULL,
  occur_time     INTEGER NOT NULL,
  create_time    INTEGER NOT NULL,
  data           BLOB    NOT NULL
);

-- PublishEvents idempotency keys (kept 24 h): the original acknowledgement.
CREATE TABLE event_request_ids (
  scope               TEXT    NOT NULL,
  request_id          TEXT    NOT NULL,
  create_time         INTEGER NOT NULL,
  event_id            INTEGER NOT NULL,
  deliveries_created  INTEGER NOT NULL,
  PRIMARY KEY (scope, request_id)
) WITHOUT ROWID;
CREATE INDEX event_request_ids_by_time ON event_request_ids(create_time);

-- One execution per (event, policy, target). Its status and end time are
-- those of its single task (see tasks).
CREATE TABLE executions (
  id            INTEGER PRIMARY KEY AUTOINCREMENT,
  event_id      INTEGER NOT NULL,
  policy_id     INTEGER NOT NULL REFERENCES policies(id) ON DELETE CASCADE,
  project_id    INTEGER NOT NULL,
  vendor_type   TEXT    NOT NULL,  -- 'WEBHOOK' | 'SLACK'
  event_type    TEXT    NOT NULL,
  target_index  INTEGER NOT NULL,
  target        TEXT    NOT NULL,  -- JSON snapshot of the target
  payload       BLOB    NOT NULL,
  content_type  TEXT    NOT NULL,
  webhook_id    TEXT    NOT NULL,
  start_time    INTEGER NOT NULL
);
CREATE INDEX executions_by_policy ON executions(policy_id, id);
CREATE INDEX executions_by_event ON executions(event_id);

CREATE TABLE tasks (
  id                  INTEGER PRIMARY KEY AUTOINCREMENT,
  execution_id        INTEGER NOT NULL UNIQUE
                        REFERENCES executions(id) ON DELETE CASCADE,
  status              TEXT    NOT NULL,  -- 'Pending', 'Running', ... (Harbor's)
  run_count           INTEGER NOT NULL DEFAULT 0,
  max_attempts        INTEGER NOT NULL,
  next_attempt_time   INTEGER NOT NULL,  -- INT64_MAX = none scheduled
  last_response_code  INTEGER NOT NULL DEFAULT 0,
  last_error          TEXT    NOT NULL DEFAULT '',
  create_time         INTEGER NOT NULL,
  update_time         INTEGER NOT NULL,
  start_time          INTEGER NOT NULL,
  end_time            INTEGER NOT NULL,
  lease_owner         TEXT,              -- NULL = not claimed
  lease_expire_time   INTEGER
);
CREATE INDEX tasks_by_next_attempt ON tasks(next_attempt_time);

-- One line per delivery attempt.
CREATE TABLE task_logs (
  id           INTEGER PRIMARY KEY AUTOINCREMENT,
  task_id      INTEGER NOT NULL REFERENCES tasks(id) ON DELETE CASCADE,
  create_time  INTEGER NOT NULL,
  line         TEXT    NOT NULL
);
CREATE INDEX task_logs_by_task ON task_logs(task_id, id);
)sql";

// Version 2: the delivery engine's claim columns (sqlite_delivery.cc).
//  * due_time: when the task may next be claimed - the first attempt's due
//    time (Pending), the scheduled retry (Error, not final), the lease
//    expiry (Running); NULL exactly when the task is final. One partial
//    index over (endpoint, due_time) serves every claim.
//  * endpoint: the concurrency key ("scheme://host:port", or the address
//    of a Slack target), set at commit. Rows of version 1 keep ''.
constexpr absl::string_view kSchemaV2 = R"sql(
ALTER TABLE tasks ADD COLUMN due_time INTEGER;
ALTER TABLE tasks ADD COLUMN endpoint TEXT NOT NULL DEFAULT '';
UPDATE tasks SET due_time = CASE
  WHEN status = 'Pending' THEN next_attempt_time
  WHEN status = 'Error' AND next_attempt_time < 9223372036854775807
    THEN next_attempt_time
  WHEN status = 'Running' THEN coalesce(lease_expire_time, 0)
  ELSE NULL END;
CREATE INDEX tasks_due ON tasks(endpoint, due_time)
  WHERE due_time IS NOT NULL;
CREATE INDEX tasks_failed ON tasks(id)
  WHERE status = 'Error' AND due_time IS NULL;
)sql";

// Version 3: the task update log WatchTasks streams (sqlite_watch.cc).
// Triggers append one row per task change in the same transaction as the
// change, whoever makes it, numbered by `seq` (the watch cursor).
constexpr absl::string_view kSchemaV3 = R"sql(
CREATE TABLE task_updates (
  seq                 INTEGER PRIMARY KEY AUTOINCREMENT,
  task_id             INTEGER NOT NULL,
  execution_id        INTEGER NOT NULL,
  policy_id           INTEGER NOT NULL,
  project_id          INTEGER NOT NULL,
  policy_project_id   INTEGER NOT NULL,
  event_id            INTEGER NOT NULL,
  event_type          TEXT    NOT NULL,
  vendor_type         TEXT    NOT NULL,
  target_address      TEXT    NOT NULL,
  status              TEXT    NOT NULL,
  run_count           INTEGER NOT NULL,
  max_attempts        INTEGER NOT NULL,
  next_attempt_time   INTEGER NOT NULL,
  last_response_code  INTEGER NOT NULL,
  last_error          TEXT    NOT NULL,
  create_time         INTEGER NOT NULL,
  update_time         INTEGER NOT NULL,
  start_time          INTEGER NOT NULL,
  end_time            INTEGER NOT NULL
);
CREATE TRIGGER task_updates_on_insert AFTER INSERT ON tasks BEGIN
  INSERT INTO task_updates (task_id, execution_id, policy_id, project_id,
    policy_project_id, event_id, event_type, vendor_type, target_address,
    status, run_count, max_attempts, next_attempt_time, last_response_code,
    last_error, create_time, update_time, start_time, end_time)
  SELECT NEW.id, e.id, e.policy_id, e.project_id, p.project_id, e.event_id,
    e.event_type, e.vendor_type, coalesce(json_extract(e.target, '$.address'), ''),
    NEW.status, NEW.run_count, NEW.max_attempts, NEW.next_attempt_time,
    NEW.last_response_code, NEW.last_error, NEW.create_time, NEW.update_time,
    NEW.start_time, NEW.end_time
  FROM executions e JOIN policies p ON p.id = e.policy_id
  WHERE e.id = NEW.execution_id;
END;
CREATE TRIGGER task_updates_on_update AFTER UPDATE ON tasks
  WHEN OLD.status IS NOT NEW.status OR OLD.run_count IS NOT NEW.run_count
    OR OLD.next_attempt_time IS NOT NEW.next_attempt_time
    OR OLD.last_response_code IS NOT NEW.last_response_code
    OR OLD.last_error IS NOT NEW.last_error
BEGIN
  INSERT INTO task_updates (task_id, execution_id, policy_id, project_id,
    policy_project_id, event_id, event_type, vendor_type, target_address,
    status, run_count, max_attempts, next_attempt_time, last_response_code,
    last_error, create_time, update_time, start_time, end_time)
  SELECT NEW.id, e.id, e.policy_id, e.project_id, p.project_id, e.event_id,
    e.event_type, e.vendor_type, coalesce(json_extract(e.target, '$.address'), ''),
    NEW.status, NEW.run_count, NEW.max_attempts, NEW.next_attempt_time,
    NEW.last_response_code, NEW.last_error, NEW.create_time, NEW.update_time,
    NEW.start_time, NEW.end_time
  FROM executions e JOIN policies p ON p.id = e.policy_id
  WHERE e.id = NEW.execution_id;
END;
CREATE INDEX task_updates_by_time ON task_updates(update_time);
)sql";

// Version 4: tasks_by_next_attempt is not used by any query since claims
// use tasks_due (version 2), and every claim and result paid for keeping
// it up to date.
constexpr absl::string_view kSchemaV4 = R"sql(
DROP INDEX IF EXISTS tasks_by_next_attempt;
)sql";

// Version 5: each attempt's log line is appended to tasks.log by the same
// UPDATE that records the attempt's result, instead of a task_logs row per
// attempt (an insert into a second table and its index, and an
// AUTOINCREMENT counter update, on every delivery). Lines are stored with
// their trailing newline. task_logs keeps the lines written before this
// version; GetTaskLog returns those first, then tasks.log.
// task_updates_by_time goes too: every task change paid for an entry in it,
// and TrimTaskUpdates finds the cut by scanning the log from its oldest
// row (seq order is time order) instead.
constexpr absl::string_view kSchemaV5 = R"sql(
ALTER TABLE tasks ADD COLUMN log TEXT NOT NULL DEFAULT '';
DROP INDEX IF EXISTS task_updates_by_time;
)sql";

// Turns the first failure reading the file into the documented codes.
absl::Status OpenError(Connection& conn, const absl::Status& status,
                       absl::string_view path) {
  if (IsCorruptionCode(conn.extended_errcode())) {
    return absl::DataLossError(absl::StrCat(
        path, " is not a SQLite database or is corrupt: ", status.message()));
  }
  return status;
}

}  // namespace

const std::vector<Migration>& Migrations() {
  static const auto* const migrations = new std::vector<Migration>{
      {1, "initial schema", kSchemaV1},
      {2, "delivery claims", kSchemaV2},
      {3, "task update log", kSchemaV3},
      {4, "drop the unused next-attempt index", kSchemaV4},
      {5, "attempt log lines in the task row, no update-log time index", kSchemaV5},
  };
  return *migrations;
}

int LatestSchemaVersion() { return Migrations().back().version; }

absl::Status Migrate(Connection& conn, absl::string_view path) {
  absl::StatusOr<int64_t> version = conn.QueryInt("PRAGMA user_version");
  if (!version.ok()) return OpenError(conn, version.status(), path);
  STORE_ASSIGN_OR_RETURN(int64_t app_id,
                         conn.QueryInt("PRAGMA application_id"));
  if (app_id != 0 && app_id != kApplicationId) {
    return absl::FailedPreconditionError(absl::StrFormat(
        "%s is a SQLite database of another application (application_id "
        "0x%08x), not herald's",
        path, app_id));
  }
  if (*version == 0) {
    STORE_ASSIGN_OR_RETURN(
        int64_t objects, conn.QueryInt("SELECT count(*) FROM sqlite_schema"));
    if (objects != 0 && app_id != kApplicationId) {
      return absl::FailedPreconditionError(absl::StrCat(
          path, " is a SQLite database with tables but no herald schema"));
    }
  }
  if (*version > LatestSchemaVersion()) {
    return absl::FailedPreconditionError(absl::StrFormat(
        "%s has schema version %d, newer than the newest this heraldd knows "
        "(%d); run a newer heraldd or restore a backup",
        path, *version, LatestSchemaVersion()));
  }
  for (const Migration& m : Migrations()) {
    if (m.version <= *version) continue;
    STORE_RETURN_IF_ERROR(conn.Exec("BEGIN IMMEDIATE"));
    // Another process may have migrated between our read and BEGIN.
    absl::StatusOr<int64_t> now = conn.QueryInt("PRAGMA user_version");
    absl::Status s = now.status();
    if (s.ok() && *now >= m.version) {
      STORE_RETURN_IF_ERROR(conn.Exec("COMMIT"));
      continue;
    }
    if (s.ok()) s = conn.Exec(m.sql);
    if (s.ok()) {
      s = conn.Exec(absl::StrFormat("PRAGMA application_id = %d; "
                                    "PRAGMA user_version = %d",
                                    kApplicationId, m.version));
    }
    if (s.ok()) s = conn.Exec("COMMIT");
    if (!s.ok()) {
      if (conn.in_transaction()) conn.Exec("ROLLBACK").IgnoreError();
      return absl::Status(
          s.code(), absl::StrFormat("%s: schema migration %d (%s) failed: %s",
                                    path, m.version, m.name, s.message()));
    }
  }
  return absl::OkStatus();
}

}  // namespace herald::store::sqlite
