#include "server/api/service_context.h"

namespace herald::api {

std::optional<std::string> AuthorizationOf(
    const grpc::CallbackServerContext* context) {
  const auto& metadata = context->client_metadata();
  auto it = metadata.find("authorization");
  if (it == metadata.end()) return std::nullopt;
  return std::string(it->second.data(), it->second.size());
}

absl::Status ShuttingDownError() {
  return core::MakeError(absl::StatusCode::kUnavailable,
                         core::reason::kShuttingDown,
                         "heraldd is shutting down; retry later");
}

}  // namespace herald::api
