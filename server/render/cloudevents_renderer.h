// Harbor's CloudEvents payload (structured content mode, specversion 1.0):
//
//   {"specversion":"1.0","id":...,"source":"/projects/P/webhook/policies/Q",
//    "type":"harbor.artifact.pushed","datacontenttype":"application/json",
//    "time":"2023-04-03T06:04:46Z","data":{<event_data>},
//    "operator":...,"requestid":...}
//
// Keys in that exact order (sdk-go writes the context attributes, then the
// data, then the extensions sorted by name). "data" is the Default payload's
// event_data, byte for byte; "time" is occur_time truncated to whole seconds
// in UTC (Harbor builds it from occur_at).
//
// All functions are pure and thread-safe.
#ifndef HERALD_SERVER_RENDER_CLOUDEVENTS_RENDERER_H_
#define HERALD_SERVER_RENDER_CLOUDEVENTS_RENDERER_H_

#include <cstdint>
#include <string>

#include "absl/status/statusor.h"
#include "server/core/event.h"

namespace herald::render {

// The envelope values that do not come from the event itself.
struct CloudEventsContext {
  // Required. The CloudEvents "id": a random UUID v4 (NewUuidV4()) created
  // once with the execution and reused on every retry.
  std::string id;
  // The project and policy in "source" (/projects/{project_id}/webhook/
  // policies/{policy_id}). For a system-wide policy, project_id is the
  // event's project.
  int64_t project_id = 0;
  int64_t policy_id = 0;
  // The "requestid" extension: the originating request's id. Written even
  // when empty, as Harbor does.
  std::string request_id;

  // The usual context: the event's project and request id.
  static CloudEventsContext For(const core::Event& event, int64_t policy_id,
                                std::string id);
};

// The compact CloudEvents body. INVALID_ARGUMENT when the event type has no
// CloudEvents type (unknown type), occur_time is unset or context.id is
// empty.
absl::StatusOr<std::string> RenderCloudEvents(
    const core::Event& event, const CloudEventsContext& context);

}  // namespace herald::render

#endif  // HERALD_SERVER_RENDER_CLOUDEVENTS_RENDERER_H_
