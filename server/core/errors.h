// Error construction for the whole server: absl::Status values that carry
// herald's machine-readable reason, metadata and field violations as status
// payloads, so proto-free code can say *why* and the API layer can turn it
// into google.rpc.ErrorInfo and google.rpc.BadRequest details.
//
// All functions are pure and thread-safe.
#ifndef HERALD_SERVER_CORE_ERRORS_H_
#define HERALD_SERVER_CORE_ERRORS_H_

#include <map>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/status.h"
#include "server/core/field_violation.h"

namespace herald::core {

// google.rpc.ErrorInfo.domain of every herald error.
inline constexpr std::string_view kErrorDomain = "herald.dev";

// Reasons, as listed in protos/herald/v1/error_reason.proto (without the
// ERROR_REASON_ prefix).
namespace reason {
inline constexpr std::string_view kTokenMissing = "TOKEN_MISSING";
inline constexpr std::string_view kTokenInvalid = "TOKEN_INVALID";
inline constexpr std::string_view kRoleNotAllowed = "ROLE_NOT_ALLOWED";
inline constexpr std::string_view kProjectNotAllowed = "PROJECT_NOT_ALLOWED";
inline constexpr std::string_view kInvalidField = "INVALID_FIELD";
inline constexpr std::string_view kInvalidPageToken = "INVALID_PAGE_TOKEN";
inline constexpr std::string_view kNotFound = "NOT_FOUND";
inline constexpr std::string_view kNameTaken = "NAME_TAKEN";
inline constexpr std::string_view kStoreUnavailable = "STORE_UNAVAILABLE";
inline constexpr std::string_view kShuttingDown = "SHUTTING_DOWN";
inline constexpr std::string_view kNotImplemented = "NOT_IMPLEMENTED";
inline constexpr std::string_view kTaskNotFinal = "TASK_NOT_FINAL";
inline constexpr std::string_view kCursorExpired = "CURSOR_EXPIRED";
inline constexpr std::string_view kRateLimited = "RATE_LIMITED";
inline constexpr std::string_view kInternal = "INTERNAL";
inline constexpr std::string_view kConsumerTooSlow = "CONSUMER_TOO_SLOW";
inline constexpr std::string_view kMalformedRequest = "MALFORMED_REQUEST";
}  // namespace reason

using ErrorMetadata = std::map<std::string, std::string>;

// A status with `code`, `message` and an explicit reason and metadata.
absl::Status MakeError(absl::StatusCode code, std::string_view reason,
                       std::string_view message, ErrorMetadata metadata = {});

// At most this many violations are reported in one error (message and
// google.rpc.BadRequest); the message counts the others ("; and 7 more").
inline constexpr size_t kMaxReportedViolations = 20;

// INVALID_ARGUMENT with reason INVALID_FIELD carrying the violations (the
// first kMaxReportedViolations). The message names the fields:
// "invalid policy.name: required; ...".
// `reason` refines INVALID_FIELD where the API names a sharper one (e.g.
// INVALID_PAGE_TOKEN).
absl::Status InvalidFieldsError(const std::vector<FieldViolation>& violations,
                                std::string_view reason = reason::kInvalidField);

// Shorthand for a single violation.
absl::Status InvalidFieldError(std::string_view field,
                               std::string_view description);

// NOT_FOUND with reason NOT_FOUND and metadata {resource, id}:
// "policy 42 not found".
absl::Status NotFoundError(std::string_view resource, int64_t id);

// The reason stored in `status`, or a reason derived from its code when it
// has none (e.g. UNAVAILABLE -> STORE_UNAVAILABLE). Empty for OK.
std::string ErrorReasonOf(const absl::Status& status);
ErrorMetadata ErrorMetadataOf(const absl::Status& status);
std::vector<FieldViolation> FieldViolationsOf(const absl::Status& status);

}  // namespace herald::core

#endif  // HERALD_SERVER_CORE_ERRORS_H_
