// A real heraldd child process for integration tests: fresh data directory,
// 127.0.0.1 port 0, its log captured, its admin token read from disk.
#ifndef HERALD_TESTS_INTEGRATION_HERALDD_PROCESS_H_
#define HERALD_TESTS_INTEGRATION_HERALDD_PROCESS_H_

#include <grpcpp/grpcpp.h>
#include <sys/types.h>

#include <map>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/time/time.h"

namespace herald::testing {

// A fresh empty directory under $TMPDIR (not removed, for post-mortems).
std::string MakeTempDir(const std::string& prefix);

class HeralddProcess {
 public:
  struct Options {
    std::string data_dir;  // empty = a fresh temporary directory
    std::string listen_address = "127.0.0.1:0";
    std::vector<std::string> extra_args;
    std::map<std::string, std::string> env;
    bool wait_until_listening = true;
  };

  // Starts heraldd and waits until it listens (or exits: then the error
  // carries its log).
  static absl::StatusOr<std::unique_ptr<HeralddProcess>> Start(Options options);
  static absl::StatusOr<std::unique_ptr<HeralddProcess>> Start() {
    return Start(Options{});
  }

  // SIGKILLs the process if it still runs.
  ~HeralddProcess();

  const std::string& address() const { return address_; }
  const std::string& data_dir() const { return data_dir_; }
  pid_t pid() const { return pid_; }
  // The bootstrap admin token written by heraldd on first start.
  std::string AdminToken() const;
  std::shared_ptr<grpc::Channel> Channel() const;
  // Everything heraldd wrote to stderr so far.
  std::string Log() const;

  // SIGTERM, then waits up to `timeout`; returns the exit status (as from
  // WEXITSTATUS) or -1 if it had to be killed or died of a signal.
  int Terminate(absl::Duration timeout = absl::Seconds(20));
  // SIGKILL and reap.
  void Kill();
  // Waits for the process to exit by itself; exit status or -1.
  int WaitForExit(absl::Duration timeout);

 private:
  HeralddProcess() = default;

  pid_t pid_ = -1;
  std::string data_dir_;
  std::string log_path_;
  std::string address_;
};

// The path of the heraldd binary under test.
std::string HeralddPath();

}  // namespace herald::testing

#endif  // HERALD_TESTS_INTEGRATION_HERALDD_PROCESS_H_
