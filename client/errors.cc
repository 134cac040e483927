#include "client/errors.h"

#include <utility>

#include "absl/strings/cord.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/string_view.h"
#include "client/internal/strings.h"
#include "google/rpc/error_details.pb.h"

namespace herald {
namespace {

using internal::AV;

std::optional<google::rpc::ErrorInfo> FindErrorInfo(const absl::Status& status) {
  std::optional<google::rpc::Status> rpc = RpcStatus(status);
  if (!rpc) return std::nullopt;
  for (const google::protobuf::Any& any : rpc->details()) {
    google::rpc::ErrorInfo info;
    if (any.Is<google::rpc::ErrorInfo>() && any.UnpackTo(&info)) return info;
  }
  return std::nullopt;
}

}  // namespace

std::optional<google::rpc::Status> RpcStatus(const absl::Status& status) {
  if (status.ok()) return std::nullopt;
  // Debian's Abseil has its own absl::optional, distinct from std::optional.
  auto payload = status.GetPayload(AV(kRpcStatusPayloadUrl));
  if (!payload.has_value()) return std::nullopt;
  google::rpc::Status rpc;
  if (!rpc.ParseFromString(std::string(*payload))) return std::nullopt;
  return rpc;
}

std::string ErrorReason(const absl::Status& status) {
  std::optional<google::rpc::ErrorInfo> info = FindErrorInfo(status);
  return info ? info->reason() : "";
}

v1::ErrorReason ErrorReasonCode(const absl::Status& status) {
  const std::string reason = ErrorReason(status);
  v1::ErrorReason code = v1::ERROR_REASON_UNSPECIFIED;
  if (reason.empty() ||
      !v1::ErrorReason_Parse(absl::StrCat("ERROR_REASON_", reason), &code)) {
    return v1::ERROR_REASON_UNSPECIFIED;
  }
  return code;
}

std::string ErrorDomain(const absl::Status& status) {
  std::optional<google::rpc::ErrorInfo> info = FindErrorInfo(status);
  return info ? info->domain() : "";
}

std::map<std::string, std::string> ErrorMetadata(const absl::Status& status) {
  std::map<std::string, std::string> out;
  if (std::optional<google::rpc::ErrorInfo> info = FindErrorInfo(status)) {
    out.insert(info->metadata().begin(), info->metadata().end());
  }
  return out;
}

std::vector<FieldViolation> FieldViolations(const absl::Status& status) {
  std::vector<FieldViolation> out;
  std::optional<google::rpc::Status> rpc = RpcStatus(status);
  if (!rpc) return out;
  for (const google::protobuf::Any& any : rpc->details()) {
    google::rpc::BadRequest bad;
    if (!any.Is<google::rpc::BadRequest>() || !any.UnpackTo(&bad)) continue;
    for (const auto& v : bad.field_violations()) {
      out.push_back({v.field(), v.description()});
    }
  }
  return out;
}

absl::Status MakeError(absl::StatusCode code, std::string_view message,
                       std::string_view reason,
                       std::vector<FieldViolation> violations,
                       std::map<std::string, std::string> metadata) {
  google::rpc::Status rpc;
  rpc.set_code(static_cast<int>(code));
  rpc.set_message(std::string(message));
  google::rpc::ErrorInfo info;
  info.set_reason(std::string(reason));
  info.set_domain(std::string(kErrorDomain));
  for (auto& [k, v] : metadata) (*info.mutable_metadata())[k] = v;
  rpc.add_details()->PackFrom(info);
  if (!violations.empty()) {
    google::rpc::BadRequest bad;
    for (FieldViolation& v : violations) {
      auto* out = bad.add_field_violations();
      out->set_field(std::move(v.field));
      out->set_description(std::move(v.description));
    }
    rpc.add_details()->PackFrom(bad);
  }
  return FromRpcStatus(rpc);
}

absl::Status FromRpcStatus(const google::rpc::Status& rpc_status) {
  if (rpc_status.code() == 0) return absl::OkStatus();
  absl::Status status(static_cast<absl::StatusCode>(rpc_status.code()),
                      AV(rpc_status.message()));
  status.SetPayload(AV(kRpcStatusPayloadUrl),
                    absl::Cord(rpc_status.SerializeAsString()));
  return status;
}

std::string DescribeError(const absl::Status& status) {
  if (status.ok()) return "OK";
  std::string out = absl::StrCat(absl::StatusCodeToString(status.code()), ": ",
                                 status.message());
  const std::string reason = ErrorReason(status);
  if (!reason.empty()) absl::StrAppend(&out, " (reason ", reason, ")");
  for (const FieldViolation& v : FieldViolations(status)) {
    absl::StrAppend(&out, "\n  ", v.field, ": ", v.description);
  }
  return out;
}

}  // namespace herald
