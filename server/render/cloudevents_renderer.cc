#include "server/render/cloudevents_renderer.h"

#include <utility>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "server/render/default_renderer.h"
#include "server/render/json_writer.h"

namespace herald::render {

CloudEventsContext CloudEventsContext::For(const core::Event& event,
                                           int64_t policy_id, std::string id) {
  CloudEventsContext context;
  context.id = std::move(id);
  context.project_id = event.project_id;
  context.policy_id = policy_id;
  context.request_id = event.request_id;
  return context;
}

absl::StatusOr<std::string> RenderCloudEvents(
    const core::Event& event, const CloudEventsContext& context) {
  const std::optional<std::string_view> type =
      core::CloudEventsType(event.event_type);
  if (!type) {
    return absl::InvalidArgumentError("the event type has no CloudEvents type");
  }
  if (!event.occur_time) {
    return absl::InvalidArgumentError("event.occur_time is not set");
  }
  if (context.id.empty()) {
    return absl::InvalidArgumentError("the CloudEvents id is empty");
  }
  constexpr JsonEscaping kAttr = JsonEscaping::kCloudEventsAttribute;
  const absl::Time time =
      absl::FromUnixSeconds(absl::ToUnixSeconds(*event.occur_time));

  JsonWriter w;
  w.BeginObject();
  w.Key("specversion").String("1.0", kAttr);
  w.Key("id").String(context.id, kAttr);
  w.Key("source").String(absl::StrCat("/projects/", context.project_id,
                                      "/webhook/policies/", context.policy_id),
                         kAttr);
  w.Key("type").String(*type, kAttr);
  w.Key("datacontenttype").String("application/json", kAttr);
  // sdk-go drops the attribute for Go's zero time (0001-01-01T00:00:00Z).
  if (time != absl::FromCivil(absl::CivilSecond(1, 1, 1, 0, 0, 0),
                              absl::UTCTimeZone())) {
    w.Key("time").String(FormatGoTime(time), kAttr);
  }
  w.Key("data");
  WriteEventData(event, w);
  w.Key("operator").String(event.operator_name, kAttr);
  w.Key("requestid").String(context.request_id, kAttr);
  w.EndObject();
  return std::move(w).Release();
}

}  // namespace herald::render
