// retry_policy.h as a specification: which outcomes are retried, final or
// successful, the backoff formulas and their bounds, and the task log line.
#include "server/delivery/retry_policy.h"

#include <string>

#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace herald::delivery {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;
using ::testing::StartsWith;

HttpResult Status(int code, std::optional<absl::Duration> retry_after = {}) {
  HttpResult r;
  r.status_code = code;
  r.retry_after = retry_after;
  r.latency = absl::Milliseconds(12);
  return r;
}

HttpResult Error(HttpErrorKind kind, std::string error) {
  HttpResult r;
  r.error_kind = kind;
  r.error = std::move(error);
  r.latency = absl::Milliseconds(1000);
  return r;
}

AttemptContext Context(int attempt, int max_attempts = 3) {
  AttemptContext c;
  c.attempt = attempt;
  c.max_attempts = max_attempts;
  c.uniform = 0.0;
  return c;
}

// ----------------------------------------------------------------- Backoff

TEST(HarborBackoffTest, MatchesGocraftsDefaultCalculator) {
  // fails^4 + 15 + rand.Intn(30) * (fails + 1) seconds.
  EXPECT_EQ(HarborBackoff(1, 0.0), absl::Seconds(16));
  EXPECT_EQ(HarborBackoff(1, 0.9999), absl::Seconds(74));
  EXPECT_EQ(HarborBackoff(2, 0.0), absl::Seconds(31));
  EXPECT_EQ(HarborBackoff(2, 0.9999), absl::Seconds(118));
  EXPECT_EQ(HarborBackoff(3, 0.0), absl::Seconds(96));
  EXPECT_EQ(HarborBackoff(3, 0.9999), absl::Seconds(212));
  EXPECT_EQ(HarborBackoff(4, 0.5), absl::Seconds(256 + 15 + 15 * 5));
  // Out-of-range randomness is clamped, never beyond the formula's bounds.
  EXPECT_EQ(HarborBackoff(1, 1.0), absl::Seconds(74));
  EXPECT_EQ(HarborBackoff(1, -3.0), absl::Seconds(16));
  EXPECT_EQ(HarborBackoff(0, 0.0), absl::Seconds(16));  // as fails = 1
}

TEST(ExponentialBackoffTest, FullJitterUnderACappedDoubling) {
  const absl::Duration initial = absl::Seconds(10), max = absl::Seconds(60);
  EXPECT_EQ(ExponentialBackoff(1, initial, max, 0.5), absl::Seconds(5));
  EXPECT_EQ(ExponentialBackoff(2, initial, max, 0.5), absl::Seconds(10));
  EXPECT_EQ(ExponentialBackoff(3, initial, max, 0.5), absl::Seconds(20));
  EXPECT_EQ(ExponentialBackoff(4, initial, max, 0.5), absl::Seconds(30));
  EXPECT_EQ(ExponentialBackoff(40, initial, max, 0.5), absl::Seconds(30));
  EXPECT_EQ(ExponentialBackoff(1, initial, max, 0.0), absl::ZeroDuration());
  EXPECT_LT(ExponentialBackoff(9, initial, max, 0.9999), max);
  // Defaults: 10 s initial, 1 h max.
  EXPECT_EQ(ExponentialBackoff(1, absl::ZeroDuration(), absl::ZeroDuration(),
                               0.5),
            absl::Seconds(5));
  EXPECT_EQ(ExponentialBackoff(100, absl::ZeroDuration(),
                               absl::ZeroDuration(), 0.5),
            absl::Minutes(30));
}

TEST(BackoffTest, FollowsThePolicy) {
  core::RetryPolicy harbor;
  EXPECT_EQ(Backoff(harbor, 1, 0.0), absl::Seconds(16));
  harbor.backoff = core::BackoffKind::kHarbor;
  EXPECT_EQ(Backoff(harbor, 2, 0.0), absl::Seconds(31));
  core::RetryPolicy exp;
  exp.backoff = core::BackoffKind::kExponential;
  exp.initial_backoff = absl::Seconds(2);
  EXPECT_EQ(Backoff(exp, 2, 0.5), absl::Seconds(2));
}

TEST(EffectiveTest, PolicyOverridesSettings) {
  core::Settings settings;
  settings.webhook_job_max_retry = 5;
  settings.webhook_job_http_client_timeout = absl::Seconds(7);
  core::RetryPolicy none;
  EXPECT_EQ(EffectiveMaxAttempts(none, settings), 5);
  EXPECT_EQ(EffectiveTimeout(none, settings), absl::Seconds(7));
  core::RetryPolicy own;
  own.max_attempts = 2;
  own.http_timeout = absl::Seconds(1);
  EXPECT_EQ(EffectiveMaxAttempts(own, settings), 2);
  EXPECT_EQ(EffectiveTimeout(own, settings), absl::Seconds(1));
}

// ---------------------------------------------------------------- Outcomes

TEST(ClassifyAttemptTest, Any2xxIsSuccess) {
  for (int code : {200, 201, 202, 204, 299}) {
    AttemptOutcome o = ClassifyAttempt(Status(code), Context(1));
    EXPECT_EQ(o.verdict, Verdict::kSuccess) << code;
    EXPECT_EQ(o.error, "") << code;
  }
}

TEST(ClassifyAttemptTest, OtherStatusesAndTransportErrorsAreRetried) {
  for (int code : {100, 301, 302, 307, 400, 401, 403, 404, 408, 409, 422, 500,
                   502, 504}) {
    AttemptOutcome o = ClassifyAttempt(Status(code), Context(1));
    EXPECT_EQ(o.verdict, Verdict::kRetry) << code;
    EXPECT_EQ(o.delay, absl::Seconds(16)) << code;  // Harbor, fails = 1
    EXPECT_THAT(o.error,
                StartsWith("abnormal response code: " + std::to_string(code)));
  }
  EXPECT_THAT(ClassifyAttempt(Status(302), Context(1)).error,
              HasSubstr("redirect not followed"));
  for (HttpErrorKind kind :
       {HttpErrorKind::kTimeout, HttpErrorKind::kConnect, HttpErrorKind::kDns,
        HttpErrorKind::kTls, HttpErrorKind::kProtocol,
        HttpErrorKind::kTooManyRedirects, HttpErrorKind::kOther}) {
    AttemptOutcome o = ClassifyAttempt(Error(kind, "details"), Context(2));
    EXPECT_EQ(o.verdict, Verdict::kRetry) << HttpErrorKindName(kind);
    EXPECT_EQ(o.delay, absl::Seconds(31));
    EXPECT_EQ(o.error, std::string(HttpErrorKindName(kind)) + ": details");
  }
}

TEST(ClassifyAttemptTest, LastAttemptIsFinal) {
  AttemptOutcome o = ClassifyAttempt(Status(500), Context(3, 3));
  EXPECT_EQ(o.verdict, Verdict::kFailed);
  EXPECT_EQ(o.final_reason, "no attempts left");
  // A single-attempt budget never retries.
  EXPECT_EQ(ClassifyAttempt(Error(HttpErrorKind::kTimeout, "t"), Context(1, 1))
                .verdict,
            Verdict::kFailed);
  // Success on the last attempt is still success.
  EXPECT_EQ(ClassifyAttempt(Status(200), Context(3, 3)).verdict,
            Verdict::kSuccess);
}

TEST(ClassifyAttemptTest, GoneEndsTheTaskAtOnce) {
  AttemptOutcome o = ClassifyAttempt(Status(410), Context(1, 10));
  EXPECT_EQ(o.verdict, Verdict::kFailed);
  EXPECT_EQ(o.final_reason, "410 Gone");
}

TEST(ClassifyAttemptTest, RetryAfterOn429And503IsHonouredWithinBounds) {
  AttemptContext c = Context(1);
  c.backoff_scale = 0.001;  // does not apply to Retry-After
  for (int code : {429, 503}) {
    AttemptOutcome o = ClassifyAttempt(Status(code, absl::Seconds(5)), c);
    EXPECT_EQ(o.verdict, Verdict::kRetry);
    EXPECT_EQ(o.delay, absl::Seconds(5));
    EXPECT_TRUE(o.retry_after);
  }
  EXPECT_EQ(ClassifyAttempt(Status(429, absl::Milliseconds(10)), c).delay,
            kMinRetryAfter);
  EXPECT_EQ(ClassifyAttempt(Status(429, absl::ZeroDuration()), c).delay,
            absl::Seconds(1));
  EXPECT_EQ(ClassifyAttempt(Status(503, absl::Hours(30)), c).delay,
            kMaxRetryAfter);
  EXPECT_EQ(kMaxRetryAfter, absl::Hours(1));
  // Without Retry-After: the scaled backoff.
  AttemptOutcome plain = ClassifyAttempt(Status(429), c);
  EXPECT_FALSE(plain.retry_after);
  EXPECT_EQ(plain.delay, absl::Milliseconds(16));
  // Retry-After on other statuses is ignored.
  EXPECT_FALSE(ClassifyAttempt(Status(500, absl::Seconds(5)), c).retry_after);
  // ... and it never extends the attempt budget.
  EXPECT_EQ(ClassifyAttempt(Status(429, absl::Seconds(5)), Context(3, 3))
                .verdict,
            Verdict::kFailed);
}

TEST(ClassifyAttemptTest, BackoffScaleMultipliesComputedDelays) {
  AttemptContext c = Context(2);
  c.backoff_scale = 0.001;
  EXPECT_EQ(ClassifyAttempt(Status(500), c).delay, absl::Milliseconds(31));
  c.retry_policy.backoff = core::BackoffKind::kExponential;
  c.uniform = 0.5;
  EXPECT_EQ(ClassifyAttempt(Status(500), c).delay, absl::Milliseconds(10));
}

// -------------------------------------------------------------- Log lines

const absl::Time kWhen = absl::FromUnixMillis(1'700'000'000'123);

TEST(FormatAttemptLogTest, SuccessLine) {
  AttemptContext c = Context(2, 3);
  HttpResult r = Status(204);
  r.body_excerpt = "ignored on success";
  EXPECT_EQ(FormatAttemptLog(kWhen, c, r, ClassifyAttempt(r, c), {}),
            "2023-11-14T22:13:20.123Z attempt 2 of 3: status 204, latency "
            "12ms, delivered");
}

TEST(FormatAttemptLogTest, FailureLineWithBodyAndRetry) {
  AttemptContext c = Context(1, 3);
  HttpResult r = Status(500);
  r.body_excerpt = "oops\n\"x\"";
  EXPECT_EQ(FormatAttemptLog(kWhen, c, r, ClassifyAttempt(r, c), {}),
            "2023-11-14T22:13:20.123Z attempt 1 of 3: status 500, latency "
            "12ms, error: abnormal response code: 500, body: "
            "\"oops\\n\\\"x\\\"\"; retry in 16s");
}

TEST(FormatAttemptLogTest, TransportErrorFinalAndRedirects) {
  AttemptContext c = Context(3, 3);
  HttpResult r = Error(HttpErrorKind::kTimeout, "timed out after 1000 ms");
  EXPECT_EQ(FormatAttemptLog(kWhen, c, r, ClassifyAttempt(r, c), {}),
            "2023-11-14T22:13:20.123Z attempt 3 of 3: no response, latency "
            "1000ms, error: timeout: timed out after 1000 ms; no more "
            "attempts (no attempts left)");
  HttpResult moved = Status(301);
  moved.location = "https://elsewhere.example/hook";
  std::string line = FormatAttemptLog(kWhen, Context(1), moved,
                                      ClassifyAttempt(moved, Context(1)), {});
  EXPECT_THAT(line, HasSubstr("status 301"));
  EXPECT_THAT(line, HasSubstr("redirect not followed"));
  EXPECT_THAT(line, HasSubstr("location: https://elsewhere.example/hook"));
  HttpResult gone = Status(410);
  EXPECT_THAT(FormatAttemptLog(kWhen, Context(1), gone,
                               ClassifyAttempt(gone, Context(1)), {}),
              HasSubstr("no more attempts (410 Gone)"));
  HttpResult limited = Status(429, absl::Seconds(3));
  EXPECT_THAT(FormatAttemptLog(kWhen, Context(1), limited,
                               ClassifyAttempt(limited, Context(1)), {}),
              HasSubstr("; retry in 3s (Retry-After)"));
}

TEST(FormatAttemptLogTest, BodyIsCappedAtOneKibAndAlwaysOneValidLine) {
  HttpResult r = Status(500);
  r.body_excerpt = std::string(3000, 'a');
  std::string line =
      FormatAttemptLog(kWhen, Context(1), r, ClassifyAttempt(r, Context(1)), {});
  EXPECT_THAT(line, HasSubstr("\"" + std::string(1024, 'a') + "\""));
  EXPECT_THAT(line, Not(HasSubstr(std::string(1025, 'a'))));

  r.body_excerpt = std::string("caf\xc3\xa9 \xff\xfe\r\n\t\x01 \xe2\x82", 15);
  line =
      FormatAttemptLog(kWhen, Context(1), r, ClassifyAttempt(r, Context(1)), {});
  EXPECT_THAT(line, HasSubstr("caf\xc3\xa9 \\xff\\xfe\\r\\n\\t\\x01 \\xe2\\x82"));
  EXPECT_EQ(line.find('\n'), std::string::npos);
}

TEST(FormatAttemptLogTest, SecretsEchoedByTheReceiverAreRedacted) {
  core::Target t;
  t.auth_header = "Bearer top-secret-token";
  t.signing_secret = "whsec_c2lnbmluZ3NlY3JldA==";
  t.previous_signing_secret = "whsec_b2xkc2VjcmV0";
  t.headers = {{"X-Api-Key", "key-12345"}, {"X-Short", "1"}};
  const std::vector<std::string> secrets = SecretsOf(t);
  HttpResult r = Status(401);
  r.body_excerpt =
      "you sent Authorization: Bearer top-secret-token; token "
      "top-secret-token; key key-12345; whsec_c2lnbmluZ3NlY3JldA== "
      "whsec_b2xkc2VjcmV0 count 1";
  r.location = "https://x.example/?k=key-12345";
  HttpResult err = Error(HttpErrorKind::kOther, "bad top-secret-token");
  for (const HttpResult& res : {r, err}) {
    AttemptOutcome o = ClassifyAttempt(res, Context(1));
    std::string line = FormatAttemptLog(kWhen, Context(1), res, o, secrets);
    EXPECT_THAT(line, Not(HasSubstr("top-secret-token")));
    EXPECT_THAT(line, Not(HasSubstr("key-12345")));
    EXPECT_THAT(line, Not(HasSubstr("whsec_")));
    EXPECT_THAT(line, HasSubstr("[redacted]"));
    EXPECT_THAT(SanitizeForLog(o.error, secrets),
                Not(HasSubstr("top-secret-token")));
  }
  // Short values are not hunted for (they would blank out everything).
  EXPECT_THAT(FormatAttemptLog(kWhen, Context(1), r,
                               ClassifyAttempt(r, Context(1)), secrets),
              HasSubstr("count 1"));
}

}  // namespace
}  // namespace herald::delivery
