#include "server/render/default_renderer.h"

#include <string_view>

#include "absl/status/status.h"

namespace herald::render {
namespace {

using core::JsonValue;

// Go's zero time.Time, which NativeReportSummary writes for unset times.
constexpr std::string_view kGoZeroTime = "0001-01-01T00:00:00Z";

void OptString(JsonWriter& w, std::string_view key, std::string_view value) {
  if (!value.empty()) w.Key(key).String(value);
}

void OptInt(JsonWriter& w, std::string_view key, int64_t value) {
  if (value != 0) w.Key(key).Int(value);
}

void UnixSecondsOmitEmpty(JsonWriter& w, std::string_view key,
                          const std::optional<absl::Time>& t) {
  if (t) OptInt(w, key, absl::ToUnixSeconds(*t));
}

void GoTime(JsonWriter& w, std::string_view key,
            const std::optional<absl::Time>& t) {
  w.Key(key).String(t ? FormatGoTime(*t) : std::string(kGoZeroTime));
}

void WriteScanner(JsonWriter& w, const core::Scanner& s) {
  w.BeginObject();
  w.Key("name").String(s.name);
  w.Key("vendor").String(s.vendor);
  w.Key("version").String(s.version);
  w.EndObject();
}

void WriteScanReport(JsonWriter& w, const core::ScanReportSummary& r) {
  w.BeginObject();
  w.Key("report_id").String(r.report_id);
  w.Key("scan_status").String(r.scan_status);
  w.Key("severity").String(r.severity);
  w.Key("duration").Int(absl::ToInt64Seconds(r.duration));
  w.Key("summary");
  if (r.summary) {
    w.BeginObject();
    w.Key("total").Int(r.summary->total);
    w.Key("fixable").Int(r.summary->fixable);
    w.Key("summary").BeginObject();
    for (const auto& [severity, count] : r.summary->severity_counts) {
      w.Key(severity).Int(count);
    }
    w.EndObject();
    w.EndObject();
  } else {
    w.Null();
  }
  GoTime(w, "start_time", r.start_time);
  GoTime(w, "end_time", r.end_time);
  if (r.scanner) {
    w.Key("scanner");
    WriteScanner(w, *r.scanner);
  }
  w.Key("complete_percent").Int(r.complete_percent);
  w.EndObject();
}

// Harbor's SBOM summary is a map[string]any, so its keys come out sorted.
void WriteSbomOverview(JsonWriter& w, const core::SbomOverview& s) {
  w.BeginObject();
  if (s.duration) w.Key("duration").Int(absl::ToInt64Seconds(*s.duration));
  if (s.end_time) w.Key("end_time").String(FormatGoTime(*s.end_time));
  if (s.report_id) w.Key("report_id").String(*s.report_id);
  if (s.sbom_digest) w.Key("sbom_digest").String(*s.sbom_digest);
  if (s.sbom_repository) w.Key("sbom_repository").String(*s.sbom_repository);
  if (s.scan_status) w.Key("scan_status").String(*s.scan_status);
  if (s.scanner) {
    w.Key("scanner");
    WriteScanner(w, *s.scanner);
  }
  if (s.start_time) w.Key("start_time").String(FormatGoTime(*s.start_time));
  w.EndObject();
}

void WriteResource(JsonWriter& w, const core::Resource& r) {
  w.BeginObject();
  OptString(w, "digest", r.digest);
  OptString(w, "tag", r.tag);
  OptString(w, "resource_url", r.resource_url);
  if (!r.scan_overview.empty()) {
    w.Key("scan_overview").BeginObject();
    for (const auto& [mime, summary] : r.scan_overview) {
      w.Key(mime);
      WriteScanReport(w, summary);
    }
    w.EndObject();
  }
  if (r.sbom_overview && !r.sbom_overview->empty()) {
    w.Key("sbom_overview");
    WriteSbomOverview(w, *r.sbom_overview);
  }
  w.EndObject();
}

void WriteRepository(JsonWriter& w, const core::Repository& r) {
  w.BeginObject();
  UnixSecondsOmitEmpty(w, "date_created", r.create_time);
  w.Key("name").String(r.name);
  w.Key("namespace").String(r.namespace_name);
  w.Key("repo_full_name").String(r.repo_full_name);
  w.Key("repo_type").String(r.repo_type);
  w.EndObject();
}

void WriteReplicationResource(JsonWriter& w,
                              const core::ReplicationResource& r) {
  w.BeginObject();
  OptString(w, "registry_name", r.registry_name);
  w.Key("registry_type").String(r.registry_type);
  w.Key("endpoint").String(r.endpoint);
  OptString(w, "provider", r.provider);
  OptString(w, "namespace", r.namespace_name);
  w.EndObject();
}

void WriteArtifacts(JsonWriter& w, std::string_view key,
                    const std::vector<core::ArtifactInfo>& artifacts) {
  if (artifacts.empty()) return;
  w.Key(key).BeginArray();
  for (const core::ArtifactInfo& a : artifacts) {
    w.BeginObject();
    w.Key("type").String(a.type);
    w.Key("status").String(a.status);
    w.Key("name_tag").String(a.name_tag);
    w.Key("references");
    if (a.references.empty()) {
      w.Null();  // a nil []string
    } else {
      w.BeginArray();
      for (const std::string& ref : a.references) w.String(ref);
      w.EndArray();
    }
    OptString(w, "fail_reason", a.fail_reason);
    w.EndObject();
  }
  w.EndArray();
}

void WriteReplication(JsonWriter& w, const core::Replication& r) {
  w.BeginObject();
  OptString(w, "harbor_hostname", r.harbor_hostname);
  OptString(w, "job_status", r.job_status);
  OptString(w, "description", r.description);
  OptString(w, "artifact_type", r.artifact_type);
  OptString(w, "authentication_type", r.authentication_type);
  if (r.override_mode) w.Key("override_mode").Bool(true);
  OptString(w, "trigger_type", r.trigger_type);
  OptString(w, "policy_creator", r.policy_creator);
  UnixSecondsOmitEmpty(w, "execution_timestamp", r.execution_time);
  if (r.src_resource) {
    w.Key("src_resource");
    WriteReplicationResource(w, *r.src_resource);
  }
  if (r.dest_resource) {
    w.Key("dest_resource");
    WriteReplicationResource(w, *r.dest_resource);
  }
  WriteArtifacts(w, "successful_artifact", r.successful_artifacts);
  WriteArtifacts(w, "failed_artifact", r.failed_artifacts);
  OptInt(w, "execution_id", r.execution_id);
  OptInt(w, "task_id", r.task_id);
  w.EndObject();
}

void WriteJsonValue(JsonWriter& w, const JsonValue& v) {
  switch (v.kind) {
    case JsonValue::Kind::kNull:
      w.Null();
      return;
    case JsonValue::Kind::kBool:
      w.Bool(v.bool_value);
      return;
    case JsonValue::Kind::kNumber:
      w.Double(v.number_value);
      return;
    case JsonValue::Kind::kString:
      w.String(v.string_value);
      return;
    case JsonValue::Kind::kArray:
      w.BeginArray();
      for (const JsonValue& item : v.array_items) WriteJsonValue(w, item);
      w.EndArray();
      return;
    case JsonValue::Kind::kObject:
      w.BeginObject();
      for (const auto& [key, item] : v.object_members) {
        w.Key(key);
        WriteJsonValue(w, item);
      }
      w.EndObject();
      return;
  }
}

void WriteSelectors(JsonWriter& w,
                    const std::vector<core::RetentionSelector>& selectors) {
  w.BeginArray();
  for (const core::RetentionSelector& s : selectors) {
    w.BeginObject();
    w.Key("kind").String(s.kind);
    w.Key("decoration").String(s.decoration);
    w.Key("pattern").String(s.pattern);
    w.Key("extras").String(s.extras);
    w.EndObject();
  }
  w.EndArray();
}

void WriteRetention(JsonWriter& w, const core::Retention& r) {
  w.BeginObject();
  w.Key("total").Int(r.total);
  w.Key("retained").Int(r.retained);
  OptString(w, "harbor_hostname", r.harbor_hostname);
  OptString(w, "project_name", r.project_name);
  OptInt(w, "retention_policy_id", r.retention_policy_id);
  if (!r.retention_rules.empty()) {
    w.Key("retention_rule").BeginArray();
    for (const core::RetentionRule& rule : r.retention_rules) {
      w.BeginObject();
      OptString(w, "template", rule.template_id);
      if (!rule.params.empty()) {
        w.Key("params").BeginObject();
        for (const auto& [key, value] : rule.params) {
          w.Key(key);
          WriteJsonValue(w, value);
        }
        w.EndObject();
      }
      if (!rule.tag_selectors.empty()) {
        w.Key("tag_selectors");
        WriteSelectors(w, rule.tag_selectors);
      }
      if (!rule.scope_selectors.empty()) {
        w.Key("scope_selectors").BeginObject();
        for (const auto& [kind, selectors] : rule.scope_selectors) {
          w.Key(kind);
          WriteSelectors(w, selectors);
        }
        w.EndObject();
      }
      w.EndObject();
    }
    w.EndArray();
  }
  OptString(w, "result", r.result);
  WriteArtifacts(w, "deleted_artifact", r.deleted_artifacts);
  w.EndObject();
}

}  // namespace

void WriteEventData(const core::Event& event, JsonWriter& w) {
  w.BeginObject();
  if (!event.resources.empty()) {
    w.Key("resources").BeginArray();
    for (const core::Resource& r : event.resources) WriteResource(w, r);
    w.EndArray();
  }
  if (event.repository) {
    w.Key("repository");
    WriteRepository(w, *event.repository);
  }
  if (event.replication) {
    w.Key("replication");
    WriteReplication(w, *event.replication);
  }
  if (event.retention) {
    w.Key("retention");
    WriteRetention(w, *event.retention);
  }
  if (event.scan) {
    w.Key("scan").BeginObject();
    OptString(w, "scan_type", event.scan->scan_type);
    w.EndObject();
  }
  if (!event.custom_attributes.empty()) {
    w.Key("custom_attributes").BeginObject();
    for (const auto& [key, value] : event.custom_attributes) {
      w.Key(key).String(value);
    }
    w.EndObject();
  }
  w.EndObject();
}

absl::StatusOr<std::string> RenderDefault(const core::Event& event) {
  if (!event.occur_time) {
    return absl::InvalidArgumentError("event.occur_time is not set");
  }
  JsonWriter w;
  w.BeginObject();
  w.Key("type").String(event.event_type);
  w.Key("occur_at").Int(absl::ToUnixSeconds(*event.occur_time));
  w.Key("operator").String(event.operator_name);
  w.Key("event_data");
  WriteEventData(event, w);
  w.EndObject();
  return std::move(w).Release();
}

}  // namespace herald::render
