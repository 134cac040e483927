// The page-size/page-token handling every List RPC shares.
#ifndef HERALD_SERVER_API_PAGINATION_H_
#define HERALD_SERVER_API_PAGINATION_H_

#include <cstdint>
#include <string>

#include "absl/status/statusor.h"
#include "server/store/store.h"

namespace herald::api {

// One page of a list query: where it starts, how big it is, and the query
// fingerprint its tokens are bound to.
struct PageCursor {
  store::Page page;
  uint64_t fingerprint = 0;

  // The token of the page after one that returned `returned` of `total`
  // items; "" when this page was the last.
  std::string NextToken(size_t returned, int64_t total) const;
};

// Checks page_size (0 = 10, above 100 coerced, negative refused) and
// page_token (must come from the same query). INVALID_ARGUMENT naming
// "page_size" or "page_token".
absl::StatusOr<PageCursor> StartPage(int32_t page_size,
                                     const std::string& page_token,
                                     uint64_t fingerprint);

}  // namespace herald::api

#endif  // HERALD_SERVER_API_PAGINATION_H_
