#include "server/common/secret_file.h"

#include <dirent.h>
#include <sys/stat.h>

#include <string>
#include <thread>
#include <vector>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/unit/common/temp_dir.h"

namespace herald::common {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::UnorderedElementsAre;

mode_t ModeOf(const std::string& path) {
  struct stat st;
  EXPECT_EQ(::stat(path.c_str(), &st), 0) << path;
  return st.st_mode & 07777;
}

std::vector<std::string> ListDir(const std::string& dir) {
  std::vector<std::string> names;
  DIR* d = ::opendir(dir.c_str());
  if (d == nullptr) return names;
  while (dirent* e = ::readdir(d)) {
    const std::string name = e->d_name;
    if (name != "." && name != "..") names.push_back(name);
  }
  ::closedir(d);
  return names;
}

// Sets the umask for one test.
class ScopedUmask {
 public:
  explicit ScopedUmask(mode_t mask) : old_(::umask(mask)) {}
  ~ScopedUmask() { ::umask(old_); }

 private:
  mode_t old_;
};

TEST(SecretFileTest, WritesContentsWithMode0600) {
  herald::testing::TempDir tmp;
  ScopedUmask umask(0);  // a permissive umask must not widen the mode
  const std::string path = tmp.Join("admin.token");
  ASSERT_TRUE(WriteSecretFile(path, "hrld_secret").ok());
  EXPECT_EQ(ModeOf(path), 0600u);
  EXPECT_EQ(*ReadFileToString(path), "hrld_secret");
  EXPECT_THAT(ListDir(tmp.path()), ElementsAre("admin.token"));
}

TEST(SecretFileTest, ReplacesAnExistingWiderFile) {
  herald::testing::TempDir tmp;
  const std::string path = tmp.Join("admin.token");
  ASSERT_TRUE(WriteFileAtomically(path, "old", 0644).ok());
  EXPECT_EQ(ModeOf(path), 0644u);
  ASSERT_TRUE(WriteSecretFile(path, "new").ok());
  EXPECT_EQ(ModeOf(path), 0600u);
  EXPECT_EQ(*ReadFileToString(path), "new");
  EXPECT_THAT(ListDir(tmp.path()), ElementsAre("admin.token"));
}

TEST(SecretFileTest, ExactModeDespiteRestrictiveUmask) {
  herald::testing::TempDir tmp;
  ScopedUmask umask(077);
  const std::string path = tmp.Join("addr");
  ASSERT_TRUE(WriteFileAtomically(path, "127.0.0.1:1234", 0644).ok());
  EXPECT_EQ(ModeOf(path), 0644u);
}

TEST(SecretFileTest, EmptyAndBinaryContents) {
  herald::testing::TempDir tmp;
  const std::string path = tmp.Join("f");
  ASSERT_TRUE(WriteSecretFile(path, "").ok());
  EXPECT_EQ(*ReadFileToString(path), "");
  const std::string binary("a\0b\xff\n", 5);
  ASSERT_TRUE(WriteSecretFile(path, binary).ok());
  EXPECT_EQ(*ReadFileToString(path), binary);
  const std::string big(1 << 20, 'z');
  ASSERT_TRUE(WriteSecretFile(path, big).ok());
  EXPECT_EQ(*ReadFileToString(path), big);
}

TEST(SecretFileTest, MissingDirectoryIsNotFoundAndLeavesNothing) {
  herald::testing::TempDir tmp;
  const absl::Status s = WriteSecretFile(tmp.Join("no/such/file"), "x");
  EXPECT_EQ(s.code(), absl::StatusCode::kNotFound);
  EXPECT_THAT(s.message(), HasSubstr("no/such/file"));
  EXPECT_TRUE(ListDir(tmp.path()).empty());
}

TEST(SecretFileTest, FailedRenameRemovesTheTemporaryFile) {
  herald::testing::TempDir tmp;
  const std::string target = tmp.Join("dir");
  ASSERT_EQ(::mkdir(target.c_str(), 0700), 0);
  ASSERT_EQ(::mkdir((target + "/child").c_str(), 0700), 0);
  // rename(2) cannot replace a non-empty directory with a file.
  EXPECT_FALSE(WriteSecretFile(target, "x").ok());
  EXPECT_THAT(ListDir(tmp.path()), ElementsAre("dir"));
}

TEST(SecretFileTest, ConcurrentWritersNeverLeavePartialFiles) {
  herald::testing::TempDir tmp;
  const std::string path = tmp.Join("f");
  const std::string a(100000, 'a'), b(100000, 'b');
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < 20; ++i) {
        ASSERT_TRUE(WriteSecretFile(path, t % 2 ? a : b).ok());
        absl::StatusOr<std::string> got = ReadFileToString(path);
        ASSERT_TRUE(got.ok());
        ASSERT_TRUE(*got == a || *got == b);
      }
    });
  }
  for (auto& th : threads) th.join();
  EXPECT_THAT(ListDir(tmp.path()), ElementsAre("f"));
}

TEST(ReadFileToStringTest, Errors) {
  herald::testing::TempDir tmp;
  absl::StatusOr<std::string> missing = ReadFileToString(tmp.Join("nope"));
  EXPECT_EQ(missing.status().code(), absl::StatusCode::kNotFound);
  EXPECT_THAT(missing.status().message(), HasSubstr("nope"));
  EXPECT_FALSE(ReadFileToString(tmp.path()).ok());  // a directory
}

TEST(ErrnoToStatusTest, MapsCommonErrors) {
  EXPECT_EQ(ErrnoToStatus(ENOENT, "open x").code(),
            absl::StatusCode::kNotFound);
  EXPECT_EQ(ErrnoToStatus(EACCES, "open x").code(),
            absl::StatusCode::kPermissionDenied);
  EXPECT_EQ(ErrnoToStatus(EEXIST, "open x").code(),
            absl::StatusCode::kAlreadyExists);
  EXPECT_EQ(ErrnoToStatus(EIO, "open x").code(), absl::StatusCode::kInternal);
  EXPECT_THAT(ErrnoToStatus(ENOENT, "open x").message(),
              HasSubstr("open x: No such file or directory"));
}

}  // namespace
}  // namespace herald::common
