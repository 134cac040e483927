// The first system admin token, so a fresh heraldd can be used at all.
#ifndef HERALD_SERVER_AUTH_BOOTSTRAP_H_
#define HERALD_SERVER_AUTH_BOOTSTRAP_H_

#include <optional>
#include <string>

#include "absl/status/statusor.h"
#include "server/core/clock.h"
#include "server/store/store.h"

namespace herald::auth {

struct BootstrapResult {
  // True when a token was created by this call.
  bool created = false;
  // Where the secret was written ("" when it came from the environment or
  // an earlier start created it).
  std::string token_file;
};

// With `env_token` (HERALD_ADMIN_TOKEN): makes sure a live system admin
// token with that secret exists (name "admin-from-env"), creating it if
// needed; nothing is written to disk.
// Without: if the store has no live system admin token, creates
// "bootstrap-admin" and writes its secret to `token_file` with mode 0600.
// Not thread-safe against itself; call once at start-up.
absl::StatusOr<BootstrapResult> EnsureBootstrapAdmin(
    store::Store& store, core::Clock& clock,
    const std::optional<std::string>& env_token,
    const std::string& token_file);

}  // namespace herald::auth

#endif  // HERALD_SERVER_AUTH_BOOTSTRAP_H_
