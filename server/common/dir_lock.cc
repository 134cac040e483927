#include "server/common/dir_lock.h"

#include <fcntl.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <utility>

#include "absl/strings/ascii.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "server/common/secret_file.h"

namespace herald::common {
namespace {

// Reads the pid the current owner wrote, or "" if there is none yet.
std::string ReadOwnerPid(int fd) {
  char buf[32];
  ssize_t n;
  do {
    n = ::pread(fd, buf, sizeof(buf) - 1, 0);
  } while (n < 0 && errno == EINTR);
  if (n <= 0) return "";
  const absl::string_view text = absl::StripAsciiWhitespace(
      absl::string_view(buf, static_cast<size_t>(n)));
  int64_t pid;
  if (!absl::SimpleAtoi(text, &pid) || pid <= 0) return "";
  return absl::StrCat(pid);
}

}  // namespace

absl::Status MakeDirectories(const std::string& path, unsigned mode) {
  if (path.empty()) return absl::InvalidArgumentError("empty directory path");
  // Create each component in turn; EEXIST is fine for every one of them.
  for (size_t pos = 1; pos <= path.size(); ++pos) {
    if (pos != path.size() && path[pos] != '/') continue;
    if (path[pos - 1] == '/') continue;  // "a//b" or a trailing '/'
    const std::string prefix = path.substr(0, pos);
    if (::mkdir(prefix.c_str(), mode) != 0 && errno != EEXIST) {
      return ErrnoToStatus(errno, absl::StrCat("create directory ", prefix));
    }
  }
  struct stat st;
  if (::stat(path.c_str(), &st) != 0) {
    return ErrnoToStatus(errno, absl::StrCat("stat ", path));
  }
  if (!S_ISDIR(st.st_mode)) {
    return absl::FailedPreconditionError(
        absl::StrCat(path, " exists and is not a directory"));
  }
  return absl::OkStatus();
}

absl::StatusOr<DirLock> DirLock::Acquire(const std::string& data_dir) {
  if (absl::Status s = MakeDirectories(data_dir, 0700); !s.ok()) return s;
  std::string lock_path = absl::StrCat(data_dir, "/heraldd.lock");
  int fd;
  do {
    fd = ::open(lock_path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0600);
  } while (fd < 0 && errno == EINTR);
  if (fd < 0) return ErrnoToStatus(errno, absl::StrCat("open ", lock_path));

  int rc;
  do {
    rc = ::flock(fd, LOCK_EX | LOCK_NB);
  } while (rc != 0 && errno == EINTR);
  if (rc != 0) {
    const int err = errno;
    if (err == EWOULDBLOCK) {
      const std::string pid = ReadOwnerPid(fd);
      ::close(fd);
      return absl::FailedPreconditionError(absl::StrCat(
          "data directory ", data_dir, " is in use by another heraldd (pid ",
          pid.empty() ? "unknown" : pid, ")"));
    }
    ::close(fd);
    return ErrnoToStatus(err, absl::StrCat("lock ", lock_path));
  }

  const std::string pid = absl::StrCat(::getpid(), "\n");
  if (::ftruncate(fd, 0) != 0 || ::pwrite(fd, pid.data(), pid.size(), 0) !=
                                     static_cast<ssize_t>(pid.size())) {
    const int err = errno;
    ::close(fd);
    return ErrnoToStatus(err, absl::StrCat("write ", lock_path));
  }
  return DirLock(data_dir, std::move(lock_path), fd);
}

DirLock::DirLock(DirLock&& other) noexcept
    : data_dir_(std::move(other.data_dir_)),
      lock_path_(std::move(other.lock_path_)),
      fd_(std::exchange(other.fd_, -1)) {}

DirLock& DirLock::operator=(DirLock&& other) noexcept {
  if (this != &other) {
    Release();
    data_dir_ = std::move(other.data_dir_);
    lock_path_ = std::move(other.lock_path_);
    fd_ = std::exchange(other.fd_, -1);
  }
  return *this;
}

DirLock::~DirLock() { Release(); }

void DirLock::Release() {
  if (fd_ < 0) return;
  // Clear the pid while still holding the lock, so nobody reads a stale one.
  (void)::ftruncate(fd_, 0);
  ::close(fd_);  // drops the flock
  fd_ = -1;
}

}  // namespace herald::common
