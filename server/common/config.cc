#include "server/common/config.h"

#include "server/common/address_rules.h"

#include <algorithm>
#include <charconv>
#include <climits>
#include <cmath>
#include <cstdlib>
#include <map>
#include <variant>

#include "absl/status/status.h"
#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "server/common/address_rules.h"
#include "server/common/secret_file.h"

#ifndef HERALD_VERSION_STRING
#define HERALD_VERSION_STRING "0.0.0"
#endif

namespace herald::common {
namespace {

absl::string_view Sv(std::string_view s) { return {s.data(), s.size()}; }

using Member =
    std::variant<std::string Config::*, int Config::*, bool Config::*,
                 double Config::*, absl::Duration Config::*>;

// Returns "" if the value is acceptable, else what was expected.
using StringCheck = std::string (*)(std::string_view value);

// One row of the option table. Designated initializers keep the table
// readable; unset bounds mean "any value of the type".
struct Option {
  std::string_view name;
  Member member;
  std::string_view help;
  std::vector<std::string_view> harbor_env = {};  // extra environment names
  int64_t int_min = INT_MIN;
  int64_t int_max = INT_MAX;
  double double_max = 1e300;  // doubles must also be > 0
  absl::Duration duration_min = absl::Nanoseconds(1);
  absl::Duration duration_max = absl::Hours(24);
  std::vector<std::string_view> choices = {};
  StringCheck check = nullptr;
  std::string_view default_doc = {};  // shown instead of the real default
};

std::string CheckHostPort(std::string_view v) {
  constexpr std::string_view kExpected =
      "expected host:port with a port from 0 to 65535 (IPv6 as [::1]:port)";
  size_t colon;
  if (!v.empty() && v.front() == '[') {
    const size_t close = v.find(']');
    if (close == std::string_view::npos || close < 2 || close + 1 >= v.size() ||
        v[close + 1] != ':') {
      return std::string(kExpected);
    }
    colon = close + 1;
  } else {
    colon = v.find(':');
    if (colon == std::string_view::npos || colon == 0 ||
        v.find(':', colon + 1) != std::string_view::npos) {
      return std::string(kExpected);
    }
  }
  const std::string_view port = v.substr(colon + 1);
  int p = -1;
  if (port.empty() || port.size() > 5 ||
      port.find_first_not_of("0123456789") != std::string_view::npos ||
      !absl::SimpleAtoi(Sv(port), &p) || p > 65535) {
    return std::string(kExpected);
  }
  return "";
}

std::string CheckOptionalHostPort(std::string_view v) {
  if (v.empty()) return "";
  std::string err = CheckHostPort(v);
  if (!err.empty()) absl::StrAppend(&err, ", or empty to disable");
  return err;
}

std::string CheckNetworkList(std::string_view v) {
  absl::StatusOr<std::vector<IpNetwork>> parsed = ParseIpNetworkList(v);
  if (parsed.ok()) return "";
  return absl::StrCat("expected comma-separated IPv4/IPv6 networks such as "
                      "10.1.0.0/16,fd00::/8 (",
                      parsed.status().message(), ")");
}

std::string CheckNonEmpty(std::string_view v) {
  return v.empty() ? "expected a non-empty path" : "";
}

std::string CheckHttpUrl(std::string_view v) {
  for (std::string_view scheme : {"http://", "https://"}) {
    if (absl::StartsWith(Sv(v), Sv(scheme)) && v.size() > scheme.size()) {
      return "";
    }
  }
  return "expected an http:// or https:// URL";
}

// The option table. Order here is the order of --help and of the docs.
const std::vector<Option>& Options() {
  static const auto* const options = new std::vector<Option>{
      {.name = "listen_address",
       .member = &Config::listen_address,
       .help = "gRPC listener, host:port. Port 0 picks a free port; the bound "
               "address is logged and written to `address_file` if set.",
       .check = CheckHostPort},
      {.name = "address_file",
       .member = &Config::address_file,
       .help = "If set, the bound host:port is written to this file once the "
               "server is listening (tests use it with port 0)."},
      {.name = "data_dir",
       .member = &Config::data_dir,
       .help = "Directory for the SQLite database, the lock file "
               "(`heraldd.lock`) and the bootstrap admin token. Created with "
               "mode 0700 if missing; one heraldd per directory.",
       .check = CheckNonEmpty},
      {.name = "store",
       .member = &Config::store,
       .help = "Storage backend: `sqlite` (embedded, in `data_dir`) or "
               "`postgres` (shared by several replicas).",
       .choices = {"sqlite", "postgres"}},
      {.name = "postgres_dsn",
       .member = &Config::postgres_dsn,
       .help = "libpq connection string, required when `store` is `postgres`. "
               "Prefer a password file (PGPASSFILE) over a password here."},
      {.name = "postgres_pool_size",
       .member = &Config::postgres_pool_size,
       .help = "PostgreSQL connections kept open.",
       .int_min = 1,
       .int_max = 1000},
      {.name = "tls_cert_file",
       .member = &Config::tls_cert_file,
       .help = "PEM server certificate chain. gRPC is served over TLS when "
               "both `tls_cert_file` and `tls_key_file` are set; setting only "
               "one is an error."},
      {.name = "tls_key_file",
       .member = &Config::tls_key_file,
       .help = "PEM private key for `tls_cert_file`."},
      {.name = "tls_client_ca_file",
       .member = &Config::tls_client_ca_file,
       .help = "If set, clients must present a certificate signed by this CA "
               "(mutual TLS). Requires `tls_cert_file` and `tls_key_file`."},
      {.name = "metrics_address",
       .member = &Config::metrics_address,
       .help = "Prometheus `/metrics` listener, host:port; empty disables it. "
               "Port 0 picks a free port (logged, and written to "
               "`metrics_address_file` if set).",
       .check = CheckOptionalHostPort},
      {.name = "metrics_address_file",
       .member = &Config::metrics_address_file,
       .help = "If set, the bound metrics host:port is written to this file "
               "once the /metrics listener is up."},
      {.name = "registry_endpoint",
       .member = &Config::registry_endpoint,
       .help = "Harbor's `ext_endpoint`: the registry's external URL, used to "
               "build `resource_url` in payloads.",
       .check = CheckHttpUrl},
      {.name = "notification_enable",
       .member = &Config::notification_enable,
       .help = "Initial value of the global webhook switch. When false, "
               "events are acknowledged and dropped. Setting; see below.",
       .harbor_env = {"NOTIFICATION_ENABLE"}},
      {.name = "webhook_job_max_retry",
       .member = &Config::webhook_job_max_retry,
       .help = "Initial total number of delivery attempts per task (Harbor's "
               "default is 3). Setting; see below.",
       .harbor_env = {"JOBSERVICE_WEBHOOK_JOB_MAX_RETRY"},
       .int_min = 1,
       .int_max = 100},
      {.name = "webhook_job_http_client_timeout",
       .member = &Config::webhook_job_http_client_timeout,
       .help = "Initial HTTP timeout of one delivery attempt (Harbor writes "
               "bare seconds: `3`). Setting; see below.",
       .harbor_env = {"JOBSERVICE_WEBHOOK_JOB_HTTP_CLIENT_TIMEOUT"},
       .duration_min = absl::Seconds(1),
       .duration_max = absl::Seconds(300)},
      {.name = "execution_retention_count",
       .member = &Config::execution_retention_count,
       .help = "Initial number of finished executions kept per policy. "
               "Setting; see below.",
       .int_min = 1,
       .int_max = 100000},
      {.name = "log_level",
       .member = &Config::log_level,
       .help = "Minimum level written to stderr.",
       .choices = {"debug", "info", "warn", "error"}},
      {.name = "log_format",
       .member = &Config::log_format,
       .help = "`json` (one JSON object per line) or `text` (for humans).",
       .choices = {"json", "text"}},
      {.name = "shutdown_grace_period",
       .member = &Config::shutdown_grace_period,
       .help = "On SIGTERM or SIGINT, how long to wait for in-flight calls and "
               "deliveries before cancelling them.",
       .duration_max = absl::Hours(1)},
      {.name = "worker_threads",
       .member = &Config::worker_threads,
       .help = "Threads for blocking store work behind the gRPC handlers.",
       .int_min = 1,
       .int_max = 256},
      {.name = "max_receive_message_bytes",
       .member = &Config::max_receive_message_bytes,
       .help = "Largest gRPC message the server accepts, in bytes.",
       .int_min = 1024,
       .int_max = 1 << 30},
      {.name = "admin_token_file",
       .member = &Config::admin_token_file,
       .help = "Where the bootstrap admin token is written (mode 0600) on "
               "first start.",
       .default_doc = "`<data_dir>/admin.token`"},
      {.name = "secret_key_file",
       .member = &Config::secret_key_file,
       .help = "Key that encrypts targets' auth_header values and signing "
               "secrets in the store (AES-256-GCM): the base64 of 32 random "
               "bytes (`openssl rand -base64 32`). Generated (mode 0600) on "
               "first start when this is left at its default and the file "
               "does not exist, with `store = sqlite` only: replicas on "
               "PostgreSQL must all be given the same key (a replica with "
               "another key is refused at start). Any other missing path is "
               "an error. "
               "`HERALD_SECRET_KEY` (the key itself, environment only) takes "
               "precedence. Keep a copy: without it the stored secrets are "
               "lost.",
       .default_doc = "`<data_dir>/secret.key`"},
      {.name = "secret_key_previous_file",
       .member = &Config::secret_key_previous_file,
       .help = "During a key rotation, the previous key (same format). "
               "heraldd then decrypts with either key and, at start, "
               "re-encrypts every stored secret with the current one; remove "
               "this setting and the old key afterwards (on PostgreSQL, once "
               "every replica runs with the new key: see \"Secrets at rest\")."},
      {.name = "publish_rate_limit",
       .member = &Config::publish_rate_limit,
       .help = "Events per second each token may publish (PublishEvent and "
               "PublishEvents together), 0 for no limit. Events over the "
               "limit are refused with RESOURCE_EXHAUSTED (reason "
               "RATE_LIMITED, with a google.rpc.RetryInfo). Counted by each "
               "heraldd replica on its own.",
       .int_min = 0,
       .int_max = 10000000},
      {.name = "publish_rate_burst",
       .member = &Config::publish_rate_burst,
       .help = "How many events a token may publish in a burst before "
               "`publish_rate_limit` applies (the token bucket's size); 0 "
               "means the same as `publish_rate_limit`.",
       .int_min = 0,
       .int_max = 10000000},
      {.name = "delivery_max_in_flight",
       .member = &Config::delivery_max_in_flight,
       .help = "Deliveries in flight at once, over all endpoints.",
       .int_min = 1,
       .int_max = 100000},
      {.name = "delivery_per_endpoint_concurrency",
       .member = &Config::delivery_per_endpoint_concurrency,
       .help = "Deliveries in flight at once to one endpoint, so a slow "
               "receiver cannot starve the others.",
       .int_min = 1,
       .int_max = 10000},
      {.name = "delivery_backoff_scale",
       .member = &Config::delivery_backoff_scale,
       .help = "Multiplies every retry delay (tests use 0.001).",
       .double_max = 1000},
      {.name = "delivery_lease",
       .member = &Config::delivery_lease,
       .help = "How long a claimed task stays owned by this replica; a "
               "replica that dies leaves leases that expire and are "
               "reclaimed."},
      {.name = "allow_loopback_targets",
       .member = &Config::allow_loopback_targets,
       .help = "SSRF guard: allow webhook targets on loopback addresses "
               "(127.0.0.0/8, ::1). Off by default; `make run` and the test "
               "suites turn it on for local receivers."},
      {.name = "strict_private_targets",
       .member = &Config::strict_private_targets,
       .help = "SSRF guard: also refuse targets on private (RFC 1918, "
               "CGNAT, ULA) addresses."},
      {.name = "allowed_target_cidrs",
       .member = &Config::allowed_target_cidrs,
       .help = "SSRF guard: comma-separated networks (CIDR, e.g. "
               "`10.20.0.0/16,fd00:1::/64`, or single addresses) that "
               "webhook targets may always use, even where the guard would "
               "refuse them (loopback, private in strict mode, link-local). "
               "Applies to literal addresses at policy creation and to the "
               "address actually connected to at delivery.",
       .check = CheckNetworkList},
      {.name = "keepalive_time",
       .member = &Config::keepalive_time,
       .help = "gRPC server keepalive: ping a connection idle this long."},
      {.name = "keepalive_timeout",
       .member = &Config::keepalive_timeout,
       .help = "gRPC server keepalive: close the connection if a ping is not "
               "acknowledged within this time."},
      {.name = "keepalive_permit_time",
       .member = &Config::keepalive_permit_time,
       .help = "Minimum interval between client keepalive pings; clients "
               "pinging more often get GOAWAY `too_many_pings`."},
  };
  return *options;
}

const Option* FindOption(std::string_view name) {
  for (const Option& o : Options()) {
    if (o.name == name) return &o;
  }
  return nullptr;
}

std::string_view TypeName(const Member& m) {
  switch (m.index()) {
    case 0:
      return "string";
    case 1:
      return "int";
    case 2:
      return "bool";
    case 3:
      return "double";
    default:
      return "duration";
  }
}

std::string EnvName(std::string_view option) {
  return absl::StrCat("HERALD_", absl::AsciiStrToUpper(Sv(option)));
}

std::vector<std::string> EnvNames(const Option& o) {
  std::vector<std::string> names = {EnvName(o.name)};
  for (std::string_view alias : o.harbor_env) names.emplace_back(alias);
  return names;
}

// Durations are shown in whole hours, else seconds, else milliseconds ("60s",
// not "1m"), matching how the defaults are documented.
std::string FormatDurationText(absl::Duration d) {
  if (d >= absl::Hours(1) && d % absl::Hours(1) == absl::ZeroDuration()) {
    return absl::StrCat(absl::ToInt64Hours(d), "h");
  }
  if (d % absl::Seconds(1) == absl::ZeroDuration()) {
    return absl::StrCat(absl::ToInt64Seconds(d), "s");
  }
  if (d % absl::Milliseconds(1) == absl::ZeroDuration()) {
    return absl::StrCat(absl::ToInt64Milliseconds(d), "ms");
  }
  return absl::FormatDuration(d);
}

std::string FormatDouble(double d) {
  char buf[64];
  auto [end, ec] = std::to_chars(buf, buf + sizeof(buf), d);
  return std::string(buf, ec == std::errc() ? end : buf);
}

std::string ValueText(const Config& c, const Member& m) {
  return std::visit(
      [&](auto ptr) -> std::string {
        using T = std::decay_t<decltype(c.*ptr)>;
        const T& v = c.*ptr;
        if constexpr (std::is_same_v<T, std::string>) {
          return v;
        } else if constexpr (std::is_same_v<T, bool>) {
          return v ? "true" : "false";
        } else if constexpr (std::is_same_v<T, int>) {
          return absl::StrCat(v);
        } else if constexpr (std::is_same_v<T, double>) {
          return FormatDouble(v);
        } else {
          return FormatDurationText(v);
        }
      },
      m);
}

std::optional<bool> ParseBool(std::string_view text) {
  const std::string t = absl::AsciiStrToLower(Sv(text));
  if (t == "true" || t == "1" || t == "yes" || t == "on") return true;
  if (t == "false" || t == "0" || t == "no" || t == "off") return false;
  return std::nullopt;
}

std::optional<absl::Duration> ParseDurationText(std::string_view text) {
  const absl::string_view t = absl::StripAsciiWhitespace(Sv(text));
  if (t.empty()) return std::nullopt;
  // A bare number is seconds, the way Harbor writes its timeouts.
  if (t.find_first_not_of("+-0123456789.") == absl::string_view::npos) {
    double seconds;
    if (!absl::SimpleAtod(t, &seconds) || !std::isfinite(seconds)) {
      return std::nullopt;
    }
    return absl::Seconds(seconds);
  }
  absl::Duration d;
  if (!absl::ParseDuration(t, &d) || d == absl::InfiniteDuration() ||
      d == -absl::InfiniteDuration()) {
    return std::nullopt;
  }
  return d;
}

// Parses `text` into the option's field. Returns "" on success, else what
// was expected (the caller adds the option name and the source).
std::string ParseInto(const Option& o, std::string_view text, Config& c) {
  // No setting means a control character (and a NUL could not even be
  // passed back as a flag): refuse them instead of carrying them along.
  for (const char ch : text) {
    const unsigned char u = static_cast<unsigned char>(ch);
    if ((u < 0x20 && ch != '\t') || u == 0x7f) {
      return "expected a value without control characters";
    }
  }
  return std::visit(
      [&](auto ptr) -> std::string {
        using T = std::decay_t<decltype(c.*ptr)>;
        if constexpr (std::is_same_v<T, std::string>) {
          c.*ptr = std::string(text);
          return "";
        } else if constexpr (std::is_same_v<T, bool>) {
          const std::optional<bool> b = ParseBool(text);
          if (!b) return "expected a bool (true/false, 1/0, yes/no, on/off)";
          c.*ptr = *b;
          return "";
        } else if constexpr (std::is_same_v<T, int>) {
          int64_t v;
          if (!absl::SimpleAtoi(Sv(text), &v) || v < INT_MIN || v > INT_MAX) {
            return "expected an integer";
          }
          c.*ptr = static_cast<int>(v);
          return "";
        } else if constexpr (std::is_same_v<T, double>) {
          double v;
          if (!absl::SimpleAtod(Sv(text), &v) || !std::isfinite(v)) {
            return "expected a number";
          }
          c.*ptr = v;
          return "";
        } else {
          const std::optional<absl::Duration> d = ParseDurationText(text);
          if (!d) {
            return "expected a duration such as 500ms, 3s, 2m or a number of "
                   "seconds";
          }
          c.*ptr = *d;
          return "";
        }
      },
      o.member);
}

// Where a value came from, for error messages: "flag --x",
// "environment variable HERALD_X", "/etc/heraldd.conf:12" or "default".
using Sources = std::map<std::string_view, std::string>;

std::string Quote(std::string_view s) {
  std::string out = "\"";
  for (char ch : s) {
    const auto c = static_cast<unsigned char>(ch);
    if (c == '"' || c == '\\') {
      out.push_back('\\');
      out.push_back(ch);
    } else if (c < 0x20 || c == 0x7f) {
      absl::StrAppend(&out, "\\x", absl::Hex(c, absl::kZeroPad2));
    } else {
      out.push_back(ch);
    }
  }
  out.push_back('"');
  return out;
}

class Loader {
 public:
  explicit Loader(Config& config) : c_(config) {}

  void Set(const Option& o, std::string_view value, std::string source) {
    const std::string expected = ParseInto(o, value, c_);
    if (!expected.empty()) {
      errors_.push_back(absl::StrCat("invalid value ", Quote(value), " for ",
                                     Sv(o.name), " from ", source, ": ",
                                     expected));
      return;
    }
    sources_[o.name] = std::move(source);
  }

  void Error(std::string message) { errors_.push_back(std::move(message)); }

  std::string SourceOf(std::string_view name) const {
    auto it = sources_.find(name);
    return it == sources_.end() ? "default" : it->second;
  }

  // Range, choice and format checks on the effective values.
  void Validate() {
    for (const Option& o : Options()) {
      const std::string value = ValueText(c_, o.member);
      const auto fail = [&](std::string_view expected) {
        errors_.push_back(absl::StrCat("invalid value ", Quote(value), " for ",
                                       Sv(o.name), " from ", SourceOf(o.name),
                                       ": ", Sv(expected)));
      };
      std::visit(
          [&](auto ptr) {
            using T = std::decay_t<decltype(c_.*ptr)>;
            const T& v = c_.*ptr;
            if constexpr (std::is_same_v<T, std::string>) {
              if (!o.choices.empty()) {
                bool found = false;
                std::string expected = "expected one of";
                for (std::string_view choice : o.choices) {
                  found |= v == choice;
                  absl::StrAppend(&expected, " ", Sv(choice));
                }
                if (!found) fail(expected);
              }
              if (o.check != nullptr) {
                const std::string expected = o.check(v);
                if (!expected.empty()) fail(expected);
              }
            } else if constexpr (std::is_same_v<T, int>) {
              if (v < o.int_min || v > o.int_max) {
                fail(absl::StrCat("expected an integer from ", o.int_min,
                                  " to ", o.int_max));
              }
            } else if constexpr (std::is_same_v<T, double>) {
              if (!(v > 0) || v > o.double_max) {
                fail(absl::StrCat("expected a number > 0 and <= ",
                                  FormatDouble(o.double_max)));
              }
            } else if constexpr (std::is_same_v<T, absl::Duration>) {
              if (v < o.duration_min || v > o.duration_max) {
                fail(o.duration_min == absl::Nanoseconds(1)
                         ? absl::StrCat("expected a duration > 0 and <= ",
                                        FormatDurationText(o.duration_max))
                         : absl::StrCat("expected a duration from ",
                                        FormatDurationText(o.duration_min),
                                        " to ",
                                        FormatDurationText(o.duration_max)));
              }
            }
          },
          o.member);
    }
    if (c_.tls_cert_file.empty() != c_.tls_key_file.empty()) {
      const bool cert = !c_.tls_cert_file.empty();
      errors_.push_back(absl::StrCat(
          cert ? "tls_cert_file" : "tls_key_file", " is set (from ",
          SourceOf(cert ? "tls_cert_file" : "tls_key_file"), ") but ",
          cert ? "tls_key_file" : "tls_cert_file",
          " is not: set both to serve TLS, or neither"));
    }
    if (!c_.tls_client_ca_file.empty() && c_.tls_cert_file.empty()) {
      errors_.push_back(absl::StrCat(
          "tls_client_ca_file is set (from ", SourceOf("tls_client_ca_file"),
          ") but tls_cert_file and tls_key_file are not: mutual TLS needs a "
          "server certificate"));
    }
    if (c_.store == "postgres" && c_.postgres_dsn.empty()) {
      errors_.push_back(absl::StrCat("store is postgres (from ",
                                     SourceOf("store"),
                                     ") but postgres_dsn is empty"));
    }
    if (!c_.metrics_address.empty() &&
        c_.metrics_address == c_.listen_address &&
        !absl::EndsWith(c_.listen_address, ":0")) {
      errors_.push_back(absl::StrCat(
          "metrics_address and listen_address are both ", c_.listen_address,
          " (from ", SourceOf("metrics_address"), " and ",
          SourceOf("listen_address"), "): use different ports"));
    }
  }

  absl::Status Result() const {
    if (errors_.empty()) return absl::OkStatus();
    return absl::InvalidArgumentError(absl::StrJoin(errors_, "; "));
  }

 private:
  Config& c_;
  Sources sources_;
  std::vector<std::string> errors_;
};

// Parses a quoted file value starting at v[0] == '"'. Returns nullopt if the
// closing quote is missing or followed by anything but whitespace.
std::optional<std::string> Unquote(std::string_view v) {
  std::string out;
  size_t i = 1;
  for (; i < v.size(); ++i) {
    if (v[i] == '\\' && i + 1 < v.size() &&
        (v[i + 1] == '"' || v[i + 1] == '\\')) {
      out.push_back(v[++i]);
    } else if (v[i] == '"') {
      break;
    } else {
      out.push_back(v[i]);
    }
  }
  if (i >= v.size()) return std::nullopt;
  if (!absl::StripAsciiWhitespace(Sv(v.substr(i + 1))).empty()) {
    return std::nullopt;
  }
  return out;
}

absl::Status LoadFile(const std::string& path, Loader& loader) {
  absl::StatusOr<std::string> text = ReadFileToString(path);
  if (!text.ok()) {
    return absl::Status(
        text.status().code(),
        absl::StrCat("cannot read config file: ", text.status().message()));
  }
  std::map<std::string, int> seen;  // name -> line
  int line_no = 0;
  for (absl::string_view raw : absl::StrSplit(*text, '\n')) {
    ++line_no;
    const absl::string_view line = absl::StripAsciiWhitespace(raw);
    if (line.empty() || line.front() == '#') continue;
    const std::string where = absl::StrCat(path, ":", line_no);
    const size_t eq = line.find('=');
    if (eq == absl::string_view::npos) {
      loader.Error(absl::StrCat(where, ": expected `name = value`, got ",
                                Quote({line.data(), line.size()})));
      continue;
    }
    const absl::string_view name =
        absl::StripAsciiWhitespace(line.substr(0, eq));
    absl::string_view value = absl::StripAsciiWhitespace(line.substr(eq + 1));
    const Option* o = FindOption({name.data(), name.size()});
    if (o == nullptr) {
      loader.Error(absl::StrCat(
          "unknown option ", Quote({name.data(), name.size()}), " at ", where));
      continue;
    }
    auto [it, inserted] = seen.emplace(std::string(name), line_no);
    if (!inserted) {
      loader.Error(absl::StrCat(where, ": ", name, " is already set at line ",
                                it->second));
      continue;
    }
    if (!value.empty() && value.front() == '"') {
      std::optional<std::string> unquoted =
          Unquote({value.data(), value.size()});
      if (!unquoted) {
        loader.Error(
            absl::StrCat(where, ": unterminated quoted value for ", name));
        continue;
      }
      loader.Set(*o, *unquoted, where);
    } else {
      loader.Set(*o, {value.data(), value.size()}, where);
    }
  }
  return absl::OkStatus();
}

struct FlagValue {
  const Option* option;
  std::string value;
  std::string source;
};

// Wraps `text` to `width` columns, each line prefixed with `indent`.
std::string Wrap(std::string_view text, size_t width, std::string_view indent) {
  std::string out;
  size_t col = 0;
  for (absl::string_view word :
       absl::StrSplit(Sv(text), ' ', absl::SkipEmpty())) {
    if (col > 0 && col + 1 + word.size() > width) {
      out.push_back('\n');
      col = 0;
    }
    if (col == 0) {
      absl::StrAppend(&out, Sv(indent), word);
      col = indent.size() + word.size();
    } else {
      absl::StrAppend(&out, " ", word);
      col += 1 + word.size();
    }
  }
  out.push_back('\n');
  return out;
}

std::string MaskDsnPassword(const std::string& dsn) {
  // URI form: postgresql://user:password@host/db
  const size_t scheme = dsn.find("://");
  if (scheme != std::string::npos) {
    const size_t at = dsn.find('@', scheme + 3);
    const size_t colon = dsn.find(':', scheme + 3);
    std::string out = dsn;
    if (at != std::string::npos && colon != std::string::npos && colon < at) {
      out.replace(colon + 1, at - colon - 1, "****");
    }
    // Query parameter form: ...?password=secret&...
    const size_t pw = out.find("password=");
    if (pw != std::string::npos) {
      const size_t end = out.find('&', pw);
      out.replace(pw + 9,
                  (end == std::string::npos ? out.size() : end) - pw - 9,
                  "****");
    }
    return out;
  }
  // key=value form: host=h password=secret dbname=d, or password = 'a b'.
  std::string out = dsn;
  size_t pos = 0;
  while ((pos = out.find("password", pos)) != std::string::npos) {
    size_t i = pos + 8;
    while (i < out.size() && out[i] == ' ') ++i;
    if (i >= out.size() || out[i] != '=') {
      pos = i;
      continue;
    }
    ++i;
    while (i < out.size() && out[i] == ' ') ++i;
    size_t end = i;
    if (end < out.size() && out[end] == '\'') {
      ++end;
      while (end < out.size() && out[end] != '\'') {
        if (out[end] == '\\') ++end;
        ++end;
      }
      if (end < out.size()) ++end;
    } else {
      while (end < out.size() && out[end] != ' ') ++end;
    }
    out.replace(i, std::min(end, out.size()) - i, "****");
    pos = i + 4;
  }
  return out;
}

// The allowed values, as a sentence for the docs ("From 1 to 256.").
std::string ConstraintText(const Option& o) {
  switch (o.member.index()) {
    case 0: {
      if (o.choices.empty()) return "";
      std::string out = "One of";
      for (size_t i = 0; i < o.choices.size(); ++i) {
        absl::StrAppend(&out, i == 0 ? " `" : ", `", Sv(o.choices[i]), "`");
      }
      return out + ".";
    }
    case 1:
      if (o.int_min == INT_MIN && o.int_max == INT_MAX) return "";
      return absl::StrCat("From ", o.int_min, " to ", o.int_max, ".");
    case 3:
      return absl::StrCat("Greater than 0, at most ",
                          FormatDouble(o.double_max), ".");
    case 4:
      if (o.duration_min == absl::Nanoseconds(1)) {
        return absl::StrCat("Greater than 0, at most ",
                            FormatDurationText(o.duration_max), ".");
      }
      return absl::StrCat("From ", FormatDurationText(o.duration_min), " to ",
                          FormatDurationText(o.duration_max), ".");
    default:
      return "";
  }
}

// The description plus the allowed values.
std::string FullHelp(const Option& o) {
  const std::string constraint = ConstraintText(o);
  if (constraint.empty()) return std::string(o.help);
  return absl::StrCat(Sv(o.help), " ", constraint);
}

std::string EscapeMarkdownCell(std::string_view s) {
  std::string out;
  for (char ch : s) {
    if (ch == '|') out.push_back('\\');
    out.push_back(ch);
  }
  return out;
}

}  // namespace

EnvFn ProcessEnv() {
  return [](std::string_view name) -> std::optional<std::string> {
    const char* v = std::getenv(std::string(name).c_str());
    if (v == nullptr) return std::nullopt;
    return std::string(v);
  };
}

std::string_view Version() { return HERALD_VERSION_STRING; }

absl::StatusOr<Config> LoadConfig(int argc, char** argv, const EnvFn& env) {
  Config config;
  for (int i = 1; i < argc; ++i) {
    const std::string_view arg = argv[i];
    if (arg == "--help" || arg == "-h") {
      config.help_requested = true;
      return config;
    }
    if (arg == "--version") {
      config.version_requested = true;
      return config;
    }
  }

  Loader loader(config);
  std::vector<FlagValue> flags;
  std::optional<std::string> config_flag;
  for (int i = 1; i < argc; ++i) {
    const std::string_view arg = argv[i];
    if (!absl::StartsWith(Sv(arg), "--") || arg.size() == 2) {
      loader.Error(absl::StrCat("unexpected argument ", Quote(arg),
                                ": flags look like --name=value"));
      continue;
    }
    std::string_view name = arg.substr(2);
    std::optional<std::string> value;
    if (const size_t eq = name.find('='); eq != std::string_view::npos) {
      value = std::string(name.substr(eq + 1));
      name = name.substr(0, eq);
    }
    const Option* o = FindOption(name);
    if (o == nullptr && name != "config") {
      loader.Error(absl::StrCat("unknown flag --", Sv(name), " (see --help)"));
      // Skip its value too, so it is not reported as a stray argument.
      if (!value && i + 1 < argc && !absl::StartsWith(argv[i + 1], "-")) ++i;
      continue;
    }
    const bool is_bool = o != nullptr && o->member.index() == 2;
    if (!value) {
      const bool next_is_value =
          i + 1 < argc && !absl::StartsWith(argv[i + 1], "--");
      if (next_is_value) {
        value = argv[++i];
      } else if (is_bool) {
        value = "true";
      } else {
        loader.Error(absl::StrCat("flag --", Sv(name), " needs a value"));
        continue;
      }
    }
    if (o == nullptr) {
      config_flag = *value;
    } else {
      flags.push_back(
          {o, *std::move(value), absl::StrCat("flag --", Sv(name))});
    }
  }

  // Lowest to highest precedence: file, environment, flags.
  if (config_flag) {
    config.config_file = *config_flag;
  } else if (std::optional<std::string> f = env("HERALD_CONFIG")) {
    config.config_file = *f;
  }
  if (!config.config_file.empty()) {
    absl::Status s = LoadFile(config.config_file, loader);
    if (!s.ok()) return s;
  }
  for (const Option& o : Options()) {
    for (const std::string& name : EnvNames(o)) {
      if (std::optional<std::string> v = env(name)) {
        loader.Set(o, *v, absl::StrCat("environment variable ", name));
        break;  // HERALD_* first, then the Harbor names
      }
    }
  }
  for (const FlagValue& f : flags) loader.Set(*f.option, f.value, f.source);

  loader.Validate();
  if (absl::Status s = loader.Result(); !s.ok()) return s;
  if (config.admin_token_file.empty()) {
    config.admin_token_file = absl::StrCat(config.data_dir, "/admin.token");
  }
  if (config.secret_key_file.empty()) {
    config.secret_key_file = absl::StrCat(config.data_dir, "/secret.key");
    config.secret_key_file_is_default = true;
  }
  return config;
}

std::string HelpText(std::string_view program_name) {
  const Config defaults;
  std::string out = absl::StrCat(
      "Usage: ", Sv(program_name), " [--config=FILE] [--name=value ...]\n\n",
      "herald webhook notification server.\n\n",
      "Precedence: flags > environment > config file > defaults. Every "
      "option\n",
      "is also a config-file key (name = value) and an environment variable.\n",
      "Durations: 500ms, 3s, 2m or bare seconds. Bools: true/false, 1/0, "
      "yes/no.\n\n",
      "  --config=FILE  (env HERALD_CONFIG)\n",
      Wrap("Config file of `name = value` lines; see docs/configuration.md.",
           78, "      "),
      "  --help, -h\n      Print this help and exit.\n",
      "  --version\n      Print the version and exit.\n");
  for (const Option& o : Options()) {
    std::string def(o.default_doc);
    def.erase(std::remove(def.begin(), def.end(), '`'), def.end());
    if (def.empty()) {
      def = ValueText(defaults, o.member);
      if (o.member.index() == 0) def = Quote(def);
    }
    absl::StrAppend(&out, "\n  --", Sv(o.name), "=",
                    absl::AsciiStrToUpper(Sv(TypeName(o.member))),
                    "  (default ", def, ")\n");
    for (const std::string& env : EnvNames(o)) {
      absl::StrAppend(&out, "      env ", env, "\n");
    }
    std::string help = FullHelp(o);
    help.erase(std::remove(help.begin(), help.end(), '`'), help.end());
    absl::StrAppend(&out, Wrap(help, 78, "      "));
  }
  absl::StrAppend(&out, "\nEnvironment only:\n  HERALD_ADMIN_TOKEN\n",
                  Wrap("Bootstrap admin token to use instead of a generated "
                       "one. Never accepted as a flag or file key.",
                       78, "      "),
                  "  HERALD_SECRET_KEY\n",
                  Wrap("Key (base64 of 32 bytes) that encrypts stored "
                       "secrets, instead of secret_key_file.",
                       78, "      "));
  return out;
}

std::string ConfigMarkdownTable() {
  const Config defaults;
  std::string out =
      "| Option | Environment | Type | Default | Description |\n"
      "|---|---|---|---|---|\n";
  for (const Option& o : Options()) {
    std::vector<std::string> env;
    for (const std::string& e : EnvNames(o))
      env.push_back(absl::StrCat("`", e, "`"));
    std::string def;
    if (!o.default_doc.empty()) {
      def = std::string(o.default_doc);
    } else {
      const std::string v = ValueText(defaults, o.member);
      def = v.empty() ? "(empty)" : absl::StrCat("`", v, "`");
    }
    absl::StrAppend(&out, "| `", Sv(o.name), "` | ", absl::StrJoin(env, ", "),
                    " | ", Sv(TypeName(o.member)), " | ",
                    EscapeMarkdownCell(def), " | ",
                    EscapeMarkdownCell(FullHelp(o)), " |\n");
  }
  absl::StrAppend(
      &out,
      "| `--config` (flag only) | `HERALD_CONFIG` | string | (empty) | "
      "Config file to read (see [File format](#file-format)). Not a file "
      "key. |\n",
      "| (environment only) | `HERALD_ADMIN_TOKEN` | string | (empty) | "
      "Bootstrap admin token to use instead of generating one into "
      "`admin_token_file`. Read by heraldd directly, never from a flag or "
      "the config file, so it stays out of `ps` output and files. |\n",
      "| (environment only) | `HERALD_SECRET_KEY` | string | (empty) | "
      "The key that encrypts stored secrets (base64 of 32 bytes), instead "
      "of `secret_key_file`. Environment only, like `HERALD_ADMIN_TOKEN`. "
      "|\n");
  return out;
}

std::vector<std::pair<std::string, std::string>> DescribeConfig(
    const Config& config) {
  std::vector<std::pair<std::string, std::string>> out;
  for (const Option& o : Options()) {
    std::string value = ValueText(config, o.member);
    if (o.name == "postgres_dsn") value = MaskDsnPassword(value);
    out.emplace_back(std::string(o.name), std::move(value));
  }
  return out;
}

}  // namespace herald::common
