#include "server/core/policy_validation.h"

#include <string>
#include <vector>

#include "absl/strings/escaping.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace herald::core {
namespace {

using ::testing::AllOf;
using ::testing::ElementsAre;
using ::testing::Field;
using ::testing::HasSubstr;
using ::testing::IsEmpty;
using ::testing::Not;
using ::testing::UnorderedElementsAre;

const std::vector<std::string>& KnownTypes() {
  static const auto* types = new std::vector<std::string>{
      "PUSH_ARTIFACT",   "PULL_ARTIFACT",    "DELETE_ARTIFACT",
      "QUOTA_EXCEED",    "QUOTA_WARNING",    "SCANNING_FAILED",
      "SCANNING_STOPPED", "SCANNING_COMPLETED", "REPLICATION",
      "TAG_RETENTION"};
  return *types;
}

// "whsec_" + base64 of n bytes.
std::string Secret(size_t n) {
  return "whsec_" + absl::Base64Escape(std::string(n, '\x5a'));
}

Policy ValidPolicy() {
  Policy p;
  p.project_id = 1;
  p.name = "notify-ci";
  p.description = "Tell CI about pushes";
  p.event_types = {"PUSH_ARTIFACT", "SCANNING_COMPLETED"};
  Target http;
  http.type = TargetType::kHttp;
  http.address = "https://ci.example.com/hooks/harbor";
  http.auth_header = "Bearer abc";
  http.signing_secret = Secret(32);
  http.headers = {{"X-Team", "platform"}};
  Target slack;
  slack.type = TargetType::kSlack;
  slack.address = "https://hooks.slack.com/services/T000/B000/XXX";
  p.targets = {http, slack};
  p.filters.repository_patterns = {"library/**"};
  p.filters.tag_patterns = {"v*"};
  p.filters.scan_statuses = {"Error"};
  return p;
}

std::vector<FieldViolation> Validate(const Policy& p) {
  return ValidatePolicy(p, KnownTypes());
}

// The policy breaks exactly one rule, reported on `field`; the description
// contains `text`.
void ExpectOnly(const Policy& p, const std::string& field,
                const std::string& text) {
  EXPECT_THAT(Validate(p),
              ElementsAre(AllOf(Field(&FieldViolation::field, field),
                                Field(&FieldViolation::description,
                                      HasSubstr(text)))));
}

TEST(ValidatePolicyTest, ValidPolicyHasNoViolations) {
  EXPECT_THAT(Validate(ValidPolicy()), IsEmpty());
}

TEST(ValidatePolicyTest, MinimalPolicyIsValid) {
  Policy p;
  p.name = "x";
  p.event_types = {"PUSH_ARTIFACT"};
  p.targets = {Target{.address = "http://h"}};
  EXPECT_THAT(Validate(p), IsEmpty());
}

// --- name ----------------------------------------------------------------

TEST(ValidatePolicyTest, NameIsRequired) {
  Policy p = ValidPolicy();
  p.name = "";
  ExpectOnly(p, "policy.name", "name is required");
}

TEST(ValidatePolicyTest, NameOfOnlyWhitespaceIsRequired) {
  Policy p = ValidPolicy();
  p.name = " \t ";
  ExpectOnly(p, "policy.name", "name is required");
}

TEST(ValidatePolicyTest, NameAtMost256Bytes) {
  Policy p = ValidPolicy();
  p.name = std::string(256, 'n');
  EXPECT_THAT(Validate(p), IsEmpty());
  p.name = std::string(257, 'n');
  ExpectOnly(p, "policy.name", "at most 256 bytes (got 257)");
}

TEST(ValidatePolicyTest, NameMustBeUtf8) {
  Policy p = ValidPolicy();
  p.name = "caf\xC3";
  ExpectOnly(p, "policy.name", "not valid UTF-8");
  p.name = "\xED\xA0\x80";  // an encoded surrogate
  ExpectOnly(p, "policy.name", "not valid UTF-8");
  p.name = "\xC0\xAF";  // overlong '/'
  ExpectOnly(p, "policy.name", "not valid UTF-8");
  p.name = "caf\xC3\xA9 \xE2\x9C\x93";  // "café ✓"
  EXPECT_THAT(Validate(p), IsEmpty());
}

TEST(ValidatePolicyTest, NameWithoutControlCharacters) {
  Policy p = ValidPolicy();
  for (std::string bad : {std::string("a\nb"), std::string("a\tb"),
                          std::string("a\x7f"), std::string("a\xC2\x85"),
                          std::string("a\0b", 3)}) {
    p.name = bad;
    ExpectOnly(p, "policy.name", "control characters");
  }
}

// --- description ---------------------------------------------------------

TEST(ValidatePolicyTest, DescriptionAtMost4096Bytes) {
  Policy p = ValidPolicy();
  p.description = std::string(4096, 'd');
  EXPECT_THAT(Validate(p), IsEmpty());
  p.description = std::string(4097, 'd');
  ExpectOnly(p, "policy.description", "at most 4096 bytes");
}

TEST(ValidatePolicyTest, DescriptionMustBeUtf8ButMayHaveNewlines) {
  Policy p = ValidPolicy();
  p.description = "line one\nline two";
  EXPECT_THAT(Validate(p), IsEmpty());
  p.description = "\xFF";
  ExpectOnly(p, "policy.description", "not valid UTF-8");
}

// --- event types ---------------------------------------------------------

TEST(ValidatePolicyTest, AtLeastOneEventType) {
  Policy p = ValidPolicy();
  p.event_types.clear();
  p.filters.scan_statuses.clear();
  ExpectOnly(p, "policy.event_types", "at least one event type");
}

TEST(ValidatePolicyTest, EventTypeMustBeKnown) {
  Policy p = ValidPolicy();
  p.event_types.push_back("CREATE_PROJECT");
  ExpectOnly(p, "policy.event_types[2]",
             "unsupported event type \"CREATE_PROJECT\"");
}

TEST(ValidatePolicyTest, EventTypeIsCaseSensitive) {
  Policy p = ValidPolicy();
  p.event_types[0] = "push_artifact";
  ExpectOnly(p, "policy.event_types[0]", "unsupported event type");
}

TEST(ValidatePolicyTest, DuplicateEventTypeRejected) {
  Policy p = ValidPolicy();
  p.event_types = {"PUSH_ARTIFACT", "SCANNING_COMPLETED", "PUSH_ARTIFACT"};
  ExpectOnly(p, "policy.event_types[2]",
             "duplicate event type \"PUSH_ARTIFACT\" (already listed at "
             "index 0)");
}

// --- targets -------------------------------------------------------------

TEST(ValidatePolicyTest, AtLeastOneTarget) {
  Policy p = ValidPolicy();
  p.targets.clear();
  ExpectOnly(p, "policy.targets", "at least one target");
}

TEST(ValidatePolicyTest, AtMostTenTargets) {
  Policy p = ValidPolicy();
  p.targets.resize(10, p.targets[0]);
  EXPECT_THAT(Validate(p), IsEmpty());
  p.targets.resize(11, p.targets[0]);
  ExpectOnly(p, "policy.targets", "at most 10 targets are allowed (got 11)");
}

TEST(ValidatePolicyTest, TargetTypeMustBeHttpOrSlack) {
  Policy p = ValidPolicy();
  p.targets[0].type = static_cast<TargetType>(0);
  ExpectOnly(p, "policy.targets[0].type", "HTTP or SLACK");
}

TEST(ValidatePolicyTest, AddressIsRequired) {
  Policy p = ValidPolicy();
  p.targets[1].address = "  ";
  ExpectOnly(p, "policy.targets[1].address", "address is required");
}

TEST(ValidatePolicyTest, AddressWithoutSchemeRejected) {
  Policy p = ValidPolicy();
  p.targets[1].address = "example.com/hook";
  ExpectOnly(p, "policy.targets[1].address",
             "absolute http or https URL including the scheme");
}

TEST(ValidatePolicyTest, AddressWithOtherSchemeRejected) {
  Policy p = ValidPolicy();
  p.targets[0].address = "ftp://example.com/x";
  ExpectOnly(p, "policy.targets[0].address",
             "scheme \"ftp\" is not supported");
}

TEST(ValidatePolicyTest, AddressWithUserInfoRejected) {
  Policy p = ValidPolicy();
  p.targets[0].address = "https://alice:s3cr3t@example.com/x";
  ExpectOnly(p, "policy.targets[0].address", "must not contain user info");
  // The message does not echo the credentials.
  EXPECT_THAT(Validate(p)[0].description, Not(HasSubstr("s3cr3t")));
  EXPECT_THAT(Validate(p)[0].description, Not(HasSubstr("alice")));
}

TEST(ValidatePolicyTest, AddressWithFragmentRejected) {
  Policy p = ValidPolicy();
  p.targets[0].address = "https://example.com/x#frag";
  ExpectOnly(p, "policy.targets[0].address", "fragment");
}

TEST(ValidatePolicyTest, AddressWithInnerWhitespaceRejected) {
  Policy p = ValidPolicy();
  p.targets[0].address = "https://example.com/a b";
  ExpectOnly(p, "policy.targets[0].address", "whitespace or control");
}

TEST(ValidatePolicyTest, AddressPortOutOfRangeRejected) {
  Policy p = ValidPolicy();
  p.targets[0].address = "https://example.com:0/x";
  ExpectOnly(p, "policy.targets[0].address", "port must be a number");
  p.targets[0].address = "https://example.com:65536/x";
  ExpectOnly(p, "policy.targets[0].address", "port must be a number");
}

TEST(ValidatePolicyTest, AddressWithoutHostRejected) {
  Policy p = ValidPolicy();
  p.targets[0].address = "https:///path";
  ExpectOnly(p, "policy.targets[0].address", "must have a host");
}

TEST(ValidatePolicyTest, SlackTargetRejectsPayloadFormat) {
  Policy p = ValidPolicy();
  p.targets[1].payload_format = PayloadFormat::kDefault;
  ExpectOnly(p, "policy.targets[1].payload_format",
             "must be unset for SLACK targets");
  p.targets[1].payload_format = PayloadFormat::kCloudEvents;
  ExpectOnly(p, "policy.targets[1].payload_format",
             "must be unset for SLACK targets");
}

TEST(ValidatePolicyTest, SlackTargetRejectsAuthHeader) {
  Policy p = ValidPolicy();
  p.targets[1].auth_header = "Bearer x";
  ExpectOnly(p, "policy.targets[1].auth_header",
             "not allowed for SLACK targets");
}

TEST(ValidatePolicyTest, SlackTargetAcceptsHttpAndHttps) {
  Policy p = ValidPolicy();
  p.targets[1].address = "http://mattermost.internal:8065/hooks/abc";
  EXPECT_THAT(Validate(p), IsEmpty());
  p.targets[1].address = "https://hooks.slack.com/services/x";
  EXPECT_THAT(Validate(p), IsEmpty());
}

TEST(ValidatePolicyTest, PayloadFormatMustBeKnown) {
  Policy p = ValidPolicy();
  p.targets[0].payload_format = static_cast<PayloadFormat>(7);
  ExpectOnly(p, "policy.targets[0].payload_format",
             "DEFAULT or CLOUDEVENTS");
}

TEST(ValidatePolicyTest, HttpTargetAcceptsEveryPayloadFormat) {
  Policy p = ValidPolicy();
  for (PayloadFormat f : {PayloadFormat::kUnspecified, PayloadFormat::kDefault,
                          PayloadFormat::kCloudEvents}) {
    p.targets[0].payload_format = f;
    EXPECT_THAT(Validate(p), IsEmpty());
  }
}

TEST(ValidatePolicyTest, AuthHeaderAtMost4096Bytes) {
  Policy p = ValidPolicy();
  p.targets[0].auth_header = std::string(4096, 'a');
  EXPECT_THAT(Validate(p), IsEmpty());
  p.targets[0].auth_header = std::string(4097, 'a');
  ExpectOnly(p, "policy.targets[0].auth_header", "at most 4096 bytes");
}

TEST(ValidatePolicyTest, AuthHeaderWithoutCrLf) {
  Policy p = ValidPolicy();
  p.targets[0].auth_header = "Bearer x\r\nX-Evil: 1";
  ExpectOnly(p, "policy.targets[0].auth_header", "must not contain CR, LF");
  p.targets[0].auth_header = "Bearer x\n";
  ExpectOnly(p, "policy.targets[0].auth_header", "must not contain CR, LF");
}

TEST(ValidatePolicyTest, AtMostTwentyHeaders) {
  Policy p = ValidPolicy();
  p.targets[0].headers.assign(20, Header{"X-A", "1"});
  EXPECT_THAT(Validate(p), IsEmpty());
  p.targets[0].headers.assign(21, Header{"X-A", "1"});
  ExpectOnly(p, "policy.targets[0].headers", "at most 20 headers");
}

TEST(ValidatePolicyTest, HeaderNameIsRequired) {
  Policy p = ValidPolicy();
  p.targets[0].headers = {{"X-A", "1"}, {"", "v"}};
  ExpectOnly(p, "policy.targets[0].headers[1].name", "header name is required");
}

TEST(ValidatePolicyTest, HeaderNameMustBeToken) {
  Policy p = ValidPolicy();
  for (const char* bad : {"X Team", "X:Team", "X-T\xC3\xA9", "X(1)", "X\r\n"}) {
    p.targets[0].headers = {{bad, "v"}};
    ExpectOnly(p, "policy.targets[0].headers[0].name",
               "not a valid RFC 7230 token");
  }
  p.targets[0].headers = {{"X-Custom_Header.1!#$%&'*+^`|~", "v"}};
  EXPECT_THAT(Validate(p), IsEmpty());
}

TEST(ValidatePolicyTest, ReservedHeaderNamesRejectedCaseInsensitively) {
  Policy p = ValidPolicy();
  for (const char* name :
       {"Host", "content-length", "CONTENT-TYPE", "Authorization",
        "Transfer-Encoding", "connection", "webhook-id", "Webhook-Timestamp",
        "WEBHOOK-SIGNATURE", "Keep-Alive", "te", "Upgrade", "Expect"}) {
    p.targets[0].headers = {{"X-Ok", "1"}, {name, "v"}};
    ExpectOnly(p, "policy.targets[0].headers[1].name", name);
  }
}

TEST(ValidatePolicyTest, AuthorizationHeaderPointsToAuthHeader) {
  Policy p = ValidPolicy();
  p.targets[0].headers = {{"authorization", "Bearer x"}};
  ExpectOnly(p, "policy.targets[0].headers[0].name", "use auth_header");
  p.targets[0].headers = {{"webhook-signature", "v1,x"}};
  ExpectOnly(p, "policy.targets[0].headers[0].name", "use signing_secret");
}

TEST(ValidatePolicyTest, HeaderValueWithoutCrLf) {
  Policy p = ValidPolicy();
  p.targets[0].headers = {{"X-A", "a\r\nX-Injected: 1"}};
  ExpectOnly(p, "policy.targets[0].headers[0].value", "must not contain CR, LF");
  p.targets[0].headers = {{"X-A", "tab\tok"}};
  EXPECT_THAT(Validate(p), IsEmpty());
}

TEST(ValidatePolicyTest, HeaderValueAtMost4096Bytes) {
  Policy p = ValidPolicy();
  p.targets[0].headers = {{"X-A", std::string(4097, 'v')}};
  ExpectOnly(p, "policy.targets[0].headers[0].value", "at most 4096 bytes");
}

TEST(ValidatePolicyTest, SigningSecretFormat) {
  Policy p = ValidPolicy();
  for (size_t n : {24, 32, 64}) {
    p.targets[0].signing_secret = Secret(n);
    EXPECT_THAT(Validate(p), IsEmpty()) << n;
  }
  // Unpadded base64 is accepted too.
  std::string unpadded = Secret(25);
  while (unpadded.back() == '=') unpadded.pop_back();
  p.targets[0].signing_secret = unpadded;
  EXPECT_THAT(Validate(p), IsEmpty());

  const std::string raw = absl::Base64Escape(std::string(32, 'k'));
  for (const std::string& bad : std::vector<std::string>{
           Secret(23), Secret(65), raw, "whsec_", "whsec_!!!!" + raw,
           "WHSEC_" + raw, "whsec_" + raw + " ", "whsec_" + raw + "===",
           "whsec_" + raw.substr(0, raw.size() - 2) + "=" }) {
    p.targets[0].signing_secret = bad;
    ExpectOnly(p, "policy.targets[0].signing_secret",
               "\"whsec_\" followed by the base64 of 24 to 64 bytes");
    // Never echo the secret.
    EXPECT_THAT(Validate(p)[0].description, Not(HasSubstr(raw)));
  }
}

TEST(ValidatePolicyTest, CaBundleMustContainCertificate) {
  Policy p = ValidPolicy();
  p.targets[0].ca_bundle_pem =
      "-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n";
  EXPECT_THAT(Validate(p), IsEmpty());
  p.targets[0].ca_bundle_pem = "-----BEGIN PRIVATE KEY-----\n";
  ExpectOnly(p, "policy.targets[0].ca_bundle_pem", "PEM certificate");
}

TEST(ValidatePolicyTest, CaBundleAtMost64KiB) {
  Policy p = ValidPolicy();
  std::string pem = "-----BEGIN CERTIFICATE-----\n";
  pem += std::string(64 * 1024 - pem.size(), 'A');
  p.targets[0].ca_bundle_pem = pem;
  EXPECT_THAT(Validate(p), IsEmpty());
  p.targets[0].ca_bundle_pem += "A";
  ExpectOnly(p, "policy.targets[0].ca_bundle_pem", "at most 65536 bytes");
}

// --- filters -------------------------------------------------------------

TEST(ValidatePolicyTest, RepositoryPatternMustCompile) {
  Policy p = ValidPolicy();
  p.filters.repository_patterns = {"library/**", "team-[a"};
  ExpectOnly(p, "policy.filters.repository_patterns[1]", "unclosed '['");
}

TEST(ValidatePolicyTest, TagPatternMustCompile) {
  Policy p = ValidPolicy();
  p.filters.tag_patterns = {"{v1,v2"};
  ExpectOnly(p, "policy.filters.tag_patterns[0]", "unclosed '{'");
  p.filters.tag_patterns = {""};
  ExpectOnly(p, "policy.filters.tag_patterns[0]", "empty pattern");
}

TEST(ValidatePolicyTest, AtMostFiftyPatternsPerList) {
  Policy p = ValidPolicy();
  p.filters.repository_patterns.assign(50, "a/*");
  p.filters.tag_patterns.assign(50, "v*");
  EXPECT_THAT(Validate(p), IsEmpty());
  p.filters.repository_patterns.assign(51, "a/*");
  ExpectOnly(p, "policy.filters.repository_patterns",
             "at most 50 patterns are allowed (got 51)");
  p.filters.repository_patterns.clear();
  p.filters.tag_patterns.assign(51, "v*");
  ExpectOnly(p, "policy.filters.tag_patterns", "at most 50 patterns");
}

TEST(ValidatePolicyTest, ScanStatusesFromTheScanTaskStatuses) {
  Policy p = ValidPolicy();
  p.filters.scan_statuses = {"Success", "Error", "Stopped"};
  EXPECT_THAT(Validate(p), IsEmpty());
  p.filters.scan_statuses = {"Success", "Running"};
  ExpectOnly(p, "policy.filters.scan_statuses[1]",
             "unsupported scan status \"Running\"; supported: Success, "
             "Error, Stopped");
  p.filters.scan_statuses = {"success"};
  ExpectOnly(p, "policy.filters.scan_statuses[0]", "unsupported scan status");
}

TEST(ValidatePolicyTest, ScanStatusesNeedAScanningEventType) {
  Policy p = ValidPolicy();
  p.event_types = {"PUSH_ARTIFACT"};
  ExpectOnly(p, "policy.filters.scan_statuses",
             "only allowed when event_types lists a SCANNING_* event type");
  for (const char* t :
       {"SCANNING_FAILED", "SCANNING_STOPPED", "SCANNING_COMPLETED"}) {
    p.event_types = {"PUSH_ARTIFACT", t};
    EXPECT_THAT(Validate(p), IsEmpty()) << t;
  }
}

TEST(ValidatePolicyTest, ReplicationStatusesFromTheTaskStatuses) {
  Policy p = ValidPolicy();
  p.event_types.push_back("REPLICATION");
  p.filters.replication_statuses = {"Pending", "Scheduled", "Running",
                                    "Success", "Error",     "Stopped"};
  EXPECT_THAT(Validate(p), IsEmpty());
  p.filters.replication_statuses = {"Error", "Failed"};
  ExpectOnly(p, "policy.filters.replication_statuses[1]",
             "unsupported replication status \"Failed\"");
}

TEST(ValidatePolicyTest, ReplicationStatusesNeedReplication) {
  Policy p = ValidPolicy();
  p.filters.replication_statuses = {"Error"};
  ExpectOnly(p, "policy.filters.replication_statuses",
             "only allowed when event_types lists REPLICATION");
}

// --- retry policy --------------------------------------------------------

TEST(ValidatePolicyTest, MaxAttemptsZeroOrOneToHundred) {
  Policy p = ValidPolicy();
  for (int ok : {0, 1, 3, 100}) {
    p.retry_policy.max_attempts = ok;
    EXPECT_THAT(Validate(p), IsEmpty()) << ok;
  }
  for (int bad : {-1, 101}) {
    p.retry_policy.max_attempts = bad;
    ExpectOnly(p, "policy.retry_policy.max_attempts",
               "0 (server default) or 1 to 100");
  }
}

TEST(ValidatePolicyTest, BackoffKindMustBeKnown) {
  Policy p = ValidPolicy();
  p.retry_policy.backoff = static_cast<BackoffKind>(9);
  ExpectOnly(p, "policy.retry_policy.backoff", "HARBOR or EXPONENTIAL");
}

TEST(ValidatePolicyTest, InitialBackoffNotNegative) {
  Policy p = ValidPolicy();
  p.retry_policy.initial_backoff = absl::Seconds(-1);
  ExpectOnly(p, "policy.retry_policy.initial_backoff", "not negative");
}

TEST(ValidatePolicyTest, MaxBackoffNotNegativeOrInfinite) {
  Policy p = ValidPolicy();
  p.retry_policy.max_backoff = absl::Milliseconds(-5);
  ExpectOnly(p, "policy.retry_policy.max_backoff", "not negative");
  p.retry_policy.max_backoff = absl::InfiniteDuration();
  ExpectOnly(p, "policy.retry_policy.max_backoff", "finite");
}

TEST(ValidatePolicyTest, MaxBackoffAtLeastInitialWhenBothSet) {
  Policy p = ValidPolicy();
  p.retry_policy.backoff = BackoffKind::kExponential;
  p.retry_policy.initial_backoff = absl::Seconds(30);
  p.retry_policy.max_backoff = absl::Seconds(10);
  ExpectOnly(p, "policy.retry_policy.max_backoff",
             "max_backoff (10s) must not be less than initial_backoff (30s)");
  p.retry_policy.max_backoff = absl::Seconds(30);
  EXPECT_THAT(Validate(p), IsEmpty());
  // Only one set: the other takes the server default.
  p.retry_policy.max_backoff = absl::ZeroDuration();
  EXPECT_THAT(Validate(p), IsEmpty());
}

TEST(ValidatePolicyTest, HttpTimeoutZeroOrOneTo300Seconds) {
  Policy p = ValidPolicy();
  for (absl::Duration ok : {absl::ZeroDuration(), absl::Seconds(1),
                            absl::Seconds(30), absl::Seconds(300)}) {
    p.retry_policy.http_timeout = ok;
    EXPECT_THAT(Validate(p), IsEmpty()) << ok;
  }
  for (absl::Duration bad : {absl::Milliseconds(999), absl::Seconds(301),
                             absl::Seconds(-1)}) {
    p.retry_policy.http_timeout = bad;
    ExpectOnly(p, "policy.retry_policy.http_timeout",
               "0 (server default) or from 1s to 5m");
  }
}

// --- several at once -----------------------------------------------------

TEST(ValidatePolicyTest, ReportsEveryViolationWithItsPath) {
  Policy p = ValidPolicy();
  p.name = "";
  p.event_types = {"NOPE"};
  p.targets[0].address = "example.com";
  p.targets[1].auth_header = "x";
  p.targets[0].headers = {{"Host", "evil"}};
  p.filters.tag_patterns = {"["};
  p.retry_policy.max_attempts = 1000;
  std::vector<std::string> fields;
  for (const FieldViolation& v : Validate(p)) fields.push_back(v.field);
  EXPECT_THAT(fields, UnorderedElementsAre(
                          "policy.name", "policy.event_types[0]",
                          "policy.targets[0].address",
                          "policy.targets[0].headers[0].name",
                          "policy.targets[1].auth_header",
                          "policy.filters.tag_patterns[0]",
                          "policy.filters.scan_statuses",
                          "policy.retry_policy.max_attempts"));
}

TEST(ValidatePolicyTest, EchoedValuesAreEscapedAndShortened) {
  Policy p = ValidPolicy();
  p.event_types = {"BAD\n" + std::string(200, 'X')};
  p.filters.scan_statuses.clear();
  std::vector<FieldViolation> v = Validate(p);
  ASSERT_EQ(v.size(), 1u);
  EXPECT_THAT(v[0].description, HasSubstr("\"BAD\\n"));
  EXPECT_THAT(v[0].description, HasSubstr("..."));
  EXPECT_THAT(v[0].description, Not(HasSubstr(std::string(100, 'X'))));
}

// --- defaults ------------------------------------------------------------

TEST(ApplyPolicyDefaultsTest, HttpTargetsDefaultToDefaultFormat) {
  Policy p = ValidPolicy();
  p.targets[0].payload_format = PayloadFormat::kUnspecified;
  Target ce = p.targets[0];
  ce.payload_format = PayloadFormat::kCloudEvents;
  p.targets.push_back(ce);
  ApplyPolicyDefaults(p);
  EXPECT_EQ(p.targets[0].payload_format, PayloadFormat::kDefault);
  EXPECT_EQ(p.targets[1].payload_format, PayloadFormat::kUnspecified);  // Slack
  EXPECT_EQ(p.targets[2].payload_format, PayloadFormat::kCloudEvents);
}

TEST(ApplyPolicyDefaultsTest, NormalisesAddressesAndIsIdempotent) {
  Policy p = ValidPolicy();
  p.targets[0].address = "  HTTPS://CI.Example.COM/Hooks/?a=B ";
  ApplyPolicyDefaults(p);
  EXPECT_EQ(p.targets[0].address, "https://ci.example.com/Hooks/?a=B");
  Policy again = p;
  ApplyPolicyDefaults(again);
  EXPECT_EQ(again, p);
  EXPECT_THAT(Validate(p), IsEmpty());
}

TEST(ApplyPolicyDefaultsTest, LeavesInvalidAddressesAlone) {
  Policy p = ValidPolicy();
  p.targets[0].address = "example.com/hook";
  ApplyPolicyDefaults(p);
  EXPECT_EQ(p.targets[0].address, "example.com/hook");
}

// --- NormalizeAddress ----------------------------------------------------

struct AddressCase {
  const char* in;
  const char* out;
};

void PrintTo(const AddressCase& c, std::ostream* os) { *os << c.in; }

class NormalizeAddressTest : public ::testing::TestWithParam<AddressCase> {};

TEST_P(NormalizeAddressTest, Canonical) {
  absl::StatusOr<std::string> got = NormalizeAddress(GetParam().in);
  ASSERT_TRUE(got.ok()) << GetParam().in << ": " << got.status();
  EXPECT_EQ(*got, GetParam().out);
}

INSTANTIATE_TEST_SUITE_P(
    Table, NormalizeAddressTest,
    ::testing::Values(
        AddressCase{"https://example.com/hook", "https://example.com/hook"},
        AddressCase{"  https://example.com/hook\t\n", "https://example.com/hook"},
        AddressCase{"HTTP://EXAMPLE.com/Path", "http://example.com/Path"},
        AddressCase{"https://example.com/", "https://example.com"},
        AddressCase{"https://example.com", "https://example.com"},
        AddressCase{"https://example.com/?x=1", "https://example.com?x=1"},
        AddressCase{"https://example.com/hook/", "https://example.com/hook/"},
        AddressCase{"https://example.com//", "https://example.com//"},
        AddressCase{"https://example.com?x=1&y=%2F",
                    "https://example.com?x=1&y=%2F"},
        AddressCase{"https://example.com:8443/a?b=c",
                    "https://example.com:8443/a?b=c"},
        AddressCase{"https://example.com:008443/a",
                    "https://example.com:8443/a"},
        AddressCase{"https://example.com:00000000000443",
                    "https://example.com:443"},
        AddressCase{"http://127.0.0.1:9000/x", "http://127.0.0.1:9000/x"},
        AddressCase{"http://[::1]:8080/x", "http://[::1]:8080/x"},
        AddressCase{"http://[FE80::1]/", "http://[fe80::1]"},
        AddressCase{"https://my_host.internal./a", "https://my_host.internal./a"},
        AddressCase{"https://example.com/a%20b", "https://example.com/a%20b"},
        AddressCase{"https://example.com/a:b@c", "https://example.com/a:b@c"}));

struct BadAddressCase {
  const char* in;
  const char* message;
};

void PrintTo(const BadAddressCase& c, std::ostream* os) { *os << c.in; }

class NormalizeAddressErrorTest
    : public ::testing::TestWithParam<BadAddressCase> {};

TEST_P(NormalizeAddressErrorTest, Refused) {
  absl::StatusOr<std::string> got = NormalizeAddress(GetParam().in);
  ASSERT_FALSE(got.ok()) << GetParam().in << " -> " << *got;
  EXPECT_EQ(got.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(std::string(got.status().message()),
              HasSubstr(GetParam().message));
}

INSTANTIATE_TEST_SUITE_P(
    Table, NormalizeAddressErrorTest,
    ::testing::Values(
        BadAddressCase{"", "is required"},
        BadAddressCase{"example.com/hook", "including the scheme"},
        BadAddressCase{"://example.com", "including the scheme"},
        BadAddressCase{"//example.com", "including the scheme"},
        BadAddressCase{"ftp://example.com", "scheme \"ftp\""},
        BadAddressCase{"file:///etc/passwd", "scheme \"file\""},
        BadAddressCase{"javascript://x", "scheme \"javascript\""},
        BadAddressCase{"https://user:pw@example.com", "user info"},
        BadAddressCase{"https://user@example.com", "user info"},
        BadAddressCase{"https://example.com/a b", "whitespace"},
        BadAddressCase{"https://exa\tmple.com", "whitespace"},
        BadAddressCase{"https://example.com/\x01", "control"},
        BadAddressCase{"https://ex\xC3\xA4mple.com", "must be ASCII"},
        BadAddressCase{"https://example.com/#x", "fragment"},
        BadAddressCase{"https://", "must have a host"},
        BadAddressCase{"https://:443/x", "must have a host"},
        BadAddressCase{"https://?x=1", "must have a host"},
        BadAddressCase{"https://example.com:/x", "port must be"},
        BadAddressCase{"https://example.com:0", "port must be"},
        BadAddressCase{"https://example.com:65536", "port must be"},
        BadAddressCase{"https://example.com:123456", "port must be"},
        BadAddressCase{"https://example.com:http", "port must be"},
        BadAddressCase{"https://example.com:0000000000000080000", "port must be"},
        BadAddressCase{"https://::1/x", "not enclosed in [ ]"},
        BadAddressCase{"https://[::1/x", "closing ']'"},
        BadAddressCase{"https://[zz]/x", "invalid IPv6 host"},
        BadAddressCase{"https://[::1]x/", "after the IPv6 host"},
        BadAddressCase{"https://exa%41mple.com", "invalid character"},
        BadAddressCase{"https://example.com/a<b>", "percent-encoded"},
        BadAddressCase{"https://example.com/a\\b", "percent-encoded"},
        BadAddressCase{"https://example.com/a%zz", "percent-encoding"},
        BadAddressCase{"https://example.com/a%2", "percent-encoding"}));

TEST(IsScanningEventTypeTest, Prefix) {
  EXPECT_TRUE(IsScanningEventType("SCANNING_COMPLETED"));
  EXPECT_TRUE(IsScanningEventType("SCANNING_FAILED"));
  EXPECT_FALSE(IsScanningEventType("SCANNING_"));
  EXPECT_FALSE(IsScanningEventType("PUSH_ARTIFACT"));
  EXPECT_FALSE(IsScanningEventType("scanning_failed"));
}

TEST(CheckSigningSecretTest, OkAndError) {
  EXPECT_TRUE(CheckSigningSecret(Secret(24)).ok());
  absl::Status s = CheckSigningSecret("whsec_short");
  EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(std::string(s.message()), Not(HasSubstr("short")));
}

}  // namespace
}  // namespace herald::core
