#include "server/render/slack_renderer.h"

#include <utility>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "server/render/default_renderer.h"
#include "server/render/json_writer.h"

namespace herald::render {

absl::StatusOr<std::vector<std::string>> SlackTexts(const core::Event& event) {
  if (!event.occur_time) {
    return absl::InvalidArgumentError("event.occur_time is not set");
  }
  JsonWriter indented(JsonWriter::Layout::kIndentTabs);
  WriteEventData(event, indented);
  return std::vector<std::string>{
      "*Harbor webhook events*",
      absl::StrCat("*event_type:* ", event.event_type),
      absl::StrCat("*occur_at:* <!date^",
                   absl::ToUnixSeconds(*event.occur_time),
                   "^{date} at {time}|February 18th, 2014 at 6:39 AM PST>"),
      absl::StrCat("*operator:* ", event.operator_name),
      "*event_data:*",
      absl::StrCat("```", indented.str(), "```"),
  };
}

absl::StatusOr<std::string> RenderSlack(const core::Event& event) {
  absl::StatusOr<std::vector<std::string>> texts = SlackTexts(event);
  if (!texts.ok()) return texts.status();
  JsonWriter w;
  w.BeginObject();
  w.Key("blocks").BeginArray();
  for (const std::string& text : *texts) {
    w.BeginObject();
    w.Key("type").String("section");
    w.Key("text").BeginObject();
    w.Key("type").String("mrkdwn");
    w.Key("text").String(text);
    w.EndObject();
    w.EndObject();
  }
  w.EndArray();
  w.EndObject();
  return std::move(w).Release();
}

}  // namespace herald::render
