// heraldd configuration: one table of options drives flag, environment and
// config-file parsing, the --help text and docs/configuration.md, so the three
// cannot drift apart.
//
// Precedence (highest first):
//   1. command-line flags      --name=value, --name value
//   2. environment variables   HERALD_<NAME> (upper case); the Harbor settings
//                              also accept Harbor's own names, e.g.
//                              NOTIFICATION_ENABLE; HERALD_* wins over those
//   3. the config file         --config=<file> or HERALD_CONFIG=<file>
//   4. built-in defaults       the initializers of Config below
//
// Config file format (UTF-8 text, one setting per line):
//
//   # comment lines start with '#'; blank lines are ignored
//   listen_address = 0.0.0.0:7070
//   log_format     = text
//   address_file   = ""
//
// Whitespace around the name and the value is ignored. '#' starts a comment
// only as the first non-blank character of a line; there are no trailing
// comments, so values may contain '#'. A value wrapped
// in double quotes is taken literally (use it for empty strings or leading or
// trailing spaces); inside quotes, \" and \\ are the only escapes. A name may
// appear only once per file. Unknown names are errors.
//
// Value syntax, for every source:
//   string    taken as is
//   int       decimal integer
//   double    decimal number (1, 0.001, 1e-3)
//   bool      true/false, 1/0, yes/no, on/off (case-insensitive); a flag
//             given without a value (--allow_loopback_targets) means true
//   duration  a number with a unit, "500ms", "3s", "2m", "1h", "1m30s", or a
//             bare number of seconds ("3"), which is how Harbor writes them
//
// Every error names the option, where the bad value came from (file:line,
// environment variable, or flag), the value and what was expected.
#ifndef HERALD_SERVER_COMMON_CONFIG_H_
#define HERALD_SERVER_COMMON_CONFIG_H_

#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/time/time.h"

namespace herald::common {

// The daemon's settings. Plain data; the defaults here are the documented
// defaults (the generated docs read them from a default-constructed Config).
struct Config {
  // gRPC listener, host:port. Port 0 picks a free port.
  std::string listen_address = "127.0.0.1:7070";
  // If set, the bound host:port is written here once the server listens.
  std::string address_file;
  // Holds the SQLite database, the lock file and the bootstrap admin token.
  std::string data_dir = "./var";
  // "sqlite" or "postgres".
  std::string store = "sqlite";
  // libpq connection string; required when store == "postgres".
  std::string postgres_dsn;
  int postgres_pool_size = 8;
  // gRPC over TLS when both are set. Setting only one is an error.
  std::string tls_cert_file;
  std::string tls_key_file;
  // If set, clients must present a certificate signed by this CA (mutual
  // TLS). Requires tls_cert_file and tls_key_file.
  std::string tls_client_ca_file;
  // Prometheus /metrics listener, host:port; empty disables it.
  std::string metrics_address = "127.0.0.1:9090";
  // If set, the bound metrics host:port is written here.
  std::string metrics_address_file;
  // Harbor's ext_endpoint (http:// or https://), used to build resource_url.
  std::string registry_endpoint = "http://localhost";

  // Initial values of the AdminService settings: used until a setting has
  // been changed through AdminService; from then on the stored value takes
  // precedence over these (also across restarts).
  bool notification_enable = true;
  int webhook_job_max_retry = 3;
  absl::Duration webhook_job_http_client_timeout = absl::Seconds(3);
  int execution_retention_count = 50;

  // "debug", "info", "warn" or "error".
  std::string log_level = "info";
  // "json" or "text".
  std::string log_format = "json";

  // How long SIGTERM waits for in-flight calls and deliveries.
  absl::Duration shutdown_grace_period = absl::Seconds(10);
  // Threads for blocking store work behind the gRPC handlers.
  int worker_threads = 4;
  // gRPC maximum inbound message size.
  int max_receive_message_bytes = 4 * 1024 * 1024;
  // Where the bootstrap admin token is written. LoadConfig replaces an empty
  // value with "<data_dir>/admin.token".
  std::string admin_token_file;
  // The key that encrypts stored secrets (base64 of 32 bytes). LoadConfig
  // replaces an empty value with "<data_dir>/secret.key" (and sets
  // secret_key_file_is_default: only that file is generated when missing).
  std::string secret_key_file;
  // The previous key during a rotation; empty when not rotating.
  std::string secret_key_previous_file;
  // Publish rate limit per token, events/s (0 = none), and its burst (0 =
  // the same as the rate).
  int publish_rate_limit = 0;
  int publish_rate_burst = 0;

  int delivery_max_in_flight = 256;
  int delivery_per_endpoint_concurrency = 16;
  // Multiplies every retry delay (tests use 0.001).
  double delivery_backoff_scale = 1.0;
  // How long a claimed task stays owned by this replica.
  absl::Duration delivery_lease = absl::Seconds(60);
  // SSRF guard (server/common/address_rules.h): allow targets on loopback
  // addresses; also refuse RFC 1918 / CGNAT / ULA private addresses;
  // networks always allowed (comma-separated CIDRs, validated).
  bool allow_loopback_targets = false;
  bool strict_private_targets = false;
  std::string allowed_target_cidrs;

  // gRPC server keepalive: ping interval, ping ack timeout, and the minimum
  // interval between client pings the server tolerates.
  absl::Duration keepalive_time = absl::Seconds(60);
  absl::Duration keepalive_timeout = absl::Seconds(20);
  absl::Duration keepalive_permit_time = absl::Seconds(10);

  // Not options; filled in by LoadConfig.
  std::string config_file;         // the file read, "" if none
  bool secret_key_file_is_default = false;  // secret_key_file was empty
  bool help_requested = false;     // --help / -h: print HelpText(), exit 0
  bool version_requested = false;  // --version: print Version(), exit 0
};

// Looks up an environment variable; nullopt if unset. A variable set to ""
// counts as set (so HERALD_METRICS_ADDRESS= disables metrics).
using EnvFn = std::function<std::optional<std::string>(std::string_view name)>;

// An EnvFn over the process environment (getenv).
EnvFn ProcessEnv();

// Parses the configuration from argv[1..argc), `env` and the config file
// they name, applying the precedence above, then validates ranges and
// cross-field rules (TLS files in pairs, a DSN for postgres, ...).
//
// If --help/-h or --version appears, returns immediately with
// help_requested / version_requested set and everything else at defaults.
//
// Errors: InvalidArgumentError listing every problem found ("; "-separated),
// each naming the option, its source and the expected type or range;
// NotFoundError / PermissionDeniedError if the config file cannot be read.
// Thread-compatible; `env` is called only during the call.
absl::StatusOr<Config> LoadConfig(int argc, char** argv, const EnvFn& env);

// Usage text for --help, generated from the option table.
std::string HelpText(std::string_view program_name);

// The herald version ("0.1.0").
std::string_view Version();

// The Markdown table (header, one row per option, plus rows for --config /
// HERALD_CONFIG and HERALD_ADMIN_TOKEN) embedded in docs/configuration.md.
// Ends with a newline.
std::string ConfigMarkdownTable();

// Every option as (name, value) with values in config syntax, in table
// order, for logging the effective configuration at startup. The password in
// postgres_dsn is masked.
std::vector<std::pair<std::string, std::string>> DescribeConfig(
    const Config& config);

}  // namespace herald::common

#endif  // HERALD_SERVER_COMMON_CONFIG_H_
