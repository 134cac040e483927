#include "client/internal/grpc_connection.h"

#include <algorithm>
#include <random>
#include <string>
#include <utility>
#include <vector>

#include "absl/strings/cord.h"
#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "client/errors.h"
#include "client/internal/strings.h"

namespace herald::internal {
namespace {

constexpr const char* kPolicyService = "herald.v1.PolicyService/";
constexpr const char* kEventService = "herald.v1.EventService/";
constexpr const char* kDeliveryService = "herald.v1.DeliveryService/";
constexpr const char* kAdminService = "herald.v1.AdminService/";

int ToMillis(absl::Duration d) {
  return static_cast<int>(std::clamp<int64_t>(absl::ToInt64Milliseconds(d), 1,
                                              INT32_MAX));
}

// A uniformly random duration in [d/2, d] ("equal jitter").
absl::Duration Jitter(absl::Duration d) {
  thread_local std::mt19937_64 rng{std::random_device{}()};
  std::uniform_real_distribution<double> dist(0.5, 1.0);
  return d * dist(rng);
}

// Attaches the bearer token and a deadline to a call.
void PrepareContext(grpc::ClientContext& context,
                    const ConnectionOptions& options,
                    std::optional<absl::Time> deadline) {
  if (!options.token.empty()) {
    context.AddMetadata("authorization", absl::StrCat("Bearer ", options.token));
  }
  if (deadline) context.set_deadline(absl::ToChronoTime(*deadline));
}

// Reads a server stream; each message yields zero or more values (a
// WatchTasks message carries a batch of updates). The call starts on the
// first Next(), so an unread range costs nothing.
template <typename Response, typename T>
class ReaderSource final : public StreamSource<T> {
 public:
  using Start = std::function<std::unique_ptr<grpc::ClientReaderInterface<Response>>(
      grpc::ClientContext*)>;
  using Extract = std::function<std::vector<T>(Response&)>;

  ReaderSource(const ConnectionOptions& options, Start start, Extract extract)
      : start_(std::move(start)), extract_(std::move(extract)) {
    PrepareContext(context_, options, std::nullopt);
  }

  ~ReaderSource() override {
    if (reader_ != nullptr && !finished_) {
      context_.TryCancel();
      Response drain;
      while (reader_->Read(&drain)) {
      }
      reader_->Finish().ok();
    }
  }

  std::variant<absl::Status, T> Next() override {
    if (reader_ == nullptr) reader_ = start_(&context_);
    while (next_ >= buffer_.size()) {
      Response response;
      if (!reader_->Read(&response)) {
        finished_ = true;
        return FromGrpcStatus(reader_->Finish());
      }
      buffer_ = extract_(response);
      next_ = 0;
    }
    return std::move(buffer_[next_++]);
  }

  // ClientContext::TryCancel is thread-safe, and a cancellation before
  // the call starts applies once it does.
  void Cancel() override { context_.TryCancel(); }

 private:
  grpc::ClientContext context_;
  Start start_;
  Extract extract_;
  std::unique_ptr<grpc::ClientReaderInterface<Response>> reader_;
  std::vector<T> buffer_;
  size_t next_ = 0;
  bool finished_ = false;
};

class GrpcPublishStream final : public PublishStream {
 public:
  GrpcPublishStream(const ConnectionOptions& options,
                    v1::EventService::StubInterface& stub) {
    PrepareContext(context_, options, std::nullopt);
    stream_ = stub.PublishEvents(&context_);
  }
  ~GrpcPublishStream() override {
    if (!finished_) {
      context_.TryCancel();
      v1::PublishEventsResponse drain;
      while (stream_->Read(&drain)) {
      }
      stream_->Finish().ok();
    }
  }

  bool Write(const v1::PublishEventsRequest& request) override {
    return stream_->Write(request);
  }
  bool WritesDone() override { return stream_->WritesDone(); }
  std::optional<v1::PublishEventsResponse> Read() override {
    v1::PublishEventsResponse response;
    if (stream_->Read(&response)) return response;
    return std::nullopt;
  }
  absl::Status Finish() override {
    finished_ = true;
    return FromGrpcStatus(stream_->Finish());
  }
  void Cancel() override { context_.TryCancel(); }

 private:
  grpc::ClientContext context_;
  std::unique_ptr<grpc::ClientReaderWriterInterface<v1::PublishEventsRequest,
                                                    v1::PublishEventsResponse>>
      stream_;
  bool finished_ = false;
};

// A page from a response's repeated field and next_page_token.
template <typename Repeated>
auto ToPage(Repeated* items, const std::string& next_page_token) {
  using T = std::decay_t<decltype(*items->begin())>;
  Page<T> page;
  page.items.assign(std::make_move_iterator(items->begin()),
                    std::make_move_iterator(items->end()));
  page.next_page_token = next_page_token;
  return page;
}

class GrpcConnection final : public Connection {
 public:
  GrpcConnection(ConnectionOptions options, Stubs stubs,
                 std::shared_ptr<grpc::Channel> channel)
      : options_(std::move(options)),
        stubs_(std::move(stubs)),
        channel_(std::move(channel)) {}

  ConnectionOptions options() const override { return options_; }

  // Waiting on the channel's state (rather than sleeping) also drives its
  // reconnection: with the synchronous API nothing else polls a
  // connection attempt while no call is in flight, and calls on a channel
  // in TRANSIENT_FAILURE fail at once without polling either, so a
  // restarted server would otherwise be noticed only by gRPC's 5 s backup
  // poller.
  bool WaitForConnection(absl::Time deadline) override {
    if (channel_ == nullptr) return Connection::WaitForConnection(deadline);
    channel_->GetState(/*try_to_connect=*/true);
    return channel_->WaitForConnected(absl::ToChronoTime(deadline));
  }

  absl::StatusOr<v1::Policy> CreatePolicy(
      const v1::CreatePolicyRequest& request) override {
    return Unary<v1::CreatePolicyResponse>(
        kPolicyService, "CreatePolicy", !request.request_id().empty(),
        [&](grpc::ClientContext* c, v1::CreatePolicyResponse* r) {
          return stubs_.policy->CreatePolicy(c, request, r);
        },
        [](v1::CreatePolicyResponse& r) { return std::move(*r.mutable_policy()); });
  }

  absl::StatusOr<v1::Policy> GetPolicy(const v1::GetPolicyRequest& request) override {
    return Unary<v1::GetPolicyResponse>(
        kPolicyService, "GetPolicy", true,
        [&](grpc::ClientContext* c, v1::GetPolicyResponse* r) {
          return stubs_.policy->GetPolicy(c, request, r);
        },
        [](v1::GetPolicyResponse& r) { return std::move(*r.mutable_policy()); });
  }

  PaginatedRange<v1::Policy> ListPolicies(v1::ListPoliciesRequest request) override {
    std::string first_page = request.page_token();
    return MakePaginatedRange<v1::Policy>(
        [this, request = std::move(request)](
            const std::string& token) mutable -> absl::StatusOr<Page<v1::Policy>> {
          request.set_page_token(token);
          return Unary<v1::ListPoliciesResponse>(
              kPolicyService, "ListPolicies", true,
              [&](grpc::ClientContext* c, v1::ListPoliciesResponse* r) {
                return stubs_.policy->ListPolicies(c, request, r);
              },
              [](v1::ListPoliciesResponse& r) {
                return ToPage(r.mutable_policies(), r.next_page_token());
              });
        },
        std::move(first_page));
  }

  absl::StatusOr<v1::Policy> UpdatePolicy(
      const v1::UpdatePolicyRequest& request) override {
    return Unary<v1::UpdatePolicyResponse>(
        kPolicyService, "UpdatePolicy", false,
        [&](grpc::ClientContext* c, v1::UpdatePolicyResponse* r) {
          return stubs_.policy->UpdatePolicy(c, request, r);
        },
        [](v1::UpdatePolicyResponse& r) { return std::move(*r.mutable_policy()); });
  }

  absl::Status DeletePolicy(const v1::DeletePolicyRequest& request) override {
    return Unary<v1::DeletePolicyResponse>(
               kPolicyService, "DeletePolicy", false,
               [&](grpc::ClientContext* c, v1::DeletePolicyResponse* r) {
                 return stubs_.policy->DeletePolicy(c, request, r);
               },
               [](v1::DeletePolicyResponse& r) { return true; })
        .status();
  }

  absl::StatusOr<v1::ListEventTypesResponse> ListEventTypes(
      const v1::ListEventTypesRequest& request) override {
    return Unary<v1::ListEventTypesResponse>(
        kPolicyService, "ListEventTypes", true,
        [&](grpc::ClientContext* c, v1::ListEventTypesResponse* r) {
          return stubs_.policy->ListEventTypes(c, request, r);
        },
        [](v1::ListEventTypesResponse& r) { return std::move(r); });
  }

  absl::StatusOr<v1::EventAck> PublishEvent(
      const v1::PublishEventRequest& request) override {
    return Unary<v1::PublishEventResponse>(
        kEventService, "PublishEvent", !request.request_id().empty(),
        [&](grpc::ClientContext* c, v1::PublishEventResponse* r) {
          return stubs_.event->PublishEvent(c, request, r);
        },
        [](v1::PublishEventResponse& r) { return std::move(*r.mutable_ack()); });
  }

  std::unique_ptr<PublishStream> PublishEvents() override {
    return std::make_unique<GrpcPublishStream>(options_, *stubs_.event);
  }

  PaginatedRange<v1::Execution> ListExecutions(
      v1::ListExecutionsRequest request) override {
    std::string first_page = request.page_token();
    return MakePaginatedRange<v1::Execution>(
        [this, request = std::move(request)](
            const std::string& token) mutable -> absl::StatusOr<Page<v1::Execution>> {
          request.set_page_token(token);
          return Unary<v1::ListExecutionsResponse>(
              kDeliveryService, "ListExecutions", true,
              [&](grpc::ClientContext* c, v1::ListExecutionsResponse* r) {
                return stubs_.delivery->ListExecutions(c, request, r);
              },
              [](v1::ListExecutionsResponse& r) {
                return ToPage(r.mutable_executions(), r.next_page_token());
              });
        },
        std::move(first_page));
  }

  absl::StatusOr<v1::Execution> GetExecution(
      const v1::GetExecutionRequest& request) override {
    return Unary<v1::GetExecutionResponse>(
        kDeliveryService, "GetExecution", true,
        [&](grpc::ClientContext* c, v1::GetExecutionResponse* r) {
          return stubs_.delivery->GetExecution(c, request, r);
        },
        [](v1::GetExecutionResponse& r) {
          return std::move(*r.mutable_execution());
        });
  }

  absl::StatusOr<std::vector<v1::Task>> ListTasks(
      const v1::ListTasksRequest& request) override {
    return Unary<v1::ListTasksResponse>(
        kDeliveryService, "ListTasks", true,
        [&](grpc::ClientContext* c, v1::ListTasksResponse* r) {
          return stubs_.delivery->ListTasks(c, request, r);
        },
        [](v1::ListTasksResponse& r) {
          return std::vector<v1::Task>(
              std::make_move_iterator(r.mutable_tasks()->begin()),
              std::make_move_iterator(r.mutable_tasks()->end()));
        });
  }

  absl::StatusOr<std::string> GetTaskLog(
      const v1::GetTaskLogRequest& request) override {
    return Unary<v1::GetTaskLogResponse>(
        kDeliveryService, "GetTaskLog", true,
        [&](grpc::ClientContext* c, v1::GetTaskLogResponse* r) {
          return stubs_.delivery->GetTaskLog(c, request, r);
        },
        [](v1::GetTaskLogResponse& r) { return std::move(*r.mutable_log()); });
  }

  absl::StatusOr<v1::Task> RedeliverTask(
      const v1::RedeliverTaskRequest& request) override {
    return Unary<v1::RedeliverTaskResponse>(
        kDeliveryService, "RedeliverTask", false,
        [&](grpc::ClientContext* c, v1::RedeliverTaskResponse* r) {
          return stubs_.delivery->RedeliverTask(c, request, r);
        },
        [](v1::RedeliverTaskResponse& r) { return std::move(*r.mutable_task()); });
  }

  absl::StatusOr<v1::Execution> RedeliverExecution(
      const v1::RedeliverExecutionRequest& request) override {
    return Unary<v1::RedeliverExecutionResponse>(
        kDeliveryService, "RedeliverExecution", false,
        [&](grpc::ClientContext* c, v1::RedeliverExecutionResponse* r) {
          return stubs_.delivery->RedeliverExecution(c, request, r);
        },
        [](v1::RedeliverExecutionResponse& r) {
          return std::move(*r.mutable_execution());
        });
  }

  StreamRange<v1::RecoverFailedResponse> RecoverFailed(
      const v1::RecoverFailedRequest& request) override {
    using Source = ReaderSource<v1::RecoverFailedResponse, v1::RecoverFailedResponse>;
    return StreamRange<v1::RecoverFailedResponse>(std::make_unique<Source>(
        options_,
        [this, request](grpc::ClientContext* c) {
          return stubs_.delivery->RecoverFailed(c, request);
        },
        [](v1::RecoverFailedResponse& r) {
          return std::vector<v1::RecoverFailedResponse>{std::move(r)};
        }));
  }

  StreamRange<v1::TaskUpdate> WatchTasks(
      const v1::WatchTasksRequest& request) override {
    using Source = ReaderSource<v1::WatchTasksResponse, v1::TaskUpdate>;
    return StreamRange<v1::TaskUpdate>(std::make_unique<Source>(
        options_,
        [this, request](grpc::ClientContext* c) {
          return stubs_.delivery->WatchTasks(c, request);
        },
        [](v1::WatchTasksResponse& r) {
          return std::vector<v1::TaskUpdate>(
              std::make_move_iterator(r.mutable_updates()->begin()),
              std::make_move_iterator(r.mutable_updates()->end()));
        }));
  }

  absl::StatusOr<v1::Settings> GetSettings(
      const v1::GetSettingsRequest& request) override {
    return Unary<v1::GetSettingsResponse>(
        kAdminService, "GetSettings", true,
        [&](grpc::ClientContext* c, v1::GetSettingsResponse* r) {
          return stubs_.admin->GetSettings(c, request, r);
        },
        [](v1::GetSettingsResponse& r) { return std::move(*r.mutable_settings()); });
  }

  absl::StatusOr<v1::Settings> UpdateSettings(
      const v1::UpdateSettingsRequest& request) override {
    return Unary<v1::UpdateSettingsResponse>(
        kAdminService, "UpdateSettings", false,
        [&](grpc::ClientContext* c, v1::UpdateSettingsResponse* r) {
          return stubs_.admin->UpdateSettings(c, request, r);
        },
        [](v1::UpdateSettingsResponse& r) {
          return std::move(*r.mutable_settings());
        });
  }

  absl::StatusOr<v1::CreateTokenResponse> CreateToken(
      const v1::CreateTokenRequest& request) override {
    return Unary<v1::CreateTokenResponse>(
        kAdminService, "CreateToken", false,
        [&](grpc::ClientContext* c, v1::CreateTokenResponse* r) {
          return stubs_.admin->CreateToken(c, request, r);
        },
        [](v1::CreateTokenResponse& r) { return std::move(r); });
  }

  PaginatedRange<v1::Token> ListTokens(v1::ListTokensRequest request) override {
    std::string first_page = request.page_token();
    return MakePaginatedRange<v1::Token>(
        [this, request = std::move(request)](
            const std::string& token) mutable -> absl::StatusOr<Page<v1::Token>> {
          request.set_page_token(token);
          return Unary<v1::ListTokensResponse>(
              kAdminService, "ListTokens", true,
              [&](grpc::ClientContext* c, v1::ListTokensResponse* r) {
                return stubs_.admin->ListTokens(c, request, r);
              },
              [](v1::ListTokensResponse& r) {
                return ToPage(r.mutable_tokens(), r.next_page_token());
              });
        },
        std::move(first_page));
  }

  absl::Status RevokeToken(const v1::RevokeTokenRequest& request) override {
    return Unary<v1::RevokeTokenResponse>(
               kAdminService, "RevokeToken", false,
               [&](grpc::ClientContext* c, v1::RevokeTokenResponse* r) {
                 return stubs_.admin->RevokeToken(c, request, r);
               },
               [](v1::RevokeTokenResponse& r) { return true; })
        .status();
  }

  absl::StatusOr<v1::GetServerInfoResponse> GetServerInfo(
      const v1::GetServerInfoRequest& request) override {
    return Unary<v1::GetServerInfoResponse>(
        kAdminService, "GetServerInfo", true,
        [&](grpc::ClientContext* c, v1::GetServerInfoResponse* r) {
          return stubs_.admin->GetServerInfo(c, request, r);
        },
        [](v1::GetServerInfoResponse& r) { return std::move(r); });
  }

  absl::StatusOr<ServingStatus> CheckHealth(const std::string& service) override {
    grpc::health::v1::HealthCheckRequest request;
    request.set_service(service);
    using grpc::health::v1::HealthCheckResponse;
    return Unary<HealthCheckResponse>(
        "grpc.health.v1.Health/", "Check", true,
        [&](grpc::ClientContext* c, HealthCheckResponse* r) {
          return stubs_.health->Check(c, request, r);
        },
        [](HealthCheckResponse& r) {
          switch (r.status()) {
            case HealthCheckResponse::SERVING:
              return ServingStatus::kServing;
            case HealthCheckResponse::NOT_SERVING:
              return ServingStatus::kNotServing;
            case HealthCheckResponse::SERVICE_UNKNOWN:
              return ServingStatus::kServiceUnknown;
            default:
              return ServingStatus::kUnknown;
          }
        });
  }

 private:
  // One unary RPC with the per-attempt deadline and, when `idempotent`, the
  // retry policy. `call` runs one attempt; `extract` turns the response
  // into the result.
  template <typename Response, typename Call, typename Extract>
  auto Unary(const char* service, const char* method, bool idempotent,
             Call call, Extract extract)
      -> absl::StatusOr<std::decay_t<decltype(extract(std::declval<Response&>()))>> {
    const RetryPolicy& retry = options_.retry;
    const absl::Time first_start = absl::Now();
    absl::Duration backoff = retry.initial_backoff;
    for (int attempt = 1;; ++attempt) {
      grpc::ClientContext context;
      PrepareContext(context, options_, absl::Now() + options_.default_deadline);
      Response response;
      const grpc::Status status = call(&context, &response);
      if (status.ok()) return extract(response);
      absl::Status error = FromGrpcStatus(status);
      if (!idempotent || status.error_code() != grpc::StatusCode::UNAVAILABLE ||
          attempt >= std::max(retry.max_attempts, 1)) {
        return error;
      }
      const absl::Duration delay = Jitter(backoff);
      if (absl::Now() + delay - first_start > retry.max_retry_time) return error;
      if (options_.on_retry) {
        const std::string rpc = absl::StrCat(service, method);
        options_.on_retry(RetryAttempt{rpc, attempt, error, delay});
      }
      WaitForConnection(absl::Now() + delay);
      backoff = std::min(backoff * retry.backoff_multiplier, retry.max_backoff);
    }
  }

  const ConnectionOptions options_;
  const Stubs stubs_;
  const std::shared_ptr<grpc::Channel> channel_;  // null with mocked stubs
};

}  // namespace

absl::Status FromGrpcStatus(const grpc::Status& status) {
  if (status.ok()) return absl::OkStatus();
  absl::Status out(static_cast<absl::StatusCode>(status.error_code()),
                   AV(status.error_message()));
  if (!status.error_details().empty()) {
    out.SetPayload(AV(kRpcStatusPayloadUrl), absl::Cord(status.error_details()));
  }
  return out;
}

Stubs MakeStubs(const std::shared_ptr<grpc::Channel>& channel) {
  Stubs stubs;
  stubs.policy = v1::PolicyService::NewStub(channel);
  stubs.event = v1::EventService::NewStub(channel);
  stubs.delivery = v1::DeliveryService::NewStub(channel);
  stubs.admin = v1::AdminService::NewStub(channel);
  stubs.health = grpc::health::v1::Health::NewStub(channel);
  return stubs;
}

std::shared_ptr<grpc::Channel> MakeChannel(const ConnectionOptions& options) {
  grpc::ChannelArguments args;
  args.SetInt(GRPC_ARG_KEEPALIVE_TIME_MS, ToMillis(options.keepalive_time));
  args.SetInt(GRPC_ARG_KEEPALIVE_TIMEOUT_MS, ToMillis(options.keepalive_timeout));
  // Keep pinging a quiet watch stream (the default stops after 2 pings
  // without data).
  args.SetInt(GRPC_ARG_HTTP2_MAX_PINGS_WITHOUT_DATA, 0);
  args.SetInt(GRPC_ARG_INITIAL_RECONNECT_BACKOFF_MS,
              std::min(100, ToMillis(options.max_reconnect_backoff)));
  args.SetInt(GRPC_ARG_MAX_RECONNECT_BACKOFF_MS,
              ToMillis(options.max_reconnect_backoff));
  args.SetMaxReceiveMessageSize(64 * 1024 * 1024);
  if (!options.user_agent_prefix.empty()) {
    args.SetUserAgentPrefix(options.user_agent_prefix);
  }
  std::shared_ptr<grpc::ChannelCredentials> credentials;
  if (options.tls.enabled) {
    grpc::SslCredentialsOptions ssl;
    ssl.pem_root_certs = options.tls.root_certs_pem;
    ssl.pem_cert_chain = options.tls.client_cert_pem;
    ssl.pem_private_key = options.tls.client_key_pem;
    credentials = grpc::SslCredentials(ssl);
    if (!options.tls.server_name_override.empty()) {
      args.SetSslTargetNameOverride(options.tls.server_name_override);
    }
  } else {
    credentials = grpc::InsecureChannelCredentials();
  }
  return grpc::CreateCustomChannel(options.address, credentials, args);
}

std::shared_ptr<Connection> MakeGrpcConnection(
    ConnectionOptions options, Stubs stubs,
    std::shared_ptr<grpc::Channel> channel) {
  return std::make_shared<GrpcConnection>(std::move(options), std::move(stubs),
                                          std::move(channel));
}

}  // namespace herald::internal

namespace herald {

std::shared_ptr<Connection> MakeConnection(ConnectionOptions options) {
  std::shared_ptr<grpc::Channel> channel = internal::MakeChannel(options);
  internal::Stubs stubs = internal::MakeStubs(channel);
  return internal::MakeGrpcConnection(std::move(options), std::move(stubs),
                                      std::move(channel));
}

}  // namespace herald
