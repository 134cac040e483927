// Turns the "authorization" metadata of a call into a Caller.
#ifndef HERALD_SERVER_AUTH_AUTHENTICATOR_H_
#define HERALD_SERVER_AUTH_AUTHENTICATOR_H_

#include <optional>
#include <string_view>

#include "absl/status/statusor.h"
#include "server/auth/caller.h"
#include "server/core/clock.h"
#include "server/store/store.h"

namespace herald::auth {

// Thread-safe. Blocks on a store read: call it off the gRPC reactor threads.
class Authenticator {
 public:
  // `store` and `clock` must outlive the Authenticator.
  Authenticator(store::Store* store, core::Clock* clock)
      : store_(store), clock_(clock) {}

  // `authorization` is the metadata value ("Bearer <secret>"), or nullopt
  // when the call has none. Errors: UNAUTHENTICATED with reason
  // TOKEN_MISSING (no or empty metadata) or TOKEN_INVALID (malformed,
  // unknown, revoked or expired token); UNAVAILABLE when the store is down.
  // Error messages never contain the secret.
  absl::StatusOr<Caller> Authenticate(
      std::optional<std::string_view> authorization) const;

 private:
  store::Store* store_;
  core::Clock* clock_;
};

}  // namespace herald::auth

#endif  // HERALD_SERVER_AUTH_AUTHENTICATOR_H_
