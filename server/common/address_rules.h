// The SSRF rules: which IP addresses herald may deliver webhooks to. One
// definition shared by policy validation (a literal IP host is refused at
// creation) and the delivery connect guard (the address actually connected
// to, after DNS and on every redirect hop).
//
// Never allowed unless inside an allowed network: unspecified (0.0.0.0/8,
// ::), link-local (169.254.0.0/16, fe80::/10; this includes the cloud
// metadata endpoint 169.254.169.254), other cloud metadata addresses
// (100.100.100.200, fd00:ec2::254), multicast (224.0.0.0/4, ff00::/8),
// reserved and broadcast (240.0.0.0/4). Loopback (127.0.0.0/8, ::1)
// unless allow_loopback. With strict_private also the private ranges
// 10/8, 172.16/12, 192.168/16, 100.64/10 (CGNAT) and fc00::/7.
// IPv4-mapped (::ffff:a.b.c.d) and NAT64 (64:ff9b::a.b.c.d) IPv6 addresses
// are judged, and matched against allowed networks, by their IPv4 address.
//
// Thread-safety: values and pure functions.
#ifndef HERALD_SERVER_COMMON_ADDRESS_RULES_H_
#define HERALD_SERVER_COMMON_ADDRESS_RULES_H_

#include <array>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"

namespace herald::common {

// An IPv4 or IPv6 address; IPv4 is held as ::ffff:a.b.c.d.
struct IpAddress {
  std::array<uint8_t, 16> bytes{};
  bool operator==(const IpAddress &) const = default;
};

// A network in CIDR form; prefix_bits counts from the start of `base`
// (an IPv4 /24 is 96 + 24 bits of its mapped form).
struct IpNetwork {
  IpAddress base;
  int prefix_bits = 128;
  bool Contains(const IpAddress &ip) const;
};

struct AddressRules {
  bool allow_loopback = false;    // config allow_loopback_targets
  bool strict_private = false;    // config strict_private_targets
  std::vector<IpNetwork> allowed; // config allowed_target_cidrs
};

// A numeric IPv4 or IPv6 address ("10.0.0.1", "::1", "fe80::1%eth0": the
// zone is ignored); nullopt for anything else. With `resolver_forms`,
// IPv4 is read the way the C resolver reads a host name (inet_aton), so
// "2852039166" and "0xa9.0xfe.0xa9.0xfe" are 169.254.169.254 too.
std::optional<IpAddress> ParseIpAddress(std::string_view text,
                                        bool resolver_forms = false);

// "10.0.0.0/8", "fd00::/8" or a single address ("192.0.2.7" = /32).
// InvalidArgument saying what is wrong.
absl::StatusOr<IpNetwork> ParseIpNetwork(std::string_view text);

// A comma-separated list of ParseIpNetwork forms; blanks around items are
// ignored and an empty text is an empty list.
absl::StatusOr<std::vector<IpNetwork>>
ParseIpNetworkList(std::string_view text);

// nullopt when herald may deliver to `ip` under `rules`; otherwise the
// kind of address, for messages: "loopback", "link-local", "cloud
// metadata", "multicast", "unspecified", "reserved" or "private".
std::optional<std::string_view> ForbiddenAddressKind(const IpAddress &ip,
                                                     const AddressRules &rules);

} // namespace herald::common

#endif // HERALD_SERVER_COMMON_ADDRESS_RULES_H_
