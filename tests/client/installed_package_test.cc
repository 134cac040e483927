// The client as an outside project sees it: `cmake --install` the
// herald_client component into a temporary prefix, configure and build
// client/examples with find_package(herald) against that prefix only, and
// run the example (and the installed heraldctl) against a real heraldd.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <filesystem>

#include "absl/strings/str_cat.h"
#include "tests/client/subprocess.h"
#include "tests/integration/heraldd_process.h"

namespace herald::testing {
namespace {

using ::testing::HasSubstr;
namespace fs = std::filesystem;

TEST(InstalledPackage, ExampleBuildsAgainstTheInstalledPackageAndRuns) {
  const std::string root = MakeTempDir("herald-install");
  const std::string prefix = root + "/prefix";
  const std::string build = root + "/example-build";
  RunOptions slow;
  slow.timeout = absl::Minutes(10);

  RunResult install = RunProgram({CMAKE_COMMAND_PATH, "--install", HERALD_BINARY_DIR, "--prefix",
                           prefix, "--component", "herald_client"},
                          slow);
  ASSERT_EQ(install.exit_code, 0) << install.out << install.err;
  for (const char* file : {"lib/cmake/herald/heraldConfig.cmake",
                           "lib/cmake/herald/heraldConfigVersion.cmake",
                           "lib/cmake/herald/heraldTargets.cmake",
                           "include/herald/client/client.h",
                           "include/herald/client/mocks/mock_connection.h",
                           "include/herald/gen/herald/v1/policy_service.grpc.pb.h",
                           "include/herald/gen/google/rpc/status.pb.h", "bin/heraldctl"}) {
    EXPECT_TRUE(fs::exists(fs::path(prefix) / file) ||
                fs::exists(fs::path(prefix) / "lib" / file))
        << file;
  }
  // Nothing of the server is part of the package.
  EXPECT_FALSE(fs::exists(fs::path(prefix) / "bin/heraldd"));
  EXPECT_FALSE(fs::exists(fs::path(prefix) / "include/herald/gen/herald/v1/policy_service_mock.grpc.pb.h"));

  RunResult configure =
      RunProgram({CMAKE_COMMAND_PATH, "-S", std::string(HERALD_SOURCE_DIR) + "/client/examples", "-B",
           build, "-G", HERALD_CMAKE_GENERATOR, "-DCMAKE_BUILD_TYPE=Release",
           "-DCMAKE_PREFIX_PATH=" + prefix},
          slow);
  ASSERT_EQ(configure.exit_code, 0) << configure.out << configure.err;
  RunResult compile = RunProgram({CMAKE_COMMAND_PATH, "--build", build, "-j2"}, slow);
  ASSERT_EQ(compile.exit_code, 0) << compile.out << compile.err;

  auto server = HeralddProcess::Start();
  ASSERT_TRUE(server.ok()) << server.status();
  RunOptions env;
  env.env = {{"HERALD_ADDR", (*server)->address()},
             {"HERALD_TOKEN", ""},
             {"HERALD_TOKEN_FILE", (*server)->data_dir() + "/admin.token"}};
  RunResult example = RunProgram({build + "/herald_example"}, env);
  EXPECT_EQ(example.exit_code, 0) << example.out << example.err;
  EXPECT_THAT(example.out, HasSubstr("created policy 1 example-"));
  EXPECT_THAT(example.out, HasSubstr("listed 1 policies"));
  EXPECT_THAT(example.out, HasSubstr("published event 1, 1 deliveries"));
  EXPECT_THAT(example.out, HasSubstr("missing policy: NOT_FOUND"));
  EXPECT_THAT(example.out, HasSubstr("signature: valid"));

  RunResult ctl = RunProgram({prefix + "/bin/heraldctl", "info"}, env);
  EXPECT_EQ(ctl.exit_code, 0) << ctl.err;
  EXPECT_THAT(ctl.out, HasSubstr("bootstrap-admin"));
}

}  // namespace
}  // namespace herald::testing
