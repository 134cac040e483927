// File: webhooks.h
//
// Receiving herald's webhooks: verify a delivery's Standard Webhooks
// signature, then parse its body into a typed event. This is what runs in
// your webhook endpoint; it needs no connection to herald.
//
//   // body: the raw request body, byte for byte; headers: the request's.
//   absl::Status ok = herald::webhooks::Verify(body, headers, {secret});
//   if (!ok.ok()) return Reply(401);   // forged, tampered or replayed
//   absl::StatusOr<herald::webhooks::WebhookEvent> event =
//       herald::webhooks::ParseEvent(body, headers_content_type);
//   if (event.ok() && event->event_type == "PUSH_ARTIFACT") {
//     for (const auto& r : event->event.resources()) Deploy(r.digest());
//   }
//   // Use the webhook-id header as an idempotency key: redeliveries
//   // repeat it.
//
// The signature check is herald's own signer (HMAC-SHA256 over
// "<webhook-id>.<webhook-timestamp>.<body>", constant-time comparison),
// shared with heraldd. All functions are pure and thread-safe.
#ifndef HERALD_CLIENT_WEBHOOKS_H_
#define HERALD_CLIENT_WEBHOOKS_H_

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "herald/v1/event.pb.h"

namespace herald::webhooks {

// The reference libraries' tolerance for webhook-timestamp, both ways.
inline constexpr absl::Duration kDefaultTolerance = absl::Minutes(5);

// The three Standard Webhooks headers of a request.
struct SignatureHeaders {
  std::string webhook_id;         // webhook-id
  std::string webhook_timestamp;  // webhook-timestamp (Unix seconds, text)
  std::string webhook_signature;  // webhook-signature ("v1,<b64> ...")
};

// Picks the three headers out of any range of (name, value) pairs: a
// std::map, std::multimap, std::unordered_map or a vector of pairs. Names
// compare case-insensitively; a missing header stays empty.
template <typename HeaderRange>
SignatureHeaders ExtractSignatureHeaders(const HeaderRange& headers);

// Verifies a delivery. `secrets` are the endpoint's signing secrets
// ("whsec_<base64>", or bare base64): pass the old and the new one while a
// secret is being rotated; a signature by any of them is accepted. Checks,
// in this order:
//   1. the three headers are present and non-empty   else InvalidArgument
//   2. webhook-timestamp is an integer               else InvalidArgument
//      within `tolerance` of `now`                   else Unauthenticated
//      ("webhook-timestamp too old" / "too new")
//   3. some "v1," entry of webhook-signature is the HMAC under some secret
//                                                    else Unauthenticated
//      ("no matching signature")
// Fails with InvalidArgument when `secrets` is empty or a secret is not
// base64. No message contains a secret or a signature.
absl::Status Verify(std::string_view body, const SignatureHeaders& headers,
                    const std::vector<std::string>& secrets,
                    absl::Duration tolerance = kDefaultTolerance,
                    absl::Time now = absl::Now());

// The same, reading the headers from a header collection (see
// ExtractSignatureHeaders).
template <typename HeaderRange>
absl::Status Verify(std::string_view body, const HeaderRange& headers,
                    const std::vector<std::string>& secrets,
                    absl::Duration tolerance = kDefaultTolerance,
                    absl::Time now = absl::Now()) {
  return Verify(body, ExtractSignatureHeaders(headers), secrets, tolerance,
                now);
}

// The body formats herald sends to HTTP targets.
enum class PayloadFormat {
  kDefault,      // Harbor's JSON, Content-Type: application/json
  kCloudEvents,  // CloudEvents 1.0 structured mode,
                 // Content-Type: application/cloudevents+json
};

// The CloudEvents envelope of a CloudEvents body.
struct CloudEventAttributes {
  std::string specversion;      // "1.0"
  std::string id;               // equals the webhook-id header
  std::string source;           // "/projects/<project>/webhook/policies/<policy>"
  std::string type;             // e.g. "harbor.artifact.pushed"
  std::string datacontenttype;  // "application/json"
  std::optional<absl::Time> time;
  // Parsed from `source`; 0 when it has another shape.
  int64_t project_id = 0;
  int64_t policy_id = 0;
  // Extension attributes: "operator", "requestid" and any other.
  std::map<std::string, std::string> extensions;
};

// A parsed webhook body.
struct WebhookEvent {
  PayloadFormat format = PayloadFormat::kDefault;
  // Harbor's event type, e.g. "PUSH_ARTIFACT" (for CloudEvents bodies,
  // mapped back from the CloudEvents type).
  std::string event_type;
  // Default: "occur_at"; CloudEvents: "time". Whole seconds.
  std::optional<absl::Time> occur_time;
  // Who caused the event ("operator").
  std::string operator_name;
  // Everything the body says, as the herald.v1.Event a producer published:
  // event_type, operator, occur_time and the event data (resources,
  // repository, replication, retention, scan, custom attributes). For
  // CloudEvents bodies also project_id and request_id (from the envelope).
  // What the payload formats do not carry stays unset (e.g. project_id of
  // Default bodies; sub-second times; Go's zero time).
  v1::Event event;
  // Set for CloudEvents bodies.
  std::optional<CloudEventAttributes> cloudevent;
};

// Parses a webhook body. `content_type` is the request's Content-Type
// (parameters such as "; charset=utf-8" are ignored): "application/json"
// for the Default format, "application/cloudevents+json" for CloudEvents.
// An empty content type is detected from the body. Slack bodies
// (made for people) are refused.
// Errors: InvalidArgument (not JSON, not a herald payload, a field of the
// wrong type), each naming the JSON path, e.g. "event_data.resources[0].tag".
absl::StatusOr<WebhookEvent> ParseEvent(std::string_view body,
                                        std::string_view content_type);

// Harbor's event type for a CloudEvents type ("harbor.artifact.pushed" ->
// "PUSH_ARTIFACT"), and back; "" when unknown.
std::string EventTypeFromCloudEventsType(std::string_view cloudevents_type);
std::string CloudEventsTypeFromEventType(std::string_view event_type);

// --- Implementation details ------------------------------------------------

namespace internal {
bool HeaderNameEquals(std::string_view a, std::string_view b);
}  // namespace internal

template <typename HeaderRange>
SignatureHeaders ExtractSignatureHeaders(const HeaderRange& headers) {
  SignatureHeaders out;
  for (const auto& [name, value] : headers) {
    const std::string_view n(name);
    if (internal::HeaderNameEquals(n, "webhook-id")) {
      out.webhook_id = std::string(value);
    } else if (internal::HeaderNameEquals(n, "webhook-timestamp")) {
      out.webhook_timestamp = std::string(value);
    } else if (internal::HeaderNameEquals(n, "webhook-signature")) {
      out.webhook_signature = std::string(value);
    }
  }
  return out;
}

}  // namespace herald::webhooks

#endif  // HERALD_CLIENT_WEBHOOKS_H_
