// The authenticated identity behind a call.
#ifndef HERALD_SERVER_AUTH_CALLER_H_
#define HERALD_SERVER_AUTH_CALLER_H_

#include <cstdint>
#include <string>
#include <vector>

#include "server/core/access.h"

namespace herald::auth {

struct Caller {
  int64_t token_id = 0;
  std::string name;  // the token's name: becomes Policy::creator
  core::Role role = core::Role::kMaintainer;
  std::vector<int64_t> project_ids;
};

}  // namespace herald::auth

#endif  // HERALD_SERVER_AUTH_CALLER_H_
