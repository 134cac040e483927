// libFuzzer target: configuration parsing (common::LoadConfig).
//
// The first byte picks what the rest of the input is:
//   0: a config file (written to a private temporary file, read through
//      --config=<file>);
//   1: command-line arguments, one per line;
//   2: environment variables, NAME=VALUE per line (HERALD_CONFIG excluded).
// Invariants: LoadConfig never crashes; every error message is valid UTF-8
// (configuration errors may be logged as JSON); a successful result can be
// described (DescribeConfig) and its values pass LoadConfig again when
// given as flags.
#include <unistd.h>

#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "absl/strings/str_split.h"
#include "server/common/config.h"

namespace {

void Check(bool ok, const char* what) {
  if (!ok) {
    std::fprintf(stderr, "invariant violated: %s\n", what);
    std::abort();
  }
}

bool IsUtf8(const std::string& s) {
  size_t i = 0;
  while (i < s.size()) {
    const unsigned char c = static_cast<unsigned char>(s[i]);
    size_t len = c < 0x80 ? 1 : (c >> 5) == 6 ? 2 : (c >> 4) == 14 ? 3
                 : (c >> 3) == 30 ? 4 : 0;
    if (len == 0 || i + len > s.size()) return false;
    for (size_t k = 1; k < len; ++k) {
      if ((static_cast<unsigned char>(s[i + k]) & 0xc0) != 0x80) return false;
    }
    i += len;
  }
  return true;
}

const std::string& TempPath() {
  static const std::string* path = [] {
    const char* tmp = std::getenv("TMPDIR");
    return new std::string(std::string(tmp ? tmp : "/tmp") +
                           "/herald-fuzz-config-" + std::to_string(getpid()));
  }();
  return *path;
}

absl::StatusOr<herald::common::Config> Load(
    std::vector<std::string> args,
    std::map<std::string, std::string> env = {}) {
  std::vector<char*> argv;
  std::string program = "heraldd";
  argv.push_back(program.data());
  for (std::string& a : args) argv.push_back(a.data());
  argv.push_back(nullptr);
  return herald::common::LoadConfig(
      static_cast<int>(args.size() + 1), argv.data(),
      [&env](std::string_view name) -> std::optional<std::string> {
        auto it = env.find(std::string(name));
        if (it == env.end()) return std::nullopt;
        return it->second;
      });
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size == 0) return 0;
  const int mode = data[0] % 3;
  const std::string rest(reinterpret_cast<const char*>(data) + 1, size - 1);
  absl::StatusOr<herald::common::Config> config;
  if (mode == 0) {
    {
      std::ofstream out(TempPath(), std::ios::binary | std::ios::trunc);
      out << rest;
    }
    config = Load({"--config=" + TempPath()});
  } else if (mode == 1) {
    std::vector<std::string> args;
    for (absl::string_view line : absl::StrSplit(rest, '\n')) {
      args.emplace_back(line);
    }
    // "--config" would read arbitrary files: keep the fuzzer away from it.
    for (const std::string& a : args) {
      if (a.rfind("--config", 0) == 0) return 0;
    }
    config = Load(args);
  } else {
    std::map<std::string, std::string> env;
    for (absl::string_view line : absl::StrSplit(rest, '\n')) {
      const size_t eq = line.find('=');
      if (eq == absl::string_view::npos) continue;
      env[std::string(line.substr(0, eq))] = std::string(line.substr(eq + 1));
    }
    env.erase("HERALD_CONFIG");
    config = Load({}, env);
  }
  if (!config.ok()) {
    Check(IsUtf8(std::string(config.status().message())) || !IsUtf8(rest),
          "error messages of UTF-8 input are UTF-8");
    return 0;
  }
  std::vector<std::string> flags;
  for (const auto& [name, value] : herald::common::DescribeConfig(*config)) {
    // postgres_dsn is described with its password masked: use the value.
    flags.push_back("--" + name + "=" +
                    (name == "postgres_dsn" ? config->postgres_dsn : value));
  }
  absl::StatusOr<herald::common::Config> again = Load(flags);
  if (!again.ok()) {
    std::fprintf(stderr, "reloading from flags failed: %s\n",
                 std::string(again.status().message()).c_str());
  }
  Check(again.ok(), "a loaded configuration loads again from its flags");
  return 0;
}
