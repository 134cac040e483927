// File: errors.h
//
// herald's errors as the client library returns them. Every failed call
// yields an absl::Status whose code is the gRPC code and whose message is
// the server's message. The server's google.rpc.Status (from the
// grpc-status-details-bin trailer) travels with it as a payload, so the
// machine-readable parts can be read back:
//
//   absl::StatusOr<herald::v1::Policy> p = client.CreatePolicy(policy);
//   if (!p.ok()) {
//     if (herald::ErrorReason(p.status()) == "NAME_TAKEN") { ... }
//     for (const herald::FieldViolation& v :
//          herald::FieldViolations(p.status())) {
//       std::cerr << v.field << ": " << v.description << "\n";
//     }
//   }
//
// Branch on the code and the reason (protos/herald/v1/error_reason.proto),
// never on the message. All functions here are pure and thread-safe.
#ifndef HERALD_CLIENT_ERRORS_H_
#define HERALD_CLIENT_ERRORS_H_

#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/status.h"
#include "google/rpc/status.pb.h"
#include "herald/v1/error_reason.pb.h"

namespace herald {

// The google.rpc.ErrorInfo domain of herald's errors.
inline constexpr std::string_view kErrorDomain = "herald.dev";

// The absl::Status payload type URL under which the server's serialized
// google.rpc.Status is kept.
inline constexpr std::string_view kRpcStatusPayloadUrl =
    "type.googleapis.com/google.rpc.Status";

// One entry of a google.rpc.BadRequest: which field is wrong and why,
// e.g. {"policy.targets[0].address", "must be an absolute http or https URL"}.
struct FieldViolation {
  std::string field;
  std::string description;

  friend bool operator==(const FieldViolation&, const FieldViolation&) = default;
};

// The google.rpc.ErrorInfo reason, e.g. "TOKEN_INVALID"; "" when the status
// carries none (OK statuses, errors made by the client itself such as a
// connection failure).
std::string ErrorReason(const absl::Status& status);

// The reason as the enum of error_reason.proto;
// ERROR_REASON_UNSPECIFIED when absent or unknown to this client version.
v1::ErrorReason ErrorReasonCode(const absl::Status& status);

// The google.rpc.ErrorInfo domain ("herald.dev") and metadata, e.g.
// {"resource": "policy", "id": "7"} for NOT_FOUND.
std::string ErrorDomain(const absl::Status& status);
std::map<std::string, std::string> ErrorMetadata(const absl::Status& status);

// The field violations of the google.rpc.BadRequest detail, in order; empty
// when there is none.
std::vector<FieldViolation> FieldViolations(const absl::Status& status);

// The whole google.rpc.Status the server sent, if any.
std::optional<google::rpc::Status> RpcStatus(const absl::Status& status);

// Builds a status as herald's server would send it: code, message, an
// ErrorInfo{reason, domain "herald.dev", metadata} and, when `violations` is
// not empty, a BadRequest. For tests that use the mock Connection.
absl::Status MakeError(absl::StatusCode code, std::string_view message,
                       std::string_view reason,
                       std::vector<FieldViolation> violations = {},
                       std::map<std::string, std::string> metadata = {});

// Converts a google.rpc.Status (as carried by PublishEventsResponse.error)
// to an absl::Status with the same details.
absl::Status FromRpcStatus(const google::rpc::Status& rpc_status);

// A one-line description for people: "NOT_FOUND: policy 7 not found
// (reason NOT_FOUND)", followed by one "  <field>: <description>" line per
// field violation.
std::string DescribeError(const absl::Status& status);

}  // namespace herald

#endif  // HERALD_CLIENT_ERRORS_H_
