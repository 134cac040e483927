// Harbor's Default ("native") payload: {"type","occur_at","operator",
// "event_data"} with Harbor's key order and omitempty rules.
//
// Key order and omission follow Harbor's Go structs (src/pkg/notifier/model
// and src/controller/event/model): struct fields in declaration order, map
// keys sorted bytewise, omitempty dropping "", 0, false and empty
// lists/maps, absent optional parts dropped. Fields that Harbor always
// writes are always written ("name", "namespace", "repo_full_name",
// "repo_type", retention "total"/"retained", selector fields, artifact
// "type"/"status"/"name_tag"/"references", every NativeReportSummary key).
//
// All functions are pure and thread-safe.
#ifndef HERALD_SERVER_RENDER_DEFAULT_RENDERER_H_
#define HERALD_SERVER_RENDER_DEFAULT_RENDERER_H_

#include <string>

#include "absl/status/statusor.h"
#include "server/core/event.h"
#include "server/render/json_writer.h"

namespace herald::render {

// Writes Harbor's "event_data" object for `event` as the next value of
// `writer` (compact or indented). Never fails: strings that are not valid
// UTF-8 are written with U+FFFD, as Go does.
void WriteEventData(const core::Event& event, JsonWriter& writer);

// The compact Default payload. INVALID_ARGUMENT when event.occur_time is
// unset (DeriveDefaults() fills it).
absl::StatusOr<std::string> RenderDefault(const core::Event& event);

}  // namespace herald::render

#endif  // HERALD_SERVER_RENDER_DEFAULT_RENDERER_H_
