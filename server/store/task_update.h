// Task updates: the durable, ordered log of every task status change that
// WatchTasks streams. Each change made by the store appends one record in
// the same transaction, numbered by a global, increasing sequence (the
// watch cursor).
#ifndef HERALD_SERVER_STORE_TASK_UPDATE_H_
#define HERALD_SERVER_STORE_TASK_UPDATE_H_

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "absl/time/time.h"
#include "server/core/execution.h"

namespace herald::store {

// One change of one task: the task as it was right after the change, and
// what it delivers.
struct TaskUpdate {
  int64_t seq = 0;  // > 0, increasing in commit order
  core::Task task;
  int64_t execution_id = 0;
  int64_t policy_id = 0;
  int64_t project_id = 0;         // the event's project
  int64_t policy_project_id = 0;  // the policy's project (0 = system-wide)
  int64_t event_id = 0;
  std::string event_type;
  core::VendorType vendor_type = core::VendorType::kWebhook;
  std::string target_address;
};

// A page of the log after some sequence number.
struct TaskUpdatePage {
  std::vector<TaskUpdate> updates;  // seq ascending
  // The smallest seq still retained (0 when the log is empty). A reader
  // whose position is below oldest_seq - 1 has missed trimmed updates.
  int64_t oldest_seq = 0;
  // The largest seq committed so far (0 when none).
  int64_t latest_seq = 0;
};

// Which not-yet-final tasks a WatchTasks snapshot covers. Keyset-paginated
// by task id.
struct UnfinishedTaskQuery {
  // Tasks whose policy belongs to one of these projects; nullopt = any.
  std::optional<std::vector<int64_t>> policy_project_ids;
  int64_t policy_id = 0;     // 0 = any
  int64_t execution_id = 0;  // 0 = any
  int64_t after_task_id = 0;
  int limit = 500;
};

}  // namespace herald::store

#endif  // HERALD_SERVER_STORE_TASK_UPDATE_H_
