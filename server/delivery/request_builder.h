// Builds the HTTP request of one delivery attempt from an execution.
//
// Headers, in this order (Harbor's first, then herald's):
//
//   Content-Type       execution.content_type; "application/json" for Slack
//   Authorization      target.auth_header verbatim, HTTP targets only, when
//                      set (Harbor never sends it to Slack)
//   User-Agent         options.user_agent ("herald/<version>"), unless the
//                      target has its own User-Agent custom header
//   webhook-id         execution.webhook_id: the same on every attempt (the
//                      CloudEvents id for CloudEvents payloads)
//   webhook-timestamp  Unix seconds of `now` (the attempt)
//   webhook-signature  Standard Webhooks v1 signature(s) when the target
//                      has a signing secret: one for signing_secret, plus
//                      one for previous_signing_secret while
//                      previous_secret_expire_time > now
//   <custom headers>   target.headers in order; names herald sets itself
//                      (core::IsReservedHeaderName) are dropped, which
//                      policy validation already forbids
//
// The webhook-* headers are sent only when execution.webhook_id is set
// (ingest always sets it).
//
// Differences from Harbor's Go client on the wire: herald sends
// "User-Agent: herald/<version>" instead of "Go-http-client/1.1" (HTTP/2:
// "Go-http-client/2.0"), and no "Accept-Encoding: gzip": Go advertises gzip
// because its transport decodes it transparently; herald only keeps a
// 1 KiB excerpt of the response for the task log and would store compressed
// bytes, so it does not ask for compression. Host and Content-Length are
// sent by both.
//
// Thread-safety: BuildRequest is a pure function.
#ifndef HERALD_SERVER_DELIVERY_REQUEST_BUILDER_H_
#define HERALD_SERVER_DELIVERY_REQUEST_BUILDER_H_

#include <string>
#include <string_view>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "server/core/execution.h"
#include "server/delivery/http_sender.h"

namespace herald::delivery {

// "herald/<version>" of this build.
std::string DefaultUserAgent();

struct BuildOptions {
  // The effective timeout of the attempt (the policy's override, else the
  // server setting); the dispatcher decides.
  absl::Duration timeout = absl::Seconds(3);
  std::string user_agent = DefaultUserAgent();
};

// The request for one attempt of `execution` at time `now`. The body is
// execution.payload, byte for byte; TLS options, redirects and the CA
// bundle come from execution.target.
HttpRequest BuildRequest(const core::Execution& execution,
                         const BuildOptions& options, absl::Time now);

// "scheme://host:port" of an absolute http(s) URL, with the scheme and host
// lower-cased and the default port (80/443) filled in; IPv6 hosts keep
// their brackets. Userinfo, path, query and fragment are dropped.
// InvalidArgument for anything that is not an absolute http(s) URL.
absl::StatusOr<std::string> EndpointKey(std::string_view url);

}  // namespace herald::delivery

#endif  // HERALD_SERVER_DELIVERY_REQUEST_BUILDER_H_
