#include "server/auth/permissions.h"

#include <algorithm>

#include "absl/strings/str_cat.h"
#include "server/core/errors.h"

namespace herald::auth {
namespace {

bool RoleGrants(core::Role role, Access access) {
  switch (role) {
    case core::Role::kSystemAdmin: return true;
    case core::Role::kProjectAdmin:
      return access == Access::kRead || access == Access::kManage;
    case core::Role::kMaintainer: return access == Access::kRead;
    case core::Role::kPublisher: return access == Access::kPublish;
  }
  return false;
}

absl::string_view AccessName(Access access) {
  switch (access) {
    case Access::kRead: return "read";
    case Access::kManage: return "manage";
    case Access::kPublish: return "publish to";
  }
  return "use";
}

}  // namespace

absl::Status Authorize(const Caller& caller, Access access,
                       int64_t project_id) {
  if (caller.role == core::Role::kSystemAdmin) return absl::OkStatus();
  if (!RoleGrants(caller.role, access)) {
    return core::MakeError(
        absl::StatusCode::kPermissionDenied, core::reason::kRoleNotAllowed,
        absl::StrCat("token \"", caller.name, "\" may not ",
                     AccessName(access), " project ", project_id),
        {{"project_id", absl::StrCat(project_id)}});
  }
  bool allowed;
  if (project_id == 0) {
    allowed = false;  // system-wide resources
  } else if (caller.role == core::Role::kPublisher &&
             caller.project_ids.empty()) {
    allowed = true;  // a system-wide publisher
  } else {
    allowed = std::find(caller.project_ids.begin(), caller.project_ids.end(),
                        project_id) != caller.project_ids.end();
  }
  if (allowed) return absl::OkStatus();
  return core::MakeError(
      absl::StatusCode::kPermissionDenied, core::reason::kProjectNotAllowed,
      project_id == 0
          ? absl::StrCat("token \"", caller.name,
                         "\" may not ", AccessName(access),
                         " system-wide policies (system admins only)")
          : absl::StrCat("token \"", caller.name, "\" has no role on project ",
                         project_id),
      {{"project_id", absl::StrCat(project_id)}});
}

absl::Status RequireSystemAdmin(const Caller& caller) {
  if (caller.role == core::Role::kSystemAdmin) return absl::OkStatus();
  return core::MakeError(absl::StatusCode::kPermissionDenied,
                         core::reason::kRoleNotAllowed,
                         absl::StrCat("token \"", caller.name,
                                      "\" is not a system admin"));
}

std::optional<std::vector<int64_t>> ReadableProjects(const Caller& caller) {
  switch (caller.role) {
    case core::Role::kSystemAdmin: return std::nullopt;
    case core::Role::kProjectAdmin:
    case core::Role::kMaintainer: return caller.project_ids;
    case core::Role::kPublisher: return std::vector<int64_t>{};
  }
  return std::vector<int64_t>{};
}

}  // namespace herald::auth
