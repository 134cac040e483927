// The rules a published Event must satisfy, and the defaults herald derives
// the way Harbor does.
//
// Order of use on ingest: DeriveDefaults() first (it fills fields a producer
// may leave empty), then ValidateEvent(); an event with no violations can be
// rendered by server/render without errors.
//
// Every function here is pure and thread-safe.
#ifndef HERALD_SERVER_CORE_EVENT_VALIDATION_H_
#define HERALD_SERVER_CORE_EVENT_VALIDATION_H_

#include <cstddef>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/status.h"
#include "absl/time/time.h"
#include "server/core/event.h"
#include "server/core/field_violation.h"

namespace herald::core {

// Size limits. They bound the rendered payload (a few times the sum of the
// strings) and the work per event; Harbor itself never comes near them.
//
// Bytes of any one string (operator, digest, tag, names, selector patterns,
// custom attribute keys, ...).
inline constexpr size_t kMaxStringBytes = 4 * 1024;
// Bytes of one custom attribute value (quota "Details" and free-form text).
inline constexpr size_t kMaxCustomAttributeValueBytes = 64 * 1024;
// Bytes of all strings of one event together, map keys included.
inline constexpr size_t kMaxEventStringBytes = 2 * 1024 * 1024;
// Elements of Event.resources.
inline constexpr size_t kMaxResources = 1000;
// Entries of Event.custom_attributes.
inline constexpr size_t kMaxCustomAttributes = 100;
// Entries of one Resource.scan_overview (report MIME types).
inline constexpr size_t kMaxScanReports = 16;
// Entries of one VulnerabilitySummary.severity_counts.
inline constexpr size_t kMaxSeverities = 16;
// Elements of each artifact list (successful, failed, deleted).
inline constexpr size_t kMaxArtifacts = 1000;
// Elements of one ArtifactInfo.references.
inline constexpr size_t kMaxReferences = 1000;
// Elements of Retention.retention_rules.
inline constexpr size_t kMaxRetentionRules = 100;
// Elements of one selector list (tag_selectors or one scope's selectors),
// and the number of scope kinds of one rule.
inline constexpr size_t kMaxSelectors = 100;
// Entries of one RetentionRule.params.
inline constexpr size_t kMaxRuleParams = 100;
// Nesting depth of one parameter value (a scalar has depth 1).
inline constexpr int kMaxJsonDepth = 16;
// Values (scalars, arrays, objects) inside one parameter value.
inline constexpr size_t kMaxJsonValues = 1000;
// At most this many violations are reported; later ones are dropped.
inline constexpr size_t kMaxViolations = 100;

// Returns every violation of `event` (empty when valid), in field order,
// with paths rooted at `root`, e.g. "event.resources[0].digest" (proto field
// names; map keys quoted: "event.custom_attributes[\"Details\"]"). Values
// from the event that appear in paths or descriptions are made valid UTF-8
// and truncated, so a violation can always be put in a gRPC status.
//
// Rules: a known event_type; project_id > 0; every string valid UTF-8 and
// within the limits above; timestamps within 0001-01-01..9999-12-31 UTC;
// counts and durations not negative; and per event type:
//  * PUSH/PULL/DELETE_ARTIFACT: a repository, at least one resource, each
//    with a digest;
//  * QUOTA_*: a repository and custom_attributes["Details"];
//  * SCANNING_*: a repository, at least one resource, each with a
//    scan_overview entry or a non-empty sbom_overview;
//  * REPLICATION: a replication block; TAG_RETENTION: a retention block.
// A repository, when present, needs a namespace and a name, and a repo_type
// of "public", "private" or "".
std::vector<FieldViolation> ValidateEvent(const Event& event,
                                          std::string_view root = "event");

// ValidateEvent() as a status: OK, or INVALID_ARGUMENT whose message lists
// the violations ("event.resources[0].digest: is required; ...").
absl::Status CheckEvent(const Event& event);

// Fills what Harbor would have filled, leaving every field that is already
// set alone:
//  * repository: name = repo_full_name after the first '/', namespace =
//    before it; repo_full_name = namespace + "/" + name;
//  * PUSH/PULL/DELETE_ARTIFACT resources: tag = digest when empty (an
//    artifact pushed or pulled by digest);
//  * artifact and SCANNING_* resources: resource_url =
//    ResourceUrl(registry_endpoint, repo_full_name, tag or else digest);
//  * replication and retention: harbor_hostname = RegistryHostname().
// URL-derived fields stay empty when registry_endpoint is empty.
void DeriveDefaults(Event& event, std::string_view registry_endpoint);

// As above, and sets occur_time to `now` when it is unset.
void DeriveDefaults(Event& event, std::string_view registry_endpoint,
                    absl::Time now);

// The registry endpoint without its scheme and trailing '/', keeping the
// port: "https://harbor.dev:8443/" -> "harbor.dev:8443" (Harbor's ExtURL).
std::string RegistryAuthority(std::string_view registry_endpoint);

// RegistryAuthority() up to the first ':', i.e. without the port
// ("harbor_hostname"; Harbor splits at ':' the same way).
std::string RegistryHostname(std::string_view registry_endpoint);

// "<authority>/<repo>@<reference>" when the reference is a digest, else
// "<authority>/<repo>:<reference>" (Harbor's BuildImageResourceURL).
std::string ResourceUrl(std::string_view registry_endpoint,
                        std::string_view repo_full_name,
                        std::string_view reference);

// Length of the well-formed UTF-8 sequence starting at s[i] (1 to 4), or 0
// when the bytes there are not well-formed UTF-8 (overlong forms,
// surrogates, code points above U+10FFFF, truncated sequences); i < s.size().
size_t Utf8SequenceLength(std::string_view s, size_t i);
bool IsValidUtf8(std::string_view s);

}  // namespace herald::core

#endif  // HERALD_SERVER_CORE_EVENT_VALIDATION_H_
