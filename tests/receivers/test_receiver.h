// TestReceiver: a real HTTP/1.1 (and HTTPS) webhook receiver for tests.
//
// It listens on 127.0.0.1 with a kernel-chosen port, records every request
// exactly as it arrived (method, target, header names in their original
// case and order, body, arrival time, which connection carried it) and
// answers per path from a script: a status with headers and body, a
// redirect, 429 + Retry-After, a hang past the client's timeout, a TCP
// reset, a body dripped one byte at a time, a huge body, or a response
// cut off by closing the connection mid-body.
//
//   auto receiver = *TestReceiver::Start();
//   receiver->SetReply("/gone", Reply::Status(410));
//   receiver->PushReplies("/flaky", {Reply::Status(500), Reply::Status(200)});
//   ... POST to receiver->url("/flaky") ...
//   ASSERT_TRUE(receiver->WaitForRequests(2, absl::Seconds(5)));
//   EXPECT_EQ(receiver->requests()[1].body, "...");
//
// HTTPS: Start({.tls = true}) generates a throw-away CA and a server
// certificate for 127.0.0.1 and localhost at start; ca_pem() is what a
// client must trust (e.g. HttpRequest::ca_bundle_pem).
//
// Why not cpp-httplib: tests need things its server does not expose - a
// count of accepted connections (keep-alive checks), a TCP reset before
// any response, headers in their received order and case, keep-alive
// without a per-connection request cap, and one thread per connection so
// that 500 concurrent clients are served at once.
//
// Each connection is served by its own thread with blocking I/O; the
// receiver is built for correctness of tests, not for speed (still tens of
// thousands of small requests per second on one core).
//
// Thread-safety: all methods may be called from any thread.
#ifndef HERALD_TESTS_RECEIVERS_TEST_RECEIVER_H_
#define HERALD_TESTS_RECEIVERS_TEST_RECEIVER_H_

#include <cstddef>
#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "tests/receivers/tls_identity.h"

namespace herald::receivers {

// One request as it arrived.
struct ReceivedRequest {
  std::string method;   // "POST"
  std::string target;   // "/path?query", as on the request line
  std::string path;     // "/path"
  std::string version;  // "HTTP/1.1"
  // Header fields in arrival order, names in their original case, values
  // with surrounding whitespace removed.
  std::vector<std::pair<std::string, std::string>> headers;
  std::string body;  // de-chunked when sent chunked
  absl::Time arrival;
  int64_t connection_id = 0;  // 1, 2, ... in accept order
  bool tls = false;

  // The first value of `name` (case-insensitive), if present.
  std::optional<std::string> header(std::string_view name) const;
  // How many times `name` (case-insensitive) appears.
  int header_count(std::string_view name) const;
  // All header names, lower-cased, in arrival order.
  std::vector<std::string> header_names_lower() const;
};

// What the receiver does with a request.
struct Reply {
  enum class Action {
    kRespond,   // send status/headers/body (after `delay`)
    kHang,      // never answer; wait until the client goes away or Stop()
    kReset,     // close the connection with a TCP RST, no response at all
    kDrip,      // 200 + Content-Length, body written one byte per interval
    kHugeBody,  // 200 + Content-Length: huge_body_bytes, written until the
                // client stops reading
    kTruncate,  // 200 + Content-Length: huge_body_bytes, then only `body`
                // (shorter), then the connection is closed (FIN)
  };
  Action action = Action::kRespond;
  int status = 200;
  std::vector<std::pair<std::string, std::string>> headers;
  std::string body;
  absl::Duration delay = absl::ZeroDuration();
  absl::Duration drip_interval = absl::Seconds(1);
  size_t huge_body_bytes = 0;
  bool close_connection = false;  // send "Connection: close" and close

  static Reply Status(int status, std::string body = "");
  // 429 with "Retry-After: <retry_after>" (seconds or an HTTP-date).
  static Reply TooManyRequests(std::string retry_after);
  // `status` (301, 302, 303, 307, 308) with "Location: <location>".
  static Reply Redirect(int status, std::string location);
  static Reply Hang();
  static Reply Reset();
  static Reply Drip(std::string body,
                    absl::Duration per_byte = absl::Seconds(1));
  static Reply HugeBody(size_t bytes);
  // Closes mid-response: 200 announcing `content_length` body bytes, sends
  // only `body` (shorter), then closes the connection.
  static Reply Truncated(std::string body, size_t content_length);
  // A copy that waits `d` before answering.
  Reply After(absl::Duration d) const;
  // A copy with one more response header.
  Reply WithHeader(std::string name, std::string value) const;
};

class TestReceiver {
 public:
  struct Options {
    bool tls = false;
    // The identity to serve with; generated when tls and unset.
    std::optional<TlsIdentity> identity;
    // Keep request bodies and headers (off for throughput probes: only
    // counters are kept).
    bool record = true;
  };

  // Binds 127.0.0.1:0 and starts serving.
  static absl::StatusOr<std::unique_ptr<TestReceiver>> Start(Options options);
  static absl::StatusOr<std::unique_ptr<TestReceiver>> Start() {
    return Start(Options());
  }

  // Stop(), then frees everything.
  ~TestReceiver();
  TestReceiver(const TestReceiver&) = delete;
  TestReceiver& operator=(const TestReceiver&) = delete;

  // Closes the listener and every connection (hung replies end at once)
  // and waits for every connection thread. Idempotent.
  void Stop();

  int port() const;
  // "http://127.0.0.1:<port>" or "https://127.0.0.1:<port>".
  std::string base_url() const;
  // base_url() + path (path starts with '/').
  std::string url(std::string_view path) const;
  // The PEM of the CA that signed the server certificate ("" for http).
  std::string ca_pem() const;

  // The reply for every request to `path` (path only, no query).
  void SetReply(std::string path, Reply reply);
  // One-shot replies for `path`, used in order before SetReply's.
  void PushReplies(std::string path, std::vector<Reply> replies);
  // The reply for paths without one (initially Reply::Status(200)).
  void SetDefaultReply(Reply reply);

  std::vector<ReceivedRequest> requests() const;
  int64_t request_count() const;
  // True once at least `n` requests arrived in total, false after
  // `timeout`.
  bool WaitForRequests(int64_t n, absl::Duration timeout) const;
  // Forgets recorded requests (counters keep counting).
  void ClearRequests();

  // TCP connections accepted so far.
  int64_t connections_accepted() const;
  // Connections currently open.
  int open_connections() const;
  // TLS handshakes that failed (e.g. the client rejected the certificate).
  int64_t tls_handshake_failures() const;

 private:
  struct State;
  explicit TestReceiver(std::unique_ptr<State> state);
  std::unique_ptr<State> state_;
};

}  // namespace herald::receivers

#endif  // HERALD_TESTS_RECEIVERS_TEST_RECEIVER_H_
