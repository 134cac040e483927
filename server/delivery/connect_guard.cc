#include "server/delivery/connect_guard.h"

#include <arpa/inet.h>

#include <cstdint>
#include <cstring>

#include "absl/strings/str_cat.h"

namespace herald::delivery {
namespace {

absl::Status Refuse(const char* kind) {
  return absl::PermissionDeniedError(absl::StrCat(kind, " address"));
}

bool In(uint32_t a, uint32_t net, int bits) {
  const uint32_t mask = bits == 0 ? 0 : ~uint32_t{0} << (32 - bits);
  return (a & mask) == (net & mask);
}

uint32_t V4(int a, int b, int c, int d) {
  return (uint32_t(a) << 24) | (uint32_t(b) << 16) | (uint32_t(c) << 8) |
         uint32_t(d);
}

absl::Status CheckV4(uint32_t a, const ConnectGuardOptions& o) {
  if (In(a, V4(127, 0, 0, 0), 8)) {
    return o.allow_loopback ? absl::OkStatus() : Refuse("loopback");
  }
  if (In(a, V4(0, 0, 0, 0), 8)) return Refuse("unspecified");
  if (In(a, V4(169, 254, 0, 0), 16)) return Refuse("link-local");
  if (a == V4(100, 100, 100, 200)) return Refuse("cloud metadata");
  if (In(a, V4(224, 0, 0, 0), 4)) return Refuse("multicast");
  if (In(a, V4(240, 0, 0, 0), 4)) return Refuse("reserved");
  if (o.strict_private &&
      (In(a, V4(10, 0, 0, 0), 8) || In(a, V4(172, 16, 0, 0), 12) ||
       In(a, V4(192, 168, 0, 0), 16) || In(a, V4(100, 64, 0, 0), 10))) {
    return Refuse("private");
  }
  return absl::OkStatus();
}

}  // namespace

absl::Status CheckConnectAddress(const std::string& ip,
                                 const ConnectGuardOptions& o) {
  in_addr v4;
  if (inet_pton(AF_INET, ip.c_str(), &v4) == 1) {
    return CheckV4(ntohl(v4.s_addr), o);
  }
  in6_addr v6;
  std::string bare = ip;
  if (size_t pct = bare.find('%'); pct != std::string::npos) {
    bare.resize(pct);  // zone index
  }
  if (inet_pton(AF_INET6, bare.c_str(), &v6) != 1) {
    return absl::InvalidArgumentError("not a numeric IP address");
  }
  const uint8_t* b = v6.s6_addr;
  auto embedded_v4 = [&] {
    return V4(b[12], b[13], b[14], b[15]);
  };
  static constexpr uint8_t kMapped[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};
  static constexpr uint8_t kNat64[12] = {0, 0x64, 0xff, 0x9b, 0, 0, 0, 0, 0, 0, 0, 0};
  if (std::memcmp(b, kMapped, 12) == 0 || std::memcmp(b, kNat64, 12) == 0) {
    return CheckV4(embedded_v4(), o);
  }
  static constexpr uint8_t kZero[16] = {0};
  static constexpr uint8_t kLoopback[16] = {0, 0, 0, 0, 0, 0, 0, 0,
                                            0, 0, 0, 0, 0, 0, 0, 1};
  // fd00:ec2::254, AWS's IPv6 instance metadata endpoint.
  static constexpr uint8_t kEc2[16] = {0xfd, 0x00, 0x0e, 0xc2, 0, 0, 0, 0,
                                       0,    0,    0,    0,    0, 0, 0x02, 0x54};
  if (std::memcmp(b, kLoopback, 16) == 0) {
    return o.allow_loopback ? absl::OkStatus() : Refuse("loopback");
  }
  if (std::memcmp(b, kZero, 16) == 0) return Refuse("unspecified");
  if (b[0] == 0xfe && (b[1] & 0xc0) == 0x80) return Refuse("link-local");
  if (b[0] == 0xff) return Refuse("multicast");
  if (std::memcmp(b, kEc2, 16) == 0) return Refuse("cloud metadata");
  if (o.strict_private && (b[0] & 0xfe) == 0xfc) return Refuse("private");
  return absl::OkStatus();
}

std::function<absl::Status(const std::string&)> MakeConnectGuard(
    ConnectGuardOptions options) {
  return [options](const std::string& ip) {
    return CheckConnectAddress(ip, options);
  };
}

}  // namespace herald::delivery
