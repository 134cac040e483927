// Webhook policies: the proto-free domain model shared by the API, the store
// and the delivery engine.
//
// A Policy belongs to a project (project_id > 0) or is system-wide
// (project_id == 0). It lists the event types it reacts to, the targets to
// deliver to, optional filters and an optional retry override. Values are
// plain data: copyable, no invariants enforced by the type itself (see
// policy_validation.h for the rules).
#ifndef HERALD_SERVER_CORE_POLICY_H_
#define HERALD_SERVER_CORE_POLICY_H_

#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include "absl/time/time.h"

namespace herald::core {

// Where a target delivers. Harbor's notify types "http" and "slack".
enum class TargetType { kHttp = 1, kSlack = 2 };

// The body format of an HTTP target. Slack targets always use Slack's
// Block Kit body and carry kUnspecified.
enum class PayloadFormat { kUnspecified = 0, kDefault = 1, kCloudEvents = 2 };

// One HTTP header added to every request of a target.
struct Header {
  std::string name;
  std::string value;
  friend bool operator==(const Header&, const Header&) = default;
};

// A delivery endpoint of a policy. auth_header and the signing secrets are
// secrets: they are never logged and never returned by read APIs.
struct Target {
  TargetType type = TargetType::kHttp;
  std::string address;  // absolute http(s) URL, normalised
  std::string auth_header;  // sent verbatim as Authorization
  bool skip_cert_verify = false;
  PayloadFormat payload_format = PayloadFormat::kUnspecified;
  // Standard Webhooks signing secret ("whsec_" + base64), empty = unsigned.
  std::string signing_secret;
  // The secret that signing_secret replaced; it keeps signing (as a second
  // signature) until previous_secret_expire_time.
  std::string previous_signing_secret;
  absl::Time previous_secret_expire_time = absl::InfinitePast();
  std::vector<Header> headers;  // custom headers
  bool follow_redirects = false;
  std::string ca_bundle_pem;  // extra trusted CAs, PEM; empty = system roots
  friend bool operator==(const Target&, const Target&) = default;
};

// Optional narrowing of the events a policy receives. Empty lists mean "no
// restriction". Patterns are doublestar globs (*, **, ?, {a,b}).
struct Filters {
  std::vector<std::string> repository_patterns;  // match repo_full_name
  std::vector<std::string> tag_patterns;         // match the resource tag
  // Accepted scan_status values for SCANNING_* events (e.g. "Success").
  std::vector<std::string> scan_statuses;
  // Accepted job_status values for REPLICATION events (e.g. "Error").
  std::vector<std::string> replication_statuses;
  bool empty() const {
    return repository_patterns.empty() && tag_patterns.empty() &&
           scan_statuses.empty() && replication_statuses.empty();
  }
  friend bool operator==(const Filters&, const Filters&) = default;
};

// How retries are spaced.
enum class BackoffKind {
  kUnspecified = 0,  // server default (Harbor's)
  kHarbor = 1,       // fails^4 + 15 + rand[0,30) * (fails + 1) seconds
  kExponential = 2,  // initial * 2^(fails-1), capped, with full jitter
};

// A per-policy override of the server's delivery settings. Zero values mean
// "use the server setting".
struct RetryPolicy {
  int max_attempts = 0;  // total attempts, Harbor's webhook_job_max_retry
  BackoffKind backoff = BackoffKind::kUnspecified;
  absl::Duration initial_backoff = absl::ZeroDuration();
  absl::Duration max_backoff = absl::ZeroDuration();
  absl::Duration http_timeout = absl::ZeroDuration();
  friend bool operator==(const RetryPolicy&, const RetryPolicy&) = default;
};

struct Policy {
  int64_t id = 0;
  int64_t project_id = 0;  // 0 = system-wide
  std::string name;
  std::string description;
  std::vector<Target> targets;
  std::vector<std::string> event_types;
  Filters filters;
  RetryPolicy retry_policy;
  bool enabled = true;
  std::string creator;  // set by the server from the caller's identity
  absl::Time create_time = absl::UnixEpoch();
  absl::Time update_time = absl::UnixEpoch();
  friend bool operator==(const Policy&, const Policy&) = default;
};

}  // namespace herald::core

#endif  // HERALD_SERVER_CORE_POLICY_H_
