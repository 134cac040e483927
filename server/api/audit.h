// The audit log: one structured line, at info level, for every change made
// through PolicyService and AdminService, written after the change
// succeeded:
//
//   {"ts":"...","level":"info","msg":"audit","audit":true,
//    "action":"UpdatePolicy","actor":"ci-admin","actor_token_id":7,
//    "resource":"policy","resource_id":42,"project_id":3,
//    "update_mask":"enabled,targets"}
//
// who = actor (the token's name) and actor_token_id, what = action,
// resource and resource_id plus a few non-secret details, when = ts.
// Never a secret: no auth_header, signing secret, token secret or header
// value is ever passed here.
#ifndef HERALD_SERVER_API_AUDIT_H_
#define HERALD_SERVER_API_AUDIT_H_

#include <cstdint>
#include <initializer_list>
#include <string_view>
#include <vector>

#include "server/auth/caller.h"
#include "server/common/log.h"

namespace herald::api {

inline void Audit(const auth::Caller& caller, std::string_view action,
                  std::string_view resource, int64_t resource_id,
                  std::initializer_list<log::Field> details = {}) {
  std::vector<log::Field> fields = {
      {"audit", true},
      {"action", action},
      {"actor", caller.name},
      {"actor_token_id", caller.token_id},
      {"resource", resource},
      {"resource_id", resource_id},
  };
  fields.insert(fields.end(), details.begin(), details.end());
  log::Log(log::Level::kInfo, "audit", fields);
}

}  // namespace herald::api

#endif  // HERALD_SERVER_API_AUDIT_H_
