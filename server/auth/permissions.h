// Who may do what, per project. Pure functions over a Caller; thread-safe.
//
// Roles (see core::Role):
//   system admin   everything, including system-wide policies (project 0)
//   project admin  read and manage policies and deliveries of its projects
//   maintainer     read policies and deliveries of its projects
//   publisher      publish events for its projects (all when it has none)
#ifndef HERALD_SERVER_AUTH_PERMISSIONS_H_
#define HERALD_SERVER_AUTH_PERMISSIONS_H_

#include <cstdint>
#include <optional>
#include <vector>

#include "absl/status/status.h"
#include "server/auth/caller.h"

namespace herald::auth {

enum class Access {
  kRead,     // read policies, executions, tasks, logs; watch
  kManage,   // create/update/delete policies; redeliver
  kPublish,  // publish events
};

// OK, or PERMISSION_DENIED with reason ROLE_NOT_ALLOWED (the role never
// grants `access`) or PROJECT_NOT_ALLOWED (it does, but not on project_id).
// project_id 0 (system-wide policies) is reserved to system admins.
absl::Status Authorize(const Caller& caller, Access access,
                       int64_t project_id);

// OK for system admins, else PERMISSION_DENIED (ROLE_NOT_ALLOWED).
absl::Status RequireSystemAdmin(const Caller& caller);

// The projects `caller` may read: nullopt means every project (system
// admins); otherwise the caller's project list (empty for publishers).
std::optional<std::vector<int64_t>> ReadableProjects(const Caller& caller);

}  // namespace herald::auth

#endif  // HERALD_SERVER_AUTH_PERMISSIONS_H_
