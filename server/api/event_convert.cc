#include "server/api/event_convert.h"

#include <string>
#include <utility>

#include "google/protobuf/duration.pb.h"
#include "google/protobuf/struct.pb.h"
#include "google/protobuf/timestamp.pb.h"

namespace herald::api {
namespace {

namespace pb = ::google::protobuf;

// Full-range conversions (years 1..9999 and beyond; absl::ToUnixNanos would
// overflow outside 1678..2262).
absl::Time TimeFrom(const pb::Timestamp& t) {
  return absl::FromUnixSeconds(t.seconds()) + absl::Nanoseconds(t.nanos());
}
void TimeTo(absl::Time t, pb::Timestamp* out) {
  const int64_t seconds = absl::ToUnixSeconds(t);  // floor
  out->set_seconds(seconds);
  out->set_nanos(static_cast<int32_t>(
      absl::ToInt64Nanoseconds(t - absl::FromUnixSeconds(seconds))));
}
std::optional<absl::Time> OptTimeFrom(bool has, const pb::Timestamp& t) {
  if (!has) return std::nullopt;
  return TimeFrom(t);
}

absl::Duration DurationFrom(const pb::Duration& d) {
  return absl::Seconds(d.seconds()) + absl::Nanoseconds(d.nanos());
}
void DurationTo(absl::Duration d, pb::Duration* out) {
  absl::Duration rem;
  const int64_t seconds = absl::IDivDuration(d, absl::Seconds(1), &rem);
  out->set_seconds(seconds);
  out->set_nanos(static_cast<int32_t>(absl::ToInt64Nanoseconds(rem)));
}

core::JsonValue JsonFrom(const pb::Value& v) {
  core::JsonValue out;
  switch (v.kind_case()) {
    case pb::Value::kBoolValue:
      return core::JsonValue::Bool(v.bool_value());
    case pb::Value::kNumberValue:
      return core::JsonValue::Number(v.number_value());
    case pb::Value::kStringValue:
      return core::JsonValue::String(v.string_value());
    case pb::Value::kListValue:
      out.kind = core::JsonValue::Kind::kArray;
      for (const pb::Value& item : v.list_value().values()) {
        out.array_items.push_back(JsonFrom(item));
      }
      return out;
    case pb::Value::kStructValue:
      out.kind = core::JsonValue::Kind::kObject;
      for (const auto& [key, item] : v.struct_value().fields()) {
        out.object_members.emplace(key, JsonFrom(item));
      }
      return out;
    case pb::Value::kNullValue:
    case pb::Value::KIND_NOT_SET:
      return out;
  }
  return out;
}

void JsonTo(const core::JsonValue& v, pb::Value* out) {
  switch (v.kind) {
    case core::JsonValue::Kind::kNull:
      out->set_null_value(pb::NULL_VALUE);
      return;
    case core::JsonValue::Kind::kBool:
      out->set_bool_value(v.bool_value);
      return;
    case core::JsonValue::Kind::kNumber:
      out->set_number_value(v.number_value);
      return;
    case core::JsonValue::Kind::kString:
      out->set_string_value(v.string_value);
      return;
    case core::JsonValue::Kind::kArray: {
      pb::ListValue* list = out->mutable_list_value();
      for (const core::JsonValue& item : v.array_items) {
        JsonTo(item, list->add_values());
      }
      return;
    }
    case core::JsonValue::Kind::kObject: {
      auto* fields = out->mutable_struct_value()->mutable_fields();
      for (const auto& [key, item] : v.object_members) {
        JsonTo(item, &(*fields)[key]);
      }
      return;
    }
  }
}

core::Scanner ScannerFrom(const v1::Scanner& p) {
  return core::Scanner{p.name(), p.vendor(), p.version()};
}
void ScannerTo(const core::Scanner& s, v1::Scanner* out) {
  out->set_name(s.name);
  out->set_vendor(s.vendor);
  out->set_version(s.version);
}

core::ScanReportSummary ScanReportFrom(const v1::ScanReportSummary& p) {
  core::ScanReportSummary r;
  r.report_id = p.report_id();
  r.scan_status = p.scan_status();
  r.severity = p.severity();
  r.duration = DurationFrom(p.duration());
  if (p.has_summary()) {
    core::VulnerabilitySummary& s = r.summary.emplace();
    s.total = p.summary().total();
    s.fixable = p.summary().fixable();
    s.severity_counts.insert(p.summary().severity_counts().begin(),
                             p.summary().severity_counts().end());
  }
  r.start_time = OptTimeFrom(p.has_start_time(), p.start_time());
  r.end_time = OptTimeFrom(p.has_end_time(), p.end_time());
  if (p.has_scanner()) r.scanner = ScannerFrom(p.scanner());
  r.complete_percent = p.complete_percent();
  return r;
}
void ScanReportTo(const core::ScanReportSummary& r,
                  v1::ScanReportSummary* out) {
  out->set_report_id(r.report_id);
  out->set_scan_status(r.scan_status);
  out->set_severity(r.severity);
  DurationTo(r.duration, out->mutable_duration());
  if (r.summary) {
    v1::VulnerabilitySummary* s = out->mutable_summary();
    s->set_total(r.summary->total);
    s->set_fixable(r.summary->fixable);
    s->mutable_severity_counts()->insert(r.summary->severity_counts.begin(),
                                         r.summary->severity_counts.end());
  }
  if (r.start_time) TimeTo(*r.start_time, out->mutable_start_time());
  if (r.end_time) TimeTo(*r.end_time, out->mutable_end_time());
  if (r.scanner) ScannerTo(*r.scanner, out->mutable_scanner());
  out->set_complete_percent(r.complete_percent);
}

core::SbomOverview SbomFrom(const v1::SbomOverview& p) {
  core::SbomOverview s;
  s.start_time = OptTimeFrom(p.has_start_time(), p.start_time());
  s.end_time = OptTimeFrom(p.has_end_time(), p.end_time());
  if (p.has_duration()) s.duration = DurationFrom(p.duration());
  if (p.has_sbom_repository()) s.sbom_repository = p.sbom_repository();
  if (p.has_sbom_digest()) s.sbom_digest = p.sbom_digest();
  if (p.has_scan_status()) s.scan_status = p.scan_status();
  if (p.has_report_id()) s.report_id = p.report_id();
  if (p.has_scanner()) s.scanner = ScannerFrom(p.scanner());
  return s;
}
void SbomTo(const core::SbomOverview& s, v1::SbomOverview* out) {
  if (s.start_time) TimeTo(*s.start_time, out->mutable_start_time());
  if (s.end_time) TimeTo(*s.end_time, out->mutable_end_time());
  if (s.duration) DurationTo(*s.duration, out->mutable_duration());
  if (s.sbom_repository) out->set_sbom_repository(*s.sbom_repository);
  if (s.sbom_digest) out->set_sbom_digest(*s.sbom_digest);
  if (s.scan_status) out->set_scan_status(*s.scan_status);
  if (s.report_id) out->set_report_id(*s.report_id);
  if (s.scanner) ScannerTo(*s.scanner, out->mutable_scanner());
}

core::ArtifactInfo ArtifactFrom(const v1::ArtifactInfo& p) {
  core::ArtifactInfo a;
  a.type = p.type();
  a.status = p.status();
  a.name_tag = p.name_tag();
  a.references.assign(p.references().begin(), p.references().end());
  a.fail_reason = p.fail_reason();
  return a;
}
void ArtifactTo(const core::ArtifactInfo& a, v1::ArtifactInfo* out) {
  out->set_type(a.type);
  out->set_status(a.status);
  out->set_name_tag(a.name_tag);
  for (const std::string& r : a.references) out->add_references(r);
  out->set_fail_reason(a.fail_reason);
}

core::ReplicationResource ReplicationResourceFrom(
    const v1::ReplicationResource& p) {
  return core::ReplicationResource{p.registry_name(), p.registry_type(),
                                   p.endpoint(), p.provider(), p.namespace_()};
}
void ReplicationResourceTo(const core::ReplicationResource& r,
                           v1::ReplicationResource* out) {
  out->set_registry_name(r.registry_name);
  out->set_registry_type(r.registry_type);
  out->set_endpoint(r.endpoint);
  out->set_provider(r.provider);
  out->set_namespace_(r.namespace_name);
}

core::Replication ReplicationFrom(const v1::Replication& p) {
  core::Replication r;
  r.harbor_hostname = p.harbor_hostname();
  r.job_status = p.job_status();
  r.description = p.description();
  r.artifact_type = p.artifact_type();
  r.authentication_type = p.authentication_type();
  r.override_mode = p.override_mode();
  r.trigger_type = p.trigger_type();
  r.policy_creator = p.policy_creator();
  r.execution_time = OptTimeFrom(p.has_execution_time(), p.execution_time());
  if (p.has_src_resource()) {
    r.src_resource = ReplicationResourceFrom(p.src_resource());
  }
  if (p.has_dest_resource()) {
    r.dest_resource = ReplicationResourceFrom(p.dest_resource());
  }
  for (const auto& a : p.successful_artifacts()) {
    r.successful_artifacts.push_back(ArtifactFrom(a));
  }
  for (const auto& a : p.failed_artifacts()) {
    r.failed_artifacts.push_back(ArtifactFrom(a));
  }
  r.execution_id = p.execution_id();
  r.task_id = p.task_id();
  return r;
}
void ReplicationTo(const core::Replication& r, v1::Replication* out) {
  out->set_harbor_hostname(r.harbor_hostname);
  out->set_job_status(r.job_status);
  out->set_description(r.description);
  out->set_artifact_type(r.artifact_type);
  out->set_authentication_type(r.authentication_type);
  out->set_override_mode(r.override_mode);
  out->set_trigger_type(r.trigger_type);
  out->set_policy_creator(r.policy_creator);
  if (r.execution_time)
    TimeTo(*r.execution_time, out->mutable_execution_time());
  if (r.src_resource) {
    ReplicationResourceTo(*r.src_resource, out->mutable_src_resource());
  }
  if (r.dest_resource) {
    ReplicationResourceTo(*r.dest_resource, out->mutable_dest_resource());
  }
  for (const auto& a : r.successful_artifacts) {
    ArtifactTo(a, out->add_successful_artifacts());
  }
  for (const auto& a : r.failed_artifacts) {
    ArtifactTo(a, out->add_failed_artifacts());
  }
  out->set_execution_id(r.execution_id);
  out->set_task_id(r.task_id);
}

core::RetentionSelector SelectorFrom(const v1::RetentionSelector& p) {
  return core::RetentionSelector{p.kind(), p.decoration(), p.pattern(),
                                 p.extras()};
}
void SelectorTo(const core::RetentionSelector& s, v1::RetentionSelector* out) {
  out->set_kind(s.kind);
  out->set_decoration(s.decoration);
  out->set_pattern(s.pattern);
  out->set_extras(s.extras);
}

core::Retention RetentionFrom(const v1::Retention& p) {
  core::Retention r;
  r.total = p.total();
  r.retained = p.retained();
  r.harbor_hostname = p.harbor_hostname();
  r.project_name = p.project_name();
  r.retention_policy_id = p.retention_policy_id();
  for (const v1::RetentionRule& pr : p.retention_rules()) {
    core::RetentionRule& rule = r.retention_rules.emplace_back();
    rule.template_id = pr.template_();
    for (const auto& [key, value] : pr.params()) {
      rule.params.emplace(key, JsonFrom(value));
    }
    for (const auto& s : pr.tag_selectors()) {
      rule.tag_selectors.push_back(SelectorFrom(s));
    }
    for (const auto& [kind, list] : pr.scope_selectors()) {
      std::vector<core::RetentionSelector>& selectors =
          rule.scope_selectors[kind];
      for (const auto& s : list.selectors()) {
        selectors.push_back(SelectorFrom(s));
      }
    }
  }
  r.result = p.result();
  for (const auto& a : p.deleted_artifacts()) {
    r.deleted_artifacts.push_back(ArtifactFrom(a));
  }
  return r;
}
void RetentionTo(const core::Retention& r, v1::Retention* out) {
  out->set_total(r.total);
  out->set_retained(r.retained);
  out->set_harbor_hostname(r.harbor_hostname);
  out->set_project_name(r.project_name);
  out->set_retention_policy_id(r.retention_policy_id);
  for (const core::RetentionRule& rule : r.retention_rules) {
    v1::RetentionRule* pr = out->add_retention_rules();
    pr->set_template_(rule.template_id);
    for (const auto& [key, value] : rule.params) {
      JsonTo(value, &(*pr->mutable_params())[key]);
    }
    for (const auto& s : rule.tag_selectors) {
      SelectorTo(s, pr->add_tag_selectors());
    }
    for (const auto& [kind, selectors] : rule.scope_selectors) {
      v1::RetentionSelectorList& list = (*pr->mutable_scope_selectors())[kind];
      for (const auto& s : selectors) SelectorTo(s, list.add_selectors());
    }
  }
  out->set_result(r.result);
  for (const auto& a : r.deleted_artifacts) {
    ArtifactTo(a, out->add_deleted_artifacts());
  }
}

}  // namespace

core::Event EventFromProto(const v1::Event& p) {
  core::Event e;
  e.event_type = p.event_type();
  e.project_id = p.project_id();
  e.operator_name = p.operator_();
  e.occur_time = OptTimeFrom(p.has_occur_time(), p.occur_time());
  e.request_id = p.request_id();
  e.resources.reserve(p.resources_size());
  for (const v1::Resource& pr : p.resources()) {
    core::Resource& r = e.resources.emplace_back();
    r.digest = pr.digest();
    r.tag = pr.tag();
    r.resource_url = pr.resource_url();
    for (const auto& [mime, summary] : pr.scan_overview()) {
      r.scan_overview.emplace(mime, ScanReportFrom(summary));
    }
    if (pr.has_sbom_overview()) r.sbom_overview = SbomFrom(pr.sbom_overview());
  }
  if (p.has_repository()) {
    const v1::Repository& pr = p.repository();
    core::Repository& r = e.repository.emplace();
    r.create_time = OptTimeFrom(pr.has_create_time(), pr.create_time());
    r.name = pr.name();
    r.namespace_name = pr.namespace_();
    r.repo_full_name = pr.repo_full_name();
    r.repo_type = pr.repo_type();
  }
  if (p.has_replication()) e.replication = ReplicationFrom(p.replication());
  if (p.has_retention()) e.retention = RetentionFrom(p.retention());
  if (p.has_scan()) e.scan = core::Scan{p.scan().scan_type()};
  e.custom_attributes.insert(p.custom_attributes().begin(),
                             p.custom_attributes().end());
  return e;
}

v1::Event EventToProto(const core::Event& e) {
  v1::Event p;
  p.set_event_type(e.event_type);
  p.set_project_id(e.project_id);
  p.set_operator_(e.operator_name);
  if (e.occur_time) TimeTo(*e.occur_time, p.mutable_occur_time());
  p.set_request_id(e.request_id);
  for (const core::Resource& r : e.resources) {
    v1::Resource* pr = p.add_resources();
    pr->set_digest(r.digest);
    pr->set_tag(r.tag);
    pr->set_resource_url(r.resource_url);
    for (const auto& [mime, summary] : r.scan_overview) {
      ScanReportTo(summary, &(*pr->mutable_scan_overview())[mime]);
    }
    if (r.sbom_overview) SbomTo(*r.sbom_overview, pr->mutable_sbom_overview());
  }
  if (e.repository) {
    v1::Repository* pr = p.mutable_repository();
    if (e.repository->create_time) {
      TimeTo(*e.repository->create_time, pr->mutable_create_time());
    }
    pr->set_name(e.repository->name);
    pr->set_namespace_(e.repository->namespace_name);
    pr->set_repo_full_name(e.repository->repo_full_name);
    pr->set_repo_type(e.repository->repo_type);
  }
  if (e.replication) ReplicationTo(*e.replication, p.mutable_replication());
  if (e.retention) RetentionTo(*e.retention, p.mutable_retention());
  if (e.scan) p.mutable_scan()->set_scan_type(e.scan->scan_type);
  p.mutable_custom_attributes()->insert(e.custom_attributes.begin(),
                                        e.custom_attributes.end());
  return p;
}

}  // namespace herald::api
