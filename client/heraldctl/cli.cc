#include "client/heraldctl/cli.h"

#include <poll.h>
#include <signal.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <cstdlib>
#include <fstream>
#include <iostream>
#include <sstream>
#include <thread>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "client/errors.h"
#include "client/internal/strings.h"

#ifndef HERALD_VERSION_STRING
#define HERALD_VERSION_STRING "0.0.0"
#endif

namespace herald::ctl {
namespace {

using herald::internal::AV;

constexpr char kProgram[] = "heraldctl";

// Flags every command accepts.
const std::vector<FlagSpec>& GlobalFlags() {
  static const auto* flags = new std::vector<FlagSpec>{
      {"addr", FlagSpec::Kind::kString, "HOST:PORT",
       "heraldd's gRPC address (env HERALD_ADDR; default 127.0.0.1:7070)"},
      {"token", FlagSpec::Kind::kString, "TOKEN",
       "access token (env HERALD_TOKEN)"},
      {"token-file", FlagSpec::Kind::kString, "FILE",
       "read the token from FILE (env HERALD_TOKEN_FILE), e.g. var/admin.token"},
      {"json", FlagSpec::Kind::kBool, "", "print proto JSON instead of tables"},
      {"color", FlagSpec::Kind::kString, "WHEN",
       "colour status words: auto (on a terminal, unless NO_COLOR is set), "
       "always, never"},
      {"no-color", FlagSpec::Kind::kBool, "", "same as --color=never"},
      {"timeout", FlagSpec::Kind::kDuration, "DURATION",
       "deadline of each call attempt (default 10s)"},
      {"tls", FlagSpec::Kind::kBool, "",
       "use TLS (implied by --ca-file, --cert-file)"},
      {"ca-file", FlagSpec::Kind::kString, "FILE",
       "PEM roots that verify the server (default: system roots)"},
      {"cert-file", FlagSpec::Kind::kString, "FILE",
       "client certificate chain (PEM) for mutual TLS"},
      {"key-file", FlagSpec::Kind::kString, "FILE",
       "client private key (PEM) for mutual TLS"},
      {"tls-server-name", FlagSpec::Kind::kString, "NAME",
       "verify the server certificate against NAME"},
      {"verbose", FlagSpec::Kind::kBool, "", "log retries to stderr"},
      {"help", FlagSpec::Kind::kBool, "", "show help"},
  };
  return *flags;
}

const FlagSpec* FindSpec(const std::vector<FlagSpec>& specs,
                         const std::string& name) {
  for (const FlagSpec& s : specs) {
    if (s.name == name) return &s;
  }
  return nullptr;
}

// "--token_file" and "--token-file" are the same flag.
std::string NormalizeName(std::string name) {
  std::replace(name.begin(), name.end(), '_', '-');
  return name;
}

absl::StatusOr<bool> ParseBool(const std::string& text) {
  const std::string v = absl::AsciiStrToLower(text);
  if (v == "true" || v == "1" || v == "yes" || v == "on") return true;
  if (v == "false" || v == "0" || v == "no" || v == "off") return false;
  return absl::InvalidArgumentError("expected true or false");
}

absl::StatusOr<absl::Duration> ParseDurationText(const std::string& text) {
  absl::Duration d;
  int64_t seconds = 0;
  if (absl::SimpleAtoi(text, &seconds)) return absl::Seconds(seconds);
  if (absl::ParseDuration(text, &d) && d >= absl::ZeroDuration()) return d;
  return absl::InvalidArgumentError("expected a duration such as 500ms, 10s, 1m30s");
}

std::string KindValue(const FlagSpec& s) {
  if (s.kind == FlagSpec::Kind::kBool) return "";
  return absl::StrCat("=", s.value_name.empty() ? "VALUE" : s.value_name);
}

std::string FlagHelp(const std::vector<FlagSpec>& specs) {
  std::string out;
  size_t width = 0;
  for (const FlagSpec& s : specs) {
    width = std::max(width, s.name.size() + KindValue(s).size() + 4);
  }
  for (const FlagSpec& s : specs) {
    std::string left = absl::StrCat("  --", s.name, KindValue(s));
    left.append(width + 2 - std::min(width + 2, left.size()), ' ');
    std::string help = s.help;
    if (s.kind == FlagSpec::Kind::kList) help += " (repeatable)";
    absl::StrAppend(&out, left, " ", help, "\n");
  }
  return out;
}

std::string CommandName(const Command& c) {
  return absl::StrJoin(c.path, " ");
}

std::string CommandHelp(const Command& c) {
  std::string out = absl::StrCat(c.summary, "\n\nUsage:\n  ", kProgram, " ",
                                 CommandName(c));
  if (!c.flags.empty()) absl::StrAppend(&out, " [flags]");
  if (!c.args.empty()) absl::StrAppend(&out, " ", c.args);
  absl::StrAppend(&out, "\n");
  if (!c.description.empty()) absl::StrAppend(&out, "\n", c.description, "\n");
  if (!c.flags.empty()) absl::StrAppend(&out, "\nFlags:\n", FlagHelp(c.flags));
  absl::StrAppend(&out, "\nExample:\n");
  for (absl::string_view line : absl::StrSplit(c.example, '\n')) {
    absl::StrAppend(&out, "  ", line, "\n");
  }
  absl::StrAppend(&out, "\nGlobal flags (", kProgram, " --help lists them).\n");
  return out;
}

std::string GroupHelp(const std::vector<std::string>& prefix) {
  std::string out;
  if (prefix.empty()) {
    absl::StrAppend(
        &out, kProgram,
        " - the command-line client of herald, a webhook notification service.\n\n"
        "Usage:\n  ", kProgram, " [global flags] COMMAND [flags] [args]\n\n"
        "Commands:\n");
  } else {
    absl::StrAppend(&out, "Usage:\n  ", kProgram, " ", absl::StrJoin(prefix, " "),
                    " COMMAND [flags] [args]\n\nCommands:\n");
  }
  size_t width = 0;
  for (const Command& c : Registry()) {
    if (!std::equal(prefix.begin(), prefix.end(), c.path.begin())) continue;
    width = std::max(width, CommandName(c).size() + c.args.size() + 1);
  }
  for (const Command& c : Registry()) {
    if (c.path.size() < prefix.size() ||
        !std::equal(prefix.begin(), prefix.end(), c.path.begin())) {
      continue;
    }
    std::string left = CommandName(c);
    if (!c.args.empty()) absl::StrAppend(&left, " ", c.args);
    left.append(width - std::min(width, left.size()), ' ');
    absl::StrAppend(&out, "  ", left, "  ", c.summary, "\n");
  }
  if (prefix.empty()) {
    absl::StrAppend(&out, "\nGlobal flags (also accepted after the command):\n",
                    FlagHelp(GlobalFlags()));
    absl::StrAppend(
        &out,
        "\nExit codes: 0 ok, 1 other error (including UNIMPLEMENTED), 2 usage "
        "error,\n3 authentication or permission failure, 4 not found, 5 server "
        "unavailable,\n6 invalid argument.\n\n",
        "Run '", kProgram, " COMMAND --help' for a command's flags and an example.\n");
  } else {
    absl::StrAppend(&out, "\nRun '", kProgram, " ", absl::StrJoin(prefix, " "),
                    " COMMAND --help' for details.\n");
  }
  return out;
}

absl::StatusOr<std::string> ReadTokenFile(const std::string& path) {
  std::ifstream in(path);
  if (!in) {
    return absl::InvalidArgumentError(absl::StrCat("cannot read token file ", path));
  }
  std::stringstream text;
  text << in.rdbuf();
  return std::string(absl::StripAsciiWhitespace(text.str()));
}

absl::StatusOr<std::string> ReadPem(const Flags& flags, const std::string& flag) {
  if (!flags.Has(flag)) return std::string();
  absl::StatusOr<std::string> pem = ReadInput(flags.String(flag));
  if (!pem.ok()) {
    return absl::InvalidArgumentError(
        absl::StrCat("--", flag, ": cannot read ", flags.String(flag)));
  }
  return pem;
}

const char* Getenv(const char* name) {
  const char* v = std::getenv(name);
  return v != nullptr && *v != '\0' ? v : nullptr;
}

// Connection options from the global flags and the environment. Usage
// errors come back as InvalidArgument.
absl::StatusOr<ConnectionOptions> OptionsFromFlags(const Flags& flags) {
  ConnectionOptions options;
  options.user_agent_prefix = absl::StrCat("heraldctl/", HERALD_VERSION_STRING);
  options.retry.max_retry_time = absl::Seconds(15);
  if (flags.Has("addr")) {
    options.address = flags.String("addr");
  } else if (const char* addr = Getenv("HERALD_ADDR")) {
    options.address = addr;
  }
  if (flags.Has("token")) {
    options.token = flags.String("token");
  } else if (flags.Has("token-file")) {
    absl::StatusOr<std::string> token = ReadTokenFile(flags.String("token-file"));
    if (!token.ok()) return token.status();
    options.token = *token;
  } else if (const char* token = Getenv("HERALD_TOKEN")) {
    options.token = token;
  } else if (const char* file = Getenv("HERALD_TOKEN_FILE")) {
    absl::StatusOr<std::string> token = ReadTokenFile(file);
    if (!token.ok()) return token.status();
    options.token = *token;
  }
  if (flags.Has("timeout")) options.default_deadline = flags.Duration("timeout");
  options.tls.enabled = flags.Bool("tls") || flags.Has("ca-file") ||
                        flags.Has("cert-file") || flags.Has("key-file");
  for (const auto& [flag, field] :
       {std::pair<const char*, std::string*>{"ca-file", &options.tls.root_certs_pem},
        {"cert-file", &options.tls.client_cert_pem},
        {"key-file", &options.tls.client_key_pem}}) {
    absl::StatusOr<std::string> pem = ReadPem(flags, flag);
    if (!pem.ok()) return pem.status();
    *field = *pem;
  }
  if (flags.Has("cert-file") != flags.Has("key-file")) {
    return absl::InvalidArgumentError("--cert-file and --key-file go together");
  }
  options.tls.server_name_override = flags.String("tls-server-name");
  if (flags.Bool("verbose")) {
    options.on_retry = [](const RetryAttempt& a) {
      std::cerr << "heraldctl: " << a.rpc << " attempt " << a.failed_attempt
                << " failed (" << absl::StatusCodeToString(a.error.code())
                << "), retrying in " << absl::FormatDuration(a.delay) << std::endl;
    };
  }
  return options;
}

}  // namespace

// --- Flags ------------------------------------------------------------------

std::string Flags::String(const std::string& name, std::string fallback) const {
  auto it = values_.find(name);
  return it == values_.end() ? fallback : it->second.back();
}

int64_t Flags::Int(const std::string& name, int64_t fallback) const {
  int64_t v = fallback;
  auto it = values_.find(name);
  if (it != values_.end()) absl::SimpleAtoi(it->second.back(), &v);
  return v;
}

bool Flags::Bool(const std::string& name, bool fallback) const {
  auto it = values_.find(name);
  if (it == values_.end()) return fallback;
  absl::StatusOr<bool> b = ParseBool(it->second.back());
  return b.ok() ? *b : fallback;
}

absl::Duration Flags::Duration(const std::string& name,
                               absl::Duration fallback) const {
  auto it = values_.find(name);
  if (it == values_.end()) return fallback;
  absl::StatusOr<absl::Duration> d = ParseDurationText(it->second.back());
  return d.ok() ? *d : fallback;
}

std::vector<std::string> Flags::List(const std::string& name) const {
  std::vector<std::string> out;
  auto it = values_.find(name);
  if (it == values_.end()) return out;
  for (const std::string& v : it->second) {
    for (absl::string_view part : absl::StrSplit(v, ',', absl::SkipEmpty())) {
      out.emplace_back(absl::StripAsciiWhitespace(part));
    }
  }
  return out;
}

absl::Status Flags::Parse(const std::vector<FlagSpec>& specs,
                          const std::vector<std::string>& args,
                          std::vector<std::string>* positional) {
  for (size_t i = 0; i < args.size(); ++i) {
    const std::string& arg = args[i];
    if (arg == "--") {
      positional->insert(positional->end(), args.begin() + i + 1, args.end());
      break;
    }
    if (arg == "-h") {
      values_["help"].push_back("true");
      continue;
    }
    if (!absl::StartsWith(arg, "--") || arg.size() == 2) {
      if (absl::StartsWith(arg, "-") && arg.size() > 1 &&
          !absl::ascii_isdigit(static_cast<unsigned char>(arg[1]))) {
        return absl::InvalidArgumentError(
            absl::StrCat("unknown flag ", arg, ": flags look like --name=value"));
      }
      positional->push_back(arg);
      continue;
    }
    std::string name = arg.substr(2);
    std::optional<std::string> value;
    if (size_t eq = name.find('='); eq != std::string::npos) {
      value = name.substr(eq + 1);
      name.resize(eq);
    }
    name = NormalizeName(name);
    const FlagSpec* spec = FindSpec(specs, name);
    if (spec == nullptr) {
      return absl::InvalidArgumentError(absl::StrCat("unknown flag --", name));
    }
    if (!value) {
      if (spec->kind == FlagSpec::Kind::kBool) {
        value = "true";
      } else if (i + 1 < args.size()) {
        value = args[++i];
      } else {
        return absl::InvalidArgumentError(
            absl::StrCat("flag --", name, " needs a value"));
      }
    }
    absl::Status valid = absl::OkStatus();
    switch (spec->kind) {
      case FlagSpec::Kind::kInt: {
        int64_t n;
        if (!absl::SimpleAtoi(*value, &n)) {
          valid = absl::InvalidArgumentError("expected an integer");
        }
        break;
      }
      case FlagSpec::Kind::kBool:
        valid = ParseBool(*value).status();
        break;
      case FlagSpec::Kind::kDuration:
        valid = ParseDurationText(*value).status();
        break;
      case FlagSpec::Kind::kString:
      case FlagSpec::Kind::kList:
        break;
    }
    if (!valid.ok()) {
      return absl::InvalidArgumentError(absl::StrCat(
          "flag --", name, ": invalid value \"", *value, "\": ", valid.message()));
    }
    values_[name].push_back(*value);
  }
  return absl::OkStatus();
}

// --- Context ----------------------------------------------------------------

int ExitCodeFor(const absl::Status& status) {
  switch (status.code()) {
    case absl::StatusCode::kOk:
      return kExitOk;
    case absl::StatusCode::kUnauthenticated:
    case absl::StatusCode::kPermissionDenied:
      return kExitAuth;
    case absl::StatusCode::kNotFound:
      return kExitNotFound;
    case absl::StatusCode::kUnavailable:
    case absl::StatusCode::kDeadlineExceeded:
      return kExitUnavailable;
    case absl::StatusCode::kInvalidArgument:
      return kExitInvalidArgument;
    default:
      return kExitError;
  }
}

int Context::Usage(const std::string& message) const {
  std::cerr << kProgram << ": " << message << std::endl;
  return kExitUsage;
}

int Context::Fail(const absl::Status& status) const {
  std::string text = DescribeError(status);
  if (status.code() == absl::StatusCode::kUnimplemented) {
    absl::StrAppend(&text, "\n  (this heraldd does not implement the call yet)");
  } else if (status.code() == absl::StatusCode::kUnavailable &&
             ErrorReason(status).empty()) {
    absl::StrAppend(&text, "\n  (is heraldd running at ", address, "?)");
  } else if (status.code() == absl::StatusCode::kUnauthenticated) {
    absl::StrAppend(&text,
                    "\n  (pass --token, --token-file or set HERALD_TOKEN)");
  }
  std::cerr << kProgram << ": " << text << std::endl;
  return ExitCodeFor(status);
}

absl::StatusOr<int64_t> Context::IdArg(size_t index, const std::string& what) const {
  if (index >= args.size()) {
    return absl::InvalidArgumentError(absl::StrCat("missing ", what));
  }
  return ParseId(args[index], what);
}

absl::StatusOr<int64_t> ParseId(const std::string& text, const std::string& what) {
  int64_t id = 0;
  if (!absl::SimpleAtoi(text, &id) || id <= 0) {
    return absl::InvalidArgumentError(
        absl::StrCat(what, " must be a positive integer, not \"", text, "\""));
  }
  return id;
}

std::string FormatTime(const google::protobuf::Timestamp& t) {
  if (t.seconds() == 0 && t.nanos() == 0) return "-";
  return absl::FormatTime("%Y-%m-%dT%H:%M:%SZ", absl::FromUnixSeconds(t.seconds()),
                          absl::UTCTimeZone());
}

std::string FormatDuration(const google::protobuf::Duration& d) {
  return absl::FormatDuration(absl::Seconds(d.seconds()) +
                              absl::Nanoseconds(d.nanos()));
}

absl::StatusOr<absl::Time> ParseTimeArg(const std::string& text,
                                        const std::string& flag) {
  absl::Time t;
  std::string err;
  if (absl::ParseTime(absl::RFC3339_full, text, &t, &err)) return t;
  // A duration means "that long ago".
  absl::StatusOr<absl::Duration> ago = ParseDurationText(text);
  if (ago.ok()) return absl::Now() - *ago;
  return absl::InvalidArgumentError(absl::StrCat(
      "--", flag, ": expected an RFC 3339 time (2026-01-02T15:04:05Z) or a "
      "duration ago (24h)"));
}

absl::StatusOr<std::string> ReadInput(const std::string& path) {
  std::stringstream text;
  if (path == "-") {
    text << std::cin.rdbuf();
    return text.str();
  }
  std::ifstream in(path, std::ios::binary);
  if (!in) return absl::NotFoundError(absl::StrCat("cannot read ", path));
  text << in.rdbuf();
  return text.str();
}

// --- SignalWatcher ----------------------------------------------------------

namespace {
// The write end of the signal pipe, for the handler (async-signal-safe:
// it only writes one byte).
std::atomic<int> signal_pipe_write{-1};
extern "C" void OnSignal(int sig) {
  const int fd = signal_pipe_write.load();
  if (fd >= 0) {
    const char byte = static_cast<char>(sig);
    (void)!write(fd, &byte, 1);
  }
}
}  // namespace

struct SignalWatcher::State {
  std::atomic<bool> stop{false};
  std::atomic<bool> fired{false};
  int pipe_fds[2] = {-1, -1};
  struct sigaction old_int {};
  struct sigaction old_term {};
  std::thread thread;
};

// A handler rather than sigwait: gRPC's threads, created before, would
// otherwise receive the signal and end the process without cleanup (e.g.
// leaving the live view's alternate screen).
SignalWatcher::SignalWatcher(std::function<void()> on_signal)
    : state_(std::make_shared<State>()) {
  if (pipe(state_->pipe_fds) != 0) return;
  signal_pipe_write.store(state_->pipe_fds[1]);
  struct sigaction action {};
  action.sa_handler = OnSignal;
  sigemptyset(&action.sa_mask);
  action.sa_flags = SA_RESTART;
  sigaction(SIGINT, &action, &state_->old_int);
  sigaction(SIGTERM, &action, &state_->old_term);
  state_->thread = std::thread([state = state_, on_signal = std::move(on_signal)] {
    pollfd fd{state->pipe_fds[0], POLLIN, 0};
    while (!state->stop.load()) {
      if (poll(&fd, 1, 100) > 0 && (fd.revents & POLLIN)) {
        char byte;
        if (read(state->pipe_fds[0], &byte, 1) == 1 && !state->fired.exchange(true)) {
          on_signal();
        }
      }
    }
  });
}

SignalWatcher::~SignalWatcher() {
  if (state_->pipe_fds[0] < 0) return;
  sigaction(SIGINT, &state_->old_int, nullptr);
  sigaction(SIGTERM, &state_->old_term, nullptr);
  signal_pipe_write.store(-1);
  state_->stop.store(true);
  if (state_->thread.joinable()) state_->thread.join();
  close(state_->pipe_fds[0]);
  close(state_->pipe_fds[1]);
}

bool SignalWatcher::fired() const { return state_->fired.load(); }

// --- Registry and Main --------------------------------------------------------

std::vector<Command>& Registry() {
  static auto* commands = new std::vector<Command>();
  return *commands;
}

int Main(int argc, char** argv) {
  if (Registry().empty()) {
    RegisterPolicyCommands();
    RegisterEventCommands();
    RegisterDeliveryCommands();
    RegisterWatchCommand();
    RegisterAdminCommands();
    Registry().push_back(Command{
        {"version"}, "", "Print heraldctl's version", "", "heraldctl version", {},
        [](Context& ctx) {
          ctx.out->Line(absl::StrCat("heraldctl ", HERALD_VERSION_STRING));
          return static_cast<int>(kExitOk);
        }});
  }
  std::vector<std::string> args(argv + 1, argv + argc);
  // "heraldctl help policies create" is "heraldctl policies create --help".
  if (!args.empty() && args[0] == "help") {
    args.erase(args.begin());
    args.push_back("--help");
  }

  // Resolve the command: the leading words, skipping global flags (and the
  // value of a global flag given as "--name value").
  std::vector<std::string> words;
  std::vector<std::string> rest;
  const Command* command = nullptr;
  for (size_t i = 0; i < args.size(); ++i) {
    const std::string& arg = args[i];
    if (command != nullptr || (absl::StartsWith(arg, "-") && arg != "-")) {
      rest.push_back(arg);
      if (command == nullptr && absl::StartsWith(arg, "--") &&
          arg.find('=') == std::string::npos) {
        const FlagSpec* spec = FindSpec(GlobalFlags(), NormalizeName(arg.substr(2)));
        if (spec != nullptr && spec->kind != FlagSpec::Kind::kBool &&
            i + 1 < args.size()) {
          rest.push_back(args[++i]);
        }
      }
      continue;
    }
    std::vector<std::string> candidate = words;
    candidate.push_back(arg);
    bool prefix_of_some = false;
    for (const Command& c : Registry()) {
      if (c.path.size() >= candidate.size() &&
          std::equal(candidate.begin(), candidate.end(), c.path.begin())) {
        prefix_of_some = true;
        if (c.path.size() == candidate.size()) command = &c;
      }
    }
    if (prefix_of_some) {
      words = std::move(candidate);
      continue;
    }
    rest.push_back(arg);
    if (command == nullptr) break;  // an unknown word: report below
  }

  if (command == nullptr) {
    // A group (or nothing): its help, or an error for unknown words.
    bool wants_help = args.empty();
    for (const std::string& r : rest) wants_help = wants_help || r == "--help" || r == "-h";
    const bool unknown = std::any_of(rest.begin(), rest.end(), [](const std::string& r) {
      return !absl::StartsWith(r, "-");
    });
    if (unknown || (!wants_help && words.empty())) {
      std::string what = absl::StrJoin(words, " ");
      for (const std::string& r : rest) {
        if (!absl::StartsWith(r, "-")) {
          what = absl::StrCat(what, what.empty() ? "" : " ", r);
          break;
        }
      }
      std::cerr << kProgram << ": unknown command \"" << what << "\"\n\n"
                << GroupHelp(words);
      return kExitUsage;
    }
    if (wants_help) {
      std::cout << GroupHelp(words);
      return kExitOk;
    }
    std::cerr << kProgram << ": \"" << absl::StrJoin(words, " ")
              << "\" needs a subcommand\n\n"
              << GroupHelp(words);
    return kExitUsage;
  }

  std::vector<FlagSpec> specs = GlobalFlags();
  specs.insert(specs.end(), command->flags.begin(), command->flags.end());
  Context ctx;
  const absl::Status parsed = ctx.flags.Parse(specs, rest, &ctx.args);
  if (!parsed.ok()) {
    std::cerr << kProgram << ": " << parsed.message() << "\n(see " << kProgram
              << " " << CommandName(*command) << " --help)" << std::endl;
    return kExitUsage;
  }
  if (ctx.flags.Bool("help")) {
    std::cout << CommandHelp(*command);
    return kExitOk;
  }

  std::string color_mode = ctx.flags.String("color", "auto");
  if (ctx.flags.Bool("no-color")) color_mode = "never";
  bool color = false;
  if (color_mode == "always") {
    color = true;
  } else if (color_mode == "auto") {
    color = Output::StdoutIsTerminal() && Getenv("NO_COLOR") == nullptr &&
            !(Getenv("TERM") != nullptr && std::string(Getenv("TERM")) == "dumb");
  } else if (color_mode != "never") {
    return ctx.Usage("--color must be auto, always or never");
  }
  Output out(ctx.flags.Bool("json"), color);
  ctx.out = &out;

  absl::StatusOr<ConnectionOptions> options = OptionsFromFlags(ctx.flags);
  if (!options.ok()) return ctx.Usage(std::string(options.status().message()));
  ctx.address = options->address;
  std::optional<Client> client;
  ctx.client = [&]() -> absl::StatusOr<Client> {
    if (!client) client.emplace(MakeConnection(*options));
    return *client;
  };
  const int code = command->run(ctx);
  out.Flush();
  return code;
}

}  // namespace herald::ctl
