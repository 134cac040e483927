// Re-derives the checked-in expected bytes with the real Go encoder: builds
// tests/vectors/gojson (Go's encoding/json plus the CloudEvents Go SDK that
// Harbor pins), runs it on every case and on the raw strings, and requires
// the output to equal the checked-in files that vectors_test.cc and
// json_writer_test.cc compare herald's renderers against. Skipped, with the
// reason, when no Go toolchain is installed.
#include <gtest/gtest.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <string>

#include "tests/unit/render/event_json.h"

namespace herald::render {
namespace {

namespace fs = std::filesystem;
using herald::testing::CaseNames;
using herald::testing::ReadFile;
using herald::testing::VectorsDir;

std::string FindGo() {
  const char* path = std::getenv("PATH");
  std::string dirs = path ? path : "";
  dirs += ":/usr/local/go/bin:/usr/lib/go/bin";
  size_t start = 0;
  while (start <= dirs.size()) {
    size_t end = dirs.find(':', start);
    if (end == std::string::npos) end = dirs.size();
    const fs::path candidate = fs::path(dirs.substr(start, end - start)) / "go";
    std::error_code ec;
    if (!candidate.parent_path().empty() &&
        fs::is_regular_file(candidate, ec)) {
      return candidate.string();
    }
    start = end + 1;
  }
  return "";
}

std::string Quote(const std::string& s) { return "'" + s + "'"; }

class GoCrossCheck : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    go_ = new std::string(FindGo());
    if (go_->empty()) return;
    // One directory per process: ctest runs each test in its own process,
    // possibly in parallel.
    out_ = new std::string(std::string(HERALD_TEST_BINARY_DIR) + "/gojson-" +
                           std::to_string(::getpid()));
    fs::remove_all(*out_);
    fs::create_directories(*out_);
    const std::string bin = *out_ + "/gojson";
    const std::string log = *out_ + "/build.log";
    // GOTOOLCHAIN=local: never download a toolchain; modules come from the
    // module cache or the module proxy.
    const std::string cmd = "cd " + Quote(VectorsDir() + "/gojson") +
                            " && GOTOOLCHAIN=local GOFLAGS=-mod=readonly " +
                            Quote(*go_) + " build -buildvcs=false -o " +
                            Quote(bin) + " . > " + Quote(log) + " 2>&1";
    build_ok_ = std::system(cmd.c_str()) == 0;
    build_log_ = new std::string(ReadFile(log));
    if (!build_ok_) return;
    const std::string run_cases = Quote(bin) + " cases " +
                                  Quote(VectorsDir() + "/cases") + " " +
                                  Quote(*out_) + " 2>> " + Quote(log);
    const std::string run_strings =
        Quote(bin) + " strings " +
        Quote(VectorsDir() + "/strings/strings.json") + " " +
        Quote(*out_ + "/strings.expected.json") + " 2>> " + Quote(log);
    run_ok_ = std::system(run_cases.c_str()) == 0 &&
              std::system(run_strings.c_str()) == 0;
  }

  static void TearDownTestSuite() {
    if (out_ != nullptr &&
        ::testing::UnitTest::GetInstance()->failed_test_count() == 0) {
      std::error_code ec;
      fs::remove_all(*out_, ec);
    }
  }

  void SetUp() override {
    if (go_->empty()) {
      GTEST_SKIP() << "no Go toolchain (go) on PATH or in /usr/local/go/bin: "
                      "the expected bytes cannot be re-derived with Go's "
                      "encoder here; vectors_test still checks herald "
                      "against the checked-in Go output";
    }
    ASSERT_TRUE(build_ok_) << "go build of tests/vectors/gojson failed:\n"
                           << *build_log_;
    ASSERT_TRUE(run_ok_) << "gojson failed:\n"
                         << ReadFile(*out_ + "/build.log");
  }

  static std::string* go_;
  static std::string* out_;
  static std::string* build_log_;
  static bool build_ok_;
  static bool run_ok_;
};

std::string* GoCrossCheck::go_ = nullptr;
std::string* GoCrossCheck::out_ = nullptr;
std::string* GoCrossCheck::build_log_ = nullptr;
bool GoCrossCheck::build_ok_ = false;
bool GoCrossCheck::run_ok_ = false;

TEST_F(GoCrossCheck, CheckedInCaseVectorsAreGoOutput) {
  const std::vector<std::string> names = CaseNames();
  ASSERT_FALSE(names.empty());
  for (const std::string& name : names) {
    for (const char* format : {"default", "cloudevents", "slack"}) {
      const std::string file = name + "." + format + ".json";
      EXPECT_EQ(ReadFile(*out_ + "/" + file),
                ReadFile(VectorsDir() + "/cases/" + file))
          << file << " differs from Go's output: regenerate with "
          << "tests/vectors/regenerate.sh and review the diff";
    }
  }
}

TEST_F(GoCrossCheck, CheckedInStringVectorsAreGoOutput) {
  EXPECT_EQ(ReadFile(*out_ + "/strings.expected.json"),
            ReadFile(VectorsDir() + "/strings/strings.expected.json"));
}

}  // namespace
}  // namespace herald::render
