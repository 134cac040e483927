// WatchTasks cursors: opaque strings wrapping a task update sequence number.
#ifndef HERALD_SERVER_API_WATCH_CURSOR_H_
#define HERALD_SERVER_API_WATCH_CURSOR_H_

#include <cstdint>
#include <string>
#include <string_view>

#include "absl/status/statusor.h"

namespace herald::api {

std::string EncodeWatchCursor(int64_t seq);
// INVALID_ARGUMENT (field "cursor") for anything EncodeWatchCursor did not
// produce.
absl::StatusOr<int64_t> DecodeWatchCursor(std::string_view cursor);

}  // namespace herald::api

#endif  // HERALD_SERVER_API_WATCH_CURSOR_H_
