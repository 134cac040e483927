// herald.v1 Settings and Token <-> core types.
#ifndef HERALD_SERVER_API_ADMIN_CONVERT_H_
#define HERALD_SERVER_API_ADMIN_CONVERT_H_

#include "absl/status/statusor.h"
#include "herald/v1/admin_service.pb.h"
#include "server/core/access.h"
#include "server/core/settings.h"

namespace herald::api {

v1::Settings SettingsToProto(const core::Settings& settings);

// `current` with the fields of request.settings named by request.update_mask
// (or every set field when the mask is empty) replaced. INVALID_ARGUMENT for
// unknown paths. The result is not yet range-checked.
absl::StatusOr<core::Settings> ApplySettingsUpdate(
    const core::Settings& current, const v1::UpdateSettingsRequest& request);

// Without the secret hash.
v1::Token TokenToProto(const core::TokenRecord& token);

}  // namespace herald::api

#endif  // HERALD_SERVER_API_ADMIN_CONVERT_H_
