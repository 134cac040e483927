#include "client/webhooks.h"

#include <cctype>
#include <utility>

#include <nlohmann/json.hpp>

#include "absl/strings/ascii.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "absl/time/time.h"
#include "client/internal/strings.h"
#include "google/protobuf/duration.pb.h"
#include "google/protobuf/struct.pb.h"
#include "google/protobuf/timestamp.pb.h"
// The signer heraldd uses, compiled into this library (see
// client/CMakeLists.txt): one HMAC implementation for sending and receiving.
#include "server/delivery/signer.h"

namespace herald::webhooks {

using herald::internal::AV;
using Json = nlohmann::json;

#define HERALD_WEBHOOKS_RETURN_IF_ERROR(expr) \
  do {                                        \
    absl::Status status_ = (expr);            \
    if (!status_.ok()) return status_;        \
  } while (false)

namespace internal {

bool HeaderNameEquals(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  for (size_t i = 0; i < a.size(); ++i) {
    if (std::tolower(static_cast<unsigned char>(a[i])) !=
        std::tolower(static_cast<unsigned char>(b[i]))) {
      return false;
    }
  }
  return true;
}

}  // namespace internal

// --- Verify -------------------------------------------------------------------

absl::Status Verify(std::string_view body, const SignatureHeaders& headers,
                    const std::vector<std::string>& secrets,
                    absl::Duration tolerance, absl::Time now) {
  if (secrets.empty()) {
    return absl::InvalidArgumentError("no signing secret given");
  }
  absl::Status last;
  for (const std::string& secret : secrets) {
    last = delivery::CheckSignature(headers.webhook_id,
                                    headers.webhook_timestamp, body,
                                    headers.webhook_signature, secret, now,
                                    tolerance);
    if (last.ok()) return last;
    // Missing headers, a bad timestamp or an undecodable secret do not
    // depend on which secret matches: report them at once.
    if (last.message() != "no matching signature") return last;
  }
  return last;
}

// --- Event types --------------------------------------------------------------

namespace {

struct TypePair {
  std::string_view event_type;
  std::string_view cloudevents_type;
};

// Harbor's mapping (server/core/event.cc has the same table).
constexpr TypePair kTypes[] = {
    {"PUSH_ARTIFACT", "harbor.artifact.pushed"},
    {"PULL_ARTIFACT", "harbor.artifact.pulled"},
    {"DELETE_ARTIFACT", "harbor.artifact.deleted"},
    {"QUOTA_EXCEED", "harbor.quota.exceeded"},
    {"QUOTA_WARNING", "harbor.quota.warned"},
    {"SCANNING_FAILED", "harbor.scan.failed"},
    {"SCANNING_STOPPED", "harbor.scan.stopped"},
    {"SCANNING_COMPLETED", "harbor.scan.completed"},
    {"REPLICATION", "harbor.replication.status.changed"},
    {"TAG_RETENTION", "harbor.tag_retention.finished"},
};

}  // namespace

std::string EventTypeFromCloudEventsType(std::string_view cloudevents_type) {
  for (const TypePair& t : kTypes) {
    if (t.cloudevents_type == cloudevents_type) return std::string(t.event_type);
  }
  return "";
}

std::string CloudEventsTypeFromEventType(std::string_view event_type) {
  for (const TypePair& t : kTypes) {
    if (t.event_type == event_type) return std::string(t.cloudevents_type);
  }
  return "";
}

// --- ParseEvent ---------------------------------------------------------------

namespace {

absl::Status Expected(const std::string& path, const char* what) {
  return absl::InvalidArgumentError(absl::StrCat(path, ": expected ", what));
}

std::string Join(const std::string& path, std::string_view key) {
  return path.empty() ? std::string(key) : absl::StrCat(path, ".", AV(key));
}

std::string Index(const std::string& path, size_t i) {
  return absl::StrCat(path, "[", i, "]");
}

// The member `key` of `obj`, or nullptr when absent or null.
const Json* Member(const Json& obj, std::string_view key) {
  auto it = obj.find(std::string(key));
  if (it == obj.end() || it->is_null()) return nullptr;
  return &*it;
}

absl::Status String(const Json& obj, std::string_view key,
                    const std::string& path, std::string* out) {
  const Json* v = Member(obj, key);
  if (v == nullptr) return absl::OkStatus();
  if (!v->is_string()) return Expected(Join(path, key), "a string");
  *out = v->get<std::string>();
  return absl::OkStatus();
}

absl::Status Int(const Json& obj, std::string_view key, const std::string& path,
                 int64_t* out) {
  const Json* v = Member(obj, key);
  if (v == nullptr) return absl::OkStatus();
  if (!v->is_number_integer()) return Expected(Join(path, key), "an integer");
  *out = v->get<int64_t>();
  return absl::OkStatus();
}

absl::Status Int32(const Json& obj, std::string_view key,
                   const std::string& path, int32_t* out) {
  int64_t v = *out;
  HERALD_WEBHOOKS_RETURN_IF_ERROR(Int(obj, key, path, &v));
  *out = static_cast<int32_t>(v);
  return absl::OkStatus();
}

absl::Status Bool(const Json& obj, std::string_view key, const std::string& path,
                  bool* out) {
  const Json* v = Member(obj, key);
  if (v == nullptr) return absl::OkStatus();
  if (!v->is_boolean()) return Expected(Join(path, key), "a boolean");
  *out = v->get<bool>();
  return absl::OkStatus();
}

// An object member: nullptr when absent or null, an error when not an
// object.
absl::Status Object(const Json& obj, std::string_view key,
                    const std::string& path, const Json** out) {
  *out = Member(obj, key);
  if (*out != nullptr && !(*out)->is_object()) {
    return Expected(Join(path, key), "an object");
  }
  return absl::OkStatus();
}

absl::Status Array(const Json& obj, std::string_view key,
                   const std::string& path, const Json** out) {
  *out = Member(obj, key);
  if (*out != nullptr && !(*out)->is_array()) {
    return Expected(Join(path, key), "an array");
  }
  return absl::OkStatus();
}

void SetTimestamp(absl::Time t, google::protobuf::Timestamp* out) {
  const absl::Duration since_epoch = t - absl::UnixEpoch();
  const int64_t seconds = absl::ToInt64Seconds(
      absl::Floor(since_epoch, absl::Seconds(1)));
  out->set_seconds(seconds);
  out->set_nanos(static_cast<int32_t>(absl::ToInt64Nanoseconds(
      since_epoch - absl::Seconds(seconds))));
}

absl::StatusOr<absl::Time> ParseRfc3339(const std::string& text,
                                        const std::string& path) {
  absl::Time t;
  std::string err;
  if (!absl::ParseTime(absl::RFC3339_full, text, &t, &err)) {
    return absl::InvalidArgumentError(
        absl::StrCat(path, ": not an RFC 3339 time"));
  }
  return t;
}

// An RFC 3339 time string; Go's zero time stays unset. Returns whether set.
absl::Status GoTime(const Json& obj, std::string_view key,
                    const std::string& path, google::protobuf::Timestamp* out,
                    bool* set) {
  *set = false;
  std::string text;
  HERALD_WEBHOOKS_RETURN_IF_ERROR(String(obj, key, path, &text));
  if (text.empty() || text == "0001-01-01T00:00:00Z") return absl::OkStatus();
  absl::StatusOr<absl::Time> t = ParseRfc3339(text, Join(path, key));
  if (!t.ok()) return t.status();
  SetTimestamp(*t, out);
  *set = true;
  return absl::OkStatus();
}

absl::Status Seconds(const Json& obj, std::string_view key,
                     const std::string& path, google::protobuf::Duration* out,
                     bool* set) {
  *set = false;
  const Json* v = Member(obj, key);
  if (v == nullptr) return absl::OkStatus();
  if (!v->is_number_integer()) return Expected(Join(path, key), "an integer");
  out->set_seconds(v->get<int64_t>());
  *set = true;
  return absl::OkStatus();
}

void ToValue(const Json& j, google::protobuf::Value* out) {
  switch (j.type()) {
    case Json::value_t::null:
    case Json::value_t::discarded:
      out->set_null_value(google::protobuf::NULL_VALUE);
      return;
    case Json::value_t::boolean:
      out->set_bool_value(j.get<bool>());
      return;
    case Json::value_t::number_integer:
    case Json::value_t::number_unsigned:
    case Json::value_t::number_float:
      out->set_number_value(j.get<double>());
      return;
    case Json::value_t::string:
      out->set_string_value(j.get<std::string>());
      return;
    case Json::value_t::array:
      out->mutable_list_value();
      for (const Json& item : j) ToValue(item, out->mutable_list_value()->add_values());
      return;
    case Json::value_t::object:
      out->mutable_struct_value();
      for (auto it = j.begin(); it != j.end(); ++it) {
        ToValue(it.value(), &(*out->mutable_struct_value()->mutable_fields())[it.key()]);
      }
      return;
    case Json::value_t::binary:
      out->set_null_value(google::protobuf::NULL_VALUE);
      return;
  }
}

absl::Status ParseScanner(const Json& j, const std::string& path,
                          v1::Scanner* out) {
  HERALD_WEBHOOKS_RETURN_IF_ERROR(String(j, "name", path, out->mutable_name()));
  HERALD_WEBHOOKS_RETURN_IF_ERROR(String(j, "vendor", path, out->mutable_vendor()));
  HERALD_WEBHOOKS_RETURN_IF_ERROR(String(j, "version", path, out->mutable_version()));
  return absl::OkStatus();
}

absl::Status ParseScanReport(const Json& j, const std::string& path,
                             v1::ScanReportSummary* out) {
  if (!j.is_object()) return Expected(path, "an object");
  HERALD_WEBHOOKS_RETURN_IF_ERROR(String(j, "report_id", path, out->mutable_report_id()));
  HERALD_WEBHOOKS_RETURN_IF_ERROR(String(j, "scan_status", path, out->mutable_scan_status()));
  HERALD_WEBHOOKS_RETURN_IF_ERROR(String(j, "severity", path, out->mutable_severity()));
  bool set = false;
  google::protobuf::Duration duration;
  HERALD_WEBHOOKS_RETURN_IF_ERROR(Seconds(j, "duration", path, &duration, &set));
  if (set && duration.seconds() != 0) *out->mutable_duration() = duration;
  const Json* summary = nullptr;
  HERALD_WEBHOOKS_RETURN_IF_ERROR(Object(j, "summary", path, &summary));
  if (summary != nullptr) {
    const std::string sp = Join(path, "summary");
    v1::VulnerabilitySummary* s = out->mutable_summary();
    int64_t n = 0;
    HERALD_WEBHOOKS_RETURN_IF_ERROR(Int(*summary, "total", sp, &n));
    s->set_total(n);
    n = 0;
    HERALD_WEBHOOKS_RETURN_IF_ERROR(Int(*summary, "fixable", sp, &n));
    s->set_fixable(n);
    const Json* counts = nullptr;
    HERALD_WEBHOOKS_RETURN_IF_ERROR(Object(*summary, "summary", sp, &counts));
    if (counts != nullptr) {
      for (auto it = counts->begin(); it != counts->end(); ++it) {
        if (!it.value().is_number_integer()) {
          return Expected(Join(Join(sp, "summary"), it.key()), "an integer");
        }
        (*s->mutable_severity_counts())[it.key()] = it.value().get<int64_t>();
      }
    }
  }
  google::protobuf::Timestamp t;
  HERALD_WEBHOOKS_RETURN_IF_ERROR(GoTime(j, "start_time", path, &t, &set));
  if (set) *out->mutable_start_time() = t;
  HERALD_WEBHOOKS_RETURN_IF_ERROR(GoTime(j, "end_time", path, &t, &set));
  if (set) *out->mutable_end_time() = t;
  const Json* scanner = nullptr;
  HERALD_WEBHOOKS_RETURN_IF_ERROR(Object(j, "scanner", path, &scanner));
  if (scanner != nullptr) {
    HERALD_WEBHOOKS_RETURN_IF_ERROR(
        ParseScanner(*scanner, Join(path, "scanner"), out->mutable_scanner()));
  }
  int32_t percent = 0;
  HERALD_WEBHOOKS_RETURN_IF_ERROR(Int32(j, "complete_percent", path, &percent));
  out->set_complete_percent(percent);
  return absl::OkStatus();
}

absl::Status ParseSbomOverview(const Json& j, const std::string& path,
                               v1::SbomOverview* out) {
  bool set = false;
  google::protobuf::Duration duration;
  HERALD_WEBHOOKS_RETURN_IF_ERROR(Seconds(j, "duration", path, &duration, &set));
  if (set) *out->mutable_duration() = duration;
  google::protobuf::Timestamp t;
  HERALD_WEBHOOKS_RETURN_IF_ERROR(GoTime(j, "start_time", path, &t, &set));
  if (set) *out->mutable_start_time() = t;
  HERALD_WEBHOOKS_RETURN_IF_ERROR(GoTime(j, "end_time", path, &t, &set));
  if (set) *out->mutable_end_time() = t;
  const std::pair<std::string_view, std::string* (v1::SbomOverview::*)()>
      strings[] = {{"sbom_repository", &v1::SbomOverview::mutable_sbom_repository},
                   {"sbom_digest", &v1::SbomOverview::mutable_sbom_digest},
                   {"scan_status", &v1::SbomOverview::mutable_scan_status},
                   {"report_id", &v1::SbomOverview::mutable_report_id}};
  for (const auto& [key, mutable_field] : strings) {
    if (Member(j, key) != nullptr) {
      HERALD_WEBHOOKS_RETURN_IF_ERROR(String(j, key, path, (out->*mutable_field)()));
    }
  }
  const Json* scanner = nullptr;
  HERALD_WEBHOOKS_RETURN_IF_ERROR(Object(j, "scanner", path, &scanner));
  if (scanner != nullptr) {
    HERALD_WEBHOOKS_RETURN_IF_ERROR(
        ParseScanner(*scanner, Join(path, "scanner"), out->mutable_scanner()));
  }
  return absl::OkStatus();
}

absl::Status ParseResource(const Json& j, const std::string& path,
                           v1::Resource* out) {
  if (!j.is_object()) return Expected(path, "an object");
  HERALD_WEBHOOKS_RETURN_IF_ERROR(String(j, "digest", path, out->mutable_digest()));
  HERALD_WEBHOOKS_RETURN_IF_ERROR(String(j, "tag", path, out->mutable_tag()));
  HERALD_WEBHOOKS_RETURN_IF_ERROR(
      String(j, "resource_url", path, out->mutable_resource_url()));
  const Json* overview = nullptr;
  HERALD_WEBHOOKS_RETURN_IF_ERROR(Object(j, "scan_overview", path, &overview));
  if (overview != nullptr) {
    const std::string op = Join(path, "scan_overview");
    for (auto it = overview->begin(); it != overview->end(); ++it) {
      HERALD_WEBHOOKS_RETURN_IF_ERROR(
          ParseScanReport(it.value(), absl::StrCat(op, "[\"", it.key(), "\"]"),
                          &(*out->mutable_scan_overview())[it.key()]));
    }
  }
  const Json* sbom = nullptr;
  HERALD_WEBHOOKS_RETURN_IF_ERROR(Object(j, "sbom_overview", path, &sbom));
  if (sbom != nullptr) {
    HERALD_WEBHOOKS_RETURN_IF_ERROR(ParseSbomOverview(
        *sbom, Join(path, "sbom_overview"), out->mutable_sbom_overview()));
  }
  return absl::OkStatus();
}

absl::Status ParseRepository(const Json& j, const std::string& path,
                             v1::Repository* out) {
  int64_t created = 0;
  HERALD_WEBHOOKS_RETURN_IF_ERROR(Int(j, "date_created", path, &created));
  if (created != 0) out->mutable_create_time()->set_seconds(created);
  HERALD_WEBHOOKS_RETURN_IF_ERROR(String(j, "name", path, out->mutable_name()));
  HERALD_WEBHOOKS_RETURN_IF_ERROR(String(j, "namespace", path, out->mutable_namespace_()));
  HERALD_WEBHOOKS_RETURN_IF_ERROR(
      String(j, "repo_full_name", path, out->mutable_repo_full_name()));
  HERALD_WEBHOOKS_RETURN_IF_ERROR(String(j, "repo_type", path, out->mutable_repo_type()));
  return absl::OkStatus();
}

absl::Status ParseReplicationResource(const Json& j, const std::string& path,
                                      v1::ReplicationResource* out) {
  HERALD_WEBHOOKS_RETURN_IF_ERROR(
      String(j, "registry_name", path, out->mutable_registry_name()));
  HERALD_WEBHOOKS_RETURN_IF_ERROR(
      String(j, "registry_type", path, out->mutable_registry_type()));
  HERALD_WEBHOOKS_RETURN_IF_ERROR(String(j, "endpoint", path, out->mutable_endpoint()));
  HERALD_WEBHOOKS_RETURN_IF_ERROR(String(j, "provider", path, out->mutable_provider()));
  HERALD_WEBHOOKS_RETURN_IF_ERROR(String(j, "namespace", path, out->mutable_namespace_()));
  return absl::OkStatus();
}

absl::Status ParseArtifacts(
    const Json& obj, std::string_view key, const std::string& path,
    google::protobuf::RepeatedPtrField<v1::ArtifactInfo>* out) {
  const Json* list = nullptr;
  HERALD_WEBHOOKS_RETURN_IF_ERROR(Array(obj, key, path, &list));
  if (list == nullptr) return absl::OkStatus();
  const std::string lp = Join(path, key);
  for (size_t i = 0; i < list->size(); ++i) {
    const Json& a = (*list)[i];
    const std::string ap = Index(lp, i);
    if (!a.is_object()) return Expected(ap, "an object");
    v1::ArtifactInfo* info = out->Add();
    HERALD_WEBHOOKS_RETURN_IF_ERROR(String(a, "type", ap, info->mutable_type()));
    HERALD_WEBHOOKS_RETURN_IF_ERROR(String(a, "status", ap, info->mutable_status()));
    HERALD_WEBHOOKS_RETURN_IF_ERROR(String(a, "name_tag", ap, info->mutable_name_tag()));
    const Json* refs = nullptr;
    HERALD_WEBHOOKS_RETURN_IF_ERROR(Array(a, "references", ap, &refs));
    if (refs != nullptr) {
      for (size_t k = 0; k < refs->size(); ++k) {
        if (!(*refs)[k].is_string()) {
          return Expected(Index(Join(ap, "references"), k), "a string");
        }
        info->add_references((*refs)[k].get<std::string>());
      }
    }
    HERALD_WEBHOOKS_RETURN_IF_ERROR(
        String(a, "fail_reason", ap, info->mutable_fail_reason()));
  }
  return absl::OkStatus();
}

absl::Status ParseReplication(const Json& j, const std::string& path,
                              v1::Replication* out) {
  HERALD_WEBHOOKS_RETURN_IF_ERROR(
      String(j, "harbor_hostname", path, out->mutable_harbor_hostname()));
  HERALD_WEBHOOKS_RETURN_IF_ERROR(String(j, "job_status", path, out->mutable_job_status()));
  HERALD_WEBHOOKS_RETURN_IF_ERROR(String(j, "description", path, out->mutable_description()));
  HERALD_WEBHOOKS_RETURN_IF_ERROR(
      String(j, "artifact_type", path, out->mutable_artifact_type()));
  HERALD_WEBHOOKS_RETURN_IF_ERROR(
      String(j, "authentication_type", path, out->mutable_authentication_type()));
  bool override_mode = false;
  HERALD_WEBHOOKS_RETURN_IF_ERROR(Bool(j, "override_mode", path, &override_mode));
  out->set_override_mode(override_mode);
  HERALD_WEBHOOKS_RETURN_IF_ERROR(String(j, "trigger_type", path, out->mutable_trigger_type()));
  HERALD_WEBHOOKS_RETURN_IF_ERROR(
      String(j, "policy_creator", path, out->mutable_policy_creator()));
  int64_t n = 0;
  HERALD_WEBHOOKS_RETURN_IF_ERROR(Int(j, "execution_timestamp", path, &n));
  if (n != 0) out->mutable_execution_time()->set_seconds(n);
  for (const auto& [key, field] :
       {std::pair<const char*, v1::ReplicationResource* (v1::Replication::*)()>{
            "src_resource", &v1::Replication::mutable_src_resource},
        {"dest_resource", &v1::Replication::mutable_dest_resource}}) {
    const Json* r = nullptr;
    HERALD_WEBHOOKS_RETURN_IF_ERROR(Object(j, key, path, &r));
    if (r != nullptr) {
      HERALD_WEBHOOKS_RETURN_IF_ERROR(
          ParseReplicationResource(*r, Join(path, key), (out->*field)()));
    }
  }
  HERALD_WEBHOOKS_RETURN_IF_ERROR(ParseArtifacts(j, "successful_artifact", path,
                                                 out->mutable_successful_artifacts()));
  HERALD_WEBHOOKS_RETURN_IF_ERROR(
      ParseArtifacts(j, "failed_artifact", path, out->mutable_failed_artifacts()));
  n = 0;
  HERALD_WEBHOOKS_RETURN_IF_ERROR(Int(j, "execution_id", path, &n));
  out->set_execution_id(n);
  n = 0;
  HERALD_WEBHOOKS_RETURN_IF_ERROR(Int(j, "task_id", path, &n));
  out->set_task_id(n);
  return absl::OkStatus();
}

absl::Status ParseSelectors(
    const Json& list, const std::string& path,
    google::protobuf::RepeatedPtrField<v1::RetentionSelector>* out) {
  if (!list.is_array()) return Expected(path, "an array");
  for (size_t i = 0; i < list.size(); ++i) {
    const Json& s = list[i];
    const std::string sp = Index(path, i);
    if (!s.is_object()) return Expected(sp, "an object");
    v1::RetentionSelector* sel = out->Add();
    HERALD_WEBHOOKS_RETURN_IF_ERROR(String(s, "kind", sp, sel->mutable_kind()));
    HERALD_WEBHOOKS_RETURN_IF_ERROR(String(s, "decoration", sp, sel->mutable_decoration()));
    HERALD_WEBHOOKS_RETURN_IF_ERROR(String(s, "pattern", sp, sel->mutable_pattern()));
    HERALD_WEBHOOKS_RETURN_IF_ERROR(String(s, "extras", sp, sel->mutable_extras()));
  }
  return absl::OkStatus();
}

absl::Status ParseRetention(const Json& j, const std::string& path,
                            v1::Retention* out) {
  int64_t n = 0;
  HERALD_WEBHOOKS_RETURN_IF_ERROR(Int(j, "total", path, &n));
  out->set_total(n);
  n = 0;
  HERALD_WEBHOOKS_RETURN_IF_ERROR(Int(j, "retained", path, &n));
  out->set_retained(n);
  HERALD_WEBHOOKS_RETURN_IF_ERROR(
      String(j, "harbor_hostname", path, out->mutable_harbor_hostname()));
  HERALD_WEBHOOKS_RETURN_IF_ERROR(String(j, "project_name", path, out->mutable_project_name()));
  n = 0;
  HERALD_WEBHOOKS_RETURN_IF_ERROR(Int(j, "retention_policy_id", path, &n));
  out->set_retention_policy_id(n);
  const Json* rules = nullptr;
  HERALD_WEBHOOKS_RETURN_IF_ERROR(Array(j, "retention_rule", path, &rules));
  if (rules != nullptr) {
    const std::string rp = Join(path, "retention_rule");
    for (size_t i = 0; i < rules->size(); ++i) {
      const Json& r = (*rules)[i];
      const std::string p = Index(rp, i);
      if (!r.is_object()) return Expected(p, "an object");
      v1::RetentionRule* rule = out->add_retention_rules();
      HERALD_WEBHOOKS_RETURN_IF_ERROR(String(r, "template", p, rule->mutable_template_()));
      const Json* params = nullptr;
      HERALD_WEBHOOKS_RETURN_IF_ERROR(Object(r, "params", p, &params));
      if (params != nullptr) {
        for (auto it = params->begin(); it != params->end(); ++it) {
          ToValue(it.value(), &(*rule->mutable_params())[it.key()]);
        }
      }
      const Json* tags = nullptr;
      HERALD_WEBHOOKS_RETURN_IF_ERROR(Array(r, "tag_selectors", p, &tags));
      if (tags != nullptr) {
        HERALD_WEBHOOKS_RETURN_IF_ERROR(ParseSelectors(
            *tags, Join(p, "tag_selectors"), rule->mutable_tag_selectors()));
      }
      const Json* scopes = nullptr;
      HERALD_WEBHOOKS_RETURN_IF_ERROR(Object(r, "scope_selectors", p, &scopes));
      if (scopes != nullptr) {
        for (auto it = scopes->begin(); it != scopes->end(); ++it) {
          v1::RetentionSelectorList& list = (*rule->mutable_scope_selectors())[it.key()];
          if (it.value().is_null()) continue;
          HERALD_WEBHOOKS_RETURN_IF_ERROR(ParseSelectors(
              it.value(), Join(Join(p, "scope_selectors"), it.key()),
              list.mutable_selectors()));
        }
      }
    }
  }
  HERALD_WEBHOOKS_RETURN_IF_ERROR(String(j, "result", path, out->mutable_result()));
  HERALD_WEBHOOKS_RETURN_IF_ERROR(
      ParseArtifacts(j, "deleted_artifact", path, out->mutable_deleted_artifacts()));
  return absl::OkStatus();
}

// Harbor's "event_data" object into the data fields of `out`.
absl::Status ParseEventData(const Json& data, const std::string& path,
                            v1::Event* out) {
  if (!data.is_object()) return Expected(path, "an object");
  const Json* resources = nullptr;
  HERALD_WEBHOOKS_RETURN_IF_ERROR(Array(data, "resources", path, &resources));
  if (resources != nullptr) {
    const std::string rp = Join(path, "resources");
    for (size_t i = 0; i < resources->size(); ++i) {
      HERALD_WEBHOOKS_RETURN_IF_ERROR(
          ParseResource((*resources)[i], Index(rp, i), out->add_resources()));
    }
  }
  const Json* obj = nullptr;
  HERALD_WEBHOOKS_RETURN_IF_ERROR(Object(data, "repository", path, &obj));
  if (obj != nullptr) {
    HERALD_WEBHOOKS_RETURN_IF_ERROR(
        ParseRepository(*obj, Join(path, "repository"), out->mutable_repository()));
  }
  HERALD_WEBHOOKS_RETURN_IF_ERROR(Object(data, "replication", path, &obj));
  if (obj != nullptr) {
    HERALD_WEBHOOKS_RETURN_IF_ERROR(ParseReplication(
        *obj, Join(path, "replication"), out->mutable_replication()));
  }
  HERALD_WEBHOOKS_RETURN_IF_ERROR(Object(data, "retention", path, &obj));
  if (obj != nullptr) {
    HERALD_WEBHOOKS_RETURN_IF_ERROR(
        ParseRetention(*obj, Join(path, "retention"), out->mutable_retention()));
  }
  HERALD_WEBHOOKS_RETURN_IF_ERROR(Object(data, "scan", path, &obj));
  if (obj != nullptr) {
    HERALD_WEBHOOKS_RETURN_IF_ERROR(String(*obj, "scan_type", Join(path, "scan"),
                                           out->mutable_scan()->mutable_scan_type()));
  }
  HERALD_WEBHOOKS_RETURN_IF_ERROR(Object(data, "custom_attributes", path, &obj));
  if (obj != nullptr) {
    for (auto it = obj->begin(); it != obj->end(); ++it) {
      if (!it.value().is_string()) {
        return Expected(Join(Join(path, "custom_attributes"), it.key()), "a string");
      }
      (*out->mutable_custom_attributes())[it.key()] = it.value().get<std::string>();
    }
  }
  return absl::OkStatus();
}

absl::Status ParseDefault(const Json& body, WebhookEvent& out) {
  if (Member(body, "type") == nullptr || Member(body, "event_data") == nullptr) {
    return absl::InvalidArgumentError(
        "not a herald Default payload: \"type\" or \"event_data\" is missing");
  }
  HERALD_WEBHOOKS_RETURN_IF_ERROR(String(body, "type", "", &out.event_type));
  int64_t occur_at = 0;
  HERALD_WEBHOOKS_RETURN_IF_ERROR(Int(body, "occur_at", "", &occur_at));
  if (Member(body, "occur_at") != nullptr) {
    out.occur_time = absl::FromUnixSeconds(occur_at);
  }
  HERALD_WEBHOOKS_RETURN_IF_ERROR(String(body, "operator", "", &out.operator_name));
  return ParseEventData(body.at("event_data"), "event_data", &out.event);
}

absl::Status ParseCloudEvent(const Json& body, WebhookEvent& out) {
  CloudEventAttributes ce;
  HERALD_WEBHOOKS_RETURN_IF_ERROR(String(body, "specversion", "", &ce.specversion));
  if (ce.specversion.empty()) {
    return absl::InvalidArgumentError(
        "not a CloudEvents payload: \"specversion\" is missing");
  }
  HERALD_WEBHOOKS_RETURN_IF_ERROR(String(body, "id", "", &ce.id));
  HERALD_WEBHOOKS_RETURN_IF_ERROR(String(body, "source", "", &ce.source));
  HERALD_WEBHOOKS_RETURN_IF_ERROR(String(body, "type", "", &ce.type));
  HERALD_WEBHOOKS_RETURN_IF_ERROR(String(body, "datacontenttype", "", &ce.datacontenttype));
  std::string time;
  HERALD_WEBHOOKS_RETURN_IF_ERROR(String(body, "time", "", &time));
  if (!time.empty()) {
    absl::StatusOr<absl::Time> t = ParseRfc3339(time, "time");
    if (!t.ok()) return t.status();
    ce.time = *t;
  }
  // "/projects/<project>/webhook/policies/<policy>"
  std::vector<std::string> parts = absl::StrSplit(ce.source, '/');
  if (parts.size() == 6 && parts[0].empty() && parts[1] == "projects" &&
      parts[3] == "webhook" && parts[4] == "policies") {
    int64_t project = 0, policy = 0;
    if (absl::SimpleAtoi(parts[2], &project) && absl::SimpleAtoi(parts[5], &policy)) {
      ce.project_id = project;
      ce.policy_id = policy;
    }
  }
  static constexpr std::string_view kCoreAttributes[] = {
      "specversion", "id", "source", "type", "datacontenttype", "time",
      "data", "data_base64", "dataschema", "subject"};
  for (auto it = body.begin(); it != body.end(); ++it) {
    bool core = false;
    for (std::string_view a : kCoreAttributes) core = core || it.key() == a;
    if (core) continue;
    if (it.value().is_string()) {
      ce.extensions[it.key()] = it.value().get<std::string>();
    } else if (!it.value().is_null()) {
      ce.extensions[it.key()] = it.value().dump();
    }
  }

  out.event_type = EventTypeFromCloudEventsType(ce.type);
  out.occur_time = ce.time;
  if (auto op = ce.extensions.find("operator"); op != ce.extensions.end()) {
    out.operator_name = op->second;
  }
  out.event.set_project_id(ce.project_id);
  if (auto rid = ce.extensions.find("requestid"); rid != ce.extensions.end()) {
    out.event.set_request_id(rid->second);
  }
  const Json* data = Member(body, "data");
  if (data != nullptr) {
    HERALD_WEBHOOKS_RETURN_IF_ERROR(ParseEventData(*data, "data", &out.event));
  }
  out.cloudevent = std::move(ce);
  return absl::OkStatus();
}

}  // namespace

absl::StatusOr<WebhookEvent> ParseEvent(std::string_view body,
                                        std::string_view content_type) {
  std::string media = std::string(absl::AsciiStrToLower(AV(content_type)));
  if (size_t semi = media.find(';'); semi != std::string::npos) media.resize(semi);
  media = std::string(absl::StripAsciiWhitespace(media));

  Json json = Json::parse(body.begin(), body.end(), nullptr,
                          /*allow_exceptions=*/false);
  if (json.is_discarded()) {
    return absl::InvalidArgumentError("the body is not valid JSON");
  }
  if (!json.is_object()) {
    return absl::InvalidArgumentError("the body is not a JSON object");
  }

  WebhookEvent out;
  if (media.empty()) {
    out.format = json.contains("specversion") ? PayloadFormat::kCloudEvents
                                              : PayloadFormat::kDefault;
  } else if (media == "application/cloudevents+json") {
    out.format = PayloadFormat::kCloudEvents;
  } else if (media == "application/json") {
    out.format = PayloadFormat::kDefault;
  } else {
    return absl::InvalidArgumentError(
        absl::StrCat("unsupported content type \"", media,
                     "\" (want application/json or application/cloudevents+json)"));
  }
  if (out.format == PayloadFormat::kDefault && !json.contains("event_data") &&
      (json.contains("text") || json.contains("blocks"))) {
    return absl::InvalidArgumentError(
        "this is a Slack payload, which is made for people and not parsed");
  }

  HERALD_WEBHOOKS_RETURN_IF_ERROR(out.format == PayloadFormat::kDefault
                                      ? ParseDefault(json, out)
                                      : ParseCloudEvent(json, out));
  out.event.set_event_type(out.event_type);
  out.event.set_operator_(out.operator_name);
  if (out.occur_time) SetTimestamp(*out.occur_time, out.event.mutable_occur_time());
  return out;
}

}  // namespace herald::webhooks
