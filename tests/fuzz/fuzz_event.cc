// libFuzzer target: event validation and rendering.
//
// Input: a herald.v1.Event, in the proto3 JSON mapping when it starts with
// '{' (the seeds are the events of tests/vectors/cases), else in the binary
// wire format. The event goes the way a published one does: EventFromProto,
// DeriveDefaults, ValidateEvent; a valid event is rendered in every format.
//
// Invariants checked (a failure aborts, which libFuzzer reports):
//  * every violation's field and description is valid UTF-8 (they end up
//    in a gRPC status, whose strings must be UTF-8);
//  * an event that passed validation renders in every format (render.h
//    promises it), and every body is valid JSON.
#include <google/protobuf/util/json_util.h>

#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>

#include "absl/time/time.h"
#include "herald/v1/event.pb.h"
#include "nlohmann/json.hpp"
#include "server/api/event_convert.h"
#include "server/core/event_validation.h"
#include "server/render/render.h"

namespace {

void Check(bool ok, const char* what) {
  if (!ok) {
    std::fprintf(stderr, "invariant violated: %s\n", what);
    std::abort();
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace herald;
  const std::string input(reinterpret_cast<const char*>(data), size);
  v1::Event proto;
  if (!input.empty() && input[0] == '{') {
    google::protobuf::util::JsonParseOptions options;
    options.ignore_unknown_fields = true;
    if (!google::protobuf::util::JsonStringToMessage(input, &proto, options)
             .ok()) {
      return 0;
    }
  } else if (!proto.ParseFromString(input)) {
    return 0;
  }
  core::Event event = api::EventFromProto(proto);
  // The round trip back to the proto must not crash either.
  (void)api::EventToProto(event);
  core::DeriveDefaults(event, "https://harbor.example:8443",
                       absl::FromUnixSeconds(1700000000));
  const std::vector<core::FieldViolation> violations =
      core::ValidateEvent(event);
  for (const core::FieldViolation& v : violations) {
    Check(core::IsValidUtf8(v.field), "violation field is valid UTF-8");
    Check(core::IsValidUtf8(v.description),
          "violation description is valid UTF-8");
  }
  if (!violations.empty()) return 0;

  const render::CloudEventsContext ce = render::CloudEventsContext::For(
      event, 7, "66e18103-09c1-41f6-982f-37df223f3eeb");
  for (core::PayloadFormat format :
       {core::PayloadFormat::kDefault, core::PayloadFormat::kCloudEvents,
        core::PayloadFormat::kUnspecified}) {
    absl::StatusOr<render::RenderedPayload> body =
        render::Render(event, core::TargetType::kHttp, format, ce);
    Check(body.ok(), "a valid event renders (HTTP)");
    Check(nlohmann::json::accept(body->body), "HTTP body is valid JSON");
  }
  absl::StatusOr<render::RenderedPayload> slack = render::Render(
      event, core::TargetType::kSlack, core::PayloadFormat::kDefault, ce);
  Check(slack.ok(), "a valid event renders (Slack)");
  Check(nlohmann::json::accept(slack->body), "Slack body is valid JSON");
  return 0;
}
