#include "server/api/pagination.h"

#include "server/core/errors.h"
#include "server/core/page_token.h"

namespace herald::api {

std::string PageCursor::NextToken(size_t returned, int64_t total) const {
  const int64_t next = page.offset + static_cast<int64_t>(returned);
  if (returned == 0 || next >= total) return "";
  return core::EncodePageToken(next, fingerprint);
}

absl::StatusOr<PageCursor> StartPage(int32_t page_size,
                                     const std::string& page_token,
                                     uint64_t fingerprint) {
  absl::StatusOr<int> size = core::NormalizePageSize(page_size);
  if (!size.ok()) {
    return core::InvalidFieldError("page_size",
                                   std::string(size.status().message()));
  }
  PageCursor cursor;
  cursor.fingerprint = fingerprint;
  cursor.page.limit = *size;
  if (!page_token.empty()) {
    absl::StatusOr<int64_t> offset =
        core::DecodePageToken(page_token, fingerprint);
    if (!offset.ok()) {
      return core::InvalidFieldsError(
          {{"page_token", "not a next_page_token of this query (same "
                          "filters, same caller)"}},
          core::reason::kInvalidPageToken);
    }
    cursor.page.offset = *offset;
  }
  return cursor;
}

}  // namespace herald::api
