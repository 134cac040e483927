#include "server/core/page_token.h"

#include <cstdint>
#include <limits>
#include <string>

#include "gtest/gtest.h"

namespace herald::core {
namespace {

TEST(NormalizePageSizeTest, ZeroMeansDefault) {
  EXPECT_EQ(NormalizePageSize(0).value(), 10);
}

TEST(NormalizePageSizeTest, InRangeIsKept) {
  EXPECT_EQ(NormalizePageSize(1).value(), 1);
  EXPECT_EQ(NormalizePageSize(57).value(), 57);
  EXPECT_EQ(NormalizePageSize(100).value(), 100);
}

TEST(NormalizePageSizeTest, AboveMaxIsCoerced) {
  EXPECT_EQ(NormalizePageSize(101).value(), 100);
  EXPECT_EQ(NormalizePageSize(std::numeric_limits<int>::max()).value(), 100);
}

TEST(NormalizePageSizeTest, NegativeIsInvalidArgument) {
  for (int v : {-1, std::numeric_limits<int>::min()}) {
    absl::StatusOr<int> s = NormalizePageSize(v);
    ASSERT_FALSE(s.ok());
    EXPECT_EQ(s.status().code(), absl::StatusCode::kInvalidArgument);
    EXPECT_EQ(s.status().message(), "page_size must not be negative");
  }
}

TEST(PageTokenTest, RoundTrips) {
  const uint64_t fp = QueryFingerprint({"tasks", "execution=7"});
  for (int64_t offset : {int64_t{0}, int64_t{10}, int64_t{123456789},
                         std::numeric_limits<int64_t>::max()}) {
    const std::string token = EncodePageToken(offset, fp);
    EXPECT_FALSE(token.empty());
    absl::StatusOr<int64_t> decoded = DecodePageToken(token, fp);
    ASSERT_TRUE(decoded.ok()) << decoded.status();
    EXPECT_EQ(*decoded, offset);
  }
}

TEST(PageTokenTest, IsUrlSafeAndOpaque) {
  const std::string token = EncodePageToken(20, ~uint64_t{0});
  EXPECT_EQ(token.find_first_not_of(
                "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
                "0123456789-_"),
            std::string::npos)
      << token;
  EXPECT_EQ(token.find("20"), std::string::npos);
}

TEST(PageTokenTest, EmptyTokenIsFirstPage) {
  EXPECT_EQ(DecodePageToken("", 42).value(), 0);
}

void ExpectInvalid(std::string_view token, uint64_t fp) {
  absl::StatusOr<int64_t> decoded = DecodePageToken(token, fp);
  ASSERT_FALSE(decoded.ok()) << token;
  EXPECT_EQ(decoded.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(decoded.status().message(), "invalid page_token");
}

TEST(PageTokenTest, TokenFromAnotherQueryIsRejected) {
  const uint64_t a = QueryFingerprint({"executions", "policy=1"});
  const uint64_t b = QueryFingerprint({"executions", "policy=2"});
  ASSERT_NE(a, b);
  ExpectInvalid(EncodePageToken(10, a), b);
}

TEST(PageTokenTest, GarbageIsRejected) {
  const uint64_t fp = 99;
  ExpectInvalid("garbage", fp);
  ExpectInvalid("!!!!", fp);
  ExpectInvalid("AAAA", fp);
  ExpectInvalid(std::string(1000, 'A'), fp);
  // Tampered: flip one character of the fingerprint or the version. (The
  // offset is not authenticated: a crafted offset only selects another
  // page of the same listing, which the caller may read anyway.)
  std::string token = EncodePageToken(10, fp);
  token[15] = token[15] == 'A' ? 'B' : 'A';
  ExpectInvalid(token, fp);
  token = EncodePageToken(10, fp);
  token[0] = token[0] == 'A' ? 'B' : 'A';
  ExpectInvalid(token, fp);
  // Padded or truncated spellings are not canonical.
  ExpectInvalid(EncodePageToken(10, fp) + "=", fp);
  ExpectInvalid(EncodePageToken(10, fp).substr(1), fp);
}

TEST(PageTokenTest, NegativeOffsetIsRejected) {
  ExpectInvalid(EncodePageToken(-1, 5), 5);
}

TEST(QueryFingerprintTest, StableAndPartAware) {
  // FNV-1a is fixed: the value never changes between builds.
  EXPECT_EQ(QueryFingerprint({}), 14695981039346656037ull);
  EXPECT_EQ(QueryFingerprint({"a", "b"}), QueryFingerprint({"a", "b"}));
  EXPECT_NE(QueryFingerprint({"ab", "c"}), QueryFingerprint({"a", "bc"}));
  EXPECT_NE(QueryFingerprint({"a", ""}), QueryFingerprint({"a"}));
}

}  // namespace
}  // namespace herald::core
