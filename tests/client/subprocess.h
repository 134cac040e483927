// Runs a program to completion, capturing stdout and stderr: for the
// heraldctl end-to-end tests and the installed-package build.
#ifndef HERALD_TESTS_CLIENT_SUBPROCESS_H_
#define HERALD_TESTS_CLIENT_SUBPROCESS_H_

#include <map>
#include <string>
#include <vector>

#include "absl/time/time.h"

namespace herald::testing {

struct RunResult {
  int exit_code = -1;  // -1: killed by a signal or timed out
  bool timed_out = false;
  std::string out;
  std::string err;
};

struct RunOptions {
  // Added to (or, with an empty value, removed from) the environment.
  std::map<std::string, std::string> env;
  std::string stdin_data;
  std::string working_dir;
  absl::Duration timeout = absl::Seconds(60);
};

RunResult RunProgram(const std::vector<std::string>& argv, const RunOptions& options = {});

}  // namespace herald::testing

#endif  // HERALD_TESTS_CLIENT_SUBPROCESS_H_
