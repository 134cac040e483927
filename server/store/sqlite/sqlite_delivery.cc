// The delivery engine's part of SqliteStore: claims with leases, results,
// releases, task logs, redelivery, RecoverFailed pages, retention and
// queue depth. Schema: migration 2 (migrations.cc) adds tasks.due_time
// (NULL exactly when the task is final) and tasks.endpoint, with the
// partial index tasks_due(endpoint, due_time).
//
// Searches run on reader connections; the writer only runs short
// compare-and-set statements by primary key, so a large backlog never
// lengthens the writer's transactions (and with them publish latency).
#include <algorithm>
#include <limits>
#include <map>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/synchronization/notification.h"
#include "absl/time/time.h"
#include "server/store/sqlite/codec.h"
#include "server/store/sqlite/delivery_sql.h"
#include "server/store/sqlite/sqlite_db.h"
#include "server/store/sqlite/sqlite_store.h"
#include "server/store/sqlite/status_macros.h"

namespace herald::store {

using sqlite::Connection;
using sqlite::MicrosToTime;
using sqlite::Statement;
using sqlite::TimeToMicros;

namespace sqlite {

std::string HttpEndpointKey(std::string_view url) {
  const size_t sep = url.find("://");
  if (sep == std::string_view::npos) {
    return absl::AsciiStrToLower(absl::string_view(url.data(), url.size()));
  }
  std::string scheme =
      absl::AsciiStrToLower(absl::string_view(url.data(), sep));
  std::string_view rest = url.substr(sep + 3);
  rest = rest.substr(0, rest.find_first_of("/?#"));
  if (size_t at = rest.rfind('@'); at != std::string_view::npos) {
    rest = rest.substr(at + 1);
  }
  std::string_view host = rest;
  std::string_view port;
  if (!rest.empty() && rest.front() == '[') {
    const size_t close = rest.find(']');
    if (close != std::string_view::npos) {
      host = rest.substr(0, close + 1);
      if (close + 1 < rest.size() && rest[close + 1] == ':') {
        port = rest.substr(close + 2);
      }
    }
  } else if (size_t colon = rest.rfind(':'); colon != std::string_view::npos) {
    host = rest.substr(0, colon);
    port = rest.substr(colon + 1);
  }
  std::string key = absl::StrCat(
      scheme, "://",
      absl::AsciiStrToLower(absl::string_view(host.data(), host.size())), ":");
  if (!port.empty()) {
    absl::StrAppend(&key, absl::string_view(port.data(), port.size()));
  } else {
    absl::StrAppend(&key, scheme == "https" ? "443" : "80");
  }
  return key;
}

std::string EndpointKeyOf(const core::Target& target) {
  if (target.type == core::TargetType::kSlack) return target.address;
  return HttpEndpointKey(target.address);
}

}  // namespace sqlite

namespace {

constexpr int64_t kNever = std::numeric_limits<int64_t>::min();
constexpr int64_t kNotScheduled = std::numeric_limits<int64_t>::max();
// Rows deleted per retention transaction.
constexpr int kSweepChunk = 256;

absl::Status RunSql(Connection& c, absl::string_view sql) {
  STORE_ASSIGN_OR_RETURN(Statement stmt, c.Prepare(sql));
  return stmt.Run();
}

absl::string_view StatusText(core::TaskStatus status) {
  return sqlite::Sv(core::TaskStatusName(status));
}

absl::StatusOr<core::TaskStatus> ParseStatus(const std::string& text) {
  std::optional<core::TaskStatus> status = core::ParseTaskStatus(text);
  if (!status) {
    return absl::InternalError(
        absl::StrCat("stored task status \"", text, "\" is unknown"));
  }
  return *status;
}

std::string FormatLogTime(absl::Time t) {
  return absl::FormatTime("%Y-%m-%dT%H:%M:%E3SZ", t, absl::UTCTimeZone());
}

constexpr absl::string_view kTaskColumns =
    "t.id, t.execution_id, t.status, t.run_count, t.max_attempts, "
    "t.next_attempt_time, t.last_response_code, t.last_error, "
    "t.create_time, t.update_time, t.start_time, t.end_time";

// Reads kTaskColumns starting at column `at`.
absl::StatusOr<core::Task> TaskAt(const Statement& s, int at) {
  core::Task t;
  t.id = s.Int64(at + 0);
  t.execution_id = s.Int64(at + 1);
  STORE_ASSIGN_OR_RETURN(t.status, ParseStatus(s.Text(at + 2)));
  t.run_count = s.Int(at + 3);
  t.max_attempts = s.Int(at + 4);
  t.next_attempt_time = MicrosToTime(s.Int64(at + 5));
  t.last_response_code = s.Int(at + 6);
  t.last_error = s.Text(at + 7);
  t.create_time = MicrosToTime(s.Int64(at + 8));
  t.update_time = MicrosToTime(s.Int64(at + 9));
  t.start_time = MicrosToTime(s.Int64(at + 10));
  t.end_time = MicrosToTime(s.Int64(at + 11));
  return t;
}

// The claimed task with its execution and the policy's retry override.
constexpr absl::string_view kClaimedSelect =
    "SELECT t.id, t.execution_id, t.status, t.run_count, t.max_attempts, "
    "t.next_attempt_time, t.last_response_code, t.last_error, "
    "t.create_time, t.update_time, t.start_time, t.end_time, "
    "e.id, e.event_id, e.policy_id, e.project_id, e.vendor_type, "
    "e.event_type, e.target_index, e.target, e.payload, e.content_type, "
    "e.webhook_id, e.start_time, p.retry_policy, t.endpoint, "
    "t.lease_expire_time "
    "FROM tasks t JOIN executions e ON e.id = t.execution_id "
    "JOIN policies p ON p.id = e.policy_id "
    "WHERE t.id = ?1 AND t.status = 'Running' AND t.lease_owner = ?2 "
    "AND t.run_count = ?3";

// Decoded targets and retry policies by their stored text, for one claim:
// the tasks of a batch mostly share a few of each, and decoding (JSON, and
// unsealing secrets) would otherwise run once per task.
struct DecodeCache {
  std::map<std::string, core::Target, std::less<>> targets;
  std::map<std::string, core::RetryPolicy, std::less<>> retry_policies;
};

absl::StatusOr<ClaimedTask> ClaimedFromRow(const Statement& s,
                                           const SecretBox* secrets,
                                           DecodeCache& cache) {
  ClaimedTask out;
  STORE_ASSIGN_OR_RETURN(out.task, TaskAt(s, 0));
  core::Execution& e = out.execution;
  e.id = s.Int64(12);
  e.event_id = s.Int64(13);
  e.policy_id = s.Int64(14);
  e.project_id = s.Int64(15);
  e.vendor_type =
      sqlite::Sv(core::VendorTypeName(core::VendorType::kSlack)) == s.Text(16)
          ? core::VendorType::kSlack
          : core::VendorType::kWebhook;
  e.event_type = s.Text(17);
  e.target_index = s.Int(18);
  {
    std::string text = s.Text(19);
    auto it = cache.targets.find(text);
    if (it == cache.targets.end()) {
      STORE_ASSIGN_OR_RETURN(core::Target target,
                             sqlite::DecodeTarget(text, secrets));
      it = cache.targets.emplace(std::move(text), std::move(target)).first;
    }
    e.target = it->second;
  }
  e.payload = s.Blob(20);
  e.content_type = s.Text(21);
  e.webhook_id = s.Text(22);
  e.start_time = MicrosToTime(s.Int64(23));
  e.status = out.task.status;
  e.end_time = out.task.end_time;
  {
    std::string text = s.Text(24);
    auto it = cache.retry_policies.find(text);
    if (it == cache.retry_policies.end()) {
      STORE_ASSIGN_OR_RETURN(core::RetryPolicy policy,
                             sqlite::DecodeRetryPolicy(text));
      it = cache.retry_policies.emplace(std::move(text), std::move(policy))
               .first;
    }
    out.retry_policy = it->second;
  }
  out.endpoint = s.Text(25);
  out.lease_expire_time = MicrosToTime(s.Int64(26));
  return out;
}

struct Candidate {
  int64_t id;
  int64_t due;
};

// The text appended to tasks.log for a line (schema v5): the line and its
// newline, or nothing for "".
std::string LogEntry(const std::string& line) {
  return line.empty() ? std::string() : absl::StrCat(line, "\n");
}

// Appends the log line of a task (no-op for "").
absl::Status AppendLog(Connection& c, int64_t task_id,
                       const std::string& line) {
  if (line.empty()) return absl::OkStatus();
  STORE_ASSIGN_OR_RETURN(
      Statement s, c.Prepare("UPDATE tasks SET log = log || ?2 WHERE id = ?1"));
  return s.Bind(1, task_id).Bind(2, LogEntry(line)).Run();
}

// Appends `v` as a JSON string for json_each: quotes, backslashes and
// control characters escaped, every other byte verbatim (SQLite's JSON
// functions pass them through unchanged).
void AppendJsonText(std::string& out, absl::string_view v) {
  static constexpr char kHex[] = "0123456789abcdef";
  out.push_back('"');
  for (const char ch : v) {
    const auto c = static_cast<unsigned char>(ch);
    if (c == '"' || c == '\\') {
      out.push_back('\\');
      out.push_back(ch);
    } else if (c < 0x20) {
      out.append("\\u00");
      out.push_back(kHex[c >> 4]);
      out.push_back(kHex[c & 0xf]);
    } else {
      out.push_back(ch);
    }
  }
  out.push_back('"');
}

// The results of one CompleteTasks call as one JSON array for
// kCompleteBatchSql: [task_id, run_count, outcome (0 success, 1 retry,
// 2 failed), next attempt (us, retries), response code, error, log entry].
std::string ResultsJson(const std::vector<TaskResult>& results) {
  std::string out = "[";
  for (const TaskResult& r : results) {
    if (out.size() > 1) out.push_back(',');
    int outcome = 2;
    int64_t next = 0;
    switch (r.outcome) {
      case TaskResult::Outcome::kSuccess: outcome = 0; break;
      case TaskResult::Outcome::kRetry:
        outcome = 1;
        next = TimeToMicros(r.next_attempt_time);
        break;
      case TaskResult::Outcome::kFailed: break;
    }
    absl::StrAppend(&out, "[", r.task_id, ",", r.run_count, ",", outcome, ",",
                    next, ",", r.response_code, ",");
    AppendJsonText(out, r.error);
    out.push_back(',');
    AppendJsonText(out, LogEntry(r.log_line));
    out.push_back(']');
  }
  out.push_back(']');
  return out;
}

// Every result of a batch in one statement: SQLite opens a statement
// journal (a savepoint) around each statement that fires a trigger, and
// with one UPDATE per task that bookkeeping cost more than the updates.
// The same columns and lease check as ApplyResult; RETURNING names the
// tasks whose lease still matched.
constexpr absl::string_view kCompleteBatchSql =
    "UPDATE tasks SET "
    "status = CASE r.outcome WHEN 0 THEN ?4 ELSE ?5 END, "
    "next_attempt_time = CASE r.outcome WHEN 1 THEN r.next ELSE ?6 END, "
    "due_time = CASE r.outcome WHEN 1 THEN r.next ELSE NULL END, "
    "last_response_code = r.code, last_error = r.error, "
    "end_time = CASE r.outcome WHEN 1 THEN ?7 ELSE ?2 END, "
    "update_time = ?2, lease_owner = NULL, lease_expire_time = NULL, "
    "log = tasks.log || r.log "
    "FROM (SELECT value->>0 AS id, value->>1 AS run_count, "
    "value->>2 AS outcome, value->>3 AS next, value->>4 AS code, "
    "value->>5 AS error, value->>6 AS log FROM json_each(?1)) AS r "
    "WHERE tasks.id = r.id AND tasks.status = 'Running' "
    "AND tasks.lease_owner = ?3 AND tasks.run_count = r.run_count "
    "RETURNING tasks.id";

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

// Applies one result; `applied` tells whether the lease still matched.
absl::Status ApplyResult(Connection& c, const std::string& owner,
                         const TaskResult& r, int64_t now_us, bool& applied) {
  core::TaskStatus status = core::TaskStatus::kError;
  int64_t next = kNotScheduled;
  std::optional<int64_t> due;  // NULL = final
  int64_t end = now_us;
  switch (r.outcome) {
    case TaskResult::Outcome::kSuccess:
      status = core::TaskStatus::kSuccess;
      break;
    case TaskResult::Outcome::kRetry:
      next = TimeToMicros(r.next_attempt_time);
      due = next;
      end = kNever;
      break;
    case TaskResult::Outcome::kFailed:
      break;
  }
  STORE_ASSIGN_OR_RETURN(
      Statement s,
      c.Prepare("UPDATE tasks SET status = ?1, next_attempt_time = ?2, "
                "due_time = ?3, last_response_code = ?4, last_error = ?5, "
                "end_time = ?6, update_time = ?7, lease_owner = NULL, "
                "lease_expire_time = NULL, log = log || ?11 "
                "WHERE id = ?8 AND status = 'Running' AND lease_owner = ?9 "
                "AND run_count = ?10"));
  s.Bind(1, StatusText(status)).Bind(2, next);
  if (due.has_value()) {
    s.Bind(3, *due);
  } else {
    s.BindNull(3);
  }
  s.Bind(4, r.response_code)
      .Bind(5, r.error)
      .Bind(6, end)
      .Bind(7, now_us)
      .Bind(8, r.task_id)
      .Bind(9, owner)
      .Bind(10, r.run_count)
      .Bind(11, LogEntry(r.log_line));
  STORE_RETURN_IF_ERROR(s.Run());
  applied = c.changes() == 1;
  return absl::OkStatus();
}

// Starts a new cycle for a final task; OK, kNotFound or
// kFailedPrecondition. Runs on the writer.
absl::Status ApplyRedelivery(Connection& c, const Redelivery& r,
                             absl::Time now) {
  {
    STORE_ASSIGN_OR_RETURN(
        Statement s,
        c.Prepare("SELECT status, due_time IS NULL FROM tasks WHERE id = ?1"));
    s.Bind(1, r.task_id);
    STORE_ASSIGN_OR_RETURN(bool row, s.Step());
    if (!row) {
      return absl::NotFoundError(absl::StrCat("task ", r.task_id, " not found"));
    }
    if (!s.Bool(1)) {
      return absl::FailedPreconditionError(absl::StrCat(
          "task ", r.task_id, " is not final (", s.Text(0),
          "): only a finished task can be redelivered"));
    }
  }
  const int64_t now_us = TimeToMicros(now);
  STORE_ASSIGN_OR_RETURN(
      Statement s,
      c.Prepare("UPDATE tasks SET status = 'Pending', run_count = 0, "
                "max_attempts = ?2, next_attempt_time = ?3, due_time = ?3, "
                "last_response_code = 0, last_error = '', start_time = ?4, "
                "end_time = ?4, lease_owner = NULL, lease_expire_time = NULL, "
                "update_time = ?3 WHERE id = ?1"));
  STORE_RETURN_IF_ERROR(s.Bind(1, r.task_id)
                            .Bind(2, r.max_attempts)
                            .Bind(3, now_us)
                            .Bind(4, kNever)
                            .Run());
  return AppendLog(c, r.task_id,
                   absl::StrCat(FormatLogTime(now),
                                " redelivery requested: new cycle of ",
                                r.max_attempts, " attempt",
                                r.max_attempts == 1 ? "" : "s"));
}

absl::Status ValidateRedelivery(const Redelivery& r) {
  if (r.max_attempts < 1) {
    return absl::InvalidArgumentError("max_attempts must be at least 1");
  }
  return absl::OkStatus();
}

}  // namespace

// ---- Claims ----

absl::StatusOr<std::vector<ClaimedTask>> SqliteStore::ClaimTasks(
    const ClaimOptions& o) {
  if (o.owner.empty()) {
    return absl::InvalidArgumentError("a claim needs a lease owner");
  }
  if (o.lease <= absl::ZeroDuration() || o.limit <= 0 ||
      o.default_endpoint_room < 0) {
    return absl::InvalidArgumentError(
        "a claim needs a positive lease and limit and a non-negative room");
  }
  std::map<std::string, int, std::less<>> rooms(o.endpoint_room.begin(),
                                                o.endpoint_room.end());
  const absl::Time now = Now();
  const int64_t now_us = TimeToMicros(now);

  // 1. Search (reader): per endpoint key with unfinished work, its earliest
  // due tasks up to its room; then the earliest `limit` of those.
  std::vector<Candidate> candidates;
  STORE_RETURN_IF_ERROR(ReadStatus([&](Connection& c) -> absl::Status {
    std::string endpoint;
    bool first = true;
    while (true) {
      std::string next;
      {
        STORE_ASSIGN_OR_RETURN(
            Statement s,
            c.Prepare(first ? "SELECT endpoint FROM tasks WHERE due_time IS "
                              "NOT NULL AND endpoint >= ?1 "
                              "ORDER BY endpoint LIMIT 1"
                            : "SELECT endpoint FROM tasks WHERE due_time IS "
                              "NOT NULL AND endpoint > ?1 "
                              "ORDER BY endpoint LIMIT 1"));
        s.Bind(1, endpoint);
        STORE_ASSIGN_OR_RETURN(bool row, s.Step());
        if (!row) break;
        next = s.Text(0);
      }
      first = false;
      endpoint = std::move(next);
      auto it = rooms.find(endpoint);
      const int room = it == rooms.end() ? o.default_endpoint_room : it->second;
      if (room <= 0) continue;
      STORE_ASSIGN_OR_RETURN(
          Statement s,
          c.Prepare("SELECT id, due_time FROM tasks WHERE endpoint = ?1 "
                    "AND due_time IS NOT NULL AND due_time <= ?2 "
                    "AND (lease_owner IS NULL OR lease_owner <> ?3) "
                    "ORDER BY due_time LIMIT ?4"));
      s.Bind(1, endpoint).Bind(2, now_us).Bind(3, o.owner).Bind(
          4, std::min(room, o.limit));
      while (true) {
        STORE_ASSIGN_OR_RETURN(bool row, s.Step());
        if (!row) break;
        candidates.push_back({s.Int64(0), s.Int64(1)});
      }
    }
    return absl::OkStatus();
  }));
  if (candidates.empty()) return std::vector<ClaimedTask>{};
  std::sort(candidates.begin(), candidates.end(),
            [](const Candidate& a, const Candidate& b) {
              return a.due != b.due ? a.due < b.due : a.id < b.id;
            });
  if (candidates.size() > static_cast<size_t>(o.limit)) {
    candidates.resize(o.limit);
  }

  // 2. Take (writer): each candidate only if it is still due and not ours,
  // so concurrent claimers never share a task. One statement for the batch
  // (see kCompleteBatchSql for why not one per task).
  const int64_t expire_us = TimeToMicros(now + o.lease);
  std::string ids = "[";
  absl::flat_hash_map<int64_t, size_t> order;  // task id -> candidate index
  for (size_t i = 0; i < candidates.size(); ++i) {
    absl::StrAppend(&ids, i == 0 ? "" : ",", candidates[i].id);
    order.emplace(candidates[i].id, i);
  }
  ids.push_back(']');
  std::vector<TaskLease> taken;
  STORE_RETURN_IF_ERROR(WriteStatus([&](Connection& c) -> absl::Status {
    taken.clear();
    STORE_ASSIGN_OR_RETURN(
        Statement s,
        c.Prepare(
            "UPDATE tasks SET status = 'Running', "
            "run_count = CASE WHEN status = 'Running' THEN run_count "
            "ELSE run_count + 1 END, "
            "lease_owner = ?2, lease_expire_time = ?3, due_time = ?3, "
            "next_attempt_time = ?5, "
            "start_time = CASE WHEN start_time = ?6 THEN ?4 "
            "ELSE start_time END, update_time = ?4 "
            "WHERE id IN (SELECT value FROM json_each(?1)) "
            "AND due_time IS NOT NULL AND due_time <= ?4 "
            "AND (lease_owner IS NULL OR lease_owner <> ?2) "
            "RETURNING id, run_count"));
    s.BindNoCopy(1, ids)
        .Bind(2, o.owner)
        .Bind(3, expire_us)
        .Bind(4, now_us)
        .Bind(5, kNotScheduled)
        .Bind(6, kNever);
    while (true) {
      STORE_ASSIGN_OR_RETURN(bool row, s.Step());
      if (!row) break;
      taken.push_back({s.Int64(0), s.Int(1)});
    }
    return absl::OkStatus();
  }));
  // Back in due order (RETURNING's order is unspecified).
  std::sort(taken.begin(), taken.end(),
            [&order](const TaskLease& a, const TaskLease& b) {
              return order[a.task_id] < order[b.task_id];
            });
  if (taken.empty()) return std::vector<ClaimedTask>{};

  // 3. Load (reader) what the attempts need. A task deleted meanwhile (its
  // policy was) is simply not returned.
  std::vector<ClaimedTask> claimed;
  absl::Status loaded = ReadStatus([&](Connection& c) -> absl::Status {
    claimed.clear();
    DecodeCache cache;
    for (const TaskLease& lease : taken) {
      STORE_ASSIGN_OR_RETURN(Statement s, c.Prepare(kClaimedSelect));
      s.Bind(1, lease.task_id).Bind(2, o.owner).Bind(3, lease.run_count);
      STORE_ASSIGN_OR_RETURN(bool row, s.Step());
      if (!row) continue;
      STORE_ASSIGN_OR_RETURN(ClaimedTask t, ClaimedFromRow(s, options_.secrets.get(), cache));
      claimed.push_back(std::move(t));
    }
    return absl::OkStatus();
  });
  if (!loaded.ok()) {
    // Nobody will work on them: hand them back rather than leave them
    // leased to us.
    ReleaseTasks(o.owner, std::move(taken)).IgnoreError();
    return loaded;
  }
  return claimed;
}

// ---- Results ----

void SqliteStore::CompleteTasksAsync(
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
  struct State {
    std::string owner;
    std::vector<TaskResult> results;
    std::vector<bool> applied;
    // Position of each task id in `results`; empty when an id repeats
    // (then the results are applied one at a time, in order).
    absl::flat_hash_map<int64_t, size_t> index;
    std::string json;  // ResultsJson, built here rather than on the writer
  };
  auto state = std::make_shared<State>();
  state->owner = owner;
  state->results = std::move(results);
  for (size_t i = 0; i < state->results.size(); ++i) {
    if (!state->index.emplace(state->results[i].task_id, i).second) {
      state->index.clear();
      break;
    }
  }
  if (!state->index.empty()) state->json = ResultsJson(state->results);
  Submit(WriteItem{
      [this, state](Connection& c) -> absl::Status {
        state->applied.assign(state->results.size(), false);
        const int64_t now_us = TimeToMicros(Now());
        if (state->index.empty()) {
          for (size_t i = 0; i < state->results.size(); ++i) {
            bool applied = false;
            STORE_RETURN_IF_ERROR(ApplyResult(c, state->owner,
                                              state->results[i], now_us,
                                              applied));
            state->applied[i] = applied;
          }
          return absl::OkStatus();
        }
        STORE_ASSIGN_OR_RETURN(Statement s, c.Prepare(kCompleteBatchSql));
        s.BindNoCopy(1, state->json)
            .Bind(2, now_us)
            .Bind(3, state->owner)
            .Bind(4, StatusText(core::TaskStatus::kSuccess))
            .Bind(5, StatusText(core::TaskStatus::kError))
            .Bind(6, kNotScheduled)
            .Bind(7, kNever);
        while (true) {
          STORE_ASSIGN_OR_RETURN(bool row, s.Step());
          if (!row) break;
          auto it = state->index.find(s.Int64(0));
          if (it != state->index.end()) state->applied[it->second] = true;
        }
        return absl::OkStatus();
      },
      [state, done = std::move(done)](absl::Status status) mutable {
        if (!status.ok()) {
          done(std::move(status));
        } else {
          done(std::move(state->applied));
        }
      }});
}

absl::StatusOr<std::vector<bool>> SqliteStore::CompleteTasks(
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

absl::StatusOr<int> SqliteStore::ReleaseTasks(const std::string& owner,
                                              std::vector<TaskLease> leases) {
  if (owner.empty()) {
    return absl::InvalidArgumentError("releasing needs the lease owner");
  }
  if (leases.empty()) return 0;
  int released = 0;
  STORE_RETURN_IF_ERROR(WriteStatus([&](Connection& c) -> absl::Status {
    released = 0;
    const int64_t now_us = TimeToMicros(Now());
    for (const TaskLease& l : leases) {
      // SET expressions see the row as it was before the update.
      STORE_ASSIGN_OR_RETURN(
          Statement s,
          c.Prepare("UPDATE tasks SET status = CASE WHEN run_count <= 1 "
                    "THEN 'Pending' ELSE 'Error' END, "
                    "run_count = max(run_count - 1, 0), "
                    "start_time = CASE WHEN run_count <= 1 THEN ?5 "
                    "ELSE start_time END, "
                    "next_attempt_time = ?4, due_time = ?4, update_time = ?4, "
                    "lease_owner = NULL, lease_expire_time = NULL "
                    "WHERE id = ?1 AND status = 'Running' AND lease_owner = ?2 "
                    "AND run_count = ?3"));
      STORE_RETURN_IF_ERROR(s.Bind(1, l.task_id)
                                .Bind(2, owner)
                                .Bind(3, l.run_count)
                                .Bind(4, now_us)
                                .Bind(5, kNever)
                                .Run());
      released += static_cast<int>(c.changes());
    }
    return absl::OkStatus();
  }));
  if (released > 0) NotifyWork();
  return released;
}

absl::StatusOr<int> SqliteStore::ExpireLeases(const std::string& owner) {
  int expired = 0;
  STORE_RETURN_IF_ERROR(WriteStatus([&](Connection& c) -> absl::Status {
    const int64_t now_us = TimeToMicros(Now());
    STORE_ASSIGN_OR_RETURN(
        Statement s,
        c.Prepare("UPDATE tasks SET due_time = min(due_time, ?1), "
                  "lease_expire_time = min(coalesce(lease_expire_time, ?1), "
                  "?1) WHERE due_time IS NOT NULL AND status = 'Running' "
                  "AND (lease_owner IS NULL OR lease_owner <> ?2)"));
    STORE_RETURN_IF_ERROR(s.Bind(1, now_us).Bind(2, owner).Run());
    expired = static_cast<int>(c.changes());
    return absl::OkStatus();
  }));
  return expired;
}

// ---- Logs ----

absl::StatusOr<std::string> SqliteStore::GetTaskLog(int64_t task_id) {
  std::string log;
  STORE_RETURN_IF_ERROR(ReadStatus([&](Connection& c) -> absl::Status {
    log.clear();
    std::string recent;  // tasks.log (schema v5)
    {
      STORE_ASSIGN_OR_RETURN(Statement s,
                             c.Prepare("SELECT log FROM tasks WHERE id = ?1"));
      s.Bind(1, task_id);
      STORE_ASSIGN_OR_RETURN(bool row, s.Step());
      if (!row) {
        return absl::NotFoundError(absl::StrCat("task ", task_id, " not found"));
      }
      recent = s.Text(0);
    }
    // Lines written before schema v5 come first.
    STORE_ASSIGN_OR_RETURN(
        Statement s,
        c.Prepare("SELECT line FROM task_logs WHERE task_id = ?1 ORDER BY id"));
    s.Bind(1, task_id);
    while (true) {
      STORE_ASSIGN_OR_RETURN(bool row, s.Step());
      if (!row) break;
      absl::StrAppend(&log, s.Text(0), "\n");
    }
    log += recent;
    return absl::OkStatus();
  }));
  return log;
}

// ---- Redelivery ----

absl::StatusOr<core::Task> SqliteStore::RedeliverTask(const Redelivery& r) {
  STORE_RETURN_IF_ERROR(ValidateRedelivery(r));
  core::Task task;
  STORE_RETURN_IF_ERROR(WriteStatus([&](Connection& c) -> absl::Status {
    STORE_RETURN_IF_ERROR(ApplyRedelivery(c, r, Now()));
    STORE_ASSIGN_OR_RETURN(
        Statement s, c.Prepare(absl::StrCat("SELECT ", kTaskColumns,
                                            " FROM tasks t WHERE t.id = ?1")));
    s.Bind(1, r.task_id);
    STORE_ASSIGN_OR_RETURN(bool row, s.Step());
    if (!row) return absl::InternalError("redelivered task vanished");
    STORE_ASSIGN_OR_RETURN(task, TaskAt(s, 0));
    return absl::OkStatus();
  }));
  NotifyWork();
  return task;
}

absl::StatusOr<std::vector<absl::Status>> SqliteStore::RedeliverTasks(
    std::vector<Redelivery> redeliveries) {
  for (const Redelivery& r : redeliveries) {
    STORE_RETURN_IF_ERROR(ValidateRedelivery(r));
  }
  std::vector<absl::Status> results(redeliveries.size());
  bool any = false;
  STORE_RETURN_IF_ERROR(WriteStatus([&](Connection& c) -> absl::Status {
    any = false;
    const absl::Time now = Now();
    for (size_t i = 0; i < redeliveries.size(); ++i) {
      STORE_RETURN_IF_ERROR(RunSql(c, "SAVEPOINT redeliver"));
      results[i] = ApplyRedelivery(c, redeliveries[i], now);
      if (!c.in_transaction()) return results[i];
      if (results[i].ok()) {
        any = true;
      } else if (!absl::IsNotFound(results[i]) &&
                 !absl::IsFailedPrecondition(results[i])) {
        return results[i];  // a database failure: the whole call fails
      } else {
        STORE_RETURN_IF_ERROR(RunSql(c, "ROLLBACK TO redeliver"));
      }
      STORE_RETURN_IF_ERROR(RunSql(c, "RELEASE redeliver"));
    }
    return absl::OkStatus();
  }));
  if (any) NotifyWork();
  return results;
}

absl::StatusOr<std::vector<FailedTask>> SqliteStore::ListFailedTasks(
    const FailedTaskQuery& q) {
  if ((q.policy_id > 0) == q.project_id.has_value()) {
    return absl::InvalidArgumentError(
        "listing failed tasks needs exactly one of a policy or a project");
  }
  if (q.limit <= 0 || q.after_execution_id < 0) {
    return absl::InvalidArgumentError("bad page of failed tasks");
  }
  std::vector<FailedTask> out;
  STORE_RETURN_IF_ERROR(ReadStatus([&](Connection& c) -> absl::Status {
    const std::string scope =
        q.policy_id > 0
            ? "e.policy_id = ?4"
            : "e.policy_id IN (SELECT id FROM policies WHERE project_id = ?4)";
    STORE_ASSIGN_OR_RETURN(
        Statement s,
        c.Prepare(absl::StrCat(
            "SELECT t.id, t.execution_id, e.policy_id FROM tasks t "
            "JOIN executions e ON e.id = t.execution_id "
            "WHERE t.status = 'Error' AND t.due_time IS NULL AND e.id > ?1 "
            "AND e.start_time >= ?2 AND e.start_time < ?3 AND ",
            scope, " ORDER BY e.id LIMIT ?5")));
    s.Bind(1, q.after_execution_id)
        .Bind(2, TimeToMicros(q.start_time))
        .Bind(3, TimeToMicros(q.end_time))
        .Bind(4, q.policy_id > 0 ? q.policy_id : *q.project_id)
        .Bind(5, q.limit);
    while (true) {
      STORE_ASSIGN_OR_RETURN(bool row, s.Step());
      if (!row) break;
      out.push_back({s.Int64(0), s.Int64(1), s.Int64(2)});
    }
    return absl::OkStatus();
  }));
  return out;
}

// ---- Retention ----

absl::StatusOr<int64_t> SqliteStore::SweepExecutions(int keep,
                                                     int64_t max_delete) {
  if (keep < 0 || max_delete <= 0) {
    return absl::InvalidArgumentError(
        "retention needs keep >= 0 and max_delete > 0");
  }
  // Search on a reader: per policy and vendor type, the finished
  // executions after the newest `keep` finished ones.
  std::vector<int64_t> doomed;
  STORE_RETURN_IF_ERROR(ReadStatus([&](Connection& c) -> absl::Status {
    std::vector<int64_t> policies;
    {
      STORE_ASSIGN_OR_RETURN(Statement s,
                             c.Prepare("SELECT id FROM policies ORDER BY id"));
      while (true) {
        STORE_ASSIGN_OR_RETURN(bool row, s.Step());
        if (!row) break;
        policies.push_back(s.Int64(0));
      }
    }
    for (int64_t policy : policies) {
      for (core::VendorType vendor :
           {core::VendorType::kWebhook, core::VendorType::kSlack}) {
        const int64_t room = max_delete - static_cast<int64_t>(doomed.size());
        if (room <= 0) return absl::OkStatus();
        STORE_ASSIGN_OR_RETURN(
            Statement s,
            c.Prepare("SELECT e.id FROM executions e "
                      "JOIN tasks t ON t.execution_id = e.id "
                      "WHERE e.policy_id = ?1 AND e.vendor_type = ?2 "
                      "AND t.due_time IS NULL "
                      "ORDER BY e.id DESC LIMIT ?4 OFFSET ?3"));
        s.Bind(1, policy)
            .Bind(2, sqlite::Sv(core::VendorTypeName(vendor)))
            .Bind(3, keep)
            .Bind(4, room);
        while (true) {
          STORE_ASSIGN_OR_RETURN(bool row, s.Step());
          if (!row) break;
          doomed.push_back(s.Int64(0));
        }
      }
    }
    return absl::OkStatus();
  }));
  // Delete in small transactions, re-checking that each is still finished
  // (a redelivery may have restarted it meanwhile). Tasks and logs go with
  // their execution (ON DELETE CASCADE).
  int64_t deleted = 0;
  for (size_t from = 0; from < doomed.size(); from += kSweepChunk) {
    const size_t to = std::min(doomed.size(), from + kSweepChunk);
    int64_t chunk_deleted = 0;
    STORE_RETURN_IF_ERROR(WriteStatus([&](Connection& c) -> absl::Status {
      chunk_deleted = 0;
      for (size_t i = from; i < to; ++i) {
        STORE_ASSIGN_OR_RETURN(
            Statement s,
            c.Prepare("DELETE FROM executions WHERE id = ?1 AND EXISTS "
                      "(SELECT 1 FROM tasks WHERE execution_id = ?1 "
                      "AND due_time IS NULL)"));
        STORE_RETURN_IF_ERROR(s.Bind(1, doomed[i]).Run());
        chunk_deleted += c.changes();
      }
      return absl::OkStatus();
    }));
    deleted += chunk_deleted;
  }
  return deleted;
}

absl::StatusOr<QueueDepth> SqliteStore::CountQueue() {
  QueueDepth depth;
  STORE_RETURN_IF_ERROR(ReadStatus([&](Connection& c) -> absl::Status {
    depth = QueueDepth{};
    STORE_ASSIGN_OR_RETURN(
        Statement s, c.Prepare("SELECT status, count(*) FROM tasks "
                               "WHERE due_time IS NOT NULL GROUP BY status"));
    while (true) {
      STORE_ASSIGN_OR_RETURN(bool row, s.Step());
      if (!row) break;
      STORE_ASSIGN_OR_RETURN(core::TaskStatus status, ParseStatus(s.Text(0)));
      const int64_t n = s.Int64(1);
      switch (status) {
        case core::TaskStatus::kPending: depth.pending += n; break;
        case core::TaskStatus::kError: depth.retrying += n; break;
        case core::TaskStatus::kRunning: depth.running += n; break;
        default: break;
      }
    }
    return absl::OkStatus();
  }));
  return depth;
}

}  // namespace herald::store
