// Small file helpers: atomic replacement of a file's contents (for the
// bootstrap admin token, the address file, ...) and reading a whole file.
//
// All functions are thread-safe (they share no state) and retry on EINTR.
#ifndef HERALD_SERVER_COMMON_SECRET_FILE_H_
#define HERALD_SERVER_COMMON_SECRET_FILE_H_

#include <sys/types.h>

#include <string>
#include <string_view>

#include "absl/status/status.h"
#include "absl/status/statusor.h"

namespace herald::common {

// Replaces `path` with `contents`, atomically: readers see either the old
// file or the complete new one, never a partial write. Writes a temporary
// file next to `path` (created with O_EXCL and exactly `mode`, regardless of
// the umask), fsyncs it, renames it over `path` and fsyncs the directory. The
// directory must exist. On failure the temporary file is removed and `path`
// is left as it was.
//
// Errors carry the path and strerror: NotFound (missing directory),
// PermissionDenied, or Internal for other I/O failures.
absl::Status WriteFileAtomically(const std::string& path,
                                 std::string_view contents, mode_t mode);

// WriteFileAtomically with mode 0600: for tokens and other secrets. The
// secret is never readable by other users, not even briefly.
absl::Status WriteSecretFile(const std::string& path,
                             std::string_view contents);

// The whole contents of `path`. Errors: NotFound, PermissionDenied, or
// Internal (e.g. a directory), each naming the path.
absl::StatusOr<std::string> ReadFileToString(const std::string& path);

// An absl::Status for a failed system call: code chosen from `errno_value`
// (ENOENT -> NotFound, EACCES/EPERM -> PermissionDenied, EEXIST ->
// AlreadyExists, otherwise Internal), message "<what>: <strerror>".
absl::Status ErrnoToStatus(int errno_value, std::string_view what);

}  // namespace herald::common

#endif  // HERALD_SERVER_COMMON_SECRET_FILE_H_
