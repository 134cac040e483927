#include "server/api/grpc_status.h"

#include "absl/strings/numbers.h"
#include "google/rpc/error_details.pb.h"
#include "server/core/errors.h"

namespace herald::api {

google::rpc::Status ToRpcStatus(const absl::Status& status) {
  google::rpc::Status rpc;
  rpc.set_code(static_cast<int>(status.code()));
  rpc.set_message(std::string(status.message()));
  if (status.ok()) return rpc;

  google::rpc::ErrorInfo info;
  info.set_reason(core::ErrorReasonOf(status));
  info.set_domain(std::string(core::kErrorDomain));
  for (const auto& [key, value] : core::ErrorMetadataOf(status)) {
    (*info.mutable_metadata())[key] = value;
  }
  rpc.add_details()->PackFrom(info);

  // A refusal that says when to come back (publish rate limit).
  if (auto it = info.metadata().find("retry_delay_ms");
      it != info.metadata().end()) {
    int64_t ms = 0;
    if (absl::SimpleAtoi(it->second, &ms) && ms >= 0) {
      google::rpc::RetryInfo retry;
      retry.mutable_retry_delay()->set_seconds(ms / 1000);
      retry.mutable_retry_delay()->set_nanos(static_cast<int32_t>(ms % 1000) *
                                             1000000);
      rpc.add_details()->PackFrom(retry);
    }
  }

  std::vector<core::FieldViolation> violations =
      core::FieldViolationsOf(status);
  if (!violations.empty()) {
    google::rpc::BadRequest bad_request;
    for (const core::FieldViolation& v : violations) {
      auto* out = bad_request.add_field_violations();
      out->set_field(v.field);
      out->set_description(v.description);
    }
    rpc.add_details()->PackFrom(bad_request);
  }
  return rpc;
}

grpc::Status ToGrpcStatus(const absl::Status& status) {
  if (status.ok()) return grpc::Status::OK;
  return grpc::Status(static_cast<grpc::StatusCode>(status.code()),
                      std::string(status.message()),
                      ToRpcStatus(status).SerializeAsString());
}

}  // namespace herald::api
