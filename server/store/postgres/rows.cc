#include "server/store/postgres/rows.h"

#include <utility>

#include "absl/strings/str_cat.h"
#include "server/store/sqlite/codec.h"

namespace herald::store::pg {

absl::StatusOr<core::TaskStatus> ParseStatus(std::string_view text) {
  std::optional<core::TaskStatus> status = core::ParseTaskStatus(text);
  if (!status) {
    return absl::InternalError(
        absl::StrCat("stored task status \"", Sv(text), "\" is unknown"));
  }
  return *status;
}

std::string StatusText(core::TaskStatus status) {
  return std::string(core::TaskStatusName(status));
}

std::string VendorText(core::VendorType type) {
  return std::string(core::VendorTypeName(type));
}

core::VendorType ParseVendor(std::string_view text) {
  return text == core::VendorTypeName(core::VendorType::kSlack)
             ? core::VendorType::kSlack
             : core::VendorType::kWebhook;
}

absl::Status NotFound(std::string_view what, int64_t id) {
  return absl::NotFoundError(absl::StrCat(Sv(what), " ", id, " not found"));
}

const char* const kPolicyColumns =
    "p.id, p.project_id, p.name, p.description, p.targets, p.event_types, "
    "p.filters, p.retry_policy, p.enabled, p.creator, p.create_time, "
    "p.update_time";

absl::StatusOr<core::Policy> PolicyAt(const Result& r, int row,
                                      const SecretBox* secrets) {
  core::Policy p;
  p.id = r.Int64(row, 0);
  p.project_id = r.Int64(row, 1);
  p.name = r.Text(row, 2);
  p.description = r.Text(row, 3);
  PG_ASSIGN_OR_RETURN(p.targets, sqlite::DecodeTargets(Sv(r.View(row, 4)), secrets));
  PG_ASSIGN_OR_RETURN(p.event_types, sqlite::DecodeStrings(Sv(r.View(row, 5))));
  PG_ASSIGN_OR_RETURN(p.filters, sqlite::DecodeFilters(Sv(r.View(row, 6))));
  PG_ASSIGN_OR_RETURN(p.retry_policy,
                      sqlite::DecodeRetryPolicy(Sv(r.View(row, 7))));
  p.enabled = r.Bool(row, 8);
  p.creator = r.Text(row, 9);
  p.create_time = MicrosToTime(r.Int64(row, 10));
  p.update_time = MicrosToTime(r.Int64(row, 11));
  return p;
}

const char* const kTokenColumns =
    "id, name, role, project_ids, secret_hash, creator, create_time, "
    "expire_time, revoked";

absl::StatusOr<core::TokenRecord> TokenAt(const Result& r, int row) {
  core::TokenRecord t;
  t.id = r.Int64(row, 0);
  t.name = r.Text(row, 1);
  t.role = static_cast<core::Role>(r.Int(row, 2));
  PG_ASSIGN_OR_RETURN(t.project_ids, sqlite::DecodeIds(Sv(r.View(row, 3))));
  t.secret_hash = r.Text(row, 4);
  t.creator = r.Text(row, 5);
  t.create_time = MicrosToTime(r.Int64(row, 6));
  t.expire_time = MicrosToTime(r.Int64(row, 7));
  t.revoked = r.Bool(row, 8);
  return t;
}

const char* const kTaskColumns =
    "t.id, t.execution_id, t.status, t.run_count, t.max_attempts, "
    "t.next_attempt_time, t.last_response_code, t.last_error, "
    "t.create_time, t.update_time, t.start_time, t.end_time";

absl::StatusOr<core::Task> TaskAt(const Result& r, int row, int c) {
  core::Task t;
  t.id = r.Int64(row, c + 0);
  t.execution_id = r.Int64(row, c + 1);
  PG_ASSIGN_OR_RETURN(t.status, ParseStatus(r.View(row, c + 2)));
  t.run_count = r.Int(row, c + 3);
  t.max_attempts = r.Int(row, c + 4);
  t.next_attempt_time = MicrosToTime(r.Int64(row, c + 5));
  t.last_response_code = r.Int(row, c + 6);
  t.last_error = r.Text(row, c + 7);
  t.create_time = MicrosToTime(r.Int64(row, c + 8));
  t.update_time = MicrosToTime(r.Int64(row, c + 9));
  t.start_time = MicrosToTime(r.Int64(row, c + 10));
  t.end_time = MicrosToTime(r.Int64(row, c + 11));
  return t;
}

const char* const kExecutionSelect =
    "SELECT e.id, e.event_id, e.policy_id, e.project_id, e.vendor_type, "
    "e.event_type, e.target_index, e.target, e.payload, e.content_type, "
    "e.webhook_id, e.start_time, t.status, t.end_time "
    "FROM executions e JOIN tasks t ON t.execution_id = e.id";

absl::StatusOr<core::Execution> ExecutionAt(const Result& r, int row,
                                            const SecretBox* secrets) {
  core::Execution e;
  e.id = r.Int64(row, 0);
  e.event_id = r.Int64(row, 1);
  e.policy_id = r.Int64(row, 2);
  e.project_id = r.Int64(row, 3);
  e.vendor_type = ParseVendor(r.View(row, 4));
  e.event_type = r.Text(row, 5);
  e.target_index = r.Int(row, 6);
  PG_ASSIGN_OR_RETURN(e.target,
                      sqlite::DecodeTarget(Sv(r.View(row, 7)), secrets));
  e.payload = r.Bytes(row, 8);
  e.content_type = r.Text(row, 9);
  e.webhook_id = r.Text(row, 10);
  e.start_time = MicrosToTime(r.Int64(row, 11));
  PG_ASSIGN_OR_RETURN(e.status, ParseStatus(r.View(row, 12)));
  e.end_time = MicrosToTime(r.Int64(row, 13));
  return e;
}

const char* const kUpdateColumns =
    "task_id, execution_id, policy_id, project_id, policy_project_id, "
    "event_id, event_type, vendor_type, target_address, status, run_count, "
    "max_attempts, next_attempt_time, last_response_code, last_error, "
    "create_time, update_time, start_time, end_time";

absl::StatusOr<TaskUpdate> UpdateAt(const Result& r, int row, int c) {
  TaskUpdate u;
  u.task.id = r.Int64(row, c++);
  u.execution_id = r.Int64(row, c++);
  u.task.execution_id = u.execution_id;
  u.policy_id = r.Int64(row, c++);
  u.project_id = r.Int64(row, c++);
  u.policy_project_id = r.Int64(row, c++);
  u.event_id = r.Int64(row, c++);
  u.event_type = r.Text(row, c++);
  u.vendor_type = ParseVendor(r.View(row, c++));
  u.target_address = r.Text(row, c++);
  PG_ASSIGN_OR_RETURN(u.task.status, ParseStatus(r.View(row, c++)));
  u.task.run_count = r.Int(row, c++);
  u.task.max_attempts = r.Int(row, c++);
  u.task.next_attempt_time = MicrosToTime(r.Int64(row, c++));
  u.task.last_response_code = r.Int(row, c++);
  u.task.last_error = r.Text(row, c++);
  u.task.create_time = MicrosToTime(r.Int64(row, c++));
  u.task.update_time = MicrosToTime(r.Int64(row, c++));
  u.task.start_time = MicrosToTime(r.Int64(row, c++));
  u.task.end_time = MicrosToTime(r.Int64(row, c++));
  return u;
}

}  // namespace herald::store::pg
