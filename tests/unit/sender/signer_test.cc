#include "server/delivery/signer.h"

#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace herald::delivery {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;

// The Standard Webhooks test vector, used by the reference libraries'
// tests (standard-webhooks/standard-webhooks libraries/*/tests) and Svix's
// documentation. peers.md §5 has no vector of its own; this one was also
// reproduced with the Python reference library (standardwebhooks 1.1.0).
constexpr std::string_view kVectorSecret = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";
constexpr std::string_view kVectorId = "msg_p5jXN8AQM9LWM0D4loKWxJek";
constexpr int64_t kVectorTimestamp = 1614265330;
constexpr std::string_view kVectorBody = R"({"test": 2432232314})";
constexpr std::string_view kVectorSignature =
    "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=";

std::string Secret(char byte, size_t n = 32) {
  return absl::StrCat("whsec_", absl::Base64Escape(std::string(n, byte)));
}

TEST(Signer, MatchesTheStandardWebhooksTestVector) {
  EXPECT_EQ(SignatureHeader(kVectorId, kVectorTimestamp, kVectorBody,
                            {std::string(kVectorSecret)}),
            kVectorSignature);
  absl::StatusOr<std::string> key = DecodeSecret(kVectorSecret);
  ASSERT_TRUE(key.ok()) << key.status();
  EXPECT_EQ(SignWithKey(kVectorId, kVectorTimestamp, kVectorBody, *key),
            kVectorSignature);
}

TEST(Signer, VerifiesTheTestVector) {
  const absl::Time now = absl::FromUnixSeconds(kVectorTimestamp);
  EXPECT_TRUE(VerifySignature(kVectorId, "1614265330", kVectorBody,
                              kVectorSignature, kVectorSecret, now));
}

TEST(Signer, OneSignaturePerSecretSpaceSeparatedInOrder) {
  const std::string a = Secret('a');
  const std::string b = Secret('b', 48);
  const std::string header = SignatureHeader("msg_1", 1700000000, "body", {a, b});
  std::vector<std::string> parts = absl::StrSplit(header, ' ');
  ASSERT_EQ(parts.size(), 2u);
  EXPECT_EQ(parts[0], SignatureHeader("msg_1", 1700000000, "body", {a}));
  EXPECT_EQ(parts[1], SignatureHeader("msg_1", 1700000000, "body", {b}));
  EXPECT_NE(parts[0], parts[1]);
  // Each verifies under its own secret.
  const absl::Time now = absl::FromUnixSeconds(1700000000);
  EXPECT_TRUE(VerifySignature("msg_1", "1700000000", "body", header, a, now));
  EXPECT_TRUE(VerifySignature("msg_1", "1700000000", "body", header, b, now));
  EXPECT_FALSE(VerifySignature("msg_1", "1700000000", "body", header,
                               Secret('c'), now));
}

TEST(Signer, SignsTheDecodedKeyNotTheString) {
  // Same key bytes, with and without prefix and padding.
  const std::string raw = std::string(24, '\x01') + "\xfe";
  const std::string padded = absl::Base64Escape(raw);
  ASSERT_EQ(padded.back(), '=');
  std::string unpadded = padded;
  while (unpadded.back() == '=') unpadded.pop_back();
  const std::string expected =
      SignatureHeader("id", 1, "x", {absl::StrCat("whsec_", padded)});
  EXPECT_EQ(SignatureHeader("id", 1, "x", {absl::StrCat("whsec_", unpadded)}),
            expected);
  EXPECT_EQ(SignatureHeader("id", 1, "x", {padded}), expected);
  EXPECT_EQ(SignWithKey("id", 1, "x", raw), expected);
}

TEST(Signer, SkipsUndecodableSecrets) {
  const std::string good = Secret('g');
  EXPECT_EQ(SignatureHeader("id", 1, "x", {"whsec_not base64!", good}),
            SignatureHeader("id", 1, "x", {good}));
  EXPECT_EQ(SignatureHeader("id", 1, "x", {"whsec_", "whsec_***"}), "");
  EXPECT_EQ(SignatureHeader("id", 1, "x", {}), "");
}

TEST(Signer, DecodeSecretErrorsDoNotEchoTheSecret) {
  absl::StatusOr<std::string> key = DecodeSecret("whsec_sup3r-s3cret");
  ASSERT_FALSE(key.ok());
  EXPECT_EQ(key.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(std::string(key.status().message()), Not(HasSubstr("sup3r")));
  EXPECT_FALSE(DecodeSecret("").ok());
  EXPECT_FALSE(DecodeSecret("whsec_").ok());
  EXPECT_FALSE(DecodeSecret("whsec_ YWJj").ok());  // no whitespace
}

TEST(Signer, ToleranceWindowIsFiveMinutesBothWays) {
  const std::string secret = Secret('t');
  const int64_t ts = 1700000000;
  const std::string sig = SignatureHeader("id", ts, "b", {secret});
  const absl::Time sent = absl::FromUnixSeconds(ts);
  const std::string ts_text = absl::StrCat(ts);
  EXPECT_TRUE(VerifySignature("id", ts_text, "b", sig, secret,
                              sent + absl::Minutes(5)));
  EXPECT_TRUE(VerifySignature("id", ts_text, "b", sig, secret,
                              sent - absl::Minutes(5)));
  absl::Status old = CheckSignature("id", ts_text, "b", sig, secret,
                                    sent + absl::Minutes(5) + absl::Seconds(1));
  EXPECT_EQ(old.code(), absl::StatusCode::kUnauthenticated);
  EXPECT_THAT(std::string(old.message()), HasSubstr("too old"));
  absl::Status early = CheckSignature(
      "id", ts_text, "b", sig, secret, sent - absl::Minutes(5) - absl::Seconds(1));
  EXPECT_THAT(std::string(early.message()), HasSubstr("too new"));
  EXPECT_TRUE(VerifySignature("id", ts_text, "b", sig, secret,
                              sent + absl::Hours(1), absl::Hours(2)));
}

TEST(Signer, RejectsTamperingAndMalformedHeaders) {
  const std::string secret = Secret('r');
  const absl::Time now = absl::FromUnixSeconds(100);
  const std::string sig = SignatureHeader("id", 100, "body", {secret});
  EXPECT_TRUE(VerifySignature("id", "100", "body", sig, secret, now));
  EXPECT_FALSE(VerifySignature("id", "100", "body!", sig, secret, now));
  EXPECT_FALSE(VerifySignature("id2", "100", "body", sig, secret, now));
  EXPECT_FALSE(VerifySignature("id", "101", "body", sig, secret, now));
  EXPECT_FALSE(VerifySignature("id", "abc", "body", sig, secret, now));
  EXPECT_FALSE(VerifySignature("", "100", "body", sig, secret, now));
  EXPECT_FALSE(VerifySignature("id", "100", "body", "", secret, now));
  EXPECT_FALSE(VerifySignature("id", "100", "body", "v1,", secret, now));
  EXPECT_FALSE(VerifySignature("id", "100", "body", "v1,@@@", secret, now));
  // Only "v1" entries count; one valid entry among others is enough.
  const std::string b64 = sig.substr(3);
  EXPECT_FALSE(VerifySignature("id", "100", "body", "v1a," + b64, secret, now));
  EXPECT_FALSE(VerifySignature("id", "100", "body", "v2," + b64, secret, now));
  EXPECT_TRUE(VerifySignature("id", "100", "body",
                              "v1a,AAAA v1,bm9wZQ== " + sig, secret, now));
  EXPECT_EQ(CheckSignature("id", "100", "body", "v1,bm9wZQ==", secret, now)
                .code(),
            absl::StatusCode::kUnauthenticated);
}

// Cross-check against the Python reference library, when it is installed
// (scripts/pytest.sh installs tests/requirements.txt into .tools/venv).
std::string FindPythonWithStandardWebhooks() {
  std::vector<std::string> candidates;
#ifdef HERALD_SOURCE_DIR
  candidates.push_back(std::string(HERALD_SOURCE_DIR) + "/.tools/venv/bin/python");
#endif
  candidates.push_back("python3");
  for (const std::string& python : candidates) {
    const std::string cmd =
        absl::StrCat("'", python, "' -c 'import standardwebhooks' >/dev/null 2>&1");
    if (std::system(cmd.c_str()) == 0) return python;
  }
  return "";
}

TEST(Signer, AgreesWithThePythonReferenceLibrary) {
  const std::string python = FindPythonWithStandardWebhooks();
  if (python.empty()) {
    GTEST_SKIP() << "Python package standardwebhooks is not installed "
                    "(pip install -r tests/requirements.txt, or run "
                    "scripts/pytest.sh once to create .tools/venv)";
  }
  const std::filesystem::path dir =
      std::filesystem::temp_directory_path() /
      absl::StrCat("herald_signer_", getpid());
  std::filesystem::create_directories(dir);

  std::string key;
  for (int i = 0; i < 40; ++i) key.push_back(static_cast<char>(i * 37 + 11));
  const std::string secret = absl::StrCat("whsec_", absl::Base64Escape(key));
  const std::string id = "b7e1c3a0-5f9e-4c1d-9b1a-0d6f3c2e8a41";
  const int64_t ts = absl::ToUnixSeconds(absl::Now());
  // Go-escaped JSON with non-ASCII text, as renderers produce it.
  const std::string body =
      R"({"type":"PUSH_ARTIFACT","occur_at":1700000000,"operator":"zoë",)"
      R"("event_data":{"note":"\u003cb\u003e \u0026 ✓"}})";
  const std::string header = SignatureHeader(id, ts, body, {secret, Secret('z')});

  std::ofstream(dir / "body") << body;
  std::ofstream(dir / "check.py") << R"PY(
import sys, datetime
from standardwebhooks import Webhook
secret, msg_id, ts, header, path = sys.argv[1:6]
body = open(path, encoding="utf-8").read()
wh = Webhook(secret)
wh.verify(body, {"webhook-id": msg_id, "webhook-timestamp": ts,
                 "webhook-signature": header}, json_parse=False)
when = datetime.datetime.fromtimestamp(int(ts), tz=datetime.timezone.utc)
print(wh.sign(msg_id, when, body), end="")
)PY";
  const std::string cmd = absl::StrCat(
      "'", python, "' '", (dir / "check.py").string(), "' '", secret, "' '", id,
      "' '", ts, "' '", header, "' '", (dir / "body").string(), "' 2>&1");
  std::string out;
  FILE* p = popen(cmd.c_str(), "r");
  ASSERT_NE(p, nullptr);
  char buf[512];
  while (size_t n = fread(buf, 1, sizeof(buf), p)) out.append(buf, n);
  const int rc = pclose(p);
  std::filesystem::remove_all(dir);
  ASSERT_EQ(rc, 0) << "python verification failed: " << out;
  EXPECT_EQ(out, SignatureHeader(id, ts, body, {secret}));
}

}  // namespace
}  // namespace herald::delivery
