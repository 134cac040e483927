// Events: the proto-free mirror of herald.v1.Event
// (protos/herald/v1/event.proto).
//
// An Event is what a producer publishes: Harbor's webhook payload fields for
// one of the ten Harbor event types. The renderers (server/render) turn it
// into Harbor's Default, CloudEvents and Slack bodies; event_validation.h
// holds the rules a published event must satisfy and DeriveDefaults().
//
// Values are plain data: copyable, comparable, no invariants enforced by the
// types. Field comments name the Harbor JSON key a field is rendered as when
// it differs from the field name. Presence matters where Harbor's payload
// distinguishes "absent" from "zero": those fields are std::optional.
#ifndef HERALD_SERVER_CORE_EVENT_H_
#define HERALD_SERVER_CORE_EVENT_H_

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "absl/time/time.h"

namespace herald::core {

// Harbor's event types (the Default payload's "type").
inline constexpr std::string_view kPushArtifact = "PUSH_ARTIFACT";
inline constexpr std::string_view kPullArtifact = "PULL_ARTIFACT";
inline constexpr std::string_view kDeleteArtifact = "DELETE_ARTIFACT";
inline constexpr std::string_view kQuotaExceed = "QUOTA_EXCEED";
inline constexpr std::string_view kQuotaWarning = "QUOTA_WARNING";
inline constexpr std::string_view kScanningFailed = "SCANNING_FAILED";
inline constexpr std::string_view kScanningStopped = "SCANNING_STOPPED";
inline constexpr std::string_view kScanningCompleted = "SCANNING_COMPLETED";
inline constexpr std::string_view kReplication = "REPLICATION";
inline constexpr std::string_view kTagRetention = "TAG_RETENTION";

// The supported event types in Harbor's order (GET .../webhook/events).
std::vector<std::string> KnownEventTypes();
bool IsKnownEventType(std::string_view event_type);

// The CloudEvents "type" of a Harbor event type, e.g. PUSH_ARTIFACT ->
// "harbor.artifact.pushed"; nullopt for an unknown type.
std::optional<std::string_view> CloudEventsType(std::string_view event_type);

// Event type families, which decide what an event must carry and how its
// defaults are derived.
bool IsArtifactEvent(std::string_view event_type);  // PUSH/PULL/DELETE_ARTIFACT
bool IsQuotaEvent(std::string_view event_type);     // QUOTA_*
bool IsScanningEvent(std::string_view event_type);  // SCANNING_*

// True when `reference` contains a digest ("<algorithm>:<32+ hex digits>"),
// with the semantics of Harbor's distribution.IsDigest (an unanchored match
// of the OCI digest pattern). Tags cannot contain ':', so a tag never does.
bool IsDigestReference(std::string_view reference);

// A JSON value, for the free-form retention rule parameters (Harbor decodes
// them into Go's `any`, so numbers are float64). Mirrors
// google.protobuf.Value.
struct JsonValue {
  enum class Kind { kNull, kBool, kNumber, kString, kArray, kObject };
  Kind kind = Kind::kNull;
  bool bool_value = false;
  double number_value = 0;
  std::string string_value;
  std::vector<JsonValue> array_items;
  std::map<std::string, JsonValue> object_members;

  static JsonValue Null() { return {}; }
  static JsonValue Bool(bool v);
  static JsonValue Number(double v);
  static JsonValue String(std::string v);
  friend bool operator==(const JsonValue&, const JsonValue&) = default;
};

struct Scanner {
  std::string name;
  std::string vendor;
  std::string version;
  friend bool operator==(const Scanner&, const Scanner&) = default;
};

struct VulnerabilitySummary {
  int64_t total = 0;
  int64_t fixable = 0;
  std::map<std::string, int64_t> severity_counts;  // rendered as "summary"
  friend bool operator==(const VulnerabilitySummary&,
                         const VulnerabilitySummary&) = default;
};

// Harbor's NativeReportSummary: every key is always rendered.
struct ScanReportSummary {
  std::string report_id;
  std::string scan_status;
  std::string severity;
  absl::Duration duration = absl::ZeroDuration();  // whole seconds
  std::optional<VulnerabilitySummary> summary;     // nullopt -> null
  std::optional<absl::Time> start_time;            // nullopt -> Go's zero time
  std::optional<absl::Time> end_time;
  std::optional<Scanner> scanner;  // nullopt -> omitted
  int32_t complete_percent = 0;
  friend bool operator==(const ScanReportSummary&,
                         const ScanReportSummary&) = default;
};

// Harbor's SBOM summary, a flat map: each key is rendered only when set.
struct SbomOverview {
  std::optional<absl::Time> start_time;
  std::optional<absl::Time> end_time;
  std::optional<absl::Duration> duration;
  std::optional<std::string> sbom_repository;
  std::optional<std::string> sbom_digest;
  std::optional<std::string> scan_status;
  std::optional<std::string> report_id;
  std::optional<Scanner> scanner;
  bool empty() const {
    return !start_time && !end_time && !duration && !sbom_repository &&
           !sbom_digest && !scan_status && !report_id && !scanner;
  }
  friend bool operator==(const SbomOverview&, const SbomOverview&) = default;
};

struct Resource {
  std::string digest;
  std::string tag;
  std::string resource_url;
  // Keyed by report MIME type.
  std::map<std::string, ScanReportSummary> scan_overview;
  std::optional<SbomOverview> sbom_overview;
  friend bool operator==(const Resource&, const Resource&) = default;
};

struct Repository {
  std::optional<absl::Time> create_time;  // "date_created", Unix seconds
  std::string name;
  std::string namespace_name;  // "namespace"
  std::string repo_full_name;
  std::string repo_type;  // "public" | "private"
  friend bool operator==(const Repository&, const Repository&) = default;
};

struct ReplicationResource {
  std::string registry_name;
  std::string registry_type;
  std::string endpoint;
  std::string provider;
  std::string namespace_name;  // "namespace"
  friend bool operator==(const ReplicationResource&,
                         const ReplicationResource&) = default;
};

struct ArtifactInfo {
  std::string type;
  std::string status;
  std::string name_tag;
  std::vector<std::string> references;  // empty -> null
  std::string fail_reason;
  friend bool operator==(const ArtifactInfo&, const ArtifactInfo&) = default;
};

struct Replication {
  std::string harbor_hostname;
  std::string job_status;
  std::string description;
  std::string artifact_type;
  std::string authentication_type;
  bool override_mode = false;
  std::string trigger_type;
  std::string policy_creator;
  std::optional<absl::Time> execution_time;  // "execution_timestamp"
  std::optional<ReplicationResource> src_resource;
  std::optional<ReplicationResource> dest_resource;
  std::vector<ArtifactInfo> successful_artifacts;  // "successful_artifact"
  std::vector<ArtifactInfo> failed_artifacts;      // "failed_artifact"
  int64_t execution_id = 0;
  int64_t task_id = 0;
  friend bool operator==(const Replication&, const Replication&) = default;
};

struct RetentionSelector {
  std::string kind;
  std::string decoration;
  std::string pattern;
  std::string extras;
  friend bool operator==(const RetentionSelector&,
                         const RetentionSelector&) = default;
};

struct RetentionRule {
  std::string template_id;  // "template"
  std::map<std::string, JsonValue> params;
  std::vector<RetentionSelector> tag_selectors;
  std::map<std::string, std::vector<RetentionSelector>> scope_selectors;
  friend bool operator==(const RetentionRule&, const RetentionRule&) = default;
};

struct Retention {
  int64_t total = 0;
  int64_t retained = 0;
  std::string harbor_hostname;
  std::string project_name;
  int64_t retention_policy_id = 0;
  std::vector<RetentionRule> retention_rules;   // "retention_rule"
  std::string result;                           // Harbor sends "SUCCESS"
  std::vector<ArtifactInfo> deleted_artifacts;  // "deleted_artifact"
  friend bool operator==(const Retention&, const Retention&) = default;
};

struct Scan {
  std::string scan_type;  // "vulnerability" | "sbom"
  friend bool operator==(const Scan&, const Scan&) = default;
};

struct Event {
  std::string event_type;
  int64_t project_id = 0;
  std::string operator_name;  // "operator"
  // nullopt until DeriveDefaults(..., now) fills it; renderers require it.
  std::optional<absl::Time> occur_time;
  // The originating request's id: the CloudEvents "requestid".
  std::string request_id;
  // Harbor's "event_data":
  std::vector<Resource> resources;
  std::optional<Repository> repository;
  std::optional<Replication> replication;
  std::optional<Retention> retention;
  std::optional<Scan> scan;
  std::map<std::string, std::string> custom_attributes;
  friend bool operator==(const Event&, const Event&) = default;
};

}  // namespace herald::core

#endif  // HERALD_SERVER_CORE_EVENT_H_
