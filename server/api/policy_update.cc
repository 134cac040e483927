#include "server/api/policy_update.h"

#include "absl/strings/str_cat.h"
#include "server/api/policy_convert.h"
#include "server/api/proto_time.h"
#include "server/core/errors.h"
#include "server/core/field_violation.h"

namespace herald::api {
namespace {

// Carries secrets a read-modify-write client cannot know over from the
// stored target at the same index.
core::Target MergeTargetSecrets(const v1::Target& in,
                                const core::Target* stored, absl::Time now) {
  core::Target out = TargetFromProto(in);
  if (stored == nullptr) return out;
  if (out.auth_header.empty() && in.has_auth_header()) {
    out.auth_header = stored->auth_header;
  }
  const bool keep_secret = out.signing_secret.empty() && in.has_signing_secret();
  if (keep_secret || out.signing_secret == stored->signing_secret) {
    out.signing_secret = stored->signing_secret;
    out.previous_signing_secret = stored->previous_signing_secret;
    out.previous_secret_expire_time = stored->previous_secret_expire_time;
  } else if (!stored->signing_secret.empty()) {
    absl::Duration grace = FromProto(in.secret_rotation_grace_period());
    if (grace > absl::ZeroDuration()) {
      out.previous_signing_secret = stored->signing_secret;
      out.previous_secret_expire_time = now + grace;
    }
  }
  return out;
}

}  // namespace

void CheckPolicyEnums(const v1::Policy& policy,
                      std::vector<core::FieldViolation>* violations) {
  for (int i = 0; i < policy.targets_size(); ++i) {
    const v1::Target& t = policy.targets(i);
    if (t.type() != v1::TARGET_TYPE_HTTP && t.type() != v1::TARGET_TYPE_SLACK) {
      violations->push_back(
          {absl::StrCat("policy.targets[", i, "].type"),
           "required: TARGET_TYPE_HTTP or TARGET_TYPE_SLACK"});
    }
    if (!v1::PayloadFormat_IsValid(t.payload_format())) {
      violations->push_back(
          {absl::StrCat("policy.targets[", i, "].payload_format"),
           "unknown payload format"});
    }
    if (t.secret_rotation_grace_period().seconds() < 0 ||
        t.secret_rotation_grace_period().seconds() > 30 * 24 * 3600) {
      violations->push_back(
          {absl::StrCat("policy.targets[", i,
                        "].secret_rotation_grace_period"),
           "must be between 0 and 30 days"});
    }
  }
  if (!v1::BackoffKind_IsValid(policy.retry_policy().backoff())) {
    violations->push_back({"policy.retry_policy.backoff", "unknown backoff kind"});
  }
}

absl::StatusOr<core::Policy> ApplyPolicyUpdate(
    const core::Policy& stored, const v1::UpdatePolicyRequest& request,
    absl::Time now) {
  const v1::Policy& in = request.policy();
  std::vector<std::string> paths(request.update_mask().paths().begin(),
                                 request.update_mask().paths().end());
  if (paths.empty()) {
    if (!in.name().empty()) paths.push_back("name");
    if (!in.description().empty()) paths.push_back("description");
    if (in.targets_size() > 0) paths.push_back("targets");
    if (in.event_types_size() > 0) paths.push_back("event_types");
    if (in.has_filters()) paths.push_back("filters");
    if (in.has_retry_policy()) paths.push_back("retry_policy");
    if (in.has_enabled()) paths.push_back("enabled");
  } else if (paths.size() == 1 && paths[0] == "*") {
    paths = {"name",    "description",  "targets", "event_types",
             "filters", "retry_policy", "enabled"};
  }

  core::Policy out = stored;
  std::vector<core::FieldViolation> violations;
  for (size_t i = 0; i < paths.size(); ++i) {
    const std::string& path = paths[i];
    if (path == "name") {
      out.name = in.name();
    } else if (path == "description") {
      out.description = in.description();
    } else if (path == "targets") {
      out.targets.clear();
      for (int t = 0; t < in.targets_size(); ++t) {
        const core::Target* old =
            t < static_cast<int>(stored.targets.size()) ? &stored.targets[t]
                                                        : nullptr;
        out.targets.push_back(MergeTargetSecrets(in.targets(t), old, now));
      }
    } else if (path == "event_types") {
      out.event_types.assign(in.event_types().begin(), in.event_types().end());
    } else if (path == "filters") {
      out.filters = FiltersFromProto(in.filters());
    } else if (path == "retry_policy") {
      out.retry_policy = RetryPolicyFromProto(in.retry_policy());
    } else if (path == "enabled") {
      out.enabled = in.has_enabled() ? in.enabled() : true;
    } else {
      violations.push_back(
          {absl::StrCat("update_mask.paths[", i, "]"),
           absl::StrCat("unknown or immutable field \"", path,
                        "\"; allowed: name, description, targets, "
                        "event_types, filters, retry_policy, enabled, *")});
    }
  }
  if (!violations.empty()) return core::InvalidFieldsError(violations);
  return out;
}

}  // namespace herald::api
