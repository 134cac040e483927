#include "server/core/event.h"

#include <array>
#include <utility>

#include "absl/strings/ascii.h"

namespace herald::core {
namespace {

struct EventTypeInfo {
  std::string_view type;
  std::string_view cloudevents_type;
};

// Harbor's supported list order (initSupportedNotifyType).
constexpr std::array<EventTypeInfo, 10> kEventTypes = {{
    {kPushArtifact, "harbor.artifact.pushed"},
    {kPullArtifact, "harbor.artifact.pulled"},
    {kDeleteArtifact, "harbor.artifact.deleted"},
    {kQuotaExceed, "harbor.quota.exceeded"},
    {kQuotaWarning, "harbor.quota.warned"},
    {kScanningFailed, "harbor.scan.failed"},
    {kScanningStopped, "harbor.scan.stopped"},
    {kScanningCompleted, "harbor.scan.completed"},
    {kReplication, "harbor.replication.status.changed"},
    {kTagRetention, "harbor.tag_retention.finished"},
}};

}  // namespace

std::vector<std::string> KnownEventTypes() {
  std::vector<std::string> types;
  types.reserve(kEventTypes.size());
  for (const auto& info : kEventTypes) types.emplace_back(info.type);
  return types;
}

bool IsKnownEventType(std::string_view event_type) {
  return CloudEventsType(event_type).has_value();
}

std::optional<std::string_view> CloudEventsType(std::string_view event_type) {
  for (const auto& info : kEventTypes) {
    if (info.type == event_type) return info.cloudevents_type;
  }
  return std::nullopt;
}

bool IsArtifactEvent(std::string_view t) {
  return t == kPushArtifact || t == kPullArtifact || t == kDeleteArtifact;
}

bool IsQuotaEvent(std::string_view t) {
  return t == kQuotaExceed || t == kQuotaWarning;
}

bool IsScanningEvent(std::string_view t) {
  return t == kScanningFailed || t == kScanningStopped ||
         t == kScanningCompleted;
}

// The pattern is
// [A-Za-z][A-Za-z0-9]*([-_+.][A-Za-z][A-Za-z0-9]*)*:[0-9a-fA-F]{32,} searched
// anywhere in the string. A match exists iff some ':' is followed by 32+ hex
// digits and preceded by a run of alphanumerics containing a letter (the match
// can start at that letter; the rest of the algorithm part is optional).
bool IsDigestReference(std::string_view ref) {
  for (size_t colon = ref.find(':'); colon != std::string_view::npos;
       colon = ref.find(':', colon + 1)) {
    size_t hex = 0;
    while (colon + 1 + hex < ref.size() &&
           absl::ascii_isxdigit(
               static_cast<unsigned char>(ref[colon + 1 + hex]))) {
      ++hex;
    }
    if (hex < 32) continue;
    for (size_t i = colon; i > 0; --i) {
      const auto c = static_cast<unsigned char>(ref[i - 1]);
      if (!absl::ascii_isalnum(c)) break;
      if (absl::ascii_isalpha(c)) return true;
    }
  }
  return false;
}

JsonValue JsonValue::Bool(bool v) {
  JsonValue j;
  j.kind = Kind::kBool;
  j.bool_value = v;
  return j;
}

JsonValue JsonValue::Number(double v) {
  JsonValue j;
  j.kind = Kind::kNumber;
  j.number_value = v;
  return j;
}

JsonValue JsonValue::String(std::string v) {
  JsonValue j;
  j.kind = Kind::kString;
  j.string_value = std::move(v);
  return j;
}

}  // namespace herald::core
