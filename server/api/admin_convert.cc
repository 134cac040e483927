#include "server/api/admin_convert.h"

#include "absl/strings/str_cat.h"
#include "server/api/proto_time.h"
#include "server/core/errors.h"

namespace herald::api {

v1::Settings SettingsToProto(const core::Settings& s) {
  v1::Settings out;
  out.set_notification_enable(s.notification_enable);
  out.set_webhook_job_max_retry(s.webhook_job_max_retry);
  *out.mutable_webhook_job_http_client_timeout() =
      ToProto(s.webhook_job_http_client_timeout);
  out.set_execution_retention_count(s.execution_retention_count);
  return out;
}

absl::StatusOr<core::Settings> ApplySettingsUpdate(
    const core::Settings& current, const v1::UpdateSettingsRequest& request) {
  const v1::Settings& in = request.settings();
  std::vector<std::string> paths(request.update_mask().paths().begin(),
                                 request.update_mask().paths().end());
  if (paths.empty()) {
    if (in.has_notification_enable()) paths.push_back("notification_enable");
    if (in.webhook_job_max_retry() != 0) paths.push_back("webhook_job_max_retry");
    if (in.has_webhook_job_http_client_timeout()) {
      paths.push_back("webhook_job_http_client_timeout");
    }
    if (in.execution_retention_count() != 0) {
      paths.push_back("execution_retention_count");
    }
  }
  core::Settings out = current;
  std::vector<core::FieldViolation> violations;
  for (size_t i = 0; i < paths.size(); ++i) {
    const std::string& path = paths[i];
    if (path == "notification_enable") {
      out.notification_enable =
          in.has_notification_enable() ? in.notification_enable() : true;
    } else if (path == "webhook_job_max_retry") {
      out.webhook_job_max_retry = in.webhook_job_max_retry();
    } else if (path == "webhook_job_http_client_timeout") {
      out.webhook_job_http_client_timeout =
          FromProto(in.webhook_job_http_client_timeout());
    } else if (path == "execution_retention_count") {
      out.execution_retention_count = in.execution_retention_count();
    } else {
      violations.push_back(
          {absl::StrCat("update_mask.paths[", i, "]"),
           absl::StrCat("unknown setting \"", path,
                        "\"; allowed: notification_enable, "
                        "webhook_job_max_retry, "
                        "webhook_job_http_client_timeout, "
                        "execution_retention_count")});
    }
  }
  if (!violations.empty()) return core::InvalidFieldsError(violations);
  return out;
}

v1::Token TokenToProto(const core::TokenRecord& t) {
  v1::Token out;
  out.set_id(t.id);
  out.set_name(t.name);
  out.set_role(static_cast<v1::Role>(t.role));
  for (int64_t p : t.project_ids) out.add_project_ids(p);
  out.set_creator(t.creator);
  *out.mutable_create_time() = ToProto(t.create_time);
  SetTimeIfSet(t.expire_time, [&] { return out.mutable_expire_time(); });
  out.set_revoked(t.revoked);
  return out;
}

}  // namespace herald::api
