#include "server/core/execution.h"

namespace herald::core {

std::string_view TaskStatusName(TaskStatus status) {
  switch (status) {
    case TaskStatus::kPending: return "Pending";
    case TaskStatus::kRunning: return "Running";
    case TaskStatus::kSuccess: return "Success";
    case TaskStatus::kError: return "Error";
    case TaskStatus::kStopped: return "Stopped";
  }
  return "Unknown";
}

std::optional<TaskStatus> ParseTaskStatus(std::string_view name) {
  for (TaskStatus s : {TaskStatus::kPending, TaskStatus::kRunning,
                       TaskStatus::kSuccess, TaskStatus::kError,
                       TaskStatus::kStopped}) {
    if (TaskStatusName(s) == name) return s;
  }
  return std::nullopt;
}

std::string_view VendorTypeName(VendorType type) {
  return type == VendorType::kSlack ? "SLACK" : "WEBHOOK";
}

}  // namespace herald::core
