// File: options.h
//
// How a Connection reaches heraldd: address, token, TLS, deadlines,
// retries and keepalive. Plain data; copy freely.
//
//   herald::ConnectionOptions options;
//   options.address = "herald.example.com:7070";
//   options.token = std::getenv("HERALD_TOKEN");
//   options.tls.enabled = true;            // system roots
//   herald::Client client(herald::MakeConnection(options));
#ifndef HERALD_CLIENT_OPTIONS_H_
#define HERALD_CLIENT_OPTIONS_H_

#include <functional>
#include <string>
#include <string_view>

#include "absl/status/status.h"
#include "absl/time/time.h"

namespace herald {

// When and how often idempotent calls are retried. A call is retried only
// when it failed with UNAVAILABLE (the server was unreachable, restarting,
// or its store was) and it is idempotent: every read, PublishEvent and
// CreatePolicy when they carry a request_id, and the reconnection of the
// PublishEvents helper when every unacknowledged event carries one.
// Everything else is tried once.
//
// Attempt n (n >= 2) waits a random delay in [b/2, b], b = min(max_backoff,
// initial_backoff * multiplier^(n-2)) ("equal jitter"): retries spread out
// and never hammer a restarting server.
struct RetryPolicy {
  // Attempts in total, including the first; 1 disables retries.
  int max_attempts = 5;
  absl::Duration initial_backoff = absl::Milliseconds(200);
  absl::Duration max_backoff = absl::Seconds(5);
  double backoff_multiplier = 2.0;
  // No attempt starts later than this after the first one began.
  absl::Duration max_retry_time = absl::Seconds(30);
};

// TLS for the channel. Disabled means plaintext (heraldd's default).
struct TlsOptions {
  bool enabled = false;
  // PEM roots that verify the server; empty: the system's roots.
  std::string root_certs_pem;
  // PEM certificate chain and private key, for servers that require mutual
  // TLS (heraldd --tls_client_ca_file). Both or neither.
  std::string client_cert_pem;
  std::string client_key_pem;
  // Verify the server's certificate against this name instead of the host
  // of `address` (testing only).
  std::string server_name_override;
};

// Reported to ConnectionOptions::on_retry before each retry sleeps.
struct RetryAttempt {
  std::string_view rpc;     // e.g. "herald.v1.PolicyService/GetPolicy"
  int failed_attempt = 0;   // 1 for the first attempt
  absl::Status error;       // why it failed
  absl::Duration delay;     // how long until the next attempt
};

struct ConnectionOptions {
  // host:port of heraldd (any gRPC target such as "dns:///host:7070" or
  // "unix:/path" works too).
  std::string address = "127.0.0.1:7070";
  // Sent as "authorization: Bearer <token>" on every call; empty sends no
  // authorization metadata (only health checks work then).
  std::string token;
  TlsOptions tls;
  // Deadline of each attempt of a unary call (and each page of a list).
  // Streams (WatchTasks, PublishEvents, RecoverFailed) have none.
  absl::Duration default_deadline = absl::Seconds(10);
  RetryPolicy retry;
  // HTTP/2 keepalive pings on idle connections, so that long-lived watch
  // streams notice dead peers. heraldd tolerates pings every 10 s or more
  // (keepalive_permit_time).
  absl::Duration keepalive_time = absl::Seconds(30);
  absl::Duration keepalive_timeout = absl::Seconds(10);
  // The longest gRPC waits between reconnection attempts after the server
  // went away (gRPC's own default is 120 s, too long for retries to help).
  absl::Duration max_reconnect_backoff = absl::Seconds(2);
  // Prepended to gRPC's user agent, e.g. "heraldctl/0.1.0".
  std::string user_agent_prefix;
  // Called before each retry (e.g. to log it). Must be thread-safe.
  std::function<void(const RetryAttempt&)> on_retry;
};

// ConnectionOptions from the environment, as heraldctl reads it:
// HERALD_ADDR (address), HERALD_TOKEN (token) or HERALD_TOKEN_FILE (a file
// holding it; surrounding whitespace ignored). Unset variables keep the
// defaults. Fails only if HERALD_TOKEN_FILE cannot be read.
absl::Status ApplyEnvironment(ConnectionOptions& options);

}  // namespace herald

#endif  // HERALD_CLIENT_OPTIONS_H_
