#include "tests/integration/heraldd_process.h"

#include <fcntl.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdlib>
#include <fstream>
#include <sstream>

#include "absl/strings/str_cat.h"
#include "absl/strings/strip.h"

namespace herald::testing {
namespace {

std::string ReadFile(const std::string& path) {
  std::ifstream in(path);
  std::stringstream buffer;
  buffer << in.rdbuf();
  return buffer.str();
}

}  // namespace

std::string HeralddPath() { return HERALDD_PATH; }

std::string MakeTempDir(const std::string& prefix) {
  const char* tmp = std::getenv("TMPDIR");
  std::string pattern =
      absl::StrCat(tmp != nullptr ? tmp : "/tmp", "/", prefix, "-XXXXXX");
  std::vector<char> buffer(pattern.begin(), pattern.end());
  buffer.push_back('\0');
  if (mkdtemp(buffer.data()) == nullptr) std::abort();
  return buffer.data();
}

absl::StatusOr<std::unique_ptr<HeralddProcess>> HeralddProcess::Start(
    Options options) {
  std::unique_ptr<HeralddProcess> p(new HeralddProcess());
  p->data_dir_ =
      options.data_dir.empty() ? MakeTempDir("heraldd") : options.data_dir;
  const std::string address_file = absl::StrCat(
      p->data_dir_, "/address.", getpid(), ".", reinterpret_cast<uintptr_t>(p.get()));
  p->log_path_ = absl::StrCat(address_file, ".log");
  unlink(address_file.c_str());

  std::vector<std::string> args = {
      HeralddPath(),
      absl::StrCat("--listen_address=", options.listen_address),
      absl::StrCat("--data_dir=", p->data_dir_),
      absl::StrCat("--address_file=", address_file),
      "--metrics_address=",
      "--shutdown_grace_period=5s",
      // Test receivers listen on 127.0.0.1; later flags (extra_args) win.
      "--allow_loopback_targets=true",
  };
  args.insert(args.end(), options.extra_args.begin(), options.extra_args.end());

  pid_t pid = fork();
  if (pid < 0) return absl::InternalError("fork failed");
  if (pid == 0) {
    int log_fd = open(p->log_path_.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
    if (log_fd >= 0) {
      dup2(log_fd, STDERR_FILENO);
      dup2(log_fd, STDOUT_FILENO);
    }
    for (const auto& [name, value] : options.env) {
      setenv(name.c_str(), value.c_str(), 1);
    }
    std::vector<char*> argv;
    for (std::string& a : args) argv.push_back(a.data());
    argv.push_back(nullptr);
    execv(argv[0], argv.data());
    _exit(127);
  }
  p->pid_ = pid;
  if (!options.wait_until_listening) return p;

  const absl::Time deadline = absl::Now() + absl::Seconds(30);
  while (absl::Now() < deadline) {
    std::string address(absl::StripTrailingAsciiWhitespace(ReadFile(address_file)));
    if (!address.empty()) {
      p->address_ = address;
      return p;
    }
    int status;
    if (waitpid(pid, &status, WNOHANG) == pid) {
      p->pid_ = -1;
      return absl::UnavailableError(
          absl::StrCat("heraldd exited (status ", status, ") before listening:\n",
                       p->Log()));
    }
    absl::SleepFor(absl::Milliseconds(10));
  }
  return absl::DeadlineExceededError(
      absl::StrCat("heraldd did not listen within 30 s:\n", p->Log()));
}

HeralddProcess::~HeralddProcess() { Kill(); }

std::string HeralddProcess::AdminToken() const {
  return std::string(absl::StripTrailingAsciiWhitespace(
      ReadFile(absl::StrCat(data_dir_, "/admin.token"))));
}

std::shared_ptr<grpc::Channel> HeralddProcess::Channel() const {
  return grpc::CreateChannel(address_, grpc::InsecureChannelCredentials());
}

std::string HeralddProcess::Log() const { return ReadFile(log_path_); }

int HeralddProcess::WaitForExit(absl::Duration timeout) {
  if (pid_ < 0) return -1;
  const absl::Time deadline = absl::Now() + timeout;
  while (absl::Now() < deadline) {
    int status;
    if (waitpid(pid_, &status, WNOHANG) == pid_) {
      pid_ = -1;
      return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
    }
    absl::SleepFor(absl::Milliseconds(10));
  }
  return -2;
}

int HeralddProcess::Terminate(absl::Duration timeout) {
  if (pid_ < 0) return -1;
  kill(pid_, SIGTERM);
  int code = WaitForExit(timeout);
  if (code == -2) {
    Kill();
    return -1;
  }
  return code;
}

void HeralddProcess::Kill() {
  if (pid_ < 0) return;
  kill(pid_, SIGKILL);
  int status;
  waitpid(pid_, &status, 0);
  pid_ = -1;
}

}  // namespace herald::testing
