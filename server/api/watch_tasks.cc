#include "server/api/watch_tasks.h"

#include <algorithm>
#include <optional>
#include <set>

#include "server/api/delivery_convert.h"
#include "server/api/reactor_lifetime.h"
#include "server/api/watch_cursor.h"
#include "server/auth/permissions.h"
#include "server/core/status_macros.h"

namespace herald::api {
namespace {

// What a stream may and wants to see.
struct WatchFilter {
  std::optional<std::set<int64_t>> projects;  // policy projects; nullopt = all
  int64_t policy_id = 0;
  int64_t execution_id = 0;
  std::set<std::string> event_types;
  std::set<core::TaskStatus> statuses;

  bool Matches(const store::TaskUpdate& u) const {
    if (projects.has_value() && !projects->count(u.policy_project_id)) {
      return false;
    }
    if (policy_id != 0 && u.policy_id != policy_id) return false;
    if (execution_id != 0 && u.execution_id != execution_id) return false;
    if (!event_types.empty() && !event_types.count(u.event_type)) return false;
    if (!statuses.empty() && !statuses.count(u.task.status)) return false;
    return true;
  }
};

v1::TaskUpdate ToProto(const store::TaskUpdate& u, int64_t cursor_seq,
                       bool snapshot) {
  v1::TaskUpdate out;
  out.set_cursor(EncodeWatchCursor(cursor_seq));
  *out.mutable_task() = TaskToProto(u.task);
  v1::ExecutionSummary* e = out.mutable_execution();
  e->set_execution_id(u.execution_id);
  e->set_policy_id(u.policy_id);
  e->set_project_id(u.project_id);
  e->set_event_id(u.event_id);
  e->set_event_type(u.event_type);
  e->set_vendor_type(u.vendor_type == core::VendorType::kSlack
                         ? v1::VENDOR_TYPE_SLACK
                         : v1::VENDOR_TYPE_WEBHOOK);
  e->set_target_address(u.target_address);
  out.set_snapshot(snapshot);
  return out;
}

class WatchTasksReactor final
    : public grpc::ServerWriteReactor<v1::WatchTasksResponse> {
 public:
  WatchTasksReactor(grpc::CallbackServerContext* context,
                    const ServiceContext& services, watch::WatchHub& hub,
                    const v1::WatchTasksRequest& request)
      : services_(services), hub_(hub), request_(request) {
    if (!services_.calls->Begin()) {
      tracked_ = false;
      FinishOnce(ShuttingDownError());
      return;
    }
    Hold();
    if (!services_.executor->Submit(
            [this, authorization = AuthorizationOf(context)] {
              absl::Status started = Setup(authorization);
              if (!started.ok()) {
                FinishOnce(started);
              } else {
                Pump();
              }
              Release();
            })) {
      FinishOnce(ShuttingDownError());
      Release();
    }
  }

  void OnWriteDone(bool ok) override {
    if (!ok) {
      FinishOnce(absl::CancelledError("the client went away"));
      return;
    }
    Schedule();
  }

  void OnCancel() override {
    FinishOnce(absl::CancelledError("cancelled by the client"));
  }

  void OnDone() override {
    const bool destroy = lifetime_.Done();
    if (tracked_) services_.calls->End();
    if (destroy) delete this;
  }

 private:
  absl::Status Setup(const std::optional<std::string>& authorization) {
    HERALD_ASSIGN_OR_RETURN(
        auth::Caller caller,
        services_.authenticator->Authenticate(authorization));
    for (int i = 0; i < request_.statuses_size(); ++i) {
      std::optional<core::TaskStatus> status =
          TaskStatusFromProto(request_.statuses(i));
      if (!status) {
        return core::InvalidFieldError(absl::StrCat("statuses[", i, "]"),
                                       "unknown task status");
      }
      filter_.statuses.insert(*status);
    }
    filter_.event_types.insert(request_.event_types().begin(),
                               request_.event_types().end());
    if (request_.has_project_id()) {
      HERALD_RETURN_IF_ERROR(
          auth::Authorize(caller, auth::Access::kRead, request_.project_id()));
      filter_.projects = std::set<int64_t>{request_.project_id()};
    } else if (auto readable = auth::ReadableProjects(caller)) {
      if (readable->empty()) {
        return auth::Authorize(caller, auth::Access::kRead, 0);
      }
      filter_.projects = std::set<int64_t>(readable->begin(), readable->end());
    }
    if (request_.execution_id() != 0) {
      absl::StatusOr<core::Execution> execution =
          services_.store->GetExecution(request_.execution_id());
      if (absl::IsNotFound(execution.status())) {
        return core::NotFoundError("execution", request_.execution_id());
      }
      HERALD_RETURN_IF_ERROR(execution.status());
      filter_.execution_id = execution->id;
      HERALD_RETURN_IF_ERROR(AuthorizePolicy(caller, execution->policy_id));
    }
    if (request_.policy_id() != 0) {
      filter_.policy_id = request_.policy_id();
      HERALD_RETURN_IF_ERROR(AuthorizePolicy(caller, request_.policy_id()));
    }
    if (!request_.cursor().empty()) {
      HERALD_ASSIGN_OR_RETURN(cursor_, DecodeWatchCursor(request_.cursor()));
    } else {
      cursor_ = hub_.latest_seq();
      snapshot_pending_ = request_.start() == v1::WATCH_START_SNAPSHOT;
    }
    return absl::OkStatus();
  }

  absl::Status AuthorizePolicy(const auth::Caller& caller, int64_t policy_id) {
    absl::StatusOr<core::Policy> policy =
        services_.store->GetPolicy(policy_id);
    if (absl::IsNotFound(policy.status())) {
      return core::NotFoundError("policy", policy_id);
    }
    HERALD_RETURN_IF_ERROR(policy.status());
    return auth::Authorize(caller, auth::Access::kRead, policy->project_id);
  }

  // Runs Pump() on the Executor.
  void Schedule() {
    Hold();
    if (!services_.executor->Submit([this] {
          Pump();
          Release();
        })) {
      FinishOnce(ShuttingDownError());
      Release();
    }
  }

  // Finds the next batch and writes it, or waits for one. Called from one
  // place at a time: after setup, after a write completed, after a wake.
  void Pump() {
    if (finished()) return;
    if (hub_.stopped()) {
      FinishOnce(core::MakeError(
          absl::StatusCode::kUnavailable, core::reason::kShuttingDown,
          "heraldd is shutting down; resume from your last cursor"));
      return;
    }
    response_.Clear();
    if (snapshot_pending_) {
      absl::Status loaded = LoadSnapshotPage();
      if (!loaded.ok()) {
        FinishOnce(loaded);
        return;
      }
      if (response_.updates_size() > 0) {
        StartWrite(&response_);
        return;
      }
    }
    while (true) {
      absl::StatusOr<std::vector<store::TaskUpdate>> batch =
          hub_.Read(cursor_, kMaxUpdatesPerMessage);
      if (absl::IsOutOfRange(batch.status())) {
        FinishOnce(core::MakeError(
            absl::StatusCode::kOutOfRange, core::reason::kCursorExpired,
            "the cursor is older than the retained task history; re-sync "
            "with start WATCH_START_SNAPSHOT (current state of unfinished "
            "tasks) and continue from its cursors"));
        return;
      }
      if (!batch.ok()) {
        FinishOnce(batch.status());
        return;
      }
      if (batch->empty()) {
        Hold();
        hub_.WhenAfter(cursor_, [this] {
          Schedule();
          Release();
        });
        return;
      }
      for (const store::TaskUpdate& u : *batch) {
        cursor_ = u.seq;
        if (filter_.Matches(u)) {
          *response_.add_updates() = ToProto(u, u.seq, false);
        }
      }
      if (response_.updates_size() > 0) {
        StartWrite(&response_);
        return;
      }
    }
  }

  absl::Status LoadSnapshotPage() {
    store::UnfinishedTaskQuery query;
    if (filter_.projects.has_value()) {
      query.policy_project_ids = std::vector<int64_t>(
          filter_.projects->begin(), filter_.projects->end());
    }
    query.policy_id = filter_.policy_id;
    query.execution_id = filter_.execution_id;
    query.after_task_id = snapshot_after_task_;
    query.limit = kMaxUpdatesPerMessage;
    HERALD_ASSIGN_OR_RETURN(std::vector<store::TaskUpdate> page,
                            services_.store->ListUnfinishedTasks(query));
    if (page.empty()) {
      snapshot_pending_ = false;
      return absl::OkStatus();
    }
    snapshot_after_task_ = page.back().task.id;
    for (const store::TaskUpdate& u : page) {
      if (filter_.Matches(u)) {
        *response_.add_updates() = ToProto(u, cursor_, true);
      }
    }
    if (response_.updates_size() == 0 &&
        static_cast<int>(page.size()) == kMaxUpdatesPerMessage) {
      return LoadSnapshotPage();  // all filtered out; try the next page
    }
    return absl::OkStatus();
  }

  bool finished() {
    absl::MutexLock lock(&mu_);
    return finished_;
  }

  void FinishOnce(const absl::Status& status) {
    {
      absl::MutexLock lock(&mu_);
      if (finished_) return;
      finished_ = true;
    }
    Finish(ToGrpcStatus(status));
  }

  void Hold() { lifetime_.Hold(); }

  void Release() {
    if (lifetime_.Release()) delete this;
  }

  const ServiceContext& services_;
  watch::WatchHub& hub_;
  const v1::WatchTasksRequest request_;
  bool tracked_ = true;

  // Touched only by the one Pump() running at a time (and Setup before).
  WatchFilter filter_;
  int64_t cursor_ = 0;
  bool snapshot_pending_ = false;
  int64_t snapshot_after_task_ = 0;
  v1::WatchTasksResponse response_;  // owned by the write in flight

  absl::Mutex mu_;
  bool finished_ ABSL_GUARDED_BY(mu_) = false;
  ReactorLifetime lifetime_;
};

}  // namespace

grpc::ServerWriteReactor<v1::WatchTasksResponse>* StartWatchTasks(
    grpc::CallbackServerContext* context, const ServiceContext& services,
    watch::WatchHub& hub, const v1::WatchTasksRequest& request) {
  return new WatchTasksReactor(context, services, hub, request);
}

}  // namespace herald::api
