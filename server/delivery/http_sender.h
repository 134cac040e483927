// HttpSender: the proto-free interface between the dispatcher and the code
// that performs one webhook HTTP exchange.
//
// The dispatcher builds an HttpRequest (request_builder.h), hands it to
// Send() together with a completion callback, and later receives exactly one
// HttpResult. Implementations:
//
//   CurlSender       (curl_sender.h)      libcurl multi, one thread, real I/O
//   FakeHttpSender   (fake_http_sender.h) scripted answers for unit tests
//
// Outcome rules for callers:
//
//   * error_kind != kNone: the exchange failed (no usable response, or the
//     response broke a limit). status_code may still be set when a status
//     line arrived before the failure (e.g. a response body that was too
//     large); the attempt is nevertheless a failure.
//   * error_kind == kNone: a complete response arrived; status_code is its
//     HTTP status. 2xx is success (Harbor's rule); everything else, 3xx
//     included, is a failed attempt the dispatcher classifies (429/503 with
//     retry_after, 410 Gone, ...).
//
// Nothing in HttpResult ever contains a request header value, a signing
// secret or the request body, so a result can be logged as a whole.
#ifndef HERALD_SERVER_DELIVERY_HTTP_SENDER_H_
#define HERALD_SERVER_DELIVERY_HTTP_SENDER_H_

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "absl/functional/any_invocable.h"
#include "absl/time/time.h"
#include "server/core/policy.h"

namespace herald::delivery {

// One webhook POST. Plain data; the sender takes it by value and keeps it
// alive until the exchange is done.
struct HttpRequest {
  // Absolute http:// or https:// URL. Other schemes fail with kOther.
  std::string url;
  // The request body, sent byte for byte (always a POST).
  std::string body;
  // The complete list of request headers, in order. The sender adds only
  // Host and Content-Length, and suppresses anything else its HTTP library
  // would add on its own (Accept, Expect: 100-continue, a default
  // Content-Type). Names must be HTTP tokens and values must not contain
  // CR, LF or NUL; a request breaking that fails with kOther before any I/O.
  std::vector<core::Header> headers;
  // Deadline for the whole exchange: DNS, connect, TLS, sending, the
  // response and its body, every redirect hop. Must be positive; a
  // non-positive value is treated as 3 s (Harbor's default).
  absl::Duration timeout = absl::Seconds(3);
  // Accept any server certificate and host name (Harbor's skip_cert_verify).
  bool skip_cert_verify = false;
  // Extra trusted CA certificates, PEM (one or more). "" = system roots only.
  // Ignored when skip_cert_verify is set.
  std::string ca_bundle_pem;
  // Follow 301/302/303/307/308, at most 5 hops, re-POSTing the same body
  // on every hop. When false a 3xx is returned as a result with `location`.
  bool follow_redirects = false;
  // "scheme://host:port" of `url`: the dispatcher's concurrency accounting
  // key. The sender does not interpret it.
  std::string endpoint_key;
};

// Why an exchange failed.
enum class HttpErrorKind {
  kNone = 0,           // a complete response arrived (any status)
  kTimeout,            // `timeout` expired (connect, TLS or response)
  kConnect,            // connection refused/unreachable, or refused by the
                       // connect guard (SSRF policy)
  kDns,                // the host name did not resolve
  kTls,                // TLS handshake or certificate verification failed
  kProtocol,           // the peer broke HTTP: reset or closed mid-exchange,
                       // malformed response, response body too large
  kTooManyRedirects,   // follow_redirects and more than 5 hops
  kOther,              // anything else: bad URL or header, shutting down, ...
};

// "none", "timeout", "connect", "dns", "tls", "protocol",
// "too_many_redirects", "other".
constexpr std::string_view HttpErrorKindName(HttpErrorKind kind) {
  switch (kind) {
    case HttpErrorKind::kNone: return "none";
    case HttpErrorKind::kTimeout: return "timeout";
    case HttpErrorKind::kConnect: return "connect";
    case HttpErrorKind::kDns: return "dns";
    case HttpErrorKind::kTls: return "tls";
    case HttpErrorKind::kProtocol: return "protocol";
    case HttpErrorKind::kTooManyRedirects: return "too_many_redirects";
    case HttpErrorKind::kOther: return "other";
  }
  return "other";
}

// The outcome of one exchange.
struct HttpResult {
  // HTTP status of the final response; 0 when no status line arrived.
  int status_code = 0;
  HttpErrorKind error_kind = HttpErrorKind::kNone;
  // Human-readable reason when error_kind != kNone, else empty. Never
  // contains a header value, a secret or the request body.
  std::string error;
  // The first bytes (at most kBodyExcerptBytes) of the response body, as
  // received (not decoded, not necessarily valid UTF-8).
  std::string body_excerpt;
  // Retry-After of the final response, parsed from delta-seconds or an
  // HTTP-date (then relative to the time the response arrived, never
  // negative). Unset when absent or unparsable.
  std::optional<absl::Duration> retry_after;
  // The Location header of the final response, verbatim (set for 3xx that
  // were not followed; "" otherwise).
  std::string location;
  // Time spent on the exchange, from the start of the transfer to its end.
  absl::Duration latency = absl::ZeroDuration();
};

// The largest body excerpt kept in HttpResult::body_excerpt.
inline constexpr size_t kBodyExcerptBytes = 1024;

// Performs webhook exchanges asynchronously.
//
// Thread-safety: every method may be called from any thread concurrently,
// including from inside a `done` callback (Send only; never call Shutdown
// from a callback).
class HttpSender {
 public:
  virtual ~HttpSender() = default;

  // Starts the exchange and returns at once; never blocks on I/O. `done`
  // runs exactly once:
  //   * normally on the sender's own thread, after the exchange ended; it
  //     must be quick and must not block (it delays every other transfer);
  //   * inline, inside Send, when the sender no longer accepts work
  //     (after Shutdown): kOther "sender is shut down".
  // Callers must not hold a lock that `done` takes while calling Send.
  virtual void Send(HttpRequest request,
                    absl::AnyInvocable<void(HttpResult) &&> done) = 0;

  // Exchanges accepted by Send whose `done` has not run yet.
  virtual int in_flight() const = 0;

  // Stops accepting new requests, waits up to `deadline` for the exchanges
  // in flight to finish, then aborts the rest (their `done` gets kOther
  // "shutting down"). Returns when every `done` has run. Idempotent.
  virtual void Shutdown(absl::Duration deadline) = 0;
};

}  // namespace herald::delivery

#endif  // HERALD_SERVER_DELIVERY_HTTP_SENDER_H_
