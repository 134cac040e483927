// The SSRF guard: which numeric addresses deliveries may connect to. Used
// as CurlSender::Options::connect_guard, so it judges the address actually
// connected to (after DNS, on every redirect hop), not the host name.
//
// Always refused: unspecified (0.0.0.0/8, ::), link-local (169.254.0.0/16,
// fe80::/10 - this includes the cloud metadata endpoint 169.254.169.254),
// other cloud metadata addresses (100.100.100.200, fd00:ec2::254),
// multicast (224.0.0.0/4, ff00::/8), reserved and broadcast
// (240.0.0.0/4). Loopback (127.0.0.0/8, ::1) unless allow_loopback. With
// strict_private also the private ranges: 10/8, 172.16/12, 192.168/16,
// 100.64/10 (CGNAT) and fc00::/7. IPv4-mapped (::ffff:a.b.c.d) and NAT64
// (64:ff9b::a.b.c.d) IPv6 addresses are judged by their IPv4 address.
//
// Thread-safety: pure functions.
#ifndef HERALD_SERVER_DELIVERY_CONNECT_GUARD_H_
#define HERALD_SERVER_DELIVERY_CONNECT_GUARD_H_

#include <functional>
#include <string>

#include "absl/status/status.h"

namespace herald::delivery {

struct ConnectGuardOptions {
  bool allow_loopback = true;   // config allow_loopback_targets
  bool strict_private = false;  // config strict_private_targets
};

// OK, or PermissionDenied naming the kind of address (never a secret);
// InvalidArgument when `ip` is not a numeric IPv4/IPv6 address.
absl::Status CheckConnectAddress(const std::string& ip,
                                 const ConnectGuardOptions& options);

// CheckConnectAddress bound to `options`.
std::function<absl::Status(const std::string&)> MakeConnectGuard(
    ConnectGuardOptions options);

}  // namespace herald::delivery

#endif  // HERALD_SERVER_DELIVERY_CONNECT_GUARD_H_
