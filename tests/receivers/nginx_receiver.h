// NginxReceiver: a throw-away nginx (Debian's nginx-light) as a fast,
// independent receiver for tests and probes - HTTP/2 over TLS, and a
// baseline that does not share the test's process or locks.
//
//   if (!NginxReceiver::Available()) GTEST_SKIP() << "nginx not installed";
//   auto nginx = *NginxReceiver::Start({.tls = true});
//   ... POST to nginx->url("/x") with ca_bundle_pem = nginx->ca_pem() ...
//
// One nginx process (master_process off, one event loop), listening on
// 127.0.0.1 on a free port picked at start, in a temporary prefix
// removed on destruction. The reply is configurable as nginx directives;
// the default echoes "<protocol> <connection serial>" so tests can tell
// HTTP/1.1 from HTTP/2 and count connections.
//
// Thread-safety: const methods may be called from any thread.
#ifndef HERALD_TESTS_RECEIVERS_NGINX_RECEIVER_H_
#define HERALD_TESTS_RECEIVERS_NGINX_RECEIVER_H_

#include <sys/types.h>

#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include "absl/status/statusor.h"
#include "tests/receivers/tls_identity.h"

namespace herald::receivers {

class NginxReceiver {
 public:
  struct Options {
    // https (with HTTP/2 offered by ALPN) instead of http.
    bool tls = false;
    // The identity to serve with; generated when tls and unset.
    std::optional<TlsIdentity> identity;
    // The body of `location / { ... }`.
    std::string location = "return 200 \"$server_protocol $connection\";";
  };

  // Whether /usr/sbin/nginx exists.
  static bool Available();
  // Starts nginx and waits until it accepts connections (at most 5 s).
  static absl::StatusOr<std::unique_ptr<NginxReceiver>> Start(Options options);
  static absl::StatusOr<std::unique_ptr<NginxReceiver>> Start() {
    return Start(Options());
  }

  // Stops nginx (SIGTERM, then waits) and removes its directory.
  ~NginxReceiver();
  NginxReceiver(const NginxReceiver&) = delete;
  NginxReceiver& operator=(const NginxReceiver&) = delete;

  int port() const { return port_; }
  std::string base_url() const;
  std::string url(std::string_view path) const;
  // The CA to trust for https ("" for http).
  const std::string& ca_pem() const { return ca_pem_; }

 private:
  NginxReceiver() = default;
  pid_t pid_ = -1;
  int port_ = 0;
  bool tls_ = false;
  std::string dir_;
  std::string ca_pem_;
};

}  // namespace herald::receivers

#endif  // HERALD_TESTS_RECEIVERS_NGINX_RECEIVER_H_
