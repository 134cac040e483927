// The SSRF guard's address classes.
#include "server/delivery/connect_guard.h"

#include "gtest/gtest.h"

namespace herald::delivery {
namespace {

using common::AddressRules;

bool Allowed(const std::string& ip, AddressRules o = {}) {
  return CheckConnectAddress(ip, o).ok();
}

TEST(ConnectGuardTest, PublicAndPrivateAddressesAreAllowedByDefault) {
  for (const char* ip : {"93.184.216.34", "8.8.8.8", "2606:2800:220:1::1",
                         "10.1.2.3", "192.168.1.1", "172.20.0.1",
                         "fd12:3456::1"}) {
    EXPECT_TRUE(Allowed(ip)) << ip;
  }
}

TEST(ConnectGuardTest, DangerousAddressesAreRefused) {
  for (const char* ip :
       {"169.254.169.254", "169.254.1.1", "100.100.100.200", "0.0.0.0",
        "224.0.0.1", "239.1.1.1", "255.255.255.255", "240.0.0.1", "::",
        "fe80::1", "fe80::1%eth0", "ff02::1", "fd00:ec2::254",
        "::ffff:169.254.169.254", "64:ff9b::a9fe:a9fe"}) {
    absl::Status s = CheckConnectAddress(ip, {});
    EXPECT_EQ(s.code(), absl::StatusCode::kPermissionDenied) << ip;
  }
}

TEST(ConnectGuardTest, LoopbackIsRefusedUnlessAllowed) {
  for (const char* ip : {"127.0.0.1", "127.1.2.3", "::1", "::ffff:127.0.0.1"}) {
    EXPECT_FALSE(Allowed(ip)) << ip;
    EXPECT_EQ(CheckConnectAddress(ip, {}).message(), "loopback address") << ip;
    EXPECT_TRUE(Allowed(ip, {.allow_loopback = true})) << ip;
  }
}

TEST(ConnectGuardTest, AllowedNetworksWinOverEveryRule) {
  AddressRules rules{.strict_private = true};
  rules.allowed = *common::ParseIpNetworkList(
      "127.0.0.1/32, 10.20.0.0/16, 169.254.10.0/24, fd00:1::/64");
  for (const char* ip : {"127.0.0.1", "::ffff:127.0.0.1", "10.20.3.4",
                         "169.254.10.9", "fd00:1::5", "64:ff9b::a14:304"}) {
    EXPECT_TRUE(Allowed(ip, rules)) << ip;
  }
  for (const char* ip : {"127.0.0.2", "10.21.0.1", "169.254.169.254",
                         "fd00:2::5", "::1"}) {
    EXPECT_FALSE(Allowed(ip, rules)) << ip;
  }
}

TEST(ConnectGuardTest, StrictModeRefusesPrivateRanges) {
  AddressRules strict{.allow_loopback = false, .strict_private = true};
  for (const char* ip : {"10.0.0.1", "172.16.0.1", "172.31.255.255",
                         "192.168.0.1", "100.64.0.1", "fd12::1",
                         "::ffff:10.0.0.1"}) {
    EXPECT_FALSE(Allowed(ip, strict)) << ip;
  }
  EXPECT_TRUE(Allowed("172.32.0.1", strict));
  EXPECT_TRUE(Allowed("8.8.8.8", strict));
}

TEST(ConnectGuardTest, NonNumericIsInvalid) {
  EXPECT_EQ(CheckConnectAddress("example.com", {}).code(),
            absl::StatusCode::kInvalidArgument);
}

}  // namespace
}  // namespace herald::delivery
