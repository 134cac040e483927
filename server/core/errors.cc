#include "server/core/errors.h"

#include <nlohmann/json.hpp>

#include <algorithm>

#include "absl/strings/cord.h"
#include "absl/strings/str_cat.h"

namespace herald::core {
namespace {

// Debian's Abseil has its own string_view type, distinct from std's.
constexpr absl::string_view kReasonUrl = "herald.dev/reason";
constexpr absl::string_view kMetadataUrl = "herald.dev/metadata";
constexpr absl::string_view kViolationsUrl = "herald.dev/field_violations";

absl::string_view Absl(std::string_view s) { return {s.data(), s.size()}; }

std::string_view DefaultReason(absl::StatusCode code) {
  switch (code) {
    case absl::StatusCode::kOk: return "";
    case absl::StatusCode::kInvalidArgument: return reason::kInvalidField;
    case absl::StatusCode::kNotFound: return reason::kNotFound;
    case absl::StatusCode::kAlreadyExists: return reason::kNameTaken;
    case absl::StatusCode::kUnauthenticated: return reason::kTokenInvalid;
    case absl::StatusCode::kPermissionDenied: return reason::kRoleNotAllowed;
    case absl::StatusCode::kUnavailable: return reason::kStoreUnavailable;
    case absl::StatusCode::kUnimplemented: return reason::kNotImplemented;
    case absl::StatusCode::kFailedPrecondition: return reason::kTaskNotFinal;
    case absl::StatusCode::kOutOfRange: return reason::kCursorExpired;
    case absl::StatusCode::kResourceExhausted: return reason::kRateLimited;
    default: return reason::kInternal;
  }
}

}  // namespace

absl::Status MakeError(absl::StatusCode code, std::string_view reason,
                       std::string_view message, ErrorMetadata metadata) {
  absl::Status status(code, Absl(message));
  status.SetPayload(kReasonUrl, absl::Cord(std::string(reason)));
  if (!metadata.empty()) {
    status.SetPayload(kMetadataUrl,
                      absl::Cord(nlohmann::json(metadata).dump()));
  }
  return status;
}

absl::Status InvalidFieldsError(const std::vector<FieldViolation>& violations,
                                std::string_view reason) {
  // The error travels in response headers, which clients cap (8 KiB by
  // default): report the first violations and count the rest.
  const size_t reported = std::min(violations.size(), kMaxReportedViolations);
  std::string message = "invalid ";
  nlohmann::json encoded = nlohmann::json::array();
  for (size_t i = 0; i < reported; ++i) {
    if (i > 0) absl::StrAppend(&message, "; ");
    absl::StrAppend(&message, violations[i].field, ": ",
                    violations[i].description);
    encoded.push_back({violations[i].field, violations[i].description});
  }
  if (reported < violations.size()) {
    absl::StrAppend(&message, "; and ", violations.size() - reported,
                    " more");
  }
  absl::Status status =
      MakeError(absl::StatusCode::kInvalidArgument, reason, message);
  status.SetPayload(kViolationsUrl, absl::Cord(encoded.dump()));
  return status;
}

absl::Status InvalidFieldError(std::string_view field,
                               std::string_view description) {
  return InvalidFieldsError(
      {FieldViolation{std::string(field), std::string(description)}});
}

absl::Status NotFoundError(std::string_view resource, int64_t id) {
  return MakeError(absl::StatusCode::kNotFound, reason::kNotFound,
                   absl::StrCat(Absl(resource), " ", id, " not found"),
                   {{"resource", std::string(resource)},
                    {"id", absl::StrCat(id)}});
}

std::string ErrorReasonOf(const absl::Status& status) {
  if (auto payload = status.GetPayload(kReasonUrl)) {
    return std::string(*payload);
  }
  return std::string(DefaultReason(status.code()));
}

ErrorMetadata ErrorMetadataOf(const absl::Status& status) {
  auto payload = status.GetPayload(kMetadataUrl);
  if (!payload) return {};
  return nlohmann::json::parse(std::string(*payload))
      .get<ErrorMetadata>();
}

std::vector<FieldViolation> FieldViolationsOf(const absl::Status& status) {
  std::vector<FieldViolation> out;
  auto payload = status.GetPayload(kViolationsUrl);
  if (!payload) return out;
  for (const auto& item : nlohmann::json::parse(std::string(*payload))) {
    out.push_back({item[0].get<std::string>(), item[1].get<std::string>()});
  }
  return out;
}

}  // namespace herald::core
