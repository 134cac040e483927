#include "server/api/delivery_service.h"

#include "absl/strings/str_cat.h"
#include "server/api/delivery_convert.h"
#include "server/api/unimplemented.h"
#include "server/auth/permissions.h"
#include "server/core/page_token.h"
#include "server/core/status_macros.h"

namespace herald::api {
namespace {

// Deliveries are readable by whoever may read their policy's project.
absl::Status AuthorizePolicy(store::Store& store, const auth::Caller& caller,
                             int64_t policy_id, auth::Access access) {
  absl::StatusOr<core::Policy> policy = store.GetPolicy(policy_id);
  if (absl::IsNotFound(policy.status())) {
    return core::NotFoundError("policy", policy_id);
  }
  if (!policy.ok()) return policy.status();
  return auth::Authorize(caller, access, policy->project_id);
}

absl::StatusOr<core::Execution> LoadExecution(store::Store& store,
                                              const auth::Caller& caller,
                                              int64_t id,
                                              auth::Access access) {
  absl::StatusOr<core::Execution> execution = store.GetExecution(id);
  if (absl::IsNotFound(execution.status())) {
    return core::NotFoundError("execution", id);
  }
  if (!execution.ok()) return execution.status();
  HERALD_RETURN_IF_ERROR(
      AuthorizePolicy(store, caller, execution->policy_id, access));
  return execution;
}

}  // namespace

grpc::ServerUnaryReactor* DeliveryServiceImpl::ListExecutions(
    grpc::CallbackServerContext* context,
    const v1::ListExecutionsRequest* request,
    v1::ListExecutionsResponse* response) {
  return HandleUnary(context, services_, [this, request, response](
                                             const auth::Caller& caller) {
    if (request->policy_id() <= 0) {
      return core::InvalidFieldError("policy_id", "required, positive");
    }
    HERALD_RETURN_IF_ERROR(AuthorizePolicy(*services_.store, caller,
                                           request->policy_id(),
                                           auth::Access::kRead));
    store::ExecutionQuery query;
    query.policy_id = request->policy_id();
    if (request->status() != v1::TASK_STATUS_UNSPECIFIED) {
      query.status = TaskStatusFromProto(request->status());
      if (!query.status) {
        return core::InvalidFieldError("status", "unknown task status");
      }
    }
    query.event_type = request->event_type();
    absl::StatusOr<int> page_size =
        core::NormalizePageSize(request->page_size());
    if (!page_size.ok()) {
      return core::InvalidFieldError("page_size", std::string(page_size.status().message()));
    }
    const uint64_t fingerprint = core::QueryFingerprint(
        {"executions", absl::StrCat(request->policy_id()),
         absl::StrCat(static_cast<int>(request->status())),
         query.event_type});
    int64_t offset = 0;
    if (!request->page_token().empty()) {
      HERALD_ASSIGN_OR_RETURN(
          offset, core::DecodePageToken(request->page_token(), fingerprint));
    }
    query.page = {offset, *page_size};
    HERALD_ASSIGN_OR_RETURN(store::ExecutionList list,
                            services_.store->ListExecutions(query));
    for (const core::Execution& e : list.executions) {
      *response->add_executions() = ExecutionToProto(e);
    }
    response->set_total_size(list.total_size);
    const int64_t next = offset + static_cast<int64_t>(list.executions.size());
    if (!list.executions.empty() && next < list.total_size) {
      response->set_next_page_token(core::EncodePageToken(next, fingerprint));
    }
    return absl::OkStatus();
  });
}

grpc::ServerUnaryReactor* DeliveryServiceImpl::GetExecution(
    grpc::CallbackServerContext* context,
    const v1::GetExecutionRequest* request,
    v1::GetExecutionResponse* response) {
  return HandleUnary(context, services_, [this, request, response](
                                             const auth::Caller& caller) {
    HERALD_ASSIGN_OR_RETURN(
        core::Execution execution,
        LoadExecution(*services_.store, caller, request->id(),
                      auth::Access::kRead));
    HERALD_ASSIGN_OR_RETURN(store::TaskCounts counts,
                            services_.store->CountTasks(execution.id));
    v1::Execution* out = response->mutable_execution();
    *out = ExecutionToProto(execution);
    out->set_payload(execution.payload);
    *out->mutable_metrics() = TaskCountsToProto(counts);
    return absl::OkStatus();
  });
}

grpc::ServerUnaryReactor* DeliveryServiceImpl::ListTasks(
    grpc::CallbackServerContext* context, const v1::ListTasksRequest* request,
    v1::ListTasksResponse* response) {
  return HandleUnary(context, services_, [this, request, response](
                                             const auth::Caller& caller) {
    HERALD_ASSIGN_OR_RETURN(
        core::Execution execution,
        LoadExecution(*services_.store, caller, request->execution_id(),
                      auth::Access::kRead));
    HERALD_ASSIGN_OR_RETURN(std::vector<core::Task> tasks,
                            services_.store->ListTasks(execution.id));
    for (const core::Task& t : tasks) *response->add_tasks() = TaskToProto(t);
    return absl::OkStatus();
  });
}

grpc::ServerUnaryReactor* DeliveryServiceImpl::GetTaskLog(
    grpc::CallbackServerContext* context, const v1::GetTaskLogRequest*,
    v1::GetTaskLogResponse*) {
  return HandleUnary(context, services_, [](const auth::Caller&) {
    return NotImplementedError("GetTaskLog");
  });
}

grpc::ServerUnaryReactor* DeliveryServiceImpl::RedeliverTask(
    grpc::CallbackServerContext* context, const v1::RedeliverTaskRequest*,
    v1::RedeliverTaskResponse*) {
  return HandleUnary(context, services_, [](const auth::Caller&) {
    return NotImplementedError("RedeliverTask");
  });
}

grpc::ServerUnaryReactor* DeliveryServiceImpl::RedeliverExecution(
    grpc::CallbackServerContext* context, const v1::RedeliverExecutionRequest*,
    v1::RedeliverExecutionResponse*) {
  return HandleUnary(context, services_, [](const auth::Caller&) {
    return NotImplementedError("RedeliverExecution");
  });
}

grpc::ServerWriteReactor<v1::RecoverFailedResponse>*
DeliveryServiceImpl::RecoverFailed(grpc::CallbackServerContext* context,
                                   const v1::RecoverFailedRequest*) {
  return new UnimplementedWriter<v1::RecoverFailedResponse>(
      context, services_, "RecoverFailed");
}

grpc::ServerWriteReactor<v1::WatchTasksResponse>*
DeliveryServiceImpl::WatchTasks(grpc::CallbackServerContext* context,
                                const v1::WatchTasksRequest*) {
  return new UnimplementedWriter<v1::WatchTasksResponse>(context, services_,
                                                         "WatchTasks");
}

}  // namespace herald::api
