#include "client/client.h"

#include <algorithm>
#include <deque>
#include <random>
#include <thread>
#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/clock.h"

namespace herald {
namespace {

// A uniformly random duration in [d/2, d].
absl::Duration Jitter(absl::Duration d) {
  thread_local std::mt19937_64 rng{std::random_device{}()};
  std::uniform_real_distribution<double> dist(0.5, 1.0);
  return d * dist(rng);
}

std::string RandomPrefix() {
  thread_local std::mt19937_64 rng{std::random_device{}()};
  return absl::StrFormat("pub-%016x-", rng());
}

google::protobuf::FieldMask Mask(std::initializer_list<const char*> paths) {
  google::protobuf::FieldMask mask;
  for (const char* p : paths) mask.add_paths(p);
  return mask;
}

// How long a reconnecting watch may wait before noticing Cancel().
constexpr absl::Duration kCancelSlice = absl::Milliseconds(100);

// The reconnecting source behind Client::WatchTasks.
class WatchSource final : public StreamSource<v1::TaskUpdate> {
 public:
  WatchSource(std::shared_ptr<Connection> connection,
              v1::WatchTasksRequest request, WatchOptions options)
      : connection_(std::move(connection)),
        request_(std::move(request)),
        options_(std::move(options)),
        cursor_(request_.cursor()),
        backoff_(options_.initial_backoff) {}

  std::variant<absl::Status, v1::TaskUpdate> Next() override {
    for (;;) {
      {
        absl::MutexLock lock(&mu_);
        if (cancelled_) {
          current_.reset();
          return absl::OkStatus();
        }
        if (current_ == nullptr) {
          v1::WatchTasksRequest request = request_;
          if (!cursor_.empty()) request.set_cursor(cursor_);
          current_ = std::make_unique<StreamRange<v1::TaskUpdate>>(
              connection_->WatchTasks(request));
          begun_ = false;
        }
      }
      // Only this thread replaces current_, so it may use it unlocked.
      if (!begun_) {
        it_ = current_->begin();
        begun_ = true;
      } else {
        ++it_;
      }
      if (it_ == current_->end()) {
        // The server ended the stream without an error: the watch is over.
        absl::MutexLock lock(&mu_);
        current_.reset();
        return absl::OkStatus();
      }
      absl::StatusOr<v1::TaskUpdate>& item = *it_;
      if (item.ok()) {
        if (!item->cursor().empty()) cursor_ = item->cursor();
        failing_since_.reset();
        backoff_ = options_.initial_backoff;
        return *std::move(item);
      }
      absl::Status error = item.status();
      {
        absl::MutexLock lock(&mu_);
        current_.reset();
        if (cancelled_) return absl::OkStatus();
      }
      if (error.code() == absl::StatusCode::kOutOfRange &&
          options_.resync_on_cursor_expired) {
        cursor_.clear();
        request_.clear_cursor();
        request_.set_start(v1::WATCH_START_SNAPSHOT);
        if (options_.on_reconnect) options_.on_reconnect(error, absl::ZeroDuration());
        continue;
      }
      // CANCELLED here did not come from Cancel() (checked above): a
      // server shutting down cancels the calls it accepted meanwhile.
      if (error.code() != absl::StatusCode::kUnavailable &&
          error.code() != absl::StatusCode::kCancelled) {
        return error;
      }
      const absl::Time now = absl::Now();
      if (!failing_since_) failing_since_ = now;
      if (now - *failing_since_ > options_.max_reconnect_time) return error;
      const absl::Duration delay = Jitter(backoff_);
      backoff_ = std::min(backoff_ * 2, options_.max_backoff);
      if (options_.on_reconnect) options_.on_reconnect(error, delay);
      // Wait for the server in short slices, so that Cancel() is honoured
      // promptly; a server that is back ends the wait early.
      const absl::Time wake = absl::Now() + delay;
      for (;;) {
        {
          absl::MutexLock lock(&mu_);
          if (cancelled_) break;
        }
        const absl::Time now_ = absl::Now();
        if (now_ >= wake) break;
        if (connection_->WaitForConnection(std::min(wake, now_ + kCancelSlice))) break;
      }
    }
  }

  void Cancel() override {
    absl::MutexLock lock(&mu_);
    cancelled_ = true;
    if (current_ != nullptr) current_->Cancel();
  }

 private:
  const std::shared_ptr<Connection> connection_;
  v1::WatchTasksRequest request_;
  const WatchOptions options_;
  std::string cursor_;
  absl::Duration backoff_;
  std::optional<absl::Time> failing_since_;
  bool begun_ = false;
  StreamRange<v1::TaskUpdate>::iterator it_;

  absl::Mutex mu_;
  // Replaced only by the iterating thread, under mu_; Cancel() reads it
  // under mu_.
  std::unique_ptr<StreamRange<v1::TaskUpdate>> current_ ABSL_GUARDED_BY(mu_);
  bool cancelled_ ABSL_GUARDED_BY(mu_) = false;
};

}  // namespace

// --- Policies ---------------------------------------------------------------

absl::StatusOr<v1::Policy> Client::CreatePolicy(v1::Policy policy,
                                                std::string request_id) {
  v1::CreatePolicyRequest request;
  *request.mutable_policy() = std::move(policy);
  request.set_request_id(std::move(request_id));
  return connection_->CreatePolicy(request);
}

absl::StatusOr<v1::Policy> Client::CreatePolicy(
    const v1::CreatePolicyRequest& request) {
  return connection_->CreatePolicy(request);
}

absl::StatusOr<v1::Policy> Client::GetPolicy(int64_t id) {
  v1::GetPolicyRequest request;
  request.set_id(id);
  return connection_->GetPolicy(request);
}

PaginatedRange<v1::Policy> Client::ListPolicies(v1::ListPoliciesRequest request) {
  return connection_->ListPolicies(std::move(request));
}

absl::StatusOr<v1::Policy> Client::UpdatePolicy(
    v1::Policy policy, google::protobuf::FieldMask update_mask) {
  v1::UpdatePolicyRequest request;
  *request.mutable_policy() = std::move(policy);
  if (update_mask.paths_size() > 0) {
    *request.mutable_update_mask() = std::move(update_mask);
  }
  return connection_->UpdatePolicy(request);
}

absl::StatusOr<v1::Policy> Client::UpdatePolicy(
    const v1::UpdatePolicyRequest& request) {
  return connection_->UpdatePolicy(request);
}

absl::StatusOr<v1::Policy> Client::EnablePolicy(int64_t id) {
  v1::Policy policy;
  policy.set_id(id);
  policy.set_enabled(true);
  return UpdatePolicy(std::move(policy), Mask({"enabled"}));
}

absl::StatusOr<v1::Policy> Client::DisablePolicy(int64_t id) {
  v1::Policy policy;
  policy.set_id(id);
  policy.set_enabled(false);
  return UpdatePolicy(std::move(policy), Mask({"enabled"}));
}

absl::Status Client::DeletePolicy(int64_t id) {
  v1::DeletePolicyRequest request;
  request.set_id(id);
  return connection_->DeletePolicy(request);
}

absl::StatusOr<v1::ListEventTypesResponse> Client::ListEventTypes() {
  return connection_->ListEventTypes(v1::ListEventTypesRequest());
}

// --- Events -----------------------------------------------------------------

absl::StatusOr<v1::EventAck> Client::PublishEvent(v1::Event event,
                                                  std::string request_id) {
  v1::PublishEventRequest request;
  *request.mutable_event() = std::move(event);
  request.set_request_id(std::move(request_id));
  return connection_->PublishEvent(request);
}

absl::StatusOr<v1::EventAck> Client::PublishEvent(
    const v1::PublishEventRequest& request) {
  return connection_->PublishEvent(request);
}

std::unique_ptr<PublishStream> Client::OpenPublishStream() {
  return connection_->PublishEvents();
}

absl::StatusOr<PublishSummary> Client::PublishEvents(
    std::function<std::optional<v1::PublishEventsRequest>()> next,
    std::function<void(const v1::PublishEventsRequest&,
                       const v1::PublishEventsResponse&)>
        on_ack,
    PublishOptions options) {
  // Events sent on the current stream and not yet acknowledged, oldest
  // first (the server acknowledges in order), shared by the writer thread
  // (push) and this thread (pop).
  struct Shared {
    absl::Mutex mu;
    std::deque<v1::PublishEventsRequest> in_flight ABSL_GUARDED_BY(mu);
    bool source_done ABSL_GUARDED_BY(mu) = false;
    int64_t sent ABSL_GUARDED_BY(mu) = 0;
  } shared;
  const std::string id_prefix = RandomPrefix();
  int64_t id_counter = 0;  // writer thread only

  const RetryPolicy retry = connection_->options().retry;
  PublishSummary summary;
  int64_t sequence = 0;
  int failures = 0;
  absl::Duration backoff = retry.initial_backoff;
  absl::Time failing_since = absl::Now();

  for (;;) {
    std::unique_ptr<PublishStream> stream = connection_->PublishEvents();
    std::vector<v1::PublishEventsRequest> resend;
    {
      absl::MutexLock lock(&shared.mu);
      resend.assign(shared.in_flight.begin(), shared.in_flight.end());
    }
    std::thread writer([&] {
      for (const v1::PublishEventsRequest& r : resend) {
        if (!stream->Write(r)) return;
      }
      for (;;) {
        {
          absl::MutexLock lock(&shared.mu);
          if (shared.source_done) break;
        }
        std::optional<v1::PublishEventsRequest> r = next();
        if (!r) {
          absl::MutexLock lock(&shared.mu);
          shared.source_done = true;
          break;
        }
        if (options.assign_request_ids && r->request_id().empty()) {
          r->set_request_id(absl::StrCat(id_prefix, ++id_counter));
        }
        {
          absl::MutexLock lock(&shared.mu);
          shared.in_flight.push_back(*r);
          ++shared.sent;
        }
        if (!stream->Write(*r)) return;
      }
      stream->WritesDone();
    });

    bool progressed = false;
    bool protocol_error = false;
    while (std::optional<v1::PublishEventsResponse> response = stream->Read()) {
      v1::PublishEventsRequest request;
      {
        absl::MutexLock lock(&shared.mu);
        if (shared.in_flight.empty()) {
          protocol_error = true;
        } else {
          request = std::move(shared.in_flight.front());
          shared.in_flight.pop_front();
        }
      }
      if (protocol_error) {
        stream->Cancel();
        continue;  // drain until the stream ends
      }
      response->set_sequence(++sequence);
      if (response->has_error()) {
        ++summary.refused;
      } else {
        ++summary.acknowledged;
        summary.deliveries_created += response->ack().deliveries_created();
      }
      progressed = true;
      if (on_ack) on_ack(request, *response);
    }
    writer.join();
    const absl::Status status = stream->Finish();
    if (protocol_error) {
      return absl::InternalError(
          "PublishEvents: the server acknowledged more events than were sent");
    }

    size_t unacknowledged = 0;
    size_t without_id = 0;
    {
      absl::MutexLock lock(&shared.mu);
      summary.sent = shared.sent;
      if (shared.source_done && shared.in_flight.empty()) {
        if (!status.ok()) return status;
        return summary;
      }
      unacknowledged = shared.in_flight.size();
      for (const auto& r : shared.in_flight) {
        if (r.request_id().empty()) ++without_id;
      }
    }
    if (status.ok()) {
      return absl::InternalError(absl::StrCat(
          "PublishEvents: the server ended the stream with ", unacknowledged,
          " events unacknowledged"));
    }
    // CANCELLED: this helper cancels only on a protocol error (handled
    // above), so it came from a server shutting down.
    if (status.code() != absl::StatusCode::kUnavailable &&
        status.code() != absl::StatusCode::kCancelled) {
      return status;
    }
    if (without_id > 0) {
      return absl::Status(
          status.code(),
          absl::StrCat(status.message(), " (not resumed: ", without_id,
                       " unacknowledged events have no request_id)"));
    }
    const absl::Time now = absl::Now();
    if (progressed) {
      failures = 0;
      backoff = retry.initial_backoff;
      failing_since = now;
    }
    if (++failures >= std::max(retry.max_attempts, 1) ||
        now - failing_since > retry.max_retry_time) {
      return status;
    }
    const absl::Duration delay = Jitter(backoff);
    backoff = std::min(backoff * retry.backoff_multiplier, retry.max_backoff);
    if (const auto& on_retry = connection_->options().on_retry) {
      on_retry(RetryAttempt{"herald.v1.EventService/PublishEvents", failures,
                            status, delay});
    }
    connection_->WaitForConnection(absl::Now() + delay);
    ++summary.reconnects;
  }
}

absl::StatusOr<std::vector<v1::PublishEventsResponse>> Client::PublishEvents(
    std::vector<v1::PublishEventsRequest> requests, PublishOptions options) {
  size_t index = 0;
  std::vector<v1::PublishEventsResponse> acks;
  acks.reserve(requests.size());
  absl::StatusOr<PublishSummary> summary = PublishEvents(
      [&]() -> std::optional<v1::PublishEventsRequest> {
        if (index >= requests.size()) return std::nullopt;
        return std::move(requests[index++]);
      },
      [&](const v1::PublishEventsRequest&,
          const v1::PublishEventsResponse& response) { acks.push_back(response); },
      options);
  if (!summary.ok()) return summary.status();
  return acks;
}

// --- Deliveries -------------------------------------------------------------

PaginatedRange<v1::Execution> Client::ListExecutions(
    v1::ListExecutionsRequest request) {
  return connection_->ListExecutions(std::move(request));
}

absl::StatusOr<v1::Execution> Client::GetExecution(int64_t id) {
  v1::GetExecutionRequest request;
  request.set_id(id);
  return connection_->GetExecution(request);
}

absl::StatusOr<std::vector<v1::Task>> Client::ListTasks(int64_t execution_id) {
  v1::ListTasksRequest request;
  request.set_execution_id(execution_id);
  return connection_->ListTasks(request);
}

absl::StatusOr<std::string> Client::GetTaskLog(int64_t task_id) {
  v1::GetTaskLogRequest request;
  request.set_task_id(task_id);
  return connection_->GetTaskLog(request);
}

absl::StatusOr<v1::Task> Client::RedeliverTask(int64_t task_id) {
  v1::RedeliverTaskRequest request;
  request.set_task_id(task_id);
  return connection_->RedeliverTask(request);
}

absl::StatusOr<v1::Execution> Client::RedeliverExecution(int64_t execution_id) {
  v1::RedeliverExecutionRequest request;
  request.set_execution_id(execution_id);
  return connection_->RedeliverExecution(request);
}

StreamRange<v1::RecoverFailedResponse> Client::RecoverFailed(
    const v1::RecoverFailedRequest& request) {
  return connection_->RecoverFailed(request);
}

StreamRange<v1::TaskUpdate> Client::WatchTasks(v1::WatchTasksRequest request,
                                               WatchOptions options) {
  return StreamRange<v1::TaskUpdate>(std::make_unique<WatchSource>(
      connection_, std::move(request), std::move(options)));
}

absl::Status Client::WatchTasks(
    v1::WatchTasksRequest request,
    const std::function<bool(const v1::TaskUpdate&)>& on_update,
    WatchOptions options) {
  StreamRange<v1::TaskUpdate> updates =
      WatchTasks(std::move(request), std::move(options));
  for (absl::StatusOr<v1::TaskUpdate>& update : updates) {
    if (!update.ok()) return update.status();
    if (!on_update(*update)) return absl::OkStatus();
  }
  return absl::OkStatus();
}

// --- Administration ---------------------------------------------------------

absl::StatusOr<v1::Settings> Client::GetSettings() {
  return connection_->GetSettings(v1::GetSettingsRequest());
}

absl::StatusOr<v1::Settings> Client::UpdateSettings(
    v1::Settings settings, google::protobuf::FieldMask update_mask) {
  v1::UpdateSettingsRequest request;
  *request.mutable_settings() = std::move(settings);
  if (update_mask.paths_size() > 0) {
    *request.mutable_update_mask() = std::move(update_mask);
  }
  return connection_->UpdateSettings(request);
}

absl::StatusOr<v1::CreateTokenResponse> Client::CreateToken(v1::Token token) {
  v1::CreateTokenRequest request;
  *request.mutable_token() = std::move(token);
  return connection_->CreateToken(request);
}

PaginatedRange<v1::Token> Client::ListTokens(v1::ListTokensRequest request) {
  return connection_->ListTokens(std::move(request));
}

absl::Status Client::RevokeToken(int64_t id) {
  v1::RevokeTokenRequest request;
  request.set_id(id);
  return connection_->RevokeToken(request);
}

absl::StatusOr<v1::GetServerInfoResponse> Client::GetServerInfo() {
  return connection_->GetServerInfo(v1::GetServerInfoRequest());
}

absl::StatusOr<ServingStatus> Client::CheckHealth(const std::string& service) {
  return connection_->CheckHealth(service);
}

}  // namespace herald
