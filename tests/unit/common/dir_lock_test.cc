#include "server/common/dir_lock.h"

#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <string>

#include "absl/strings/str_cat.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "server/common/secret_file.h"
#include "tests/unit/common/temp_dir.h"

namespace herald::common {
namespace {

using ::testing::HasSubstr;

TEST(DirLockTest, CreatesMissingDirectoriesWithMode0700) {
  herald::testing::TempDir tmp;
  const std::string dir = tmp.Join("a/b/var");
  absl::StatusOr<DirLock> lock = DirLock::Acquire(dir);
  ASSERT_TRUE(lock.ok()) << lock.status();
  EXPECT_TRUE(lock->held());
  EXPECT_EQ(lock->data_dir(), dir);
  EXPECT_EQ(lock->lock_path(), dir + "/heraldd.lock");
  for (const std::string& d : {tmp.Join("a"), tmp.Join("a/b"), dir}) {
    struct stat st;
    ASSERT_EQ(::stat(d.c_str(), &st), 0) << d;
    EXPECT_TRUE(S_ISDIR(st.st_mode)) << d;
    EXPECT_EQ(st.st_mode & 0777, 0700u) << d;
  }
}

TEST(DirLockTest, LockFileHoldsThePid) {
  herald::testing::TempDir tmp;
  absl::StatusOr<DirLock> lock = DirLock::Acquire(tmp.path());
  ASSERT_TRUE(lock.ok()) << lock.status();
  EXPECT_EQ(*ReadFileToString(lock->lock_path()),
            absl::StrCat(::getpid(), "\n"));
}

TEST(DirLockTest, SecondAcquireInTheSameProcessFails) {
  herald::testing::TempDir tmp;
  absl::StatusOr<DirLock> first = DirLock::Acquire(tmp.path());
  ASSERT_TRUE(first.ok()) << first.status();
  absl::StatusOr<DirLock> second = DirLock::Acquire(tmp.path());
  ASSERT_FALSE(second.ok());
  EXPECT_EQ(second.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_EQ(
      second.status().message(),
      absl::StrCat("data directory ", tmp.path(),
                   " is in use by another heraldd (pid ", ::getpid(), ")"));
}

TEST(DirLockTest, ReleasedOnDestruction) {
  herald::testing::TempDir tmp;
  { ASSERT_TRUE(DirLock::Acquire(tmp.path()).ok()); }
  absl::StatusOr<DirLock> again = DirLock::Acquire(tmp.path());
  EXPECT_TRUE(again.ok()) << again.status();
}

TEST(DirLockTest, ReleaseClearsThePid) {
  herald::testing::TempDir tmp;
  std::string path;
  {
    absl::StatusOr<DirLock> lock = DirLock::Acquire(tmp.path());
    ASSERT_TRUE(lock.ok());
    path = lock->lock_path();
  }
  EXPECT_EQ(*ReadFileToString(path), "");
}

TEST(DirLockTest, MoveTransfersOwnership) {
  herald::testing::TempDir tmp;
  absl::StatusOr<DirLock> lock = DirLock::Acquire(tmp.path());
  ASSERT_TRUE(lock.ok());
  DirLock moved = *std::move(lock);
  EXPECT_TRUE(moved.held());
  EXPECT_FALSE(lock->held());  // NOLINT(bugprone-use-after-move)
  EXPECT_FALSE(DirLock::Acquire(tmp.path()).ok());

  herald::testing::TempDir other;
  absl::StatusOr<DirLock> other_lock = DirLock::Acquire(other.path());
  ASSERT_TRUE(other_lock.ok());
  moved = *std::move(other_lock);  // releases tmp's lock
  EXPECT_EQ(moved.data_dir(), other.path());
  EXPECT_TRUE(DirLock::Acquire(tmp.path()).ok());
  EXPECT_FALSE(DirLock::Acquire(other.path()).ok());
}

TEST(DirLockTest, DataDirThatIsAFileIsAnError) {
  herald::testing::TempDir tmp;
  const std::string file = tmp.Join("file");
  ASSERT_TRUE(WriteFileAtomically(file, "x", 0600).ok());
  absl::StatusOr<DirLock> lock = DirLock::Acquire(file);
  ASSERT_FALSE(lock.ok());
  EXPECT_THAT(lock.status().message(), HasSubstr(file));
}

// The child process takes the lock and holds it; the parent must be refused
// with an error naming the child's pid, and succeed once the child exits.
TEST(DirLockTest, AnotherProcessHoldingTheLockIsNamedByPid) {
  herald::testing::TempDir tmp;
  int ready[2], release[2];
  ASSERT_EQ(::pipe(ready), 0);
  ASSERT_EQ(::pipe(release), 0);
  const pid_t child = ::fork();
  ASSERT_GE(child, 0);
  if (child == 0) {
    ::close(ready[0]);
    ::close(release[1]);
    absl::StatusOr<DirLock> lock = DirLock::Acquire(tmp.path());
    const char ok = lock.ok() ? '1' : '0';
    (void)!::write(ready[1], &ok, 1);
    char c;
    (void)!::read(release[0], &c, 1);  // hold until the parent says so
    ::_exit(lock.ok() ? 0 : 1);
  }
  ::close(ready[1]);
  ::close(release[0]);
  char ok = 0;
  ASSERT_EQ(::read(ready[0], &ok, 1), 1);
  ASSERT_EQ(ok, '1') << "child could not take the lock";

  absl::StatusOr<DirLock> lock = DirLock::Acquire(tmp.path());
  ASSERT_FALSE(lock.ok());
  EXPECT_EQ(lock.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_EQ(lock.status().message(),
            absl::StrCat("data directory ", tmp.path(),
                         " is in use by another heraldd (pid ", child, ")"));

  ::close(release[1]);  // child exits, the kernel drops its lock
  int status = 0;
  ASSERT_EQ(::waitpid(child, &status, 0), child);
  EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0);
  ::close(ready[0]);

  absl::StatusOr<DirLock> after = DirLock::Acquire(tmp.path());
  EXPECT_TRUE(after.ok()) << after.status();
}

// kill -9 leaves the lock file behind, but not the lock.
TEST(DirLockTest, StaleLockFileFromAKilledProcessDoesNotBlock) {
  herald::testing::TempDir tmp;
  int ready[2];
  ASSERT_EQ(::pipe(ready), 0);
  const pid_t child = ::fork();
  ASSERT_GE(child, 0);
  if (child == 0) {
    ::close(ready[0]);
    absl::StatusOr<DirLock> lock = DirLock::Acquire(tmp.path());
    (void)!::write(ready[1], "x", 1);
    for (;;) ::pause();
  }
  ::close(ready[1]);
  char c;
  ASSERT_EQ(::read(ready[0], &c, 1), 1);
  ::close(ready[0]);
  ::kill(child, SIGKILL);
  ::waitpid(child, nullptr, 0);
  absl::StatusOr<DirLock> lock = DirLock::Acquire(tmp.path());
  EXPECT_TRUE(lock.ok()) << lock.status();
}

}  // namespace
}  // namespace herald::common
