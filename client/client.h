// File: client.h
//
// herald::Client is the C++ entry point to a herald server: policies,
// events, deliveries, settings and tokens.
//
//   #include "herald/client/client.h"   // installed; in-tree: "client/client.h"
//
//   herald::ConnectionOptions options;
//   options.address = "127.0.0.1:7070";
//   options.token = token;
//   herald::Client client(herald::MakeConnection(options));
//
//   absl::StatusOr<herald::v1::Policy> policy = client.GetPolicy(7);
//   if (!policy.ok()) { ... herald::ErrorReason(policy.status()) ... }
//
// Layering (google-cloud-cpp's): Client is a value type holding a
// std::shared_ptr<Connection>; copies are cheap and share the connection
// (one gRPC channel). Its methods are convenience overloads over the
// Connection's one-virtual-per-RPC interface plus two helpers that add
// behaviour: WatchTasks (reconnects and resumes from its last cursor) and
// PublishEvents (drives the PublishEvents stream, re-sending
// unacknowledged events after a reconnection when that is safe).
//
// Errors: every result is absl::Status / absl::StatusOr; the server's
// ErrorInfo reason and field violations are in the status (see errors.h).
// Unary calls have ConnectionOptions::default_deadline per attempt;
// idempotent ones are retried on UNAVAILABLE (see options.h).
//
// Thread-safety: a Client may be used from many threads at once.
#ifndef HERALD_CLIENT_CLIENT_H_
#define HERALD_CLIENT_CLIENT_H_

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "connection.h"
#include "errors.h"
#include "google/protobuf/field_mask.pb.h"
#include "options.h"
#include "stream_range.h"

namespace herald {

// How Client::WatchTasks reconnects.
struct WatchOptions {
  // Backoff between reconnection attempts (equal jitter, doubling), reset
  // whenever an update arrives.
  absl::Duration initial_backoff = absl::Milliseconds(100);
  absl::Duration max_backoff = absl::Seconds(5);
  // Give up (ending with the last error) after this long without an
  // update while reconnecting. Infinite by default: a watch outlives
  // server restarts.
  absl::Duration max_reconnect_time = absl::InfiniteDuration();
  // When the cursor is older than the server's history (OUT_OF_RANGE,
  // reason CURSOR_EXPIRED): false ends the watch with that error; true
  // restarts it with WATCH_START_SNAPSHOT (updates with snapshot = true
  // then describe the current state; changes in between are lost).
  bool resync_on_cursor_expired = false;
  // Called before each reconnection (from the thread that iterates).
  std::function<void(const absl::Status& why, absl::Duration delay)>
      on_reconnect;
};

// How Client::PublishEvents reconnects; retries use the connection's
// RetryPolicy (attempts count consecutive failures without an
// acknowledgement in between).
struct PublishOptions {
  // Give every event without a request_id one ("<prefix><n>", prefix
  // random per call), so that a broken stream can always be resumed.
  bool assign_request_ids = false;
};

// What Client::PublishEvents did.
struct PublishSummary {
  int64_t sent = 0;           // events taken from the source
  int64_t acknowledged = 0;   // acks without error (duplicates included)
  int64_t refused = 0;        // acks carrying an error
  int64_t deliveries_created = 0;
  int reconnects = 0;
};

class Client {
 public:
  explicit Client(std::shared_ptr<Connection> connection)
      : connection_(std::move(connection)) {}

  Client(const Client&) = default;
  Client& operator=(const Client&) = default;
  Client(Client&&) = default;
  Client& operator=(Client&&) = default;

  friend bool operator==(const Client& a, const Client& b) {
    return a.connection_ == b.connection_;
  }

  const std::shared_ptr<Connection>& connection() const { return connection_; }

  // --- Policies -----------------------------------------------------------

  // Creates a policy. With a request_id, a retry (automatic or yours)
  // within 24 h returns the policy created first and creates nothing.
  absl::StatusOr<v1::Policy> CreatePolicy(v1::Policy policy,
                                          std::string request_id = "");
  absl::StatusOr<v1::Policy> CreatePolicy(const v1::CreatePolicyRequest& request);
  absl::StatusOr<v1::Policy> GetPolicy(int64_t id);
  // All matching policies, newest first, fetched page by page as the
  // iteration proceeds.
  PaginatedRange<v1::Policy> ListPolicies(v1::ListPoliciesRequest request = {});
  // Replaces the fields named in `update_mask` (all fields set in `policy`
  // when the mask is empty); policy.id() names the policy.
  absl::StatusOr<v1::Policy> UpdatePolicy(
      v1::Policy policy, google::protobuf::FieldMask update_mask = {});
  absl::StatusOr<v1::Policy> UpdatePolicy(const v1::UpdatePolicyRequest& request);
  // UpdatePolicy of the "enabled" field alone.
  absl::StatusOr<v1::Policy> EnablePolicy(int64_t id);
  absl::StatusOr<v1::Policy> DisablePolicy(int64_t id);
  absl::Status DeletePolicy(int64_t id);
  absl::StatusOr<v1::ListEventTypesResponse> ListEventTypes();

  // --- Events -------------------------------------------------------------

  // Publishes one event. With a request_id, retried on UNAVAILABLE and
  // deduplicated by the server.
  absl::StatusOr<v1::EventAck> PublishEvent(v1::Event event,
                                            std::string request_id = "");
  absl::StatusOr<v1::EventAck> PublishEvent(const v1::PublishEventRequest& request);

  // Publishes a stream of events over EventService.PublishEvents.
  //
  // `next` is called on a writer thread for each event and returns nullopt
  // when there are no more (it may block, e.g. to pace the events).
  // `on_ack` is called on the calling thread for every event in publish
  // order, with the request and its acknowledgement; response.error is set
  // for a refused event (the stream goes on), and response.sequence is the
  // event's position over the whole call (1, 2, ...), across reconnections.
  //
  // If the stream breaks with UNAVAILABLE (e.g. heraldd restarts) and every
  // event sent but not yet acknowledged carries a request_id, a new stream
  // is opened and those events are sent again first: the server
  // deduplicates them, so nothing is lost and nothing is doubled. Otherwise
  // the error is returned. Returns OK once every event was acknowledged.
  absl::StatusOr<PublishSummary> PublishEvents(
      std::function<std::optional<v1::PublishEventsRequest>()> next,
      std::function<void(const v1::PublishEventsRequest&,
                         const v1::PublishEventsResponse&)>
          on_ack,
      PublishOptions options = {});
  // The same over a vector: the acknowledgements, in order.
  absl::StatusOr<std::vector<v1::PublishEventsResponse>> PublishEvents(
      std::vector<v1::PublishEventsRequest> requests,
      PublishOptions options = {});
  // The raw stream, for callers that want to drive it themselves.
  std::unique_ptr<PublishStream> OpenPublishStream();

  // --- Deliveries ---------------------------------------------------------

  PaginatedRange<v1::Execution> ListExecutions(v1::ListExecutionsRequest request);
  absl::StatusOr<v1::Execution> GetExecution(int64_t id);
  absl::StatusOr<std::vector<v1::Task>> ListTasks(int64_t execution_id);
  absl::StatusOr<std::string> GetTaskLog(int64_t task_id);
  absl::StatusOr<v1::Task> RedeliverTask(int64_t task_id);
  absl::StatusOr<v1::Execution> RedeliverExecution(int64_t execution_id);
  // Progress of the recovery; the last message has done = true.
  StreamRange<v1::RecoverFailedResponse> RecoverFailed(
      const v1::RecoverFailedRequest& request);

  // Follows task updates live, reconnecting by itself.
  //
  // The range yields every update matching `request`. When the stream
  // breaks with UNAVAILABLE (server restart, network, a consumer that fell
  // too far behind) or is CANCELLED by the server (a call that reached it
  // while it shut down), it reconnects with backoff and resumes after the
  // last cursor it delivered, so the updates continue with no gap and no
  // duplicate. Before the first update there is no cursor: a reconnection
  // then repeats `request` as given (a START_NOW watch may miss changes
  // made while disconnected; use WATCH_START_SNAPSHOT or a cursor).
  //
  // The range ends with an error on any other failure (e.g.
  // PERMISSION_DENIED, INVALID_ARGUMENT, UNIMPLEMENTED, OUT_OF_RANGE unless
  // options.resync_on_cursor_expired) or when max_reconnect_time passes
  // without success. Cancel() (from any thread) ends it normally.
  StreamRange<v1::TaskUpdate> WatchTasks(v1::WatchTasksRequest request,
                                         WatchOptions options = {});
  // The same with a callback: blocks, calling `on_update` for every update
  // until it returns false (then returns OK) or the watch fails.
  absl::Status WatchTasks(
      v1::WatchTasksRequest request,
      const std::function<bool(const v1::TaskUpdate&)>& on_update,
      WatchOptions options = {});

  // --- Administration -----------------------------------------------------

  absl::StatusOr<v1::Settings> GetSettings();
  // Changes the settings named in `update_mask` (all set fields when
  // empty).
  absl::StatusOr<v1::Settings> UpdateSettings(
      v1::Settings settings, google::protobuf::FieldMask update_mask = {});
  // The response holds the token and its secret (shown only once).
  absl::StatusOr<v1::CreateTokenResponse> CreateToken(v1::Token token);
  PaginatedRange<v1::Token> ListTokens(v1::ListTokensRequest request = {});
  absl::Status RevokeToken(int64_t id);
  absl::StatusOr<v1::GetServerInfoResponse> GetServerInfo();
  // grpc.health.v1 check of the server ("") or one service, e.g.
  // "herald.v1.EventService".
  absl::StatusOr<ServingStatus> CheckHealth(const std::string& service = "");

 private:
  std::shared_ptr<Connection> connection_;
};

}  // namespace herald

#endif  // HERALD_CLIENT_CLIENT_H_
