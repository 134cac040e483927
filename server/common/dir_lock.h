// Exclusive ownership of a data directory, so two heraldd processes never
// open the same SQLite database.
//
//   absl::StatusOr<DirLock> lock = DirLock::Acquire(config.data_dir);
//   if (!lock.ok()) { log::Error(...); return 1; }  // FailedPrecondition
//   ... keep `lock` alive until the store is closed ...
//
// The lock is a non-blocking exclusive flock(2) on <data_dir>/heraldd.lock,
// which the kernel drops when the process dies (even on kill -9), so a stale
// lock file never blocks a restart. The file holds the owner's pid for the
// error message; it is not removed on release (removing a flock'ed file
// races with a process that has just opened it).
//
// The lock is held per open file description: a second Acquire of the same
// directory fails even within one process. The descriptor is close-on-exec,
// so exec'd children do not inherit it; a fork()ed child shares it while it
// keeps the descriptor open.
#ifndef HERALD_SERVER_COMMON_DIR_LOCK_H_
#define HERALD_SERVER_COMMON_DIR_LOCK_H_

#include <string>

#include "absl/status/statusor.h"

namespace herald::common {

// Move-only RAII owner of a data directory lock. Thread-compatible.
class DirLock {
 public:
  // Creates `data_dir` (and missing parents) with mode 0700 if it does not
  // exist, then takes the lock without blocking and writes the pid.
  //
  // Errors:
  //   FailedPrecondition  "data directory ./var is in use by another heraldd
  //                       (pid 1234)" when another process (or another
  //                       DirLock in this one) holds it; "(pid unknown)" if
  //                       the owner has not written its pid yet.
  //   NotFound / PermissionDenied / Internal  if the directory or the lock
  //                       file cannot be created, or `data_dir` is not a
  //                       directory.
  static absl::StatusOr<DirLock> Acquire(const std::string& data_dir);

  DirLock(DirLock&& other) noexcept;
  DirLock& operator=(DirLock&& other) noexcept;
  DirLock(const DirLock&) = delete;
  DirLock& operator=(const DirLock&) = delete;
  // Releases the lock (truncating the pid) if still held.
  ~DirLock();

  // The directory as passed to Acquire.
  const std::string& data_dir() const { return data_dir_; }
  // <data_dir>/heraldd.lock.
  const std::string& lock_path() const { return lock_path_; }
  // False only for a moved-from DirLock.
  bool held() const { return fd_ >= 0; }

 private:
  DirLock(std::string data_dir, std::string lock_path, int fd)
      : data_dir_(std::move(data_dir)),
        lock_path_(std::move(lock_path)),
        fd_(fd) {}
  void Release();

  std::string data_dir_;
  std::string lock_path_;
  int fd_ = -1;
};

// Creates `path` and any missing parents with `mode` (like mkdir -p).
// Existing directories are left as they are. Errors name the path.
absl::Status MakeDirectories(const std::string& path, unsigned mode);

}  // namespace herald::common

#endif  // HERALD_SERVER_COMMON_DIR_LOCK_H_
