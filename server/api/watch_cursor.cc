#include "server/api/watch_cursor.h"

#include "absl/strings/escaping.h"
#include "server/core/errors.h"

namespace herald::api {
namespace {

constexpr char kVersion = 'w';

}  // namespace

std::string EncodeWatchCursor(int64_t seq) {
  std::string raw(9, '\0');
  raw[0] = kVersion;
  for (int i = 0; i < 8; ++i) {
    raw[8 - i] = static_cast<char>((static_cast<uint64_t>(seq) >> (8 * i)) & 0xff);
  }
  return absl::WebSafeBase64Escape(raw);
}

absl::StatusOr<int64_t> DecodeWatchCursor(std::string_view cursor) {
  std::string raw;
  if (!absl::WebSafeBase64Unescape(absl::string_view(cursor.data(), cursor.size()),
                                   &raw) ||
      raw.size() != 9 || raw[0] != kVersion) {
    return core::InvalidFieldError(
        "cursor", "not a WatchTasks cursor (use TaskUpdate.cursor as given)");
  }
  uint64_t seq = 0;
  for (int i = 1; i <= 8; ++i) seq = (seq << 8) | static_cast<unsigned char>(raw[i]);
  if (static_cast<int64_t>(seq) < 0) {
    return core::InvalidFieldError("cursor", "out of range");
  }
  return static_cast<int64_t>(seq);
}

}  // namespace herald::api
