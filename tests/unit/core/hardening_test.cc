// Hardening rules in core: literal target addresses herald never delivers
// to are refused at policy validation (SSRF), and the token-bucket
// RateLimiter behind publish_rate_limit.
#include <string>
#include <thread>
#include <vector>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "server/core/clock.h"
#include "server/core/policy_validation.h"
#include "server/core/rate_limiter.h"

namespace herald::core {
namespace {

using ::testing::HasSubstr;
using ::testing::IsEmpty;
using ::testing::Not;

std::vector<FieldViolation> ValidateAddress(const std::string& address,
                                            const common::AddressRules& rules = {}) {
  Policy p;
  p.project_id = 1;
  p.name = "ssrf";
  p.event_types = {"PUSH_ARTIFACT"};
  Target t;
  t.type = TargetType::kHttp;
  t.address = address;
  p.targets = {t};
  return ValidatePolicy(p, {"PUSH_ARTIFACT"}, rules);
}

TEST(PolicySsrfTest, RefusesLiteralAddressesHeraldNeverDeliversTo) {
  for (const char* address : {
           "http://169.254.169.254/latest/meta-data",
           "http://169.254.1.1:8080/x",
           "http://2852039166/",             // 169.254.169.254 as one number
           "http://0xa9.0xfe.0xa9.0xfe/",    // ... in hex
           "http://100.100.100.200/",        // Alibaba metadata
           "http://0.0.0.0:80/",
           "http://224.0.0.1/",
           "http://255.255.255.255/",
           "http://[fe80::1]/",
           "http://[::ffff:169.254.169.254]/",
           "http://[fd00:ec2::254]/",
           "http://[ff02::1]/",
           "http://[::]/",
       }) {
    std::vector<FieldViolation> v = ValidateAddress(address);
    ASSERT_EQ(v.size(), 1u) << address;
    EXPECT_EQ(v[0].field, "policy.targets[0].address") << address;
    EXPECT_THAT(v[0].description,
                HasSubstr("which herald does not deliver to (SSRF guard"))
        << address;
  }
  EXPECT_THAT(ValidateAddress("http://169.254.169.254/")[0].description,
              HasSubstr("is a link-local address"));
}

TEST(PolicySsrfTest, AcceptsNamesAndPrivateAddresses) {
  // Names are judged after DNS, by the connect guard at delivery.
  for (const char* address : {
           "http://10.0.0.5/", "http://192.168.1.1/",
           "https://hooks.example.com/x", "http://metadata.google.internal/",
           "http://169.254.example/", "http://1.2.3.4/", "http://localhost:8080/",
       }) {
    EXPECT_THAT(ValidateAddress(address), IsEmpty()) << address;
  }
}

TEST(PolicySsrfTest, LoopbackAndPrivateFollowTheConfiguration) {
  const common::AddressRules loopback_allowed{.allow_loopback = true};
  const common::AddressRules strict{.strict_private = true};
  for (const char* address : {"http://127.0.0.1:8080/hook", "http://[::1]:8080/",
                              "http://2130706433/"}) {  // 127.0.0.1 as a number
    std::vector<FieldViolation> v = ValidateAddress(address);
    ASSERT_EQ(v.size(), 1u) << address;
    EXPECT_THAT(v[0].description, HasSubstr("is a loopback address")) << address;
    EXPECT_THAT(ValidateAddress(address, loopback_allowed), IsEmpty()) << address;
  }
  EXPECT_THAT(ValidateAddress("http://10.0.0.5/", strict)[0].description,
              HasSubstr("is a private address"));
  common::AddressRules allowed = strict;
  allowed.allowed = *common::ParseIpNetworkList("10.0.0.0/24,127.0.0.1");
  EXPECT_THAT(ValidateAddress("http://10.0.0.5/", allowed), IsEmpty());
  EXPECT_THAT(ValidateAddress("http://127.0.0.1/", allowed), IsEmpty());
  EXPECT_THAT(ValidateAddress("http://10.0.1.5/", allowed), Not(IsEmpty()));
}

TEST(RateLimiterTest, BurstThenRate) {
  FakeClock clock;
  RateLimiter limiter(/*rate=*/10, /*burst=*/5, &clock);
  for (int i = 0; i < 5; ++i) EXPECT_FALSE(limiter.TryAcquire(1)) << i;
  std::optional<absl::Duration> wait = limiter.TryAcquire(1);
  ASSERT_TRUE(wait.has_value());
  EXPECT_EQ(*wait, absl::Milliseconds(100));
  // Another key has its own bucket.
  EXPECT_FALSE(limiter.TryAcquire(2));
  clock.Advance(absl::Milliseconds(50));
  EXPECT_EQ(*limiter.TryAcquire(1), absl::Milliseconds(50));
  clock.Advance(absl::Milliseconds(50));
  EXPECT_FALSE(limiter.TryAcquire(1));
  EXPECT_TRUE(limiter.TryAcquire(1));
  // Idle time refills up to the burst, not beyond.
  clock.Advance(absl::Hours(1));
  for (int i = 0; i < 5; ++i) EXPECT_FALSE(limiter.TryAcquire(1)) << i;
  EXPECT_TRUE(limiter.TryAcquire(1));
}

TEST(RateLimiterTest, ConcurrentCallersNeverExceedTheBurst) {
  FakeClock clock;
  RateLimiter limiter(1, 100, &clock);
  std::atomic<int> allowed{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < 8; ++t) {
    threads.emplace_back([&] {
      for (int i = 0; i < 1000; ++i) {
        if (!limiter.TryAcquire(7)) ++allowed;
      }
    });
  }
  for (auto& t : threads) t.join();
  EXPECT_EQ(allowed.load(), 100);
}

}  // namespace
}  // namespace herald::core
