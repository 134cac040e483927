#include "server/common/address_rules.h"

#include <arpa/inet.h>

#include <cstring>

#include "absl/status/status.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"

namespace herald::common {
namespace {

constexpr uint8_t kMappedPrefix[12] = {0, 0, 0, 0, 0,    0,
                                       0, 0, 0, 0, 0xff, 0xff};
constexpr uint8_t kNat64Prefix[12] = {0, 0x64, 0xff, 0x9b, 0, 0,
                                      0, 0,    0,    0,    0, 0};
// fd00:ec2::254, AWS's IPv6 instance metadata endpoint.
constexpr uint8_t kEc2Metadata[16] = {0xfd, 0x00, 0x0e, 0xc2, 0, 0, 0,    0,
                                      0,    0,    0,    0,    0, 0, 0x02, 0x54};
constexpr uint8_t kZero[16] = {0};
constexpr uint8_t kLoopbackV6[16] = {0, 0, 0, 0, 0, 0, 0, 0,
                                     0, 0, 0, 0, 0, 0, 0, 1};

IpAddress FromV4(uint32_t host_order) {
  IpAddress ip;
  std::memcpy(ip.bytes.data(), kMappedPrefix, 12);
  ip.bytes[12] = static_cast<uint8_t>(host_order >> 24);
  ip.bytes[13] = static_cast<uint8_t>(host_order >> 16);
  ip.bytes[14] = static_cast<uint8_t>(host_order >> 8);
  ip.bytes[15] = static_cast<uint8_t>(host_order);
  return ip;
}

// NAT64 addresses stand for the IPv4 address they embed.
IpAddress Canonical(const IpAddress &ip) {
  if (std::memcmp(ip.bytes.data(), kNat64Prefix, 12) != 0)
    return ip;
  IpAddress v4 = ip;
  std::memcpy(v4.bytes.data(), kMappedPrefix, 12);
  return v4;
}

bool IsV4(const IpAddress &ip) {
  return std::memcmp(ip.bytes.data(), kMappedPrefix, 12) == 0;
}

uint32_t V4Of(const IpAddress &ip) {
  return (uint32_t{ip.bytes[12]} << 24) | (uint32_t{ip.bytes[13]} << 16) |
         (uint32_t{ip.bytes[14]} << 8) | uint32_t{ip.bytes[15]};
}

bool InV4(uint32_t a, uint32_t a0, uint32_t a1, uint32_t a2, uint32_t a3,
          int bits) {
  const uint32_t net = (a0 << 24) | (a1 << 16) | (a2 << 8) | a3;
  const uint32_t mask = bits == 0 ? 0 : ~uint32_t{0} << (32 - bits);
  return (a & mask) == (net & mask);
}

std::optional<std::string_view> V4Kind(uint32_t a, const AddressRules &r) {
  if (InV4(a, 127, 0, 0, 0, 8)) {
    return r.allow_loopback ? std::nullopt
                            : std::optional<std::string_view>("loopback");
  }
  if (InV4(a, 0, 0, 0, 0, 8))
    return "unspecified";
  if (InV4(a, 169, 254, 0, 0, 16))
    return "link-local";
  if (InV4(a, 100, 100, 100, 200, 32))
    return "cloud metadata";
  if (InV4(a, 224, 0, 0, 0, 4))
    return "multicast";
  if (InV4(a, 240, 0, 0, 0, 4))
    return "reserved";
  if (r.strict_private &&
      (InV4(a, 10, 0, 0, 0, 8) || InV4(a, 172, 16, 0, 0, 12) ||
       InV4(a, 192, 168, 0, 0, 16) || InV4(a, 100, 64, 0, 0, 10))) {
    return "private";
  }
  return std::nullopt;
}

std::optional<std::string_view> V6Kind(const uint8_t *b,
                                       const AddressRules &r) {
  if (std::memcmp(b, kLoopbackV6, 16) == 0) {
    return r.allow_loopback ? std::nullopt
                            : std::optional<std::string_view>("loopback");
  }
  if (std::memcmp(b, kZero, 16) == 0)
    return "unspecified";
  if (b[0] == 0xfe && (b[1] & 0xc0) == 0x80)
    return "link-local";
  if (b[0] == 0xff)
    return "multicast";
  if (std::memcmp(b, kEc2Metadata, 16) == 0)
    return "cloud metadata";
  if (r.strict_private && (b[0] & 0xfe) == 0xfc)
    return "private";
  return std::nullopt;
}

} // namespace

bool IpNetwork::Contains(const IpAddress &ip) const {
  const IpAddress c = Canonical(ip);
  int bits = prefix_bits;
  for (size_t i = 0; i < 16 && bits > 0; ++i, bits -= 8) {
    const uint8_t mask =
        bits >= 8 ? 0xff : static_cast<uint8_t>(0xff << (8 - bits));
    if ((c.bytes[i] & mask) != (base.bytes[i] & mask))
      return false;
  }
  return true;
}

std::optional<IpAddress> ParseIpAddress(std::string_view text,
                                        bool resolver_forms) {
  std::string s(text);
  if (size_t pct = s.find('%'); pct != std::string::npos)
    s.resize(pct);
  in_addr v4;
  if (resolver_forms) {
    // Only digits, hex and dots can be an IPv4 literal to the resolver.
    if (!s.empty() &&
        s.find_first_not_of("0123456789abcdefxABCDEFX.") == std::string::npos &&
        inet_aton(s.c_str(), &v4) != 0) {
      return FromV4(ntohl(v4.s_addr));
    }
  } else if (inet_pton(AF_INET, s.c_str(), &v4) == 1) {
    return FromV4(ntohl(v4.s_addr));
  }
  in6_addr v6;
  if (inet_pton(AF_INET6, s.c_str(), &v6) == 1) {
    IpAddress ip;
    std::memcpy(ip.bytes.data(), v6.s6_addr, 16);
    return ip;
  }
  return std::nullopt;
}

absl::StatusOr<IpNetwork> ParseIpNetwork(std::string_view text) {
  const absl::string_view stripped =
      absl::StripAsciiWhitespace(absl::string_view(text.data(), text.size()));
  const std::string trimmed(stripped.data(), stripped.size());
  const size_t slash = trimmed.find('/');
  const std::string address = trimmed.substr(0, slash);
  std::optional<IpAddress> base = ParseIpAddress(address);
  if (!base.has_value() || address.find('%') != std::string::npos) {
    return absl::InvalidArgumentError(absl::StrCat(
        "\"", trimmed, "\" is not an IPv4 or IPv6 network (e.g. 10.0.0.0/8)"));
  }
  const bool v4 = IsV4(*base) && address.find(':') == std::string::npos;
  IpNetwork net{*base, 128};
  if (slash != std::string::npos) {
    int bits = -1;
    const std::string digits = trimmed.substr(slash + 1);
    if (!absl::SimpleAtoi(digits, &bits) || bits < 0 ||
        bits > (v4 ? 32 : 128) || digits.empty() ||
        digits.find_first_not_of("0123456789") != std::string::npos) {
      return absl::InvalidArgumentError(
          absl::StrCat("\"", trimmed, "\" has an invalid prefix length (0 to ",
                       v4 ? 32 : 128, ")"));
    }
    net.prefix_bits = v4 ? 96 + bits : bits;
  }
  return net;
}

absl::StatusOr<std::vector<IpNetwork>>
ParseIpNetworkList(std::string_view text) {
  std::vector<IpNetwork> out;
  for (absl::string_view item :
       absl::StrSplit(absl::string_view(text.data(), text.size()), ',')) {
    if (absl::StripAsciiWhitespace(item).empty())
      continue;
    absl::StatusOr<IpNetwork> net =
        ParseIpNetwork(std::string_view(item.data(), item.size()));
    if (!net.ok())
      return net.status();
    out.push_back(*net);
  }
  return out;
}

std::optional<std::string_view>
ForbiddenAddressKind(const IpAddress &ip, const AddressRules &rules) {
  const IpAddress c = Canonical(ip);
  for (const IpNetwork &net : rules.allowed) {
    if (net.Contains(c))
      return std::nullopt;
  }
  if (IsV4(c))
    return V4Kind(V4Of(c), rules);
  return V6Kind(c.bytes.data(), rules);
}

} // namespace herald::common
