// Validation of the server-wide delivery settings (AdminService).
#ifndef HERALD_SERVER_CORE_SETTINGS_VALIDATION_H_
#define HERALD_SERVER_CORE_SETTINGS_VALIDATION_H_

#include <vector>

#include "absl/time/time.h"
#include "server/core/field_violation.h"
#include "server/core/settings.h"

namespace herald::core {

inline constexpr int kMinJobMaxRetry = 1;
inline constexpr int kMaxJobMaxRetry = 100;
inline constexpr absl::Duration kMinJobHttpClientTimeout = absl::Seconds(1);
inline constexpr absl::Duration kMaxJobHttpClientTimeout = absl::Seconds(300);
inline constexpr int kMinExecutionRetentionCount = 1;
inline constexpr int kMaxExecutionRetentionCount = 100000;

// Returns every rule `settings` breaks (empty when valid), with fields
// named "settings.<name>":
//   webhook_job_max_retry            1..100 (total attempts)
//   webhook_job_http_client_timeout  1 s..300 s
//   execution_retention_count        1..100000
// notification_enable has no constraint.
std::vector<FieldViolation> ValidateSettings(const Settings& settings);

}  // namespace herald::core

#endif  // HERALD_SERVER_CORE_SETTINGS_VALIDATION_H_
