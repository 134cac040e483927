#include "server/api/delivery_convert.h"

#include "server/api/policy_convert.h"
#include "server/api/proto_time.h"

namespace herald::api {

v1::TaskStatus TaskStatusToProto(core::TaskStatus status) {
  return static_cast<v1::TaskStatus>(status);
}

std::optional<core::TaskStatus> TaskStatusFromProto(v1::TaskStatus status) {
  if (status < v1::TASK_STATUS_PENDING || status > v1::TASK_STATUS_STOPPED) {
    return std::nullopt;
  }
  return static_cast<core::TaskStatus>(status);
}

v1::Execution ExecutionToProto(const core::Execution& e) {
  v1::Execution out;
  out.set_id(e.id);
  out.set_policy_id(e.policy_id);
  out.set_project_id(e.project_id);
  out.set_event_id(e.event_id);
  out.set_vendor_type(e.vendor_type == core::VendorType::kSlack
                          ? v1::VENDOR_TYPE_SLACK
                          : v1::VENDOR_TYPE_WEBHOOK);
  out.set_event_type(e.event_type);
  out.set_status(TaskStatusToProto(e.status));
  out.set_trigger("EVENT");
  out.set_content_type(e.content_type);
  out.set_webhook_id(e.webhook_id);
  *out.mutable_target() = TargetToProto(e.target);
  out.set_target_index(e.target_index);
  *out.mutable_start_time() = ToProto(e.start_time);
  SetTimeIfSet(e.end_time, [&] { return out.mutable_end_time(); });
  return out;
}

v1::TaskCounts TaskCountsOf(const std::vector<core::Task>& tasks) {
  v1::TaskCounts out;
  for (const core::Task& t : tasks) {
    out.set_task_count(out.task_count() + 1);
    switch (t.status) {
      case core::TaskStatus::kPending:
        out.set_pending_task_count(out.pending_task_count() + 1);
        break;
      case core::TaskStatus::kRunning:
        out.set_running_task_count(out.running_task_count() + 1);
        break;
      case core::TaskStatus::kSuccess:
        out.set_success_task_count(out.success_task_count() + 1);
        break;
      case core::TaskStatus::kError:
        out.set_error_task_count(out.error_task_count() + 1);
        if (t.retry_scheduled()) {
          out.set_scheduled_task_count(out.scheduled_task_count() + 1);
        }
        break;
      case core::TaskStatus::kStopped:
        out.set_stopped_task_count(out.stopped_task_count() + 1);
        break;
    }
  }
  return out;
}

v1::Task TaskToProto(const core::Task& t) {
  v1::Task out;
  out.set_id(t.id);
  out.set_execution_id(t.execution_id);
  out.set_status(TaskStatusToProto(t.status));
  out.set_status_message(t.last_error);
  out.set_run_count(t.run_count);
  out.set_max_attempts(t.max_attempts);
  out.set_final(t.final());
  SetTimeIfSet(t.next_attempt_time, [&] { return out.mutable_next_attempt_time(); });
  out.set_last_response_code(t.last_response_code);
  *out.mutable_create_time() = ToProto(t.create_time);
  *out.mutable_update_time() = ToProto(t.update_time);
  SetTimeIfSet(t.start_time, [&] { return out.mutable_start_time(); });
  SetTimeIfSet(t.end_time, [&] { return out.mutable_end_time(); });
  return out;
}

}  // namespace herald::api
