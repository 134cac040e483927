// Slack payloads: the Block Kit message Harbor sends to Slack incoming
// webhooks, with Harbor's texts, but as valid JSON.
//
// Harbor fills a text template and inserts the operator and event type
// unescaped and the indented event_data with raw newlines and tabs, so its
// body is not valid JSON and a '"' in an operator name breaks it. herald
// writes the same six sections with the JsonWriter instead:
//
//   {"blocks":[{"type":"section","text":{"type":"mrkdwn","text":T}},...]}
//
// where the texts T are, in order:
//   "*Harbor webhook events*"
//   "*event_type:* <type>"
//   "*occur_at:* <!date^<unix seconds>^{date} at {time}|February 18th, 2014 at
//   6:39 AM PST>"
//   "*operator:* <operator>"
//   "*event_data:*"
//   "```" + json.MarshalIndent(event_data, "", "\t") + "```"
// i.e. exactly what Slack shows for Harbor's body. Like Harbor, herald does
// not escape Slack's mrkdwn control characters (<, >, &) in the texts.
//
// All functions are pure and thread-safe.
#ifndef HERALD_SERVER_RENDER_SLACK_RENDERER_H_
#define HERALD_SERVER_RENDER_SLACK_RENDERER_H_

#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "server/core/event.h"

namespace herald::render {

// The six section texts above. INVALID_ARGUMENT when occur_time is unset.
absl::StatusOr<std::vector<std::string>> SlackTexts(const core::Event& event);

// The compact Slack body. INVALID_ARGUMENT when occur_time is unset.
absl::StatusOr<std::string> RenderSlack(const core::Event& event);

}  // namespace herald::render

#endif  // HERALD_SERVER_RENDER_SLACK_RENDERER_H_
