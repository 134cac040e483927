// herald_render: turns an Event into the exact request body a target
// receives. Proto-free and I/O-free; every function is pure and
// thread-safe.
//
//   target   format        body                          Content-Type
//   HTTP     DEFAULT       Harbor's Default payload      application/json
//   HTTP     UNSPECIFIED   same as DEFAULT (Harbor's "" alias)
//   HTTP     CLOUDEVENTS   structured CloudEvents application/cloudevents+json
//   SLACK    (ignored)     Block Kit message             application/json
//
// The body is rendered once, when the event is accepted, and sent
// unchanged on every attempt (so the CloudEvents id never changes).
#ifndef HERALD_SERVER_RENDER_RENDER_H_
#define HERALD_SERVER_RENDER_RENDER_H_

#include <string>
#include <string_view>

#include "absl/status/statusor.h"
#include "server/core/event.h"
#include "server/core/policy.h"
#include "server/render/cloudevents_renderer.h"

namespace herald::render {

inline constexpr std::string_view kJsonContentType = "application/json";
inline constexpr std::string_view kCloudEventsContentType =
    "application/cloudevents+json";

struct RenderedPayload {
  std::string body;
  std::string content_type;
  friend bool operator==(const RenderedPayload&,
                         const RenderedPayload&) = default;
};

// Renders `event` for a target of `type` with `format`. `cloudevents` is
// used only for CloudEvents (its id must then be set). INVALID_ARGUMENT
// when event.occur_time is unset, or for CloudEvents when the event type is
// unknown or the id is empty; an event that passed core::ValidateEvent()
// after core::DeriveDefaults(..., now) always renders.
absl::StatusOr<RenderedPayload> Render(const core::Event& event,
                                       core::TargetType type,
                                       core::PayloadFormat format,
                                       const CloudEventsContext& cloudevents);

}  // namespace herald::render

#endif  // HERALD_SERVER_RENDER_RENDER_H_
