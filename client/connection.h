// File: connection.h
//
// herald::Connection is the layer between herald::Client and gRPC: one
// virtual function per RPC of herald.v1 (plus the standard health check),
// each taking the RPC's request message and returning absl::StatusOr of
// the useful part of its response, absl::Status when there is none, a
// PaginatedRange for paginated lists and a StreamRange for server streams.
//
// It exists so that code written against herald::Client can be tested
// without a server: construct the Client over a mock Connection
// (client/mocks/mock_connection.h) and script its answers. Every virtual
// has a default implementation that returns UNIMPLEMENTED, so a partial
// fake only overrides what it needs.
//
// MakeConnection() returns the real one, over a gRPC channel. It applies
// ConnectionOptions: the bearer token, TLS, the per-attempt deadline of
// unary calls and the retry of idempotent calls on UNAVAILABLE. It does not
// reconnect streams; Client::WatchTasks and Client::PublishEvents do that.
//
// Thread-safety: a Connection is safe to use from many threads at once.
// The streams and ranges it returns are single-threaded objects (except
// where noted).
#ifndef HERALD_CLIENT_CONNECTION_H_
#define HERALD_CLIENT_CONNECTION_H_

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "herald/v1/admin_service.pb.h"
#include "herald/v1/delivery_service.pb.h"
#include "herald/v1/event_service.pb.h"
#include "herald/v1/policy_service.pb.h"
#include "options.h"
#include "stream_range.h"

namespace herald {

// The answer of grpc.health.v1.Health/Check.
enum class ServingStatus { kUnknown, kServing, kNotServing, kServiceUnknown };

// "SERVING", "NOT_SERVING", "SERVICE_UNKNOWN" or "UNKNOWN".
const char* ServingStatusName(ServingStatus status);

// One EventService.PublishEvents call: a bidirectional stream of events out
// and acknowledgements in. Write() and Read() may run concurrently on two
// threads (one writer, one reader); Cancel() from any thread. Most callers
// want Client::PublishEvents, which drives this and reconnects.
class PublishStream {
 public:
  virtual ~PublishStream() = default;
  // Sends one event; blocks while the server's flow control holds it back.
  // False when the stream is broken (Finish() says why).
  virtual bool Write(const v1::PublishEventsRequest& request) = 0;
  // Tells the server no more events follow.
  virtual bool WritesDone() = 0;
  // The next acknowledgement (they come in publish order); nullopt when the
  // stream has ended.
  virtual std::optional<v1::PublishEventsResponse> Read() = 0;
  // The stream's final status, once Read() returned nullopt.
  virtual absl::Status Finish() = 0;
  // Aborts the call; pending and later operations fail.
  virtual void Cancel() = 0;
};

class Connection {
 public:
  virtual ~Connection() = default;

  // The options this connection was made with (defaults for fakes).
  virtual ConnectionOptions options() const { return {}; }

  // Waits until the connection to the server is up, or until `deadline`;
  // true when it is up. Retries and the reconnecting helpers wait here
  // between attempts, so they go on as soon as a restarted server answers
  // (and the gRPC connection keeps trying to connect meanwhile). The
  // default (for fakes) sleeps until `deadline` and returns false.
  virtual bool WaitForConnection(absl::Time deadline);

  // PolicyService.
  virtual absl::StatusOr<v1::Policy> CreatePolicy(
      const v1::CreatePolicyRequest& request);
  virtual absl::StatusOr<v1::Policy> GetPolicy(
      const v1::GetPolicyRequest& request);
  virtual PaginatedRange<v1::Policy> ListPolicies(
      v1::ListPoliciesRequest request);
  virtual absl::StatusOr<v1::Policy> UpdatePolicy(
      const v1::UpdatePolicyRequest& request);
  virtual absl::Status DeletePolicy(const v1::DeletePolicyRequest& request);
  virtual absl::StatusOr<v1::ListEventTypesResponse> ListEventTypes(
      const v1::ListEventTypesRequest& request);

  // EventService.
  virtual absl::StatusOr<v1::EventAck> PublishEvent(
      const v1::PublishEventRequest& request);
  // Opens a PublishEvents stream. Never null: a stream that cannot start
  // reports its error from Finish().
  virtual std::unique_ptr<PublishStream> PublishEvents();

  // DeliveryService.
  virtual PaginatedRange<v1::Execution> ListExecutions(
      v1::ListExecutionsRequest request);
  virtual absl::StatusOr<v1::Execution> GetExecution(
      const v1::GetExecutionRequest& request);
  virtual absl::StatusOr<std::vector<v1::Task>> ListTasks(
      const v1::ListTasksRequest& request);
  virtual absl::StatusOr<std::string> GetTaskLog(
      const v1::GetTaskLogRequest& request);
  virtual absl::StatusOr<v1::Task> RedeliverTask(
      const v1::RedeliverTaskRequest& request);
  virtual absl::StatusOr<v1::Execution> RedeliverExecution(
      const v1::RedeliverExecutionRequest& request);
  // Progress messages; the last has done = true.
  virtual StreamRange<v1::RecoverFailedResponse> RecoverFailed(
      const v1::RecoverFailedRequest& request);
  // One WatchTasks call, without reconnection (see Client::WatchTasks).
  virtual StreamRange<v1::TaskUpdate> WatchTasks(
      const v1::WatchTasksRequest& request);

  // AdminService.
  virtual absl::StatusOr<v1::Settings> GetSettings(
      const v1::GetSettingsRequest& request);
  virtual absl::StatusOr<v1::Settings> UpdateSettings(
      const v1::UpdateSettingsRequest& request);
  virtual absl::StatusOr<v1::CreateTokenResponse> CreateToken(
      const v1::CreateTokenRequest& request);
  virtual PaginatedRange<v1::Token> ListTokens(v1::ListTokensRequest request);
  virtual absl::Status RevokeToken(const v1::RevokeTokenRequest& request);
  virtual absl::StatusOr<v1::GetServerInfoResponse> GetServerInfo(
      const v1::GetServerInfoRequest& request);

  // grpc.health.v1.Health/Check for `service` ("" = the whole server).
  // Needs no token.
  virtual absl::StatusOr<ServingStatus> CheckHealth(const std::string& service);
};

// A Connection over a new gRPC channel to options.address. Connecting is
// lazy: this never fails, the first call reports an unreachable server
// (UNAVAILABLE, after retries if idempotent).
std::shared_ptr<Connection> MakeConnection(ConnectionOptions options);

}  // namespace herald

#endif  // HERALD_CLIENT_CONNECTION_H_
