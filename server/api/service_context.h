// What every gRPC service of heraldd shares, and the helper that runs a
// unary RPC: authenticate, do the (blocking) work on the Executor, finish.
#ifndef HERALD_SERVER_API_SERVICE_CONTEXT_H_
#define HERALD_SERVER_API_SERVICE_CONTEXT_H_

#include <grpcpp/grpcpp.h>

#include <optional>
#include <string>
#include <utility>

#include "absl/status/status.h"
#include "absl/time/time.h"
#include "server/api/call_tracker.h"
#include "server/api/executor.h"
#include "server/api/grpc_status.h"
#include "server/auth/authenticator.h"
#include "server/auth/caller.h"
#include "server/common/address_rules.h"
#include "server/core/clock.h"
#include "server/core/errors.h"
#include "server/core/rate_limiter.h"
#include "server/ingest/match_cache.h"
#include "server/watch/watch_hub.h"
#include "server/store/store.h"

namespace herald::api {

// Non-owning pointers to the daemon's parts; all outlive the services.
struct ServiceContext {
  store::Store* store = nullptr;
  auth::Authenticator* authenticator = nullptr;
  Executor* executor = nullptr;
  CallTracker* calls = nullptr;
  core::Clock* clock = nullptr;
  // Invalidated after every policy or settings change.
  ingest::MatchCache* match_cache = nullptr;
  // The tail of the task update log, for WatchTasks.
  watch::WatchHub* watch_hub = nullptr;
  // Per-token publish rate limit; nullptr = no limit.
  core::RateLimiter* publish_limiter = nullptr;
  // SSRF rules for target addresses (policy validation, connect guard).
  common::AddressRules address_rules;
  std::string version;
  std::string store_kind;
  std::string registry_endpoint;
  absl::Time start_time;
};

// The "authorization" metadata of a call, copied (the context may be gone
// by the time the work runs).
std::optional<std::string> AuthorizationOf(
    const grpc::CallbackServerContext* context);

// UNAVAILABLE/SHUTTING_DOWN.
absl::Status ShuttingDownError();

// Runs a unary RPC: on an Executor thread, authenticates the caller, calls
// `body(const auth::Caller&) -> absl::Status` (which fills the response)
// and finishes the reactor with the resulting status. Never blocks the
// calling reactor thread.
template <typename Body>
grpc::ServerUnaryReactor* HandleUnary(grpc::CallbackServerContext* context,
                                      const ServiceContext& services,
                                      Body body) {
  grpc::ServerUnaryReactor* reactor = context->DefaultReactor();
  if (!services.calls->Begin()) {
    reactor->Finish(ToGrpcStatus(ShuttingDownError()));
    return reactor;
  }
  bool queued = services.executor->Submit(
      [reactor, &services, authorization = AuthorizationOf(context),
       body = std::move(body)]() mutable {
        absl::StatusOr<auth::Caller> caller =
            services.authenticator->Authenticate(authorization);
        absl::Status status = caller.ok() ? body(*caller) : caller.status();
        reactor->Finish(ToGrpcStatus(status));
        services.calls->End();
      });
  if (!queued) {
    reactor->Finish(ToGrpcStatus(ShuttingDownError()));
    services.calls->End();
  }
  return reactor;
}

}  // namespace herald::api

#endif  // HERALD_SERVER_API_SERVICE_CONTEXT_H_
