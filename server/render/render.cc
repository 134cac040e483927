#include "server/render/render.h"

#include <utility>

#include "server/render/default_renderer.h"
#include "server/render/slack_renderer.h"

namespace herald::render {

absl::StatusOr<RenderedPayload> Render(const core::Event& event,
                                       core::TargetType type,
                                       core::PayloadFormat format,
                                       const CloudEventsContext& cloudevents) {
  absl::StatusOr<std::string> body;
  std::string_view content_type = kJsonContentType;
  if (type == core::TargetType::kSlack) {
    body = RenderSlack(event);
  } else if (format == core::PayloadFormat::kCloudEvents) {
    body = RenderCloudEvents(event, cloudevents);
    content_type = kCloudEventsContentType;
  } else {
    body = RenderDefault(event);
  }
  if (!body.ok()) return body.status();
  return RenderedPayload{*std::move(body), std::string(content_type)};
}

}  // namespace herald::render
