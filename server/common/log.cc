#include "server/common/log.h"

#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <charconv>
#include <cmath>
#include <utility>

#include "absl/base/attributes.h"
#include "absl/base/const_init.h"
#include "absl/base/thread_annotations.h"
#include "absl/status/status.h"
#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/clock.h"

namespace herald::log {
namespace {

std::atomic<int> g_min_level{static_cast<int>(Level::kInfo)};
std::atomic<int> g_format{static_cast<int>(Format::kJson)};

// The test sink. g_has_sink lets the stderr path skip the mutex entirely.
ABSL_CONST_INIT absl::Mutex g_sink_mu(absl::kConstInit);
Sink* g_sink ABSL_GUARDED_BY(g_sink_mu) = nullptr;
std::atomic<bool> g_has_sink{false};

constexpr char kHex[] = "0123456789abcdef";
constexpr std::string_view kReplacementChar = "\xEF\xBF\xBD";  // U+FFFD

// Length of the well-formed UTF-8 sequence starting at p[0] (a byte >= 0x80),
// or 0 if it is not well formed (overlong, surrogate, > U+10FFFF, truncated).
size_t Utf8SequenceLength(const unsigned char* p, size_t n) {
  auto cont = [&](size_t i, unsigned char lo = 0x80, unsigned char hi = 0xBF) {
    return i < n && p[i] >= lo && p[i] <= hi;
  };
  const unsigned char b = p[0];
  if (b >= 0xC2 && b <= 0xDF) return cont(1) ? 2 : 0;
  if (b == 0xE0) return cont(1, 0xA0) && cont(2) ? 3 : 0;
  if ((b >= 0xE1 && b <= 0xEC) || b == 0xEE || b == 0xEF)
    return cont(1) && cont(2) ? 3 : 0;
  if (b == 0xED) return cont(1, 0x80, 0x9F) && cont(2) ? 3 : 0;
  if (b == 0xF0) return cont(1, 0x90) && cont(2) && cont(3) ? 4 : 0;
  if (b >= 0xF1 && b <= 0xF3) return cont(1) && cont(2) && cont(3) ? 4 : 0;
  if (b == 0xF4) return cont(1, 0x80, 0x8F) && cont(2) && cont(3) ? 4 : 0;
  return 0;
}

// JSON string escaping without the surrounding quotes.
void AppendEscaped(std::string& out, std::string_view s) {
  const auto* p = reinterpret_cast<const unsigned char*>(s.data());
  const size_t n = s.size();
  for (size_t i = 0; i < n;) {
    const unsigned char c = p[i];
    if (c >= 0x80) {
      const size_t len = Utf8SequenceLength(p + i, n - i);
      if (len == 0) {
        out.append(kReplacementChar);
        ++i;
      } else {
        out.append(s.data() + i, len);
        i += len;
      }
      continue;
    }
    switch (c) {
      case '"':
        out.append("\\\"");
        break;
      case '\\':
        out.append("\\\\");
        break;
      case '\b':
        out.append("\\b");
        break;
      case '\f':
        out.append("\\f");
        break;
      case '\n':
        out.append("\\n");
        break;
      case '\r':
        out.append("\\r");
        break;
      case '\t':
        out.append("\\t");
        break;
      default:
        if (c < 0x20 || c == 0x7f) {
          out.append("\\u00");
          out.push_back(kHex[c >> 4]);
          out.push_back(kHex[c & 0xf]);
        } else {
          out.push_back(static_cast<char>(c));
        }
    }
    ++i;
  }
}

// Text-format values are bare unless they would be ambiguous to read back.
bool NeedsQuotes(std::string_view s) {
  if (s.empty()) return true;
  for (unsigned char c : s) {
    if (c <= ' ' || c == '"' || c == '=' || c == '\\' || c == 0x7f) return true;
  }
  return false;
}

void AppendDouble(std::string& out, double d, bool quote_non_finite) {
  if (!std::isfinite(d)) {
    const char* name = std::isnan(d) ? "NaN" : (d > 0 ? "+Inf" : "-Inf");
    if (quote_non_finite) {
      absl::StrAppend(&out, "\"", name, "\"");
    } else {
      out.append(name);
    }
    return;
  }
  char buf[64];
  auto [end, ec] = std::to_chars(buf, buf + sizeof(buf), d);
  out.append(buf, ec == std::errc() ? end : buf);
}

void AppendJsonValue(std::string& out, const Value& value) {
  std::visit(
      [&](const auto& v) {
        using T = std::decay_t<decltype(v)>;
        if constexpr (std::is_same_v<T, std::string>) {
          AppendJsonString(out, v);
        } else if constexpr (std::is_same_v<T, bool>) {
          out.append(v ? "true" : "false");
        } else if constexpr (std::is_same_v<T, double>) {
          AppendDouble(out, v, /*quote_non_finite=*/true);
        } else {
          absl::StrAppend(&out, v);
        }
      },
      value.storage());
}

void AppendTextValue(std::string& out, const Value& value) {
  std::visit(
      [&](const auto& v) {
        using T = std::decay_t<decltype(v)>;
        if constexpr (std::is_same_v<T, std::string>) {
          if (NeedsQuotes(v)) {
            AppendJsonString(out, v);
          } else {
            AppendEscaped(out, v);  // still replaces invalid UTF-8
          }
        } else if constexpr (std::is_same_v<T, bool>) {
          out.append(v ? "true" : "false");
        } else if constexpr (std::is_same_v<T, double>) {
          AppendDouble(out, v, /*quote_non_finite=*/false);
        } else {
          absl::StrAppend(&out, v);
        }
      },
      value.storage());
}

std::string_view FieldKey(std::string_view key, std::string& scratch) {
  if (key == "ts" || key == "level" || key == "msg") {
    scratch = absl::StrCat("field_", absl::string_view(key.data(), key.size()));
    return scratch;
  }
  return key;
}

void WriteToStderr(std::string_view line) {
  const char* p = line.data();
  size_t left = line.size();
  while (left > 0) {
    const ssize_t n = ::write(STDERR_FILENO, p, left);
    if (n < 0) {
      if (errno == EINTR) continue;
      return;  // nowhere left to report it
    }
    p += n;
    left -= static_cast<size_t>(n);
  }
}

}  // namespace

constexpr char kTimeFormat[] = "%Y-%m-%dT%H:%M:%E6SZ";

Value::Value(absl::Duration d) : v_(absl::FormatDuration(d)) {}
Value::Value(absl::Time t)
    : v_(absl::FormatTime(kTimeFormat, t, absl::UTCTimeZone())) {}

absl::StatusOr<Level> ParseLevel(std::string_view text) {
  const std::string t =
      absl::AsciiStrToLower(absl::string_view(text.data(), text.size()));
  if (t == "debug") return Level::kDebug;
  if (t == "info") return Level::kInfo;
  if (t == "warn" || t == "warning") return Level::kWarn;
  if (t == "error") return Level::kError;
  return absl::InvalidArgumentError(absl::StrCat(
      "unknown log level \"", t, "\": expected debug, info, warn or error"));
}

absl::StatusOr<Format> ParseFormat(std::string_view text) {
  const std::string t =
      absl::AsciiStrToLower(absl::string_view(text.data(), text.size()));
  if (t == "json") return Format::kJson;
  if (t == "text") return Format::kText;
  return absl::InvalidArgumentError(
      absl::StrCat("unknown log format \"", t, "\": expected json or text"));
}

std::string_view LevelName(Level level) {
  switch (level) {
    case Level::kDebug:
      return "debug";
    case Level::kInfo:
      return "info";
    case Level::kWarn:
      return "warn";
    case Level::kError:
      return "error";
  }
  return "unknown";
}

void SetMinLevel(Level level) {
  g_min_level.store(static_cast<int>(level), std::memory_order_relaxed);
}
Level MinLevel() {
  return static_cast<Level>(g_min_level.load(std::memory_order_relaxed));
}
bool Enabled(Level level) {
  return static_cast<int>(level) >= g_min_level.load(std::memory_order_relaxed);
}

void SetFormat(Format format) {
  g_format.store(static_cast<int>(format), std::memory_order_relaxed);
}
Format CurrentFormat() {
  return static_cast<Format>(g_format.load(std::memory_order_relaxed));
}

void AppendJsonString(std::string& out, std::string_view s) {
  out.push_back('"');
  AppendEscaped(out, s);
  out.push_back('"');
}

std::string FormatRecord(Format format, absl::Time ts, Level level,
                         std::string_view msg, absl::Span<const Field> fields) {
  std::string out;
  out.reserve(96 + msg.size() + 32 * fields.size());
  const std::string time =
      absl::FormatTime(kTimeFormat, ts, absl::UTCTimeZone());
  std::string scratch;
  if (format == Format::kJson) {
    absl::StrAppend(
        &out, "{\"ts\":\"", time, "\",\"level\":\"",
        absl::string_view(LevelName(level).data(), LevelName(level).size()),
        "\",\"msg\":");
    AppendJsonString(out, msg);
    for (const Field& f : fields) {
      out.push_back(',');
      AppendJsonString(out, FieldKey(f.key, scratch));
      out.push_back(':');
      AppendJsonValue(out, f.value);
    }
    out.append("}\n");
  } else {
    std::string name = absl::AsciiStrToUpper(
        absl::string_view(LevelName(level).data(), LevelName(level).size()));
    name.resize(5, ' ');
    absl::StrAppend(&out, time, " ", name, " ");
    AppendEscaped(out, msg);
    for (const Field& f : fields) {
      out.push_back(' ');
      AppendEscaped(out, FieldKey(f.key, scratch));
      out.push_back('=');
      AppendTextValue(out, f.value);
    }
    out.push_back('\n');
  }
  return out;
}

void Log(Level level, std::string_view msg, absl::Span<const Field> fields) {
  if (!Enabled(level)) return;
  const std::string line =
      FormatRecord(CurrentFormat(), absl::Now(), level, msg, fields);
  if (g_has_sink.load(std::memory_order_acquire)) {
    absl::MutexLock lock(&g_sink_mu);
    if (g_sink != nullptr) {
      (*g_sink)(line);
      return;
    }
  }
  WriteToStderr(line);
}

std::string MaskSecret(std::string_view secret) {
  if (secret.size() < 16) return "****";
  return absl::StrCat("****",
                      absl::string_view(secret.data() + secret.size() - 4, 4));
}

void SetSinkForTest(Sink sink) {
  absl::MutexLock lock(&g_sink_mu);
  delete g_sink;
  g_sink = sink ? new Sink(std::move(sink)) : nullptr;
  g_has_sink.store(g_sink != nullptr, std::memory_order_release);
}

}  // namespace herald::log
