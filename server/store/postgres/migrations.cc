#include "server/store/postgres/migrations.h"

#include <string>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_replace.h"

namespace herald::store::pg {
namespace {

// Version 1: the whole schema of the SQLite store's versions 1-3, in
// PostgreSQL terms. Times are unix microseconds with INT64_MIN/INT64_MAX
// for "never"/"not scheduled" (pg_conn.h TimeToMicros). Ids come from
// sequences (bigserial): never reused.
//
// Differences from SQLite:
//  * executions carry policy_project_id and target_address, so the task
//    update log needs no JSON parsing and no join to policies;
//  * the update log is written by statement-level triggers with transition
//    tables (one INSERT ... SELECT per statement, not one per row);
//  * seq comes from the sequence task_updates_seq, allocated only while the
//    transaction holds the task-update lock (see "Cursor safety" in
//    postgres_store.h), so seq order is commit order.
// Functions and triggers name the schema explicitly and use its hash as a
// literal (no per-call search_path switch, no hashing): renaming the schema
// is not supported.
constexpr std::string_view kSchemaV1 = R"sql(
CREATE TABLE policies (
  id            bigserial PRIMARY KEY,
  project_id    bigint  NOT NULL,
  name          text    NOT NULL,
  description   text    NOT NULL,
  targets       text    NOT NULL,  -- JSON array of targets, secrets included
  event_types   text    NOT NULL,  -- JSON array, in the policy's order
  filters       text    NOT NULL,  -- JSON object
  retry_policy  text    NOT NULL,  -- JSON object
  enabled       boolean NOT NULL,
  creator       text    NOT NULL,
  create_time   bigint  NOT NULL,
  update_time   bigint  NOT NULL,
  UNIQUE (project_id, name)
);
CREATE TABLE policy_event_types (
  policy_id   bigint NOT NULL REFERENCES policies(id) ON DELETE CASCADE,
  event_type  text   NOT NULL,
  PRIMARY KEY (policy_id, event_type)
);
CREATE INDEX policy_event_types_by_type ON policy_event_types(event_type, policy_id);

CREATE TABLE policy_request_ids (
  scope        text   NOT NULL,
  request_id   text   NOT NULL,
  policy_id    bigint NOT NULL REFERENCES policies(id) ON DELETE CASCADE,
  create_time  bigint NOT NULL,
  PRIMARY KEY (scope, request_id)
);
CREATE INDEX policy_request_ids_by_time ON policy_request_ids(create_time);
CREATE INDEX policy_request_ids_by_policy ON policy_request_ids(policy_id);

CREATE TABLE tokens (
  id           bigserial PRIMARY KEY,
  name         text    NOT NULL,
  role         integer NOT NULL,
  project_ids  text    NOT NULL,  -- JSON array of integers
  secret_hash  text    NOT NULL UNIQUE,
  creator      text    NOT NULL,
  create_time  bigint  NOT NULL,
  expire_time  bigint  NOT NULL,
  revoked      boolean NOT NULL DEFAULT false
);

CREATE TABLE settings (
  key    text PRIMARY KEY,
  value  text NOT NULL
);

CREATE TABLE events (
  id             bigserial PRIMARY KEY,
  project_id     bigint NOT NULL,
  event_type     text   NOT NULL,
  request_id     text   NOT NULL,
  operator_name  text   NOT NULL,
  occur_time     bigint NOT NULL,
  create_time    bigint NOT NULL,
  data           bytea  NOT NULL
);

CREATE TABLE event_request_ids (
  scope               text    NOT NULL,
  request_id          text    NOT NULL,
  create_time         bigint  NOT NULL,
  event_id            bigint  NOT NULL,
  deliveries_created  integer NOT NULL,
  PRIMARY KEY (scope, request_id)
);
CREATE INDEX event_request_ids_by_time ON event_request_ids(create_time);

CREATE TABLE executions (
  id                 bigserial PRIMARY KEY,
  event_id           bigint  NOT NULL,
  policy_id          bigint  NOT NULL REFERENCES policies(id) ON DELETE CASCADE,
  project_id         bigint  NOT NULL,
  policy_project_id  bigint  NOT NULL,
  vendor_type        text    NOT NULL,  -- 'WEBHOOK' | 'SLACK'
  event_type         text    NOT NULL,
  target_index       integer NOT NULL,
  target             text    NOT NULL,  -- JSON snapshot of the target
  target_address     text    NOT NULL,
  payload            bytea   NOT NULL,
  content_type       text    NOT NULL,
  webhook_id         text    NOT NULL,
  start_time         bigint  NOT NULL
);
CREATE INDEX executions_by_policy ON executions(policy_id, id);

-- due_time: when the task may next be claimed (first attempt, scheduled
-- retry, lease expiry); NULL exactly when the task is final.
-- endpoint: the concurrency key (store.h).
CREATE TABLE tasks (
  id                  bigserial PRIMARY KEY,
  execution_id        bigint  NOT NULL UNIQUE
                        REFERENCES executions(id) ON DELETE CASCADE,
  status              text    NOT NULL,
  run_count           integer NOT NULL DEFAULT 0,
  max_attempts        integer NOT NULL,
  next_attempt_time   bigint  NOT NULL,
  last_response_code  integer NOT NULL DEFAULT 0,
  last_error          text    NOT NULL DEFAULT '',
  create_time         bigint  NOT NULL,
  update_time         bigint  NOT NULL,
  start_time          bigint  NOT NULL,
  end_time            bigint  NOT NULL,
  lease_owner         text,
  lease_expire_time   bigint,
  due_time            bigint,
  endpoint            text    NOT NULL DEFAULT ''
);
CREATE INDEX tasks_due ON tasks(endpoint, due_time) WHERE due_time IS NOT NULL;
CREATE INDEX tasks_failed ON tasks(id) WHERE status = 'Error' AND due_time IS NULL;

CREATE TABLE task_logs (
  id           bigserial PRIMARY KEY,
  task_id      bigint NOT NULL REFERENCES tasks(id) ON DELETE CASCADE,
  create_time  bigint NOT NULL,
  line         text   NOT NULL
);
CREATE INDEX task_logs_by_task ON task_logs(task_id, id);

-- The task update log (WatchTasks). seq is the global cursor.
CREATE SEQUENCE task_updates_seq;
CREATE TABLE task_updates (
  seq                 bigint  PRIMARY KEY,
  task_id             bigint  NOT NULL,
  execution_id        bigint  NOT NULL,
  policy_id           bigint  NOT NULL,
  project_id          bigint  NOT NULL,
  policy_project_id   bigint  NOT NULL,
  event_id            bigint  NOT NULL,
  event_type          text    NOT NULL,
  vendor_type         text    NOT NULL,
  target_address      text    NOT NULL,
  status              text    NOT NULL,
  run_count           integer NOT NULL,
  max_attempts        integer NOT NULL,
  next_attempt_time   bigint  NOT NULL,
  last_response_code  integer NOT NULL,
  last_error          text    NOT NULL,
  create_time         bigint  NOT NULL,
  update_time         bigint  NOT NULL,
  start_time          bigint  NOT NULL,
  end_time            bigint  NOT NULL
);
CREATE INDEX task_updates_by_time ON task_updates(update_time);
-- The highest seq ever trimmed, so latest_seq survives an emptied log.
CREATE TABLE task_updates_trimmed (
  singleton  boolean PRIMARY KEY DEFAULT true CHECK (singleton),
  seq        bigint  NOT NULL
);
INSERT INTO task_updates_trimmed (seq) VALUES (0);

-- The lock that orders every transaction writing tasks (and so the update
-- log): transaction-scoped, keyed by this schema (@KEY@ is the schema
-- name's hash, fixed when the schema was created).
CREATE FUNCTION @SCHEMA@.herald_lock_task_updates() RETURNS void LANGUAGE sql
  AS $$ SELECT pg_advisory_xact_lock(@LOCK@, @KEY@) $$;

-- NOTIFY channels of this schema: 'u' (task updates) and 'w' (new work).
-- heraldd sends one of each per transaction that needs it, with its
-- instance id as payload, so a replica can skip its own notifications.
CREATE FUNCTION @SCHEMA@.herald_channel(kind text) RETURNS text
  LANGUAGE sql IMMUTABLE AS $$ SELECT 'herald_' || kind || '_@KEY@' $$;

-- The triggers take the lock themselves (already held by heraldd's
-- transactions: cheap), so nothing that writes tasks can number updates
-- out of commit order. Names are schema-qualified: they work whatever the
-- search_path of the session writing tasks.
CREATE FUNCTION @SCHEMA@.herald_log_task_inserts() RETURNS trigger
  LANGUAGE plpgsql AS $$
BEGIN
  PERFORM pg_advisory_xact_lock(@LOCK@, @KEY@);
  INSERT INTO @SCHEMA@.task_updates (seq, task_id, execution_id, policy_id,
    project_id, policy_project_id, event_id, event_type, vendor_type,
    target_address, status, run_count, max_attempts, next_attempt_time,
    last_response_code, last_error, create_time, update_time, start_time,
    end_time)
  SELECT nextval('@SCHEMA@.task_updates_seq'), x.* FROM (
    SELECT n.id, e.id, e.policy_id, e.project_id, e.policy_project_id,
      e.event_id, e.event_type, e.vendor_type, e.target_address, n.status,
      n.run_count, n.max_attempts, n.next_attempt_time, n.last_response_code,
      n.last_error, n.create_time, n.update_time, n.start_time, n.end_time
    FROM new_tasks n JOIN @SCHEMA@.executions e ON e.id = n.execution_id
    ORDER BY n.id OFFSET 0) x;
  RETURN NULL;
END $$;

CREATE FUNCTION @SCHEMA@.herald_log_task_updates() RETURNS trigger
  LANGUAGE plpgsql AS $$
BEGIN
  PERFORM pg_advisory_xact_lock(@LOCK@, @KEY@);
  INSERT INTO @SCHEMA@.task_updates (seq, task_id, execution_id, policy_id,
    project_id, policy_project_id, event_id, event_type, vendor_type,
    target_address, status, run_count, max_attempts, next_attempt_time,
    last_response_code, last_error, create_time, update_time, start_time,
    end_time)
  SELECT nextval('@SCHEMA@.task_updates_seq'), x.* FROM (
    SELECT n.id, e.id, e.policy_id, e.project_id, e.policy_project_id,
      e.event_id, e.event_type, e.vendor_type, e.target_address, n.status,
      n.run_count, n.max_attempts, n.next_attempt_time, n.last_response_code,
      n.last_error, n.create_time, n.update_time, n.start_time, n.end_time
    FROM new_tasks n JOIN old_tasks o ON o.id = n.id
    JOIN @SCHEMA@.executions e ON e.id = n.execution_id
    WHERE n.status IS DISTINCT FROM o.status
       OR n.run_count IS DISTINCT FROM o.run_count
       OR n.next_attempt_time IS DISTINCT FROM o.next_attempt_time
       OR n.last_response_code IS DISTINCT FROM o.last_response_code
       OR n.last_error IS DISTINCT FROM o.last_error
    ORDER BY n.id OFFSET 0) x;
  RETURN NULL;
END $$;

CREATE TRIGGER task_updates_on_insert AFTER INSERT ON tasks
  REFERENCING NEW TABLE AS new_tasks
  FOR EACH STATEMENT EXECUTE FUNCTION @SCHEMA@.herald_log_task_inserts();
CREATE TRIGGER task_updates_on_update AFTER UPDATE ON tasks
  REFERENCING OLD TABLE AS old_tasks NEW TABLE AS new_tasks
  FOR EACH STATEMENT EXECUTE FUNCTION @SCHEMA@.herald_log_task_updates();
)sql";

// Version 2: encryption at rest of targets' secrets (secret_box.h). One
// value sealed with the deployment's secret key, so a replica started with
// another key is refused before it can write anything the others cannot
// open (pg/secrets.h).
constexpr std::string_view kSchemaV2 = R"sql(
CREATE TABLE secret_key_check (
  singleton  boolean PRIMARY KEY DEFAULT true CHECK (singleton),
  sealed     text    NOT NULL
);
)sql";

// The migration's SQL for one schema: @SCHEMA@ (quoted name), @KEY@ (its
// hashtext) and @LOCK@ (the lock class) filled in.
std::string Render(std::string_view sql, const std::string& schema,
                   const std::string& key) {
  return absl::StrReplaceAll(
      Sv(sql), {{"@SCHEMA@", schema},
                {"@KEY@", key},
                {"@LOCK@", absl::StrCat(kLockClassTaskUpdates)}});
}

}  // namespace

const std::vector<Migration>& Migrations() {
  static const auto* const migrations = new std::vector<Migration>{
      {1, "initial schema", kSchemaV1},
      {2, "secret key check", kSchemaV2},
  };
  return *migrations;
}

int LatestSchemaVersion() { return Migrations().back().version; }

absl::Status Migrate(Connection& conn) {
  std::string quoted_schema, schema_key;
  {
    absl::StatusOr<Result> schema = conn.Run1(
        "SELECT current_schema(), "
        "to_regclass('herald_schema_migrations') IS NOT NULL, "
        "to_regclass('policies') IS NOT NULL, "
        "quote_ident(current_schema()), hashtext(current_schema())");
    if (!schema.ok()) return schema.status();
    if (schema->rows() != 1 || schema->IsNull(0, 0)) {
      return absl::FailedPreconditionError(
          "the PostgreSQL search_path names no existing schema: create the "
          "schema or fix options=-csearch_path=... in postgres_dsn");
    }
    if (!schema->Bool(0, 1) && schema->Bool(0, 2)) {
      return absl::FailedPreconditionError(absl::StrCat(
          "schema \"", schema->Text(0, 0),
          "\" holds a table named policies but no herald schema: use an "
          "empty schema (options=-csearch_path=... in postgres_dsn)"));
    }
    quoted_schema = schema->Text(0, 3);
    schema_key = schema->Text(0, 4);
  }
  absl::Status s = conn.Exec("BEGIN");
  if (!s.ok()) return s;
  auto fail = [&conn](absl::Status status) {
    if (!conn.broken() && !conn.idle()) conn.Exec("ROLLBACK").IgnoreError();
    return status;
  };
  absl::StatusOr<Result> locked = conn.Run1(absl::StrCat(
      "SELECT pg_advisory_xact_lock(", kLockClassMigrations,
      ", hashtext(current_schema()))"));
  if (!locked.ok()) return fail(locked.status());
  s = conn.Exec(
      "CREATE TABLE IF NOT EXISTS herald_schema_migrations ("
      "version integer PRIMARY KEY, name text NOT NULL, "
      "applied_at timestamptz NOT NULL DEFAULT now())");
  if (!s.ok()) return fail(s);
  absl::StatusOr<Result> current = conn.Run1(
      "SELECT coalesce(max(version), 0) FROM herald_schema_migrations");
  if (!current.ok()) return fail(current.status());
  const int version = current->Int(0, 0);
  if (version > LatestSchemaVersion()) {
    return fail(absl::FailedPreconditionError(absl::StrCat(
        "the PostgreSQL schema has version ", version,
        ", newer than the newest this heraldd knows (", LatestSchemaVersion(),
        "): run a newer heraldd")));
  }
  for (const Migration& m : Migrations()) {
    if (m.version <= version) continue;
    s = conn.Exec(Render(m.sql, quoted_schema, schema_key));
    if (s.ok()) {
      s = conn.Run1("INSERT INTO herald_schema_migrations (version, name) "
                    "VALUES ($1::int4, $2)",
                    Params().Int(m.version).Text(m.name))
              .status();
    }
    if (!s.ok()) {
      return fail(absl::Status(
          s.code(), absl::StrCat("schema migration ", m.version, " (",
                                 Sv(m.name), ") failed: ", s.message())));
    }
  }
  s = conn.Exec("COMMIT");
  if (!s.ok()) return fail(s);
  return absl::OkStatus();
}

}  // namespace herald::store::pg
