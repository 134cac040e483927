// CurlSender: the production HttpSender, built on libcurl's multi-socket
// interface and epoll.
//
// One thread ("herald-sender") drives every transfer; Send() only queues the
// request and wakes that thread (an eventfd). No thread per request, no
// blocking call on the caller's thread. libcurl is driven with
// curl_multi_socket_action, so it only touches transfers whose sockets are
// ready or whose timers expired: thousands of slow or hung transfers do not
// slow down the others. DNS lookups run on libcurl's threaded resolver, so
// a slow name server does not stall other transfers either.
//
// Wire behaviour:
//   * Plain http uses HTTP/1.1 with keep-alive; idle connections stay in
//     one shared cache (at least Options::max_connections, grown to 5/4 of
//     the transfers in flight) and are reused by later requests to the
//     same scheme://host:port with the same TLS settings. Idle connections
//     are closed after 118 s (libcurl's CURLOPT_MAXAGE_CONN default).
//     libcurl 7.88's h2c is not used (its connection reuse is broken).
//   * https negotiates HTTP/2 by ALPN when the server offers it (requests
//     to the same server then share one connection), else HTTP/1.1.
//     Concurrent requests to a server wait for its first connection
//     (CURLOPT_PIPEWAIT), except while the server's last exchange failed
//     before any response (TLS, connect, DNS, timeout): then each connects
//     on its own, so each attempt makes its own handshake and reports its
//     own error rather than timing out in the queue.
//   * Always POST. The only headers sent are HttpRequest::headers plus Host
//     and Content-Length: libcurl's "Accept: */*", "Expect: 100-continue"
//     and default form Content-Type are suppressed, and no User-Agent or
//     Accept-Encoding is added (see request_builder.h for the comparison
//     with Harbor's Go client).
//   * TLS: peers are verified against the system roots (Debian's libcurl
//     uses /etc/ssl/certs) plus HttpRequest::ca_bundle_pem when set;
//     skip_cert_verify disables peer and host name checks. Connections are
//     only reused between requests with identical TLS settings.
//   * Redirects: not followed unless HttpRequest::follow_redirects; then at
//     most 5 hops, http/https only, POST kept as POST with the same body on
//     301/302/303 too (Go turns those into GET without a body), and the
//     Authorization header is dropped when the host, port or scheme changes
//     (as Go does).
//   * Timeouts: HttpRequest::timeout bounds the whole exchange; the
//     connect phase is bounded by min(timeout, Options::max_connect_timeout).
//   * Proxies: none by default, and http_proxy/HTTPS_PROXY/NO_PROXY in the
//     environment are ignored (Harbor honours them). Set Options::proxy or
//     Options::proxy_from_environment to use one. Note that with a proxy
//     the connect guard sees the proxy's address, not the target's.
//   * Response bodies: the first kBodyExcerptBytes are kept; the rest is
//     read and discarded up to Options::max_response_body_bytes (1 MiB);
//     beyond that the transfer is aborted with kProtocol "response body too
//     large" and its connection closed. Harbor ignores the body of a 2xx
//     response, so a 2xx with such a body counts as failed here but not in
//     Harbor; receivers that answer webhooks with megabytes are unheard of.
//   * Connect guard: when Options::connect_guard is set it is called with
//     the numeric address libcurl is about to connect to (after DNS, for
//     every address tried, on every redirect hop); a non-OK status refuses
//     that address and the result is kConnect "address <ip> forbidden by
//     SSRF policy[: <status message>]". Connections already in the cache
//     were checked when they were opened.
//
// Thread-safety: see HttpSender. Options are fixed at construction.
#ifndef HERALD_SERVER_DELIVERY_CURL_SENDER_H_
#define HERALD_SERVER_DELIVERY_CURL_SENDER_H_

#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "server/delivery/http_sender.h"

namespace herald::delivery {

class CurlSender final : public HttpSender {
 public:
  struct Options {
    // Connections kept open for reuse (CURLMOPT_MAXCONNECTS), over all
    // hosts, at least; the sender raises the limit to 5/4 of the transfers
    // in flight when more are running (a cache smaller than the concurrency
    // would close a connection after every transfer). There is deliberately
    // no per-host or total connection limit (CURLMOPT_MAX_HOST_CONNECTIONS
    // stays unset): the dispatcher bounds concurrency per endpoint.
    int max_connections = 256;
    // Upper bound of the connect phase (TCP + TLS) of any request.
    absl::Duration max_connect_timeout = absl::Seconds(10);
    // Response body bytes read before a transfer is aborted (kProtocol).
    size_t max_response_body_bytes = size_t{1} << 20;
    // Proxy URL for every request ("http://proxy:3128"); "" = none.
    std::string proxy;
    // When `proxy` is "", use libcurl's environment variables (http_proxy,
    // HTTPS_PROXY, NO_PROXY, ...) like Harbor does. Off by default.
    bool proxy_from_environment = false;
    // Called on the sender thread with the numeric IP address (e.g.
    // "127.0.0.1", "::1") of every socket before it connects; a non-OK
    // status refuses the address. Must be quick and thread-compatible.
    std::function<absl::Status(const std::string& ip)> connect_guard;
  };

  // Initialises libcurl (curl_global_init, once per process; heraldd's
  // main() calls curl_global_cleanup after the last sender is destroyed)
  // and starts the sender thread. Fails when libcurl lacks something herald
  // relies on: TLS, or version 7.85 (CURLOPT_PROTOCOLS_STR,
  // curl_easy_header; CURLOPT_CAINFO_BLOB needs 7.77).
  static absl::StatusOr<std::unique_ptr<CurlSender>> Create(Options options);

  // Shutdown(absl::ZeroDuration()) if it was not called, then frees libcurl
  // state. Must not run on the sender thread (i.e. inside a `done`).
  ~CurlSender() override;

  CurlSender(const CurlSender&) = delete;
  CurlSender& operator=(const CurlSender&) = delete;

  void Send(HttpRequest request,
            absl::AnyInvocable<void(HttpResult) &&> done) override;
  int in_flight() const override;
  // Must not be called from a `done` callback (it joins the sender thread).
  void Shutdown(absl::Duration deadline) override;

  // Connections opened so far (CURLINFO_NUM_CONNECTS summed over finished
  // transfers): a keep-alive health indicator for metrics and tests.
  int64_t connections_opened() const;

 private:
  struct Transfer;
  struct Impl;
  explicit CurlSender(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

// Parses a Retry-After value: delta-seconds ("120") or an HTTP-date
// ("Wed, 21 Oct 2015 07:28:00 GMT", also the obsolete RFC 850 and asctime
// forms), relative to `now` and clamped at zero. nullopt for anything else
// (negative numbers, garbage, empty). Values above 30 days are clamped to
// 30 days.
std::optional<absl::Duration> ParseRetryAfter(std::string_view value,
                                              absl::Time now);

}  // namespace herald::delivery

#endif  // HERALD_SERVER_DELIVERY_CURL_SENDER_H_
