// The SSRF guard at delivery: used as CurlSender::Options::connect_guard,
// so it judges the address actually connected to (after DNS, on every
// redirect hop), not the host name. The rules are common::AddressRules
// (server/common/address_rules.h), shared with policy validation.
//
// Thread-safety: pure functions.
#ifndef HERALD_SERVER_DELIVERY_CONNECT_GUARD_H_
#define HERALD_SERVER_DELIVERY_CONNECT_GUARD_H_

#include <functional>
#include <string>

#include "absl/status/status.h"
#include "server/common/address_rules.h"

namespace herald::delivery {

// OK, or PermissionDenied naming the kind of address ("loopback address");
// InvalidArgument when `ip` is not a numeric IPv4/IPv6 address.
absl::Status CheckConnectAddress(const std::string &ip,
                                 const common::AddressRules &rules);

// CheckConnectAddress bound to `rules`.
std::function<absl::Status(const std::string &)>
MakeConnectGuard(common::AddressRules rules);

} // namespace herald::delivery

#endif // HERALD_SERVER_DELIVERY_CONNECT_GUARD_H_
