// Structured logging for heraldd: one record per line, either JSON lines
//
//   {"ts":"2026-11-27T10:00:00.123456Z","level":"info","msg":"server
//   started","address":"127.0.0.1:7070","port":7070}
//
// or a human-readable text format
//
//   2026-11-27T10:00:00.123456Z INFO  server started address=127.0.0.1:7070
//   port=7070
//
// Usage:
//
//   herald::log::Info("server started", {{"address", addr}, {"port", 7070}});
//
//   if (herald::log::Enabled(herald::log::Level::kDebug)) {  // hot paths
//     herald::log::Debug("claimed", {{"task_id", id}});
//   }
//
// SECRETS MUST NEVER BE LOGGED. Auth headers, signing secrets, API tokens,
// passwords and DSNs with passwords are not passed as field values, not even
// at debug level. When an operator needs to tell which secret was used, log
// MaskSecret(secret), which keeps at most the last four characters.
//
// Thread-safety: every function here may be called from any thread. Each
// record is written with a single write(2) on stderr, so records from
// concurrent threads (and from other processes appending to the same file or
// pipe, for records up to PIPE_BUF bytes) never interleave. Logging never
// fails: write errors are ignored.
#ifndef HERALD_SERVER_COMMON_LOG_H_
#define HERALD_SERVER_COMMON_LOG_H_

#include <concepts>
#include <cstdint>
#include <functional>
#include <initializer_list>
#include <string>
#include <string_view>
#include <variant>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "absl/types/span.h"

namespace herald::log {

enum class Level { kDebug = 0, kInfo = 1, kWarn = 2, kError = 3 };

enum class Format {
  kJson,  // one JSON object per line (the default)
  kText,  // "ts LEVEL msg key=value ..." for humans
};

// "debug", "info", "warn" (or "warning"), "error"; case-insensitive.
absl::StatusOr<Level> ParseLevel(std::string_view text);
// "json" or "text"; case-insensitive.
absl::StatusOr<Format> ParseFormat(std::string_view text);
// "debug", "info", "warn", "error".
std::string_view LevelName(Level level);

// A field value: a string, a signed or unsigned integer, a double or a bool.
// Implicitly constructible from all of those (and from absl::Duration and
// absl::Time, which are rendered as strings), so call sites can write
// {{"port", 7070}, {"ok", true}}. Owns its string.
class Value {
 public:
  using Storage = std::variant<std::string, int64_t, uint64_t, double, bool>;

  Value(std::string_view s) : v_(std::string(s)) {}
  Value(absl::string_view s) : v_(std::string(s)) {}
  Value(const char* s) : v_(std::string(s == nullptr ? "" : s)) {}
  Value(const std::string& s) : v_(s) {}
  Value(std::string&& s) : v_(std::move(s)) {}
  Value(bool b) : v_(b) {}
  Value(double d) : v_(d) {}
  Value(float f) : v_(static_cast<double>(f)) {}
  template <std::signed_integral T>
  requires(!std::same_as<T, bool> && !std::same_as<T, char>) Value(T i)
      : v_(static_cast<int64_t>(i)) {}
  template <std::unsigned_integral T>
  requires(!std::same_as<T, bool>) Value(T u) : v_(static_cast<uint64_t>(u)) {}
  Value(absl::Duration d);  // "1.5s"
  Value(absl::Time t);      // "2026-11-27T10:00:00.123456Z"

  const Storage& storage() const { return v_; }

 private:
  Storage v_;
};

// One key/value pair of a record. Keys should be lower_snake_case ASCII. The
// keys "ts", "level" and "msg" are reserved; a field using one of them is
// written as "field_ts", "field_level" or "field_msg".
struct Field {
  std::string_view key;
  Value value;
};

// The global minimum level (default kInfo). Records below it are dropped.
void SetMinLevel(Level level);
Level MinLevel();
// True if a record at `level` would be written. Use it to skip building
// expensive fields on hot paths.
bool Enabled(Level level);

// The global output format (default kJson).
void SetFormat(Format format);
Format CurrentFormat();

// Writes one record if `level` is enabled.
void Log(Level level, std::string_view msg, absl::Span<const Field> fields);
inline void Log(Level level, std::string_view msg,
                std::initializer_list<Field> fields = {}) {
  Log(level, msg, absl::Span<const Field>(fields.begin(), fields.size()));
}

inline void Debug(std::string_view msg, std::initializer_list<Field> f = {}) {
  Log(Level::kDebug, msg, f);
}
inline void Info(std::string_view msg, std::initializer_list<Field> f = {}) {
  Log(Level::kInfo, msg, f);
}
inline void Warn(std::string_view msg, std::initializer_list<Field> f = {}) {
  Log(Level::kWarn, msg, f);
}
inline void Error(std::string_view msg, std::initializer_list<Field> f = {}) {
  Log(Level::kError, msg, f);
}

// Formats one record, including the trailing '\n', without writing it.
// Timestamps are UTC with microseconds. Strings are escaped so that a record
// is always exactly one line: in JSON, '"', '\\' and control characters are
// escaped (\n, \t, ..., \u001b) and invalid UTF-8 bytes become U+FFFD; NaN
// and infinities are written as the strings "NaN", "+Inf", "-Inf". In text,
// values containing spaces, '"', '=' or control characters are quoted with
// the same escapes.
std::string FormatRecord(Format format, absl::Time ts, Level level,
                         std::string_view msg, absl::Span<const Field> fields);

// Appends `s` to `out` as a JSON string literal (with the quotes), using the
// escaping described at FormatRecord.
void AppendJsonString(std::string& out, std::string_view s);

// Masks a secret for display: "****" followed by its last four characters
// when it is at least 16 characters long, else just "****". Never reveals
// more than four characters, and nothing of short secrets.
std::string MaskSecret(std::string_view secret);

// Receives each formatted record (one line, '\n' included).
using Sink = std::function<void(std::string_view line)>;

// Replaces the stderr writer with `sink` (for tests); an empty Sink restores
// stderr. Calls to the sink are serialized, so a test sink needs no lock of
// its own. Do not log from inside the sink.
void SetSinkForTest(Sink sink);

}  // namespace herald::log

#endif  // HERALD_SERVER_COMMON_LOG_H_
