#include "server/common/address_rules.h"

#include <string>

#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace herald::common {
namespace {

using ::testing::HasSubstr;

IpAddress Ip(const std::string &text) {
  std::optional<IpAddress> ip = ParseIpAddress(text);
  EXPECT_TRUE(ip.has_value()) << text;
  return ip.value_or(IpAddress{});
}

TEST(ParseIpAddressTest, NumericFormsOnly) {
  EXPECT_EQ(Ip("10.0.0.1"), Ip("::ffff:10.0.0.1"));
  EXPECT_EQ(Ip("fe80::1%eth0"), Ip("fe80::1"));
  for (const char *not_ip : {"", "example.com", "10.0.0", "1.2.3.4.5",
                             "2130706433", "::g", "10.0.0.1/8"}) {
    EXPECT_FALSE(ParseIpAddress(not_ip).has_value()) << not_ip;
  }
  // The resolver's forms of IPv4, as in URLs.
  EXPECT_EQ(ParseIpAddress("2130706433", true), Ip("127.0.0.1"));
  EXPECT_EQ(ParseIpAddress("0x7f.1", true), Ip("127.0.0.1"));
  EXPECT_FALSE(ParseIpAddress("localhost", true).has_value());
}

TEST(ParseIpNetworkTest, CidrsAndSingleAddresses) {
  absl::StatusOr<IpNetwork> v4 = ParseIpNetwork(" 10.20.0.0/16 ");
  ASSERT_TRUE(v4.ok()) << v4.status();
  EXPECT_TRUE(v4->Contains(Ip("10.20.255.1")));
  EXPECT_FALSE(v4->Contains(Ip("10.21.0.1")));
  EXPECT_TRUE(v4->Contains(Ip("64:ff9b::a14:1"))); // NAT64 of 10.20.0.1

  absl::StatusOr<IpNetwork> host = ParseIpNetwork("192.0.2.7");
  ASSERT_TRUE(host.ok());
  EXPECT_TRUE(host->Contains(Ip("192.0.2.7")));
  EXPECT_FALSE(host->Contains(Ip("192.0.2.8")));

  absl::StatusOr<IpNetwork> v6 = ParseIpNetwork("fd00:1::/64");
  ASSERT_TRUE(v6.ok());
  EXPECT_TRUE(v6->Contains(Ip("fd00:1::abcd")));
  EXPECT_FALSE(v6->Contains(Ip("fd00:2::1")));

  absl::StatusOr<IpNetwork> all = ParseIpNetwork("0.0.0.0/0");
  ASSERT_TRUE(all.ok());
  EXPECT_TRUE(all->Contains(Ip("8.8.8.8")));
  EXPECT_FALSE(all->Contains(Ip("2001:db8::1"))); // IPv4 only
}

TEST(ParseIpNetworkTest, ErrorsSayWhatIsWrong) {
  for (const char *bad :
       {"10.0.0.0/33", "::/129", "10.0.0.0/", "10.0.0.0/-1", "10.0.0.0/8x",
        "example.com/8", "", "fe80::1%eth0/64"}) {
    absl::StatusOr<IpNetwork> n = ParseIpNetwork(bad);
    ASSERT_FALSE(n.ok()) << bad;
    EXPECT_EQ(n.status().code(), absl::StatusCode::kInvalidArgument);
  }
  EXPECT_THAT(std::string(ParseIpNetwork("10.0.0.0/33").status().message()),
              HasSubstr("prefix length (0 to 32)"));
  absl::StatusOr<std::vector<IpNetwork>> list =
      ParseIpNetworkList("10.0.0.0/8, ,fd00::/8,");
  ASSERT_TRUE(list.ok());
  EXPECT_EQ(list->size(), 2u);
  EXPECT_TRUE(ParseIpNetworkList("").value().empty());
  EXPECT_FALSE(ParseIpNetworkList("10.0.0.0/8,nope").ok());
}

TEST(ForbiddenAddressKindTest, KindsAndRules) {
  const AddressRules defaults;
  EXPECT_EQ(ForbiddenAddressKind(Ip("127.0.0.1"), defaults), "loopback");
  EXPECT_EQ(ForbiddenAddressKind(Ip("169.254.169.254"), defaults),
            "link-local");
  EXPECT_EQ(ForbiddenAddressKind(Ip("100.100.100.200"), defaults),
            "cloud metadata");
  EXPECT_EQ(ForbiddenAddressKind(Ip("fd00:ec2::254"), defaults),
            "cloud metadata");
  EXPECT_EQ(ForbiddenAddressKind(Ip("ff02::1"), defaults), "multicast");
  EXPECT_EQ(ForbiddenAddressKind(Ip("0.0.0.0"), defaults), "unspecified");
  EXPECT_EQ(ForbiddenAddressKind(Ip("250.0.0.1"), defaults), "reserved");
  EXPECT_EQ(ForbiddenAddressKind(Ip("10.0.0.1"), defaults), std::nullopt);
  EXPECT_EQ(ForbiddenAddressKind(Ip("10.0.0.1"), {.strict_private = true}),
            "private");
  EXPECT_EQ(ForbiddenAddressKind(Ip("::1"), {.allow_loopback = true}),
            std::nullopt);
}

} // namespace
} // namespace herald::common
