#include "server/core/settings_validation.h"

#include "absl/strings/str_cat.h"

namespace herald::core {

std::vector<FieldViolation> ValidateSettings(const Settings& settings) {
  std::vector<FieldViolation> out;
  if (settings.webhook_job_max_retry < kMinJobMaxRetry ||
      settings.webhook_job_max_retry > kMaxJobMaxRetry) {
    out.push_back({"settings.webhook_job_max_retry",
                   absl::StrCat("webhook_job_max_retry must be from ",
                                kMinJobMaxRetry, " to ", kMaxJobMaxRetry,
                                " (got ", settings.webhook_job_max_retry,
                                ")")});
  }
  const absl::Duration timeout = settings.webhook_job_http_client_timeout;
  if (timeout < kMinJobHttpClientTimeout ||
      timeout > kMaxJobHttpClientTimeout) {
    out.push_back(
        {"settings.webhook_job_http_client_timeout",
         absl::StrCat("webhook_job_http_client_timeout must be from ",
                      absl::FormatDuration(kMinJobHttpClientTimeout), " to ",
                      absl::FormatDuration(kMaxJobHttpClientTimeout),
                      " (got ", absl::FormatDuration(timeout), ")")});
  }
  if (settings.execution_retention_count < kMinExecutionRetentionCount ||
      settings.execution_retention_count > kMaxExecutionRetentionCount) {
    out.push_back({"settings.execution_retention_count",
                   absl::StrCat("execution_retention_count must be from ",
                                kMinExecutionRetentionCount, " to ",
                                kMaxExecutionRetentionCount, " (got ",
                                settings.execution_retention_count, ")")});
  }
  return out;
}

}  // namespace herald::core
