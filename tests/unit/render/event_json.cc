#include "tests/unit/render/event_json.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <stdexcept>

#include "absl/time/time.h"

namespace herald::testing {
namespace {

using nlohmann::json;

int64_t Int64(const json& j) {
  if (j.is_string()) return std::stoll(j.get<std::string>());
  return j.get<int64_t>();
}

std::string Str(const json& obj, const char* key) {
  auto it = obj.find(key);
  return it == obj.end() ? std::string() : it->get<std::string>();
}

int64_t Int(const json& obj, const char* key) {
  auto it = obj.find(key);
  return it == obj.end() ? 0 : Int64(*it);
}

absl::Time Time(const json& j) {
  absl::Time t;
  std::string err;
  if (!absl::ParseTime(absl::RFC3339_full, j.get<std::string>(), &t, &err)) {
    throw std::runtime_error("bad timestamp " + j.dump() + ": " + err);
  }
  return t;
}

std::optional<absl::Time> OptTime(const json& obj, const char* key) {
  auto it = obj.find(key);
  if (it == obj.end()) return std::nullopt;
  return Time(*it);
}

absl::Duration Duration(const json& j) {
  absl::Duration d;
  if (!absl::ParseDuration(j.get<std::string>(), &d)) {
    throw std::runtime_error("bad duration " + j.dump());
  }
  return d;
}

core::Scanner Scanner(const json& j) {
  return core::Scanner{Str(j, "name"), Str(j, "vendor"), Str(j, "version")};
}

core::JsonValue Value(const json& j) {
  core::JsonValue v;
  if (j.is_null()) return v;
  if (j.is_boolean()) return core::JsonValue::Bool(j.get<bool>());
  if (j.is_number()) return core::JsonValue::Number(j.get<double>());
  if (j.is_string()) return core::JsonValue::String(j.get<std::string>());
  if (j.is_array()) {
    v.kind = core::JsonValue::Kind::kArray;
    for (const json& item : j) v.array_items.push_back(Value(item));
    return v;
  }
  v.kind = core::JsonValue::Kind::kObject;
  for (const auto& [key, item] : j.items()) {
    v.object_members.emplace(key, Value(item));
  }
  return v;
}

core::ArtifactInfo Artifact(const json& j) {
  core::ArtifactInfo a;
  a.type = Str(j, "type");
  a.status = Str(j, "status");
  a.name_tag = Str(j, "name_tag");
  if (j.contains("references")) {
    a.references = j["references"].get<std::vector<std::string>>();
  }
  a.fail_reason = Str(j, "fail_reason");
  return a;
}

std::vector<core::ArtifactInfo> Artifacts(const json& obj, const char* key) {
  std::vector<core::ArtifactInfo> out;
  if (obj.contains(key)) {
    for (const json& a : obj[key]) out.push_back(Artifact(a));
  }
  return out;
}

core::ReplicationResource ReplicationResource(const json& j) {
  return core::ReplicationResource{Str(j, "registry_name"),
                                   Str(j, "registry_type"), Str(j, "endpoint"),
                                   Str(j, "provider"), Str(j, "namespace")};
}

std::vector<core::RetentionSelector> Selectors(const json& list) {
  std::vector<core::RetentionSelector> out;
  for (const json& s : list) {
    out.push_back(core::RetentionSelector{Str(s, "kind"), Str(s, "decoration"),
                                          Str(s, "pattern"), Str(s, "extras")});
  }
  return out;
}

core::Resource Resource(const json& j) {
  core::Resource r;
  r.digest = Str(j, "digest");
  r.tag = Str(j, "tag");
  r.resource_url = Str(j, "resource_url");
  if (j.contains("scan_overview")) {
    for (const auto& [mime, s] : j["scan_overview"].items()) {
      core::ScanReportSummary sum;
      sum.report_id = Str(s, "report_id");
      sum.scan_status = Str(s, "scan_status");
      sum.severity = Str(s, "severity");
      if (s.contains("duration")) sum.duration = Duration(s["duration"]);
      if (s.contains("summary")) {
        core::VulnerabilitySummary& v = sum.summary.emplace();
        v.total = Int(s["summary"], "total");
        v.fixable = Int(s["summary"], "fixable");
        if (s["summary"].contains("severity_counts")) {
          for (const auto& [sev, n] : s["summary"]["severity_counts"].items()) {
            v.severity_counts[sev] = Int64(n);
          }
        }
      }
      sum.start_time = OptTime(s, "start_time");
      sum.end_time = OptTime(s, "end_time");
      if (s.contains("scanner")) sum.scanner = Scanner(s["scanner"]);
      sum.complete_percent = static_cast<int32_t>(Int(s, "complete_percent"));
      r.scan_overview.emplace(mime, std::move(sum));
    }
  }
  if (j.contains("sbom_overview")) {
    const json& s = j["sbom_overview"];
    core::SbomOverview& o = r.sbom_overview.emplace();
    o.start_time = OptTime(s, "start_time");
    o.end_time = OptTime(s, "end_time");
    if (s.contains("duration")) o.duration = Duration(s["duration"]);
    for (auto [key, field] : {std::pair{"sbom_repository", &o.sbom_repository},
                              std::pair{"sbom_digest", &o.sbom_digest},
                              std::pair{"scan_status", &o.scan_status},
                              std::pair{"report_id", &o.report_id}}) {
      if (s.contains(key)) *field = s[key].get<std::string>();
    }
    if (s.contains("scanner")) o.scanner = Scanner(s["scanner"]);
  }
  return r;
}

}  // namespace

std::string VectorsDir() { return HERALD_VECTORS_DIR; }

std::string ReadFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    ADD_FAILURE() << "cannot read " << path;
    return "";
  }
  std::ostringstream buf;
  buf << in.rdbuf();
  return buf.str();
}

std::vector<std::string> CaseNames() {
  std::vector<std::string> names;
  const std::string suffix = ".case.json";
  for (const auto& entry :
       std::filesystem::directory_iterator(VectorsDir() + "/cases")) {
    const std::string file = entry.path().filename().string();
    if (file.size() > suffix.size() &&
        file.compare(file.size() - suffix.size(), suffix.size(), suffix) == 0) {
      names.push_back(file.substr(0, file.size() - suffix.size()));
    }
  }
  std::sort(names.begin(), names.end());
  return names;
}

nlohmann::json ReadCase(const std::string& name) {
  return nlohmann::json::parse(
      ReadFile(VectorsDir() + "/cases/" + name + ".case.json"));
}

core::Event EventFromJson(const nlohmann::json& j) {
  core::Event e;
  e.event_type = Str(j, "event_type");
  e.project_id = Int(j, "project_id");
  e.operator_name = Str(j, "operator");
  e.occur_time = OptTime(j, "occur_time");
  e.request_id = Str(j, "request_id");
  if (j.contains("resources")) {
    for (const json& r : j["resources"]) e.resources.push_back(Resource(r));
  }
  if (j.contains("repository")) {
    const json& r = j["repository"];
    e.repository = core::Repository{
        OptTime(r, "create_time"), Str(r, "name"), Str(r, "namespace"),
        Str(r, "repo_full_name"), Str(r, "repo_type")};
  }
  if (j.contains("replication")) {
    const json& r = j["replication"];
    core::Replication& rep = e.replication.emplace();
    rep.harbor_hostname = Str(r, "harbor_hostname");
    rep.job_status = Str(r, "job_status");
    rep.description = Str(r, "description");
    rep.artifact_type = Str(r, "artifact_type");
    rep.authentication_type = Str(r, "authentication_type");
    rep.override_mode = r.value("override_mode", false);
    rep.trigger_type = Str(r, "trigger_type");
    rep.policy_creator = Str(r, "policy_creator");
    rep.execution_time = OptTime(r, "execution_time");
    if (r.contains("src_resource")) {
      rep.src_resource = ReplicationResource(r["src_resource"]);
    }
    if (r.contains("dest_resource")) {
      rep.dest_resource = ReplicationResource(r["dest_resource"]);
    }
    rep.successful_artifacts = Artifacts(r, "successful_artifacts");
    rep.failed_artifacts = Artifacts(r, "failed_artifacts");
    rep.execution_id = Int(r, "execution_id");
    rep.task_id = Int(r, "task_id");
  }
  if (j.contains("retention")) {
    const json& r = j["retention"];
    core::Retention& ret = e.retention.emplace();
    ret.total = Int(r, "total");
    ret.retained = Int(r, "retained");
    ret.harbor_hostname = Str(r, "harbor_hostname");
    ret.project_name = Str(r, "project_name");
    ret.retention_policy_id = Int(r, "retention_policy_id");
    if (r.contains("retention_rules")) {
      for (const json& pr : r["retention_rules"]) {
        core::RetentionRule& rule = ret.retention_rules.emplace_back();
        rule.template_id = Str(pr, "template");
        if (pr.contains("params")) {
          for (const auto& [key, value] : pr["params"].items()) {
            rule.params.emplace(key, Value(value));
          }
        }
        if (pr.contains("tag_selectors")) {
          rule.tag_selectors = Selectors(pr["tag_selectors"]);
        }
        if (pr.contains("scope_selectors")) {
          for (const auto& [kind, list] : pr["scope_selectors"].items()) {
            rule.scope_selectors[kind] =
                list.contains("selectors")
                    ? Selectors(list["selectors"])
                    : std::vector<core::RetentionSelector>{};
          }
        }
      }
    }
    ret.result = Str(r, "result");
    ret.deleted_artifacts = Artifacts(r, "deleted_artifacts");
  }
  if (j.contains("scan")) e.scan = core::Scan{Str(j["scan"], "scan_type")};
  if (j.contains("custom_attributes")) {
    for (const auto& [key, value] : j["custom_attributes"].items()) {
      e.custom_attributes[key] = value.get<std::string>();
    }
  }
  return e;
}

}  // namespace herald::testing
