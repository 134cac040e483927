// herald.v1.Event <-> core::Event.
//
// The conversion is lossless in both directions for every value a proto can
// hold: presence of sub-messages and `optional` fields maps to
// std::optional, Timestamps and Durations to absl::Time and absl::Duration
// (out-of-range values are kept for validation to refuse), and
// google.protobuf.Value to core::JsonValue (a Value with no kind set becomes
// null). Nothing is validated here: call core::DeriveDefaults() and
// core::ValidateEvent() on the result.
//
// Functions are pure and thread-safe. Built as the herald_event_convert
// target (defined in server/render/CMakeLists.txt).
#ifndef HERALD_SERVER_API_EVENT_CONVERT_H_
#define HERALD_SERVER_API_EVENT_CONVERT_H_

#include "herald/v1/event.pb.h"
#include "server/core/event.h"

namespace herald::api {

// A published event as a domain event. Never fails.
core::Event EventFromProto(const v1::Event& proto);

// A domain event as a proto (for responses, stored-event reads and tests).
// Times are written with full nanosecond precision.
v1::Event EventToProto(const core::Event& event);

}  // namespace herald::api

#endif  // HERALD_SERVER_API_EVENT_CONVERT_H_
