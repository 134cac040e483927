// Access tokens, roles and the identity of a caller.
#ifndef HERALD_SERVER_CORE_ACCESS_H_
#define HERALD_SERVER_CORE_ACCESS_H_

#include <cstdint>
#include <string>
#include <vector>

#include "absl/time/time.h"

namespace herald::core {

// What a token may do. Project roles apply to the token's project_ids;
// a publisher with no project_ids is system-wide (may publish anywhere).
enum class Role {
  kSystemAdmin = 1,   // everything
  kProjectAdmin = 2,  // policies and deliveries of its projects
  kMaintainer = 3,    // read-only on policies and deliveries of its projects
  kPublisher = 4,     // publishes events for its projects
};

// A stored token. The secret itself is never stored: only its SHA-256.
struct TokenRecord {
  int64_t id = 0;
  std::string name;  // the caller identity, used as Policy::creator
  Role role = Role::kMaintainer;
  std::vector<int64_t> project_ids;
  std::string secret_hash;  // hex SHA-256 of the token string
  std::string creator;
  absl::Time create_time = absl::UnixEpoch();
  absl::Time expire_time = absl::InfiniteFuture();
  bool revoked = false;
  friend bool operator==(const TokenRecord&, const TokenRecord&) = default;
};

}  // namespace herald::core

#endif  // HERALD_SERVER_CORE_ACCESS_H_
