#include "server/core/event_validation.h"

#include <cmath>
#include <optional>
#include <type_traits>
#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"

namespace herald::core {
namespace {

// Debian's Abseil has its own absl::string_view, which std::string_view does
// not convert to, so absl::StrCat cannot take std::string_view pieces.
template <typename T>
void AppendPiece(std::string& out, const T& piece) {
  if constexpr (std::is_convertible_v<const T&, std::string_view>) {
    out.append(std::string_view(piece));
  } else {
    static_assert(std::is_integral_v<T>, "Cat() takes strings and integers");
    out.append(std::to_string(piece));
  }
}
template <typename... Pieces>
std::string Cat(const Pieces&... pieces) {
  std::string out;
  (AppendPiece(out, pieces), ...);
  return out;
}

// Bytes of user data quoted in a path or a description.
constexpr size_t kMaxQuotedBytes = 64;

absl::Time MinTime() {
  return absl::FromCivil(absl::CivilSecond(1, 1, 1, 0, 0, 0),
                         absl::UTCTimeZone());
}
absl::Time EndTime() {  // exclusive
  return absl::FromCivil(absl::CivilSecond(10000, 1, 1, 0, 0, 0),
                         absl::UTCTimeZone());
}

// User data made safe for a status message: valid UTF-8, quotes and
// backslashes escaped, control characters as '?', at most kMaxQuotedBytes.
std::string Quote(std::string_view s) {
  std::string out = "\"";
  size_t i = 0;
  while (i < s.size()) {
    if (out.size() >= kMaxQuotedBytes) {
      out += "...";
      break;
    }
    const size_t n = Utf8SequenceLength(s, i);
    if (n == 0) {
      out += "\xEF\xBF\xBD";  // U+FFFD
      ++i;
      continue;
    }
    const char c = s[i];
    if (n == 1 && (c == '"' || c == '\\')) {
      out += '\\';
      out += c;
    } else if (n == 1 && static_cast<unsigned char>(c) < 0x20) {
      out += '?';
    } else {
      out.append(s.substr(i, n));
    }
    i += n;
  }
  out += '"';
  return out;
}

std::string Index(std::string_view base, size_t i) {
  return Cat(base, "[", i, "]");
}
std::string MapKey(std::string_view base, std::string_view key) {
  return Cat(base, "[", Quote(key), "]");
}
// `base.name`, or `base` itself when name is empty.
std::string Field(std::string_view base, std::string_view name) {
  return name.empty() ? std::string(base) : Cat(base, ".", name);
}

class Validator {
 public:
  explicit Validator(std::vector<FieldViolation>& out) : out_(out) {}

  void Add(std::string field, std::string description) {
    if (out_.size() < kMaxViolations) {
      out_.push_back({std::move(field), std::move(description)});
    }
  }

  // A string field `base.name` (`base` when name is empty): valid UTF-8, at
  // most `max` bytes; counted in the total.
  void Str(std::string_view base, std::string_view name, std::string_view s,
           size_t max = kMaxStringBytes) {
    total_bytes_ += s.size();
    if (s.size() > max) {
      Add(Field(base, name),
          Cat("is ", s.size(), " bytes long; the limit is ", max));
    } else if (!IsValidUtf8(s)) {
      Add(Field(base, name), "is not valid UTF-8");
    }
  }

  void Required(std::string_view base, std::string_view name,
                std::string_view s, std::string_view why = "") {
    if (s.empty()) {
      Add(Cat(base, ".", name), Cat("is required", why));
    }
  }

  // A map key: counted and checked like a string; the path names the entry.
  void Key(std::string_view entry_path, std::string_view key) {
    total_bytes_ += key.size();
    if (key.empty()) {
      Add(std::string(entry_path), "the key is empty");
    } else if (key.size() > kMaxStringBytes) {
      Add(std::string(entry_path),
          Cat("the key is ", key.size(), " bytes long; the limit is ",
              kMaxStringBytes));
    } else if (!IsValidUtf8(key)) {
      Add(std::string(entry_path), "the key is not valid UTF-8");
    }
  }

  void Time(std::string_view base, std::string_view name,
            const std::optional<absl::Time>& t) {
    if (t && (*t < MinTime() || *t >= EndTime())) {
      Add(Cat(base, ".", name),
          "is outside 0001-01-01T00:00:00Z..9999-12-31T23:59:59Z");
    }
  }

  void NonNegative(std::string_view base, std::string_view name, int64_t v) {
    if (v < 0) Add(Cat(base, ".", name), "must not be negative");
  }

  void Duration(std::string_view base, std::string_view name,
                absl::Duration d) {
    if (d < absl::ZeroDuration()) {
      Add(Cat(base, ".", name), "must not be negative");
    } else if (d == absl::InfiniteDuration()) {
      Add(Cat(base, ".", name), "must be finite");
    }
  }

  bool Count(std::string_view path, size_t n, size_t max,
             std::string_view what) {
    if (n <= max) return true;
    Add(std::string(path), Cat("has ", n, " ", what, "; the limit is ", max));
    return false;
  }

  void Scanner(std::string_view base, const core::Scanner& s) {
    Str(base, "name", s.name);
    Str(base, "vendor", s.vendor);
    Str(base, "version", s.version);
  }

  void ScanReport(const std::string& base, const ScanReportSummary& r) {
    Str(base, "report_id", r.report_id);
    Str(base, "scan_status", r.scan_status);
    Str(base, "severity", r.severity);
    Duration(base, "duration", r.duration);
    if (r.summary) {
      const std::string sb = Cat(base, ".summary");
      NonNegative(sb, "total", r.summary->total);
      NonNegative(sb, "fixable", r.summary->fixable);
      const std::string counts = Cat(sb, ".severity_counts");
      if (Count(counts, r.summary->severity_counts.size(), kMaxSeverities,
                "entries")) {
        for (const auto& [severity, n] : r.summary->severity_counts) {
          Key(MapKey(counts, severity), severity);
          if (n < 0) Add(MapKey(counts, severity), "must not be negative");
        }
      }
    }
    Time(base, "start_time", r.start_time);
    Time(base, "end_time", r.end_time);
    if (r.scanner) Scanner(Cat(base, ".scanner"), *r.scanner);
    if (r.complete_percent < 0 || r.complete_percent > 100) {
      Add(Cat(base, ".complete_percent"), "must be within 0..100");
    }
  }

  void Sbom(const std::string& base, const SbomOverview& s) {
    Time(base, "start_time", s.start_time);
    Time(base, "end_time", s.end_time);
    if (s.duration) Duration(base, "duration", *s.duration);
    if (s.sbom_repository) Str(base, "sbom_repository", *s.sbom_repository);
    if (s.sbom_digest) Str(base, "sbom_digest", *s.sbom_digest);
    if (s.scan_status) Str(base, "scan_status", *s.scan_status);
    if (s.report_id) Str(base, "report_id", *s.report_id);
    if (s.scanner) Scanner(Cat(base, ".scanner"), *s.scanner);
  }

  void Resource(const std::string& base, const core::Resource& r) {
    Str(base, "digest", r.digest);
    Str(base, "tag", r.tag);
    Str(base, "resource_url", r.resource_url);
    const std::string overview = Cat(base, ".scan_overview");
    if (Count(overview, r.scan_overview.size(), kMaxScanReports, "entries")) {
      for (const auto& [mime, summary] : r.scan_overview) {
        const std::string entry = MapKey(overview, mime);
        Key(entry, mime);
        ScanReport(entry, summary);
      }
    }
    if (r.sbom_overview) {
      Sbom(Cat(base, ".sbom_overview"), *r.sbom_overview);
    }
  }

  void Repository(const std::string& base, const core::Repository& r) {
    Time(base, "create_time", r.create_time);
    Str(base, "name", r.name);
    Required(base, "name", r.name);
    Str(base, "namespace", r.namespace_name);
    Required(base, "namespace", r.namespace_name);
    Str(base, "repo_full_name", r.repo_full_name);
    if (!r.repo_type.empty() && r.repo_type != "public" &&
        r.repo_type != "private") {
      Add(Cat(base, ".repo_type"),
          Cat("must be \"public\", \"private\" or empty, not ",
              Quote(r.repo_type)));
    }
  }

  void Artifacts(const std::string& list, const std::vector<ArtifactInfo>& v) {
    if (!Count(list, v.size(), kMaxArtifacts, "elements")) return;
    for (size_t i = 0; i < v.size(); ++i) {
      const std::string base = Index(list, i);
      Str(base, "type", v[i].type);
      Str(base, "status", v[i].status);
      Str(base, "name_tag", v[i].name_tag);
      Str(base, "fail_reason", v[i].fail_reason);
      const std::string refs = Cat(base, ".references");
      if (!Count(refs, v[i].references.size(), kMaxReferences, "elements")) {
        continue;
      }
      for (size_t j = 0; j < v[i].references.size(); ++j) {
        Str(Index(refs, j), "", v[i].references[j]);
      }
    }
  }

  void ReplicationResource(const std::string& base,
                           const core::ReplicationResource& r) {
    Str(base, "registry_name", r.registry_name);
    Str(base, "registry_type", r.registry_type);
    Str(base, "endpoint", r.endpoint);
    Str(base, "provider", r.provider);
    Str(base, "namespace", r.namespace_name);
  }

  void Replication(const std::string& base, const core::Replication& r) {
    Str(base, "harbor_hostname", r.harbor_hostname);
    Str(base, "job_status", r.job_status);
    Str(base, "description", r.description);
    Str(base, "artifact_type", r.artifact_type);
    Str(base, "authentication_type", r.authentication_type);
    Str(base, "trigger_type", r.trigger_type);
    Str(base, "policy_creator", r.policy_creator);
    Time(base, "execution_time", r.execution_time);
    if (r.src_resource) {
      ReplicationResource(Cat(base, ".src_resource"), *r.src_resource);
    }
    if (r.dest_resource) {
      ReplicationResource(Cat(base, ".dest_resource"), *r.dest_resource);
    }
    Artifacts(Cat(base, ".successful_artifacts"), r.successful_artifacts);
    Artifacts(Cat(base, ".failed_artifacts"), r.failed_artifacts);
    NonNegative(base, "execution_id", r.execution_id);
    NonNegative(base, "task_id", r.task_id);
  }

  void Selectors(const std::string& list,
                 const std::vector<RetentionSelector>& v) {
    if (!Count(list, v.size(), kMaxSelectors, "elements")) return;
    for (size_t i = 0; i < v.size(); ++i) {
      const std::string base = Index(list, i);
      Str(base, "kind", v[i].kind);
      Str(base, "decoration", v[i].decoration);
      Str(base, "pattern", v[i].pattern);
      Str(base, "extras", v[i].extras);
    }
  }

  // Returns false once a problem was reported, to stop at the first one.
  bool Json(const std::string& path, const JsonValue& v, int depth,
            size_t& values) {
    if (++values > kMaxJsonValues) {
      Add(path, Cat("has more than ", kMaxJsonValues, " values"));
      return false;
    }
    if (depth > kMaxJsonDepth) {
      Add(path, Cat("is nested deeper than ", kMaxJsonDepth));
      return false;
    }
    switch (v.kind) {
      case JsonValue::Kind::kNumber:
        if (!std::isfinite(v.number_value)) {
          Add(path, "holds a number that is not finite");
          return false;
        }
        return true;
      case JsonValue::Kind::kString: {
        const size_t before = out_.size();
        total_bytes_ += v.string_value.size();
        if (v.string_value.size() > kMaxStringBytes) {
          Add(path, Cat("holds a string of ", v.string_value.size(),
                        " bytes; the limit is ", kMaxStringBytes));
        } else if (!IsValidUtf8(v.string_value)) {
          Add(path, "holds a string that is not valid UTF-8");
        }
        return out_.size() == before;
      }
      case JsonValue::Kind::kArray:
        for (size_t i = 0; i < v.array_items.size(); ++i) {
          if (!Json(Index(path, i), v.array_items[i], depth + 1, values)) {
            return false;
          }
        }
        return true;
      case JsonValue::Kind::kObject:
        for (const auto& [key, item] : v.object_members) {
          const std::string entry = MapKey(path, key);
          const size_t before = out_.size();
          Key(entry, key);
          if (out_.size() != before) return false;
          if (!Json(entry, item, depth + 1, values)) return false;
        }
        return true;
      case JsonValue::Kind::kNull:
      case JsonValue::Kind::kBool:
        return true;
    }
    return true;
  }

  void Retention(const std::string& base, const core::Retention& r) {
    NonNegative(base, "total", r.total);
    NonNegative(base, "retained", r.retained);
    Str(base, "harbor_hostname", r.harbor_hostname);
    Str(base, "project_name", r.project_name);
    NonNegative(base, "retention_policy_id", r.retention_policy_id);
    const std::string rules = Cat(base, ".retention_rules");
    if (Count(rules, r.retention_rules.size(), kMaxRetentionRules,
              "elements")) {
      for (size_t i = 0; i < r.retention_rules.size(); ++i) {
        const RetentionRule& rule = r.retention_rules[i];
        const std::string rb = Index(rules, i);
        Str(rb, "template", rule.template_id);
        const std::string params = Cat(rb, ".params");
        if (Count(params, rule.params.size(), kMaxRuleParams, "entries")) {
          for (const auto& [key, value] : rule.params) {
            const std::string entry = MapKey(params, key);
            Key(entry, key);
            size_t values = 0;
            Json(entry, value, 1, values);
          }
        }
        Selectors(Cat(rb, ".tag_selectors"), rule.tag_selectors);
        const std::string scopes = Cat(rb, ".scope_selectors");
        if (Count(scopes, rule.scope_selectors.size(), kMaxSelectors,
                  "entries")) {
          for (const auto& [kind, selectors] : rule.scope_selectors) {
            const std::string entry = MapKey(scopes, kind);
            Key(entry, kind);
            Selectors(Cat(entry, ".selectors"), selectors);
          }
        }
      }
    }
    Str(base, "result", r.result);
    Artifacts(Cat(base, ".deleted_artifacts"), r.deleted_artifacts);
  }

  size_t total_bytes() const { return total_bytes_; }

 private:
  std::vector<FieldViolation>& out_;
  size_t total_bytes_ = 0;
};

}  // namespace

size_t Utf8SequenceLength(std::string_view s, size_t i) {
  const auto b0 = static_cast<unsigned char>(s[i]);
  if (b0 < 0x80) return 1;
  size_t n;
  unsigned char lo = 0x80, hi = 0xBF;  // allowed range of the second byte
  if (b0 >= 0xC2 && b0 <= 0xDF) {
    n = 2;
  } else if (b0 >= 0xE0 && b0 <= 0xEF) {
    n = 3;
    if (b0 == 0xE0)
      lo = 0xA0;  // no overlong forms
    else if (b0 == 0xED)
      hi = 0x9F;  // no surrogates
  } else if (b0 >= 0xF0 && b0 <= 0xF4) {
    n = 4;
    if (b0 == 0xF0)
      lo = 0x90;  // no overlong forms
    else if (b0 == 0xF4)
      hi = 0x8F;  // nothing above U+10FFFF
  } else {
    return 0;
  }
  if (i + n > s.size()) return 0;
  const auto b1 = static_cast<unsigned char>(s[i + 1]);
  if (b1 < lo || b1 > hi) return 0;
  for (size_t k = 2; k < n; ++k) {
    const auto b = static_cast<unsigned char>(s[i + k]);
    if (b < 0x80 || b > 0xBF) return 0;
  }
  return n;
}

bool IsValidUtf8(std::string_view s) {
  for (size_t i = 0; i < s.size();) {
    const size_t n = Utf8SequenceLength(s, i);
    if (n == 0) return false;
    i += n;
  }
  return true;
}

std::vector<FieldViolation> ValidateEvent(const Event& event,
                                          std::string_view root) {
  std::vector<FieldViolation> out;
  Validator v(out);
  const std::string base(root);
  const std::string_view type = event.event_type;

  v.Str(base, "event_type", type);
  if (type.empty()) {
    v.Add(Cat(base, ".event_type"), "is required");
  } else if (!IsKnownEventType(type)) {
    v.Add(Cat(base, ".event_type"),
          Cat("unknown event type ", Quote(type),
              "; supported: ", absl::StrJoin(KnownEventTypes(), ", ")));
  }
  if (event.project_id <= 0) {
    v.Add(Cat(base, ".project_id"), "must be positive");
  }
  v.Str(base, "operator", event.operator_name);
  v.Time(base, "occur_time", event.occur_time);
  v.Str(base, "request_id", event.request_id);

  const std::string resources = Cat(base, ".resources");
  if (v.Count(resources, event.resources.size(), kMaxResources, "elements")) {
    for (size_t i = 0; i < event.resources.size(); ++i) {
      v.Resource(Index(resources, i), event.resources[i]);
    }
  }
  const std::string repository = Cat(base, ".repository");
  if (event.repository) v.Repository(repository, *event.repository);
  if (event.replication) {
    v.Replication(Cat(base, ".replication"), *event.replication);
  }
  if (event.retention) {
    v.Retention(Cat(base, ".retention"), *event.retention);
  }
  if (event.scan) v.Str(Cat(base, ".scan"), "scan_type", event.scan->scan_type);
  const std::string custom = Cat(base, ".custom_attributes");
  if (v.Count(custom, event.custom_attributes.size(), kMaxCustomAttributes,
              "entries")) {
    for (const auto& [key, value] : event.custom_attributes) {
      const std::string entry = MapKey(custom, key);
      v.Key(entry, key);
      v.Str(entry, "", value, kMaxCustomAttributeValueBytes);
    }
  }

  // What each event type must carry.
  const std::string for_type = Cat(" for ", type);
  const bool needs_repository =
      IsArtifactEvent(type) || IsQuotaEvent(type) || IsScanningEvent(type);
  if (needs_repository && !event.repository) {
    v.Add(repository, Cat("is required", for_type));
  }
  if ((IsArtifactEvent(type) || IsScanningEvent(type)) &&
      event.resources.empty()) {
    v.Add(resources, Cat("at least one resource is required", for_type));
  }
  if (IsArtifactEvent(type) && event.resources.size() <= kMaxResources) {
    for (size_t i = 0; i < event.resources.size(); ++i) {
      v.Required(Index(resources, i), "digest", event.resources[i].digest,
                 for_type);
    }
  }
  if (IsScanningEvent(type) && event.resources.size() <= kMaxResources) {
    for (size_t i = 0; i < event.resources.size(); ++i) {
      const Resource& r = event.resources[i];
      if (r.scan_overview.empty() &&
          (!r.sbom_overview || r.sbom_overview->empty())) {
        v.Add(Index(resources, i),
              Cat("a scan_overview entry or an sbom_overview is "
                  "required",
                  for_type));
      }
    }
  }
  if (IsQuotaEvent(type)) {
    auto it = event.custom_attributes.find("Details");
    if (it == event.custom_attributes.end() || it->second.empty()) {
      v.Add(MapKey(custom, "Details"), Cat("is required", for_type));
    }
  }
  if (type == kReplication && !event.replication) {
    v.Add(Cat(base, ".replication"), Cat("is required", for_type));
  }
  if (type == kTagRetention && !event.retention) {
    v.Add(Cat(base, ".retention"), Cat("is required", for_type));
  }
  if (v.total_bytes() > kMaxEventStringBytes) {
    v.Add(base, Cat("its strings add up to ", v.total_bytes(),
                    " bytes; the limit is ", kMaxEventStringBytes));
  }
  return out;
}

absl::Status CheckEvent(const Event& event) {
  const std::vector<FieldViolation> violations = ValidateEvent(event);
  if (violations.empty()) return absl::OkStatus();
  return absl::InvalidArgumentError(absl::StrJoin(
      violations, "; ", [](std::string* out, const FieldViolation& v) {
        absl::StrAppend(out, v.field, ": ", v.description);
      }));
}

}  // namespace herald::core
