// Executions and tasks -> herald.v1 messages.
#ifndef HERALD_SERVER_API_DELIVERY_CONVERT_H_
#define HERALD_SERVER_API_DELIVERY_CONVERT_H_

#include "herald/v1/delivery.pb.h"
#include "server/core/execution.h"
#include "server/store/store.h"

namespace herald::api {

v1::TaskStatus TaskStatusToProto(core::TaskStatus status);
// nullopt for TASK_STATUS_UNSPECIFIED or unknown values.
std::optional<core::TaskStatus> TaskStatusFromProto(v1::TaskStatus status);

// Without payload (lists); GetExecution adds it.
v1::Execution ExecutionToProto(const core::Execution& execution);
// Harbor's execution metrics from an execution's tasks; "scheduled" counts
// failed tasks with a retry scheduled (they are also in error_task_count).
v1::TaskCounts TaskCountsOf(const std::vector<core::Task>& tasks);
v1::Task TaskToProto(const core::Task& task);

}  // namespace herald::api

#endif  // HERALD_SERVER_API_DELIVERY_CONVERT_H_
