// What one delivery attempt's outcome means, and when the next attempt is
// due: pure functions, no I/O, no clock, no randomness of their own (the
// caller passes a uniform random number), so every rule is unit-tested.
//
// Outcome rules (Harbor's, plus herald's additions from the design):
//   * Any 2xx is success (Harbor: `resp.StatusCode < 200 || >= 300` fails).
//   * 410 Gone ends the task at once: final Error, no more attempts.
//   * 429 and 503 with a Retry-After: retry after that delay, clamped to
//     [kMinRetryAfter, kMaxRetryAfter] = [1 s, 1 h]. The delay is the
//     receiver's explicit request and is NOT multiplied by the backoff
//     scale. Without Retry-After they are ordinary failures.
//   * 3xx is a failure (redirects are not followed unless the target opts
//     in; the Location is logged). Every other status - 4xx as in Harbor,
//     and 5xx - is a failure that is retried.
//   * Transport errors - timeout, connection refused/reset, DNS, TLS,
//     protocol, too many redirects, anything else - are retried.
//   * A failure is retried while attempts remain (attempt < max_attempts,
//     Harbor's webhook_job_max_retry meaning: total attempts), else the
//     task ends with a final Error.
//
// Backoff after the n-th failure (fails = n):
//   * Harbor (default): fails^4 + 15 + rand[0,30) * (fails + 1) seconds,
//     rand an integer (gocraft/work's default calculator): 16-74 s, then
//     31-118 s, 96-212 s, ...
//   * Exponential: full jitter, rand[0,1) * min(max_backoff,
//     initial_backoff * 2^(fails-1)); defaults 10 s and 1 h.
//   Either is multiplied by the configured backoff scale (tests: 0.001).
#ifndef HERALD_SERVER_DELIVERY_RETRY_POLICY_H_
#define HERALD_SERVER_DELIVERY_RETRY_POLICY_H_

#include <string>
#include <string_view>
#include <vector>

#include "absl/time/time.h"
#include "server/core/policy.h"
#include "server/core/settings.h"
#include "server/delivery/http_sender.h"

namespace herald::delivery {

// The bounds applied to a Retry-After value.
inline constexpr absl::Duration kMinRetryAfter = absl::Seconds(1);
inline constexpr absl::Duration kMaxRetryAfter = absl::Hours(1);
// Exponential backoff defaults (policy.proto RetryPolicy).
inline constexpr absl::Duration kDefaultInitialBackoff = absl::Seconds(10);
inline constexpr absl::Duration kDefaultMaxBackoff = absl::Hours(1);
// The most of a response body a task log line keeps.
inline constexpr size_t kLogBodyBytes = 1024;

// Harbor's backoff after `fails` failures (>= 1); `uniform` in [0, 1).
absl::Duration HarborBackoff(int fails, double uniform);

// initial * 2^(fails-1), capped at max, times `uniform` in [0, 1) (full
// jitter). Zero `initial`/`max` mean the defaults above.
absl::Duration ExponentialBackoff(int fails, absl::Duration initial,
                                  absl::Duration max, double uniform);

// The policy's backoff (Harbor's when unspecified), unscaled.
absl::Duration Backoff(const core::RetryPolicy& policy, int fails,
                       double uniform);

// Total attempts of a new cycle: the policy's override, else the setting.
int EffectiveMaxAttempts(const core::RetryPolicy& policy,
                         const core::Settings& settings);

// The whole-request timeout: the policy's override, else the setting.
absl::Duration EffectiveTimeout(const core::RetryPolicy& policy,
                                const core::Settings& settings);

// Clamps a Retry-After value to [kMinRetryAfter, kMaxRetryAfter].
absl::Duration ClampRetryAfter(absl::Duration retry_after);

enum class Verdict {
  kSuccess,  // delivered
  kRetry,    // failed; another attempt after `delay`
  kFailed,   // failed; final
};

struct AttemptContext {
  int attempt = 1;       // this attempt's number, 1-based (run_count)
  int max_attempts = 3;  // the cycle's budget
  core::RetryPolicy retry_policy;
  double backoff_scale = 1.0;  // multiplies computed backoff (not Retry-After)
  double uniform = 0.5;        // a uniform random number in [0, 1)
};

struct AttemptOutcome {
  Verdict verdict = Verdict::kFailed;
  // kRetry: how long after this attempt the next one is due.
  absl::Duration delay = absl::ZeroDuration();
  // True when `delay` is the receiver's (clamped) Retry-After.
  bool retry_after = false;
  // Harbor's task status message: why the attempt failed ("" on success),
  // e.g. "abnormal response code: 500" or "timeout: ...". Raw: pass it
  // through SanitizeForLog before storing or showing it.
  std::string error;
  // Why no further attempt is made (kFailed): "410 Gone" or
  // "no attempts left".
  std::string final_reason;
};

// Classifies one exchange.
AttemptOutcome ClassifyAttempt(const HttpResult& result,
                               const AttemptContext& context);

// One task log line (no trailing newline):
//   <time> attempt <n> of <N>: status <code>|no response, latency <ms>ms,
//   delivered | error: <error>[, location: <Location>][, body: "<excerpt>"];
//   retry in <delay>[ (Retry-After)] | no more attempts (<reason>)
// The body excerpt (failures only) is at most kLogBodyBytes of the
// response, escaped to one line of valid UTF-8. Every occurrence of a
// string in `secrets` (and of the credential part of an "<scheme> <cred>"
// value) is replaced by "[redacted]", so a receiver that echoes request
// headers back cannot leak them into the log.
std::string FormatAttemptLog(absl::Time when, const AttemptContext& context,
                             const HttpResult& result,
                             const AttemptOutcome& outcome,
                             const std::vector<std::string>& secrets);

// The secret strings of a target that must never appear in a log: the
// auth_header, the signing secrets and the custom header values.
std::vector<std::string> SecretsOf(const core::Target& target);

// `text` as one line of valid UTF-8: printable ASCII kept, backslash,
// quote and control characters escaped (\\, \", \n, \r, \t, \xNN), valid
// multi-byte UTF-8 kept, invalid bytes as \xNN. Then secrets redacted.
std::string SanitizeForLog(std::string_view text,
                           const std::vector<std::string>& secrets);

}  // namespace herald::delivery

#endif  // HERALD_SERVER_DELIVERY_RETRY_POLICY_H_
