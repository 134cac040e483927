// Opaque page tokens and page sizes for the List RPCs (AIP-158).
//
// A token carries the offset of the next page and a fingerprint of the
// query that produced it (filters, ordering, parent: everything except
// page_size and page_token). A token presented with a different query, or
// altered, is refused, so clients cannot splice pages of different
// listings. Tokens are base64url (no padding) of a small versioned binary
// record: opaque to clients, stable across processes and replicas, and
// not secret.
#ifndef HERALD_SERVER_CORE_PAGE_TOKEN_H_
#define HERALD_SERVER_CORE_PAGE_TOKEN_H_

#include <cstdint>
#include <initializer_list>
#include <string>
#include <string_view>

#include "absl/status/statusor.h"

namespace herald::core {

// page_size 0 (unset) means this many items.
inline constexpr int kDefaultPageSize = 10;
// Larger page sizes are coerced to this.
inline constexpr int kMaxPageSize = 100;

// Returns the page size to use for a requested one: 0 gives
// kDefaultPageSize, values above kMaxPageSize give kMaxPageSize, negative
// values give kInvalidArgument "page_size must not be negative".
absl::StatusOr<int> NormalizePageSize(int requested);

// Returns the token that resumes a listing at `offset` (>= 0).
std::string EncodePageToken(int64_t offset, uint64_t query_fingerprint);

// Returns the offset carried by `token`. An empty token means the first
// page (offset 0). Garbage, a token of another version, a negative offset
// or a token issued for a different `query_fingerprint` give
// kInvalidArgument "invalid page_token".
absl::StatusOr<int64_t> DecodePageToken(std::string_view token,
                                        uint64_t query_fingerprint);

// A stable 64-bit fingerprint (FNV-1a over length-prefixed parts) of the
// parts of a list query, e.g. {"tasks", "execution=42", "status=Error"}.
// Unlike absl::Hash it is the same in every process and build, so a token
// issued by one replica is accepted by another. Not a cryptographic hash.
uint64_t QueryFingerprint(std::initializer_list<std::string_view> parts);

}  // namespace herald::core

#endif  // HERALD_SERVER_CORE_PAGE_TOKEN_H_
