#include "server/core/page_token.h"

#include "absl/status/status.h"
#include "absl/strings/escaping.h"

namespace herald::core {
namespace {

// Layout of a token before base64url: version, offset, fingerprint, the
// integers little-endian.
constexpr unsigned char kTokenVersion = 1;
constexpr size_t kTokenBytes = 1 + 8 + 8;

void PutU64(std::string& out, uint64_t v) {
  for (int i = 0; i < 8; ++i) out.push_back(static_cast<char>(v >> (8 * i)));
}

uint64_t GetU64(const std::string& in, size_t at) {
  uint64_t v = 0;
  for (int i = 0; i < 8; ++i) {
    v |= uint64_t{static_cast<unsigned char>(in[at + i])} << (8 * i);
  }
  return v;
}

absl::Status InvalidToken() {
  return absl::InvalidArgumentError("invalid page_token");
}

}  // namespace

absl::StatusOr<int> NormalizePageSize(int requested) {
  if (requested < 0) {
    return absl::InvalidArgumentError("page_size must not be negative");
  }
  if (requested == 0) return kDefaultPageSize;
  return requested > kMaxPageSize ? kMaxPageSize : requested;
}

std::string EncodePageToken(int64_t offset, uint64_t query_fingerprint) {
  std::string raw;
  raw.reserve(kTokenBytes);
  raw.push_back(static_cast<char>(kTokenVersion));
  PutU64(raw, static_cast<uint64_t>(offset));
  PutU64(raw, query_fingerprint);
  return absl::WebSafeBase64Escape(raw);
}

absl::StatusOr<int64_t> DecodePageToken(std::string_view token,
                                        uint64_t query_fingerprint) {
  if (token.empty()) return 0;
  // Base64 of 17 bytes is 23 characters unpadded; bound the work done on
  // hostile input before decoding.
  if (token.size() > 32) return InvalidToken();
  std::string raw;
  if (!absl::WebSafeBase64Unescape(
          absl::string_view(token.data(), token.size()), &raw) ||
      raw.size() != kTokenBytes ||
      static_cast<unsigned char>(raw[0]) != kTokenVersion) {
    return InvalidToken();
  }
  const auto offset = static_cast<int64_t>(GetU64(raw, 1));
  if (offset < 0 || GetU64(raw, 9) != query_fingerprint) {
    return InvalidToken();
  }
  // Only the canonical spelling is accepted (no padding or alternative
  // trailing bits), so a token maps to exactly one string.
  if (EncodePageToken(offset, query_fingerprint) != token) {
    return InvalidToken();
  }
  return offset;
}

uint64_t QueryFingerprint(std::initializer_list<std::string_view> parts) {
  constexpr uint64_t kOffsetBasis = 14695981039346656037ull;
  constexpr uint64_t kPrime = 1099511628211ull;
  uint64_t h = kOffsetBasis;
  auto mix = [&](unsigned char byte) {
    h ^= byte;
    h *= kPrime;
  };
  for (std::string_view part : parts) {
    // Length prefix: {"ab", "c"} and {"a", "bc"} differ.
    const uint64_t n = part.size();
    for (int i = 0; i < 8; ++i) mix(static_cast<unsigned char>(n >> (8 * i)));
    for (char c : part) mix(static_cast<unsigned char>(c));
  }
  return h;
}

}  // namespace herald::core
