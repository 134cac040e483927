#include "server/api/delivery_service.h"

#include <atomic>
#include <map>
#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "server/api/delivery_convert.h"
#include "server/api/pagination.h"
#include "server/api/watch_tasks.h"
#include "server/api/proto_time.h"
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

absl::StatusOr<core::Task> LoadTask(store::Store& store, int64_t id) {
  if (id <= 0) return core::InvalidFieldError("task_id", "required, positive");
  absl::StatusOr<core::Task> task = store.GetTask(id);
  if (absl::IsNotFound(task.status())) return core::NotFoundError("task", id);
  return task;
}

// The attempt budget of a new cycle: the policy's override, else the
// server setting (Harbor's webhook_job_max_retry).
int MaxAttemptsFor(const core::Policy& policy, const core::Settings& settings) {
  return policy.retry_policy.max_attempts > 0
             ? policy.retry_policy.max_attempts
             : std::max(settings.webhook_job_max_retry, 1);
}

// Redelivers one task of `execution` (authorized already) and maps the
// store's answer to the API's errors.
absl::StatusOr<core::Task> Redeliver(store::Store& store,
                                     const core::Execution& execution,
                                     int64_t task_id) {
  absl::StatusOr<core::Policy> policy = store.GetPolicy(execution.policy_id);
  if (absl::IsNotFound(policy.status())) {
    return core::NotFoundError("policy", execution.policy_id);
  }
  if (!policy.ok()) return policy.status();
  HERALD_ASSIGN_OR_RETURN(core::Settings settings, store.GetSettings());
  absl::StatusOr<core::Task> task =
      store.RedeliverTask({task_id, MaxAttemptsFor(*policy, settings)});
  if (absl::IsNotFound(task.status())) return core::NotFoundError("task", task_id);
  if (absl::IsFailedPrecondition(task.status())) {
    return core::MakeError(absl::StatusCode::kFailedPrecondition,
                           core::reason::kTaskNotFinal,
                           std::string(task.status().message()),
                           {{"task_id", absl::StrCat(task_id)}});
  }
  return task;
}

// RecoverFailed: pages through the finally failed tasks of a policy or a
// project in a time window on the Executor, redelivers each page in one
// store transaction and streams a progress message per page. One write is
// outstanding at a time: the next page is scheduled from OnWriteDone, so
// the reactor thread never blocks and memory stays at one page.
class RecoverFailedWriter final
    : public grpc::ServerWriteReactor<v1::RecoverFailedResponse> {
 public:
  // Tasks listed and redelivered per page (one store transaction).
  static constexpr int kPageSize = 500;

  RecoverFailedWriter(grpc::CallbackServerContext* context,
                      const ServiceContext& services,
                      const v1::RecoverFailedRequest& request)
      : services_(services),
        request_(request),
        authorization_(AuthorizationOf(context)) {
    if (!services.calls->Begin()) {
      tracked_ = false;
      Finish(ToGrpcStatus(ShuttingDownError()));
      return;
    }
    Schedule([this] { Begin(); });
  }

  void OnWriteDone(bool ok) override {
    if (!ok) {
      Finish(grpc::Status(grpc::StatusCode::CANCELLED, "stream closed"));
      return;
    }
    Schedule([this] { NextPage(); });
  }
  void OnCancel() override { cancelled_.store(true); }
  void OnDone() override {
    if (tracked_) services_.calls->End();
    delete this;
  }

 private:
  void Schedule(absl::AnyInvocable<void() &&> work) {
    if (!services_.executor->Submit(std::move(work))) {
      Finish(ToGrpcStatus(ShuttingDownError()));
    }
  }

  void Fail(const absl::Status& status) { Finish(ToGrpcStatus(status)); }

  // Authenticates, validates and authorizes, then runs the first page.
  void Begin() {
    absl::StatusOr<auth::Caller> caller =
        services_.authenticator->Authenticate(authorization_);
    if (!caller.ok()) return Fail(caller.status());
    std::vector<core::FieldViolation> violations;
    if (request_.scope_case() == v1::RecoverFailedRequest::SCOPE_NOT_SET) {
      violations.push_back({"policy_id", "set policy_id or project_id"});
    } else if (request_.has_policy_id() && request_.policy_id() <= 0) {
      violations.push_back({"policy_id", "must be positive"});
    } else if (request_.has_project_id() && request_.project_id() < 0) {
      violations.push_back({"project_id", "must not be negative"});
    }
    if (!request_.has_start_time()) {
      violations.push_back({"start_time", "required"});
    }
    query_.start_time = FromProto(request_.start_time());
    query_.end_time = request_.has_end_time() ? FromProto(request_.end_time())
                                              : services_.clock->Now();
    if (request_.has_start_time() && query_.start_time >= query_.end_time) {
      violations.push_back({"end_time", "must be after start_time"});
    }
    if (!violations.empty()) return Fail(core::InvalidFieldsError(violations));

    if (request_.has_policy_id()) {
      absl::StatusOr<core::Policy> policy =
          services_.store->GetPolicy(request_.policy_id());
      if (absl::IsNotFound(policy.status())) {
        return Fail(core::NotFoundError("policy", request_.policy_id()));
      }
      if (!policy.ok()) return Fail(policy.status());
      if (absl::Status s =
              auth::Authorize(*caller, auth::Access::kManage, policy->project_id);
          !s.ok()) {
        return Fail(s);
      }
      max_attempts_[policy->id] = -1;  // resolved with the settings below
      query_.policy_id = policy->id;
    } else {
      if (absl::Status s = auth::Authorize(*caller, auth::Access::kManage,
                                           request_.project_id());
          !s.ok()) {
        return Fail(s);
      }
      query_.project_id = request_.project_id();
    }
    absl::StatusOr<core::Settings> settings = services_.store->GetSettings();
    if (!settings.ok()) return Fail(settings.status());
    settings_ = *settings;
    query_.limit = kPageSize;
    NextPage();
  }

  // Lists and redelivers one page, then writes progress (the last message
  // carries done = true and finishes the call).
  void NextPage() {
    if (cancelled_.load()) {
      return Finish(grpc::Status(grpc::StatusCode::CANCELLED, "cancelled"));
    }
    absl::StatusOr<std::vector<store::FailedTask>> page =
        services_.store->ListFailedTasks(query_);
    if (!page.ok()) return Fail(page.status());
    progress_.set_matched(progress_.matched() +
                          static_cast<int64_t>(page->size()));
    if (!page->empty()) query_.after_execution_id = page->back().execution_id;
    if (!request_.dry_run() && !page->empty()) {
      std::vector<store::Redelivery> batch;
      batch.reserve(page->size());
      for (const store::FailedTask& f : *page) {
        absl::StatusOr<int> max = MaxAttempts(f.policy_id);
        if (absl::IsNotFound(max.status())) continue;  // deleted meanwhile
        if (!max.ok()) return Fail(max.status());
        batch.push_back({f.task_id, *max});
      }
      absl::StatusOr<std::vector<absl::Status>> results =
          services_.store->RedeliverTasks(std::move(batch));
      if (!results.ok()) return Fail(results.status());
      int64_t redelivered = 0;
      for (const absl::Status& r : *results) redelivered += r.ok() ? 1 : 0;
      progress_.set_redelivered(progress_.redelivered() + redelivered);
    }
    if (page->size() < static_cast<size_t>(kPageSize)) {
      progress_.set_done(true);
      StartWriteAndFinish(&progress_, grpc::WriteOptions(), grpc::Status::OK);
      return;
    }
    StartWrite(&progress_);
  }

  absl::StatusOr<int> MaxAttempts(int64_t policy_id) {
    auto it = max_attempts_.find(policy_id);
    if (it != max_attempts_.end() && it->second > 0) return it->second;
    absl::StatusOr<core::Policy> policy = services_.store->GetPolicy(policy_id);
    if (!policy.ok()) return policy.status();
    return max_attempts_[policy_id] = MaxAttemptsFor(*policy, settings_);
  }

  const ServiceContext& services_;
  const v1::RecoverFailedRequest request_;
  const std::optional<std::string> authorization_;
  bool tracked_ = true;
  std::atomic<bool> cancelled_{false};
  // Touched by one executor job at a time (jobs are chained through
  // OnWriteDone).
  store::FailedTaskQuery query_;
  core::Settings settings_;
  std::map<int64_t, int> max_attempts_;
  v1::RecoverFailedResponse progress_;
};

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
    const uint64_t fingerprint = core::QueryFingerprint(
        {"executions", absl::StrCat(request->policy_id()),
         absl::StrCat(static_cast<int>(request->status())),
         query.event_type});
    HERALD_ASSIGN_OR_RETURN(
        PageCursor cursor,
        StartPage(request->page_size(), request->page_token(), fingerprint));
    query.page = cursor.page;
    HERALD_ASSIGN_OR_RETURN(store::ExecutionList list,
                            services_.store->ListExecutions(query));
    for (const core::Execution& e : list.executions) {
      *response->add_executions() = ExecutionToProto(e);
    }
    response->set_total_size(list.total_size);
    response->set_next_page_token(
        cursor.NextToken(list.executions.size(), list.total_size));
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
    HERALD_ASSIGN_OR_RETURN(std::vector<core::Task> tasks,
                            services_.store->ListTasks(execution.id));
    v1::Execution* out = response->mutable_execution();
    *out = ExecutionToProto(execution);
    out->set_payload(execution.payload);
    *out->mutable_metrics() = TaskCountsOf(tasks);
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
    grpc::CallbackServerContext* context, const v1::GetTaskLogRequest* request,
    v1::GetTaskLogResponse* response) {
  return HandleUnary(context, services_, [this, request, response](
                                             const auth::Caller& caller) {
    HERALD_ASSIGN_OR_RETURN(core::Task task,
                            LoadTask(*services_.store, request->task_id()));
    HERALD_RETURN_IF_ERROR(LoadExecution(*services_.store, caller,
                                         task.execution_id, auth::Access::kRead)
                               .status());
    absl::StatusOr<std::string> log = services_.store->GetTaskLog(task.id);
    if (absl::IsNotFound(log.status())) {
      return core::NotFoundError("task", task.id);
    }
    if (!log.ok()) return log.status();
    response->set_log(*std::move(log));
    return absl::OkStatus();
  });
}

grpc::ServerUnaryReactor* DeliveryServiceImpl::RedeliverTask(
    grpc::CallbackServerContext* context,
    const v1::RedeliverTaskRequest* request,
    v1::RedeliverTaskResponse* response) {
  return HandleUnary(context, services_, [this, request, response](
                                             const auth::Caller& caller) {
    HERALD_ASSIGN_OR_RETURN(core::Task task,
                            LoadTask(*services_.store, request->task_id()));
    HERALD_ASSIGN_OR_RETURN(
        core::Execution execution,
        LoadExecution(*services_.store, caller, task.execution_id,
                      auth::Access::kManage));
    HERALD_ASSIGN_OR_RETURN(core::Task redelivered,
                            Redeliver(*services_.store, execution, task.id));
    *response->mutable_task() = TaskToProto(redelivered);
    return absl::OkStatus();
  });
}

grpc::ServerUnaryReactor* DeliveryServiceImpl::RedeliverExecution(
    grpc::CallbackServerContext* context,
    const v1::RedeliverExecutionRequest* request,
    v1::RedeliverExecutionResponse* response) {
  return HandleUnary(context, services_, [this, request, response](
                                             const auth::Caller& caller) {
    if (request->execution_id() <= 0) {
      return core::InvalidFieldError("execution_id", "required, positive");
    }
    HERALD_ASSIGN_OR_RETURN(
        core::Execution execution,
        LoadExecution(*services_.store, caller, request->execution_id(),
                      auth::Access::kManage));
    HERALD_ASSIGN_OR_RETURN(std::vector<core::Task> tasks,
                            services_.store->ListTasks(execution.id));
    for (const core::Task& t : tasks) {
      HERALD_RETURN_IF_ERROR(
          Redeliver(*services_.store, execution, t.id).status());
    }
    absl::StatusOr<core::Execution> after =
        services_.store->GetExecution(execution.id);
    if (absl::IsNotFound(after.status())) {
      return core::NotFoundError("execution", execution.id);
    }
    if (!after.ok()) return after.status();
    HERALD_ASSIGN_OR_RETURN(std::vector<core::Task> tasks_after,
                            services_.store->ListTasks(execution.id));
    v1::Execution* out = response->mutable_execution();
    *out = ExecutionToProto(*after);
    *out->mutable_metrics() = TaskCountsOf(tasks_after);
    return absl::OkStatus();
  });
}

grpc::ServerWriteReactor<v1::RecoverFailedResponse>*
DeliveryServiceImpl::RecoverFailed(grpc::CallbackServerContext* context,
                                   const v1::RecoverFailedRequest* request) {
  return new RecoverFailedWriter(context, services_, *request);
}

grpc::ServerWriteReactor<v1::WatchTasksResponse>*
DeliveryServiceImpl::WatchTasks(grpc::CallbackServerContext* context,
                                const v1::WatchTasksRequest* request) {
  return StartWatchTasks(context, services_, *services_.watch_hub, *request);
}

}  // namespace herald::api
