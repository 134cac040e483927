// heraldctl's command-line machinery: the command table, flag parsing
// (--name=value or --name value, like heraldd), help texts, the connection
// settings shared by every command, and the exit codes.
#ifndef HERALD_CLIENT_HERALDCTL_CLI_H_
#define HERALD_CLIENT_HERALDCTL_CLI_H_

#include <cstdint>
#include <functional>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "client/client.h"
#include "client/heraldctl/output.h"

namespace herald::ctl {

// Exit codes, documented in README.md ("## heraldctl").
enum ExitCode : int {
  kExitOk = 0,
  kExitError = 1,           // anything else (incl. UNIMPLEMENTED)
  kExitUsage = 2,           // bad command line
  kExitAuth = 3,            // UNAUTHENTICATED, PERMISSION_DENIED
  kExitNotFound = 4,        // NOT_FOUND
  kExitUnavailable = 5,     // UNAVAILABLE, DEADLINE_EXCEEDED, not serving
  kExitInvalidArgument = 6, // INVALID_ARGUMENT
};

// The exit code for a failed call.
int ExitCodeFor(const absl::Status& status);

// One flag of a command.
struct FlagSpec {
  enum class Kind {
    kString,    // --name=value
    kInt,       // --name=42
    kBool,      // --name, --name=true|false
    kDuration,  // --name=1m30s (a unit is required; bare numbers are seconds)
    kList,      // repeatable: --name=a --name=b (commas also split)
  };
  std::string name;  // without "--"
  Kind kind = Kind::kString;
  std::string value_name;  // shown in help, e.g. "ID"
  std::string help;
};

// Parsed flags of one invocation. Values were validated while parsing.
class Flags {
 public:
  bool Has(const std::string& name) const { return values_.count(name) > 0; }
  std::string String(const std::string& name, std::string fallback = "") const;
  int64_t Int(const std::string& name, int64_t fallback = 0) const;
  bool Bool(const std::string& name, bool fallback = false) const;
  absl::Duration Duration(const std::string& name,
                          absl::Duration fallback = absl::ZeroDuration()) const;
  std::vector<std::string> List(const std::string& name) const;

  // Parses `args` against `specs`; non-flag arguments go to `positional`.
  // "--" ends the flags. Errors are usage errors naming the flag.
  absl::Status Parse(const std::vector<FlagSpec>& specs,
                     const std::vector<std::string>& args,
                     std::vector<std::string>* positional);

 private:
  std::map<std::string, std::vector<std::string>> values_;
};

// What a command handler gets.
struct Context {
  Flags flags;
  std::vector<std::string> args;  // positional arguments
  Output* out = nullptr;
  // The client for the global connection flags / environment (made on
  // first use; heraldctl makes one per process).
  std::function<absl::StatusOr<Client>()> client;
  // The effective server address, for display.
  std::string address;
  // Prints "heraldctl: <message>" and returns kExitUsage.
  int Usage(const std::string& message) const;
  // Prints the error (with reason and field violations) and returns its
  // exit code.
  int Fail(const absl::Status& status) const;
  // Parses the positional argument `index` named `what` as an id (> 0).
  absl::StatusOr<int64_t> IdArg(size_t index, const std::string& what) const;
};

struct Command {
  std::vector<std::string> path;  // e.g. {"policies", "create"}
  std::string args;               // positional synopsis, e.g. "ID"
  std::string summary;            // one line
  std::string description;        // paragraphs, may be empty
  std::string example;            // shell lines
  std::vector<FlagSpec> flags;
  std::function<int(Context&)> run;
};

// The command table (commands_*.cc each add theirs).
std::vector<Command>& Registry();
void RegisterPolicyCommands();
void RegisterEventCommands();
void RegisterDeliveryCommands();
void RegisterAdminCommands();
void RegisterWatchCommand();

// heraldctl's main: returns the exit code.
int Main(int argc, char** argv);

// Helpers shared by the command files.
absl::StatusOr<int64_t> ParseId(const std::string& text, const std::string& what);
// "Bearer" etc. need no quoting; values are printed verbatim.
std::string FormatTime(const google::protobuf::Timestamp& t);
std::string FormatDuration(const google::protobuf::Duration& d);
absl::StatusOr<absl::Time> ParseTimeArg(const std::string& text,
                                        const std::string& flag);
// Parses proto JSON into `message` (field names in either spelling);
// InvalidArgument naming the message type on failure.
absl::Status ParseJson(const std::string& json, google::protobuf::Message* message);
// "SUCCESS" for TASK_STATUS_SUCCESS, ...
std::string TaskStatusName(v1::TaskStatus status);
// "RETRYING" for an ERROR task with a retry scheduled, else TaskStatusName.
std::string TaskStatusLabel(const v1::Task& task);
// "error", "ERROR" or "TASK_STATUS_ERROR"; InvalidArgument otherwise.
absl::StatusOr<v1::TaskStatus> ParseTaskStatus(const std::string& text);
// Reads a file, or stdin for "-".
absl::StatusOr<std::string> ReadInput(const std::string& path);

// While alive, catches SIGINT and SIGTERM (whichever thread receives
// them) and runs `on_signal` once, on a helper thread, at the first one.
// Destruction restores the previous handlers.
class SignalWatcher {
 public:
  explicit SignalWatcher(std::function<void()> on_signal);
  ~SignalWatcher();
  SignalWatcher(const SignalWatcher&) = delete;
  SignalWatcher& operator=(const SignalWatcher&) = delete;
  bool fired() const;

 private:
  struct State;
  std::shared_ptr<State> state_;
};

}  // namespace herald::ctl

#endif  // HERALD_CLIENT_HERALDCTL_CLI_H_
