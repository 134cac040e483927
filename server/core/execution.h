// Executions and tasks: Harbor's delivery records. One execution per
// (event, policy, target), each with exactly one task that carries the
// delivery attempts.
#ifndef HERALD_SERVER_CORE_EXECUTION_H_
#define HERALD_SERVER_CORE_EXECUTION_H_

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "absl/time/time.h"
#include "server/core/policy.h"

namespace herald::core {

// Harbor's visible statuses. kError is final only when the task has no
// next attempt scheduled (Task::retry_scheduled() is false).
enum class TaskStatus {
  kPending = 1,
  kRunning = 2,
  kSuccess = 3,
  kError = 4,
  kStopped = 5,
};

// "Pending", "Running", ... as Harbor spells them.
std::string_view TaskStatusName(TaskStatus status);
std::optional<TaskStatus> ParseTaskStatus(std::string_view name);

// Harbor's execution vendor types: WEBHOOK for http targets, SLACK for slack.
enum class VendorType { kWebhook = 1, kSlack = 2 };
std::string_view VendorTypeName(VendorType type);
inline VendorType VendorTypeFor(TargetType type) {
  return type == TargetType::kSlack ? VendorType::kSlack : VendorType::kWebhook;
}

// An accepted event, as stored. `data` is the event in its canonical
// encoding (opaque to the store).
struct EventRecord {
  int64_t id = 0;
  int64_t project_id = 0;
  std::string event_type;
  std::string request_id;  // producer's idempotency key, may be empty
  std::string operator_name;
  absl::Time occur_time = absl::UnixEpoch();
  absl::Time create_time = absl::UnixEpoch();
  std::string data;
};

struct Execution {
  int64_t id = 0;
  int64_t event_id = 0;
  int64_t policy_id = 0;
  int64_t project_id = 0;
  VendorType vendor_type = VendorType::kWebhook;
  std::string event_type;
  int target_index = 0;  // index into the policy's targets at publish time
  Target target;         // the target as it was when the event matched
  std::string payload;   // rendered body, sent identically on every attempt
  std::string content_type;
  std::string webhook_id;  // Standard Webhooks id; the CloudEvents id for CE
  TaskStatus status = TaskStatus::kPending;  // derived from its task
  absl::Time start_time = absl::UnixEpoch();
  absl::Time end_time = absl::InfinitePast();  // InfinitePast = not ended
};

struct Task {
  int64_t id = 0;
  int64_t execution_id = 0;
  TaskStatus status = TaskStatus::kPending;
  int run_count = 0;     // attempts started so far
  int max_attempts = 0;  // total attempts allowed for this cycle
  // When the next attempt is due; InfiniteFuture when none is scheduled.
  absl::Time next_attempt_time = absl::InfiniteFuture();
  int last_response_code = 0;  // HTTP status of the last attempt, 0 = none
  std::string last_error;      // empty after success
  absl::Time create_time = absl::UnixEpoch();
  absl::Time update_time = absl::UnixEpoch();
  absl::Time start_time = absl::InfinitePast();
  absl::Time end_time = absl::InfinitePast();
  bool retry_scheduled() const {
    return status == TaskStatus::kError &&
           next_attempt_time != absl::InfiniteFuture();
  }
  bool final() const {
    return status == TaskStatus::kSuccess || status == TaskStatus::kStopped ||
           (status == TaskStatus::kError && !retry_scheduled());
  }
};

}  // namespace herald::core

#endif  // HERALD_SERVER_CORE_EXECUTION_H_
