#include "server/delivery/retry_policy.h"

#include <algorithm>
#include <cmath>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_replace.h"

namespace herald::delivery {
namespace {

double ClampUniform(double u) {
  if (!(u >= 0.0)) return 0.0;  // also NaN
  return u >= 1.0 ? std::nextafter(1.0, 0.0) : u;
}

absl::Duration Scale(absl::Duration d, double scale) {
  if (!(scale > 0.0)) return absl::ZeroDuration();
  return absl::Nanoseconds(
      static_cast<int64_t>(absl::ToDoubleNanoseconds(d) * scale));
}

// "16.4s", "120ms", "1h2m3s": absl's own formatting, rounded to 1 ms.
std::string FormatDelay(absl::Duration d) {
  return absl::FormatDuration(absl::Trunc(d, absl::Milliseconds(1)));
}

bool IsRetryAfterStatus(int code) { return code == 429 || code == 503; }

// Length of the valid UTF-8 sequence at s[i], 0 if invalid.
size_t Utf8SequenceLength(std::string_view s, size_t i) {
  const auto b = [&](size_t k) { return static_cast<unsigned char>(s[k]); };
  const unsigned char c = b(i);
  size_t n;
  uint32_t min;
  if (c >= 0xc2 && c <= 0xdf) {
    n = 2, min = 0x80;
  } else if (c >= 0xe0 && c <= 0xef) {
    n = 3, min = 0x800;
  } else if (c >= 0xf0 && c <= 0xf4) {
    n = 4, min = 0x10000;
  } else {
    return 0;
  }
  if (i + n > s.size()) return 0;
  uint32_t cp = c & (0x7f >> n);
  for (size_t k = 1; k < n; ++k) {
    if ((b(i + k) & 0xc0) != 0x80) return 0;
    cp = (cp << 6) | (b(i + k) & 0x3f);
  }
  if (cp < min || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff)) return 0;
  return n;
}

std::string Escape(std::string_view s) {
  std::string out;
  out.reserve(s.size());
  for (size_t i = 0; i < s.size();) {
    const unsigned char c = static_cast<unsigned char>(s[i]);
    if (c >= 0x80) {
      if (size_t n = Utf8SequenceLength(s, i); n > 0) {
        out.append(s.substr(i, n));
        i += n;
      } else {
        absl::StrAppendFormat(&out, "\\x%02x", c);
        ++i;
      }
      continue;
    }
    switch (c) {
      case '\\': out += "\\\\"; break;
      case '"': out += "\\\""; break;
      case '\n': out += "\\n"; break;
      case '\r': out += "\\r"; break;
      case '\t': out += "\\t"; break;
      default:
        if (c < 0x20 || c == 0x7f) {
          absl::StrAppendFormat(&out, "\\x%02x", c);
        } else {
          out += static_cast<char>(c);
        }
    }
    ++i;
  }
  return out;
}

// Secrets shorter than this are not searched for: replacing every "1" of a
// body would hide everything and protect nothing.
constexpr size_t kMinSecretLength = 4;

std::string Redact(std::string_view text,
                   const std::vector<std::string>& secrets) {
  std::string out(text);
  std::vector<std::string> needles;
  for (const std::string& secret : secrets) {
    if (secret.size() >= kMinSecretLength) needles.push_back(secret);
    // "Bearer <token>", "Basic <b64>": the credential alone too.
    if (size_t space = secret.find(' '); space != std::string::npos) {
      std::string cred = secret.substr(space + 1);
      while (!cred.empty() && cred.front() == ' ') cred.erase(0, 1);
      if (cred.size() >= kMinSecretLength) needles.push_back(cred);
    }
  }
  // Longest first, so a secret that contains another is replaced whole.
  std::sort(needles.begin(), needles.end(),
            [](const std::string& a, const std::string& b) {
              return a.size() > b.size();
            });
  for (const std::string& needle : needles) {
    size_t pos = 0;
    while ((pos = out.find(needle, pos)) != std::string::npos) {
      out.replace(pos, needle.size(), "[redacted]");
      pos += 10;
    }
  }
  return out;
}

}  // namespace

absl::Duration HarborBackoff(int fails, double uniform) {
  fails = std::max(fails, 1);
  // gocraft/work: rand.Intn(30), an integer in [0, 30).
  const int64_t f = fails;
  const int64_t r = static_cast<int64_t>(ClampUniform(uniform) * 30.0);
  return absl::Seconds(f * f * f * f + 15 + r * (f + 1));
}

absl::Duration ExponentialBackoff(int fails, absl::Duration initial,
                                  absl::Duration max, double uniform) {
  if (initial <= absl::ZeroDuration()) initial = kDefaultInitialBackoff;
  if (max <= absl::ZeroDuration()) max = kDefaultMaxBackoff;
  fails = std::max(fails, 1);
  absl::Duration cap = initial;
  for (int i = 1; i < fails && cap < max; ++i) cap *= 2;
  cap = std::min(cap, max);
  return absl::Nanoseconds(static_cast<int64_t>(
      absl::ToDoubleNanoseconds(cap) * ClampUniform(uniform)));
}

absl::Duration Backoff(const core::RetryPolicy& policy, int fails,
                       double uniform) {
  if (policy.backoff == core::BackoffKind::kExponential) {
    return ExponentialBackoff(fails, policy.initial_backoff,
                              policy.max_backoff, uniform);
  }
  return HarborBackoff(fails, uniform);
}

int EffectiveMaxAttempts(const core::RetryPolicy& policy,
                         const core::Settings& settings) {
  return policy.max_attempts > 0 ? policy.max_attempts
                                 : std::max(settings.webhook_job_max_retry, 1);
}

absl::Duration EffectiveTimeout(const core::RetryPolicy& policy,
                                const core::Settings& settings) {
  if (policy.http_timeout > absl::ZeroDuration()) return policy.http_timeout;
  if (settings.webhook_job_http_client_timeout > absl::ZeroDuration()) {
    return settings.webhook_job_http_client_timeout;
  }
  return absl::Seconds(3);
}

absl::Duration ClampRetryAfter(absl::Duration retry_after) {
  return std::clamp(retry_after, kMinRetryAfter, kMaxRetryAfter);
}

AttemptOutcome ClassifyAttempt(const HttpResult& result,
                               const AttemptContext& context) {
  AttemptOutcome out;
  const bool responded = result.error_kind == HttpErrorKind::kNone;
  const int code = result.status_code;
  if (responded && code >= 200 && code < 300) {
    out.verdict = Verdict::kSuccess;
    return out;
  }
  if (responded) {
    out.error = absl::StrCat("abnormal response code: ", code);
    if (code >= 300 && code < 400) {
      absl::StrAppend(&out.error, " (redirect not followed)");
    }
  } else {
    out.error = absl::StrCat(
        std::string(HttpErrorKindName(result.error_kind)), ": ",
        result.error.empty() ? std::string("no details") : result.error);
  }
  if (responded && code == 410) {
    out.verdict = Verdict::kFailed;
    out.final_reason = "410 Gone";
    return out;
  }
  if (context.attempt >= context.max_attempts) {
    out.verdict = Verdict::kFailed;
    out.final_reason = "no attempts left";
    return out;
  }
  out.verdict = Verdict::kRetry;
  if (responded && IsRetryAfterStatus(code) && result.retry_after.has_value()) {
    out.delay = ClampRetryAfter(*result.retry_after);
    out.retry_after = true;
  } else {
    out.delay = Scale(Backoff(context.retry_policy, context.attempt,
                              context.uniform),
                      context.backoff_scale);
  }
  return out;
}

std::string SanitizeForLog(std::string_view text,
                           const std::vector<std::string>& secrets) {
  return Escape(Redact(text, secrets));
}

std::vector<std::string> SecretsOf(const core::Target& target) {
  std::vector<std::string> secrets;
  if (!target.auth_header.empty()) secrets.push_back(target.auth_header);
  if (!target.signing_secret.empty()) {
    secrets.push_back(target.signing_secret);
  }
  if (!target.previous_signing_secret.empty()) {
    secrets.push_back(target.previous_signing_secret);
  }
  for (const core::Header& h : target.headers) {
    if (!h.value.empty()) secrets.push_back(h.value);
  }
  return secrets;
}

std::string FormatAttemptLog(absl::Time when, const AttemptContext& context,
                             const HttpResult& result,
                             const AttemptOutcome& outcome,
                             const std::vector<std::string>& secrets) {
  std::string line = absl::StrCat(
      absl::FormatTime("%Y-%m-%dT%H:%M:%E3SZ", when, absl::UTCTimeZone()),
      " attempt ", context.attempt, " of ", context.max_attempts, ": ");
  if (result.status_code > 0) {
    absl::StrAppend(&line, "status ", result.status_code);
  } else {
    absl::StrAppend(&line, "no response");
  }
  absl::StrAppend(&line, ", latency ",
                  absl::ToInt64Milliseconds(result.latency), "ms");
  if (outcome.verdict == Verdict::kSuccess) {
    absl::StrAppend(&line, ", delivered");
    return line;
  }
  absl::StrAppend(&line, ", error: ", SanitizeForLog(outcome.error, secrets));
  if (!result.location.empty()) {
    absl::StrAppend(&line, ", location: ",
                    SanitizeForLog(result.location, secrets));
  }
  if (!result.body_excerpt.empty()) {
    std::string_view body = result.body_excerpt;
    if (body.size() > kLogBodyBytes) body = body.substr(0, kLogBodyBytes);
    absl::StrAppend(&line, ", body: \"", SanitizeForLog(body, secrets), "\"");
  }
  if (outcome.verdict == Verdict::kRetry) {
    absl::StrAppend(&line, "; retry in ", FormatDelay(outcome.delay),
                    outcome.retry_after ? " (Retry-After)" : "");
  } else {
    absl::StrAppend(&line, "; no more attempts (", outcome.final_reason, ")");
  }
  return line;
}

}  // namespace herald::delivery
