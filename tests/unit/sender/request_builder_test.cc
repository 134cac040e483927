#include "server/delivery/request_builder.h"

#include <string>
#include <vector>

#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "server/delivery/signer.h"

namespace herald::delivery {
namespace {

using ::testing::ElementsAre;
using ::testing::Field;
using ::testing::IsEmpty;
using ::testing::StartsWith;

const absl::Time kNow = absl::FromUnixSeconds(1795773600);

std::string Secret(char byte) {
  return absl::StrCat("whsec_", absl::Base64Escape(std::string(32, byte)));
}

core::Execution HttpExecution() {
  core::Execution e;
  e.id = 7;
  e.event_type = "PUSH_ARTIFACT";
  e.target.type = core::TargetType::kHttp;
  e.target.address = "https://hooks.example.com/harbor?x=1";
  e.target.payload_format = core::PayloadFormat::kDefault;
  e.payload = R"({"type":"PUSH_ARTIFACT","occur_at":1795773600})";
  e.content_type = "application/json";
  e.webhook_id = "4d2c1c7e-0f3b-4b8e-9f55-3f1f0d0c2a10";
  return e;
}

std::vector<std::string> Names(const HttpRequest& r) {
  std::vector<std::string> names;
  for (const core::Header& h : r.headers) names.push_back(h.name);
  return names;
}

std::string Value(const HttpRequest& r, std::string_view name) {
  for (const core::Header& h : r.headers) {
    if (h.name == name) return h.value;
  }
  return "<absent>";
}

TEST(BuildRequest, HarborHeadersThenHeraldsInOrder) {
  core::Execution e = HttpExecution();
  e.target.auth_header = "Basic dXNlcjpwYXNz";
  BuildOptions options;
  options.timeout = absl::Seconds(7);
  const HttpRequest r = BuildRequest(e, options, kNow);

  EXPECT_EQ(r.url, e.target.address);
  EXPECT_EQ(r.body, e.payload);
  EXPECT_EQ(r.timeout, absl::Seconds(7));
  EXPECT_EQ(r.endpoint_key, "https://hooks.example.com:443");
  EXPECT_THAT(Names(r), ElementsAre("Content-Type", "Authorization",
                                    "User-Agent", "webhook-id",
                                    "webhook-timestamp"));
  EXPECT_EQ(Value(r, "Content-Type"), "application/json");
  EXPECT_EQ(Value(r, "Authorization"), "Basic dXNlcjpwYXNz");  // verbatim
  EXPECT_THAT(Value(r, "User-Agent"), StartsWith("herald/"));
  EXPECT_EQ(Value(r, "User-Agent"), DefaultUserAgent());
  EXPECT_EQ(Value(r, "webhook-id"), e.webhook_id);
  EXPECT_EQ(Value(r, "webhook-timestamp"), "1795773600");
}

TEST(BuildRequest, NoAuthorizationWhenAuthHeaderIsEmpty) {
  const HttpRequest r = BuildRequest(HttpExecution(), {}, kNow);
  EXPECT_EQ(Value(r, "Authorization"), "<absent>");
}

TEST(BuildRequest, CloudEventsContentTypeIsPassedThrough) {
  core::Execution e = HttpExecution();
  e.target.payload_format = core::PayloadFormat::kCloudEvents;
  e.content_type = "application/cloudevents+json";
  EXPECT_EQ(Value(BuildRequest(e, {}, kNow), "Content-Type"),
            "application/cloudevents+json");
}

TEST(BuildRequest, SlackGetsJsonAndNeverAuthorization) {
  core::Execution e = HttpExecution();
  e.vendor_type = core::VendorType::kSlack;
  e.target.type = core::TargetType::kSlack;
  e.target.address = "https://hooks.slack.com/services/T0/B0/XYZ";
  e.target.auth_header = "Bearer should-never-be-sent";
  e.content_type = "text/plain";  // whatever the renderer said
  const HttpRequest r = BuildRequest(e, {}, kNow);
  EXPECT_EQ(Value(r, "Content-Type"), "application/json");
  EXPECT_EQ(Value(r, "Authorization"), "<absent>");
}

TEST(BuildRequest, SignsWithTheCurrentSecret) {
  core::Execution e = HttpExecution();
  e.target.signing_secret = Secret('s');
  const HttpRequest r = BuildRequest(e, {}, kNow);
  EXPECT_THAT(Names(r), ElementsAre("Content-Type", "User-Agent", "webhook-id",
                                    "webhook-timestamp", "webhook-signature"));
  const std::string sig = Value(r, "webhook-signature");
  EXPECT_EQ(sig, SignatureHeader(e.webhook_id, 1795773600, e.payload,
                                 {e.target.signing_secret}));
  EXPECT_TRUE(VerifySignature(e.webhook_id, "1795773600", r.body, sig,
                              e.target.signing_secret, kNow));
}

TEST(BuildRequest, PreviousSecretSignsUntilItExpires) {
  core::Execution e = HttpExecution();
  e.target.signing_secret = Secret('n');
  e.target.previous_signing_secret = Secret('o');
  e.target.previous_secret_expire_time = kNow + absl::Seconds(1);

  const std::string both = Value(BuildRequest(e, {}, kNow), "webhook-signature");
  std::vector<std::string> parts = absl::StrSplit(both, ' ');
  ASSERT_EQ(parts.size(), 2u);
  for (const std::string& secret :
       {e.target.signing_secret, e.target.previous_signing_secret}) {
    EXPECT_TRUE(VerifySignature(e.webhook_id, "1795773600", e.payload, both,
                                secret, kNow));
  }
  EXPECT_EQ(parts[0], SignatureHeader(e.webhook_id, 1795773600, e.payload,
                                      {e.target.signing_secret}));

  // At and after the expiry time only the current secret signs.
  const absl::Time later = kNow + absl::Seconds(1);
  const std::string one = Value(BuildRequest(e, {}, later), "webhook-signature");
  EXPECT_EQ(one.find(' '), std::string::npos);
  EXPECT_FALSE(VerifySignature(e.webhook_id, absl::StrCat(absl::ToUnixSeconds(later)),
                               e.payload, one, e.target.previous_signing_secret,
                               later));
}

TEST(BuildRequest, TimestampIsTheAttemptButTheIdIsStable) {
  core::Execution e = HttpExecution();
  e.target.signing_secret = Secret('s');
  const HttpRequest first = BuildRequest(e, {}, kNow);
  const HttpRequest retry = BuildRequest(e, {}, kNow + absl::Seconds(74));
  EXPECT_EQ(Value(first, "webhook-id"), Value(retry, "webhook-id"));
  EXPECT_EQ(Value(retry, "webhook-timestamp"), "1795773674");
  EXPECT_NE(Value(first, "webhook-signature"), Value(retry, "webhook-signature"));
  EXPECT_EQ(first.body, retry.body);
}

TEST(BuildRequest, CustomHeadersLastReservedOnesDropped) {
  core::Execution e = HttpExecution();
  e.target.headers = {{"X-Team", "registry"},
                      {"content-type", "text/evil"},
                      {"Webhook-Signature", "v1,forged"},
                      {"Host", "elsewhere"},
                      {"X-Empty", ""}};
  const HttpRequest r = BuildRequest(e, {}, kNow);
  EXPECT_THAT(Names(r), ElementsAre("Content-Type", "User-Agent", "webhook-id",
                                    "webhook-timestamp", "X-Team", "X-Empty"));
  EXPECT_EQ(Value(r, "Content-Type"), "application/json");
}

TEST(BuildRequest, CustomUserAgentReplacesHeralds) {
  core::Execution e = HttpExecution();
  e.target.headers = {{"user-agent", "my-agent/1"}};
  const HttpRequest r = BuildRequest(e, {}, kNow);
  EXPECT_THAT(Names(r), ElementsAre("Content-Type", "webhook-id",
                                    "webhook-timestamp", "user-agent"));
}

TEST(BuildRequest, NoStandardWebhooksHeadersWithoutAnId) {
  core::Execution e = HttpExecution();
  e.webhook_id.clear();
  e.target.signing_secret = Secret('s');
  EXPECT_THAT(Names(BuildRequest(e, {}, kNow)),
              ElementsAre("Content-Type", "User-Agent"));
}

TEST(BuildRequest, TargetTransportOptions) {
  core::Execution e = HttpExecution();
  e.target.skip_cert_verify = true;
  e.target.follow_redirects = true;
  e.target.ca_bundle_pem = "-----BEGIN CERTIFICATE-----\n...";
  const HttpRequest r = BuildRequest(e, {}, kNow);
  EXPECT_TRUE(r.skip_cert_verify);
  EXPECT_TRUE(r.follow_redirects);
  EXPECT_EQ(r.ca_bundle_pem, e.target.ca_bundle_pem);
  const HttpRequest d = BuildRequest(HttpExecution(), {}, kNow);
  EXPECT_FALSE(d.skip_cert_verify);
  EXPECT_FALSE(d.follow_redirects);
  EXPECT_THAT(d.ca_bundle_pem, IsEmpty());
  EXPECT_EQ(d.timeout, absl::Seconds(3));  // Harbor's default
}

TEST(EndpointKey, SchemeHostAndPortWithDefaults) {
  EXPECT_EQ(*EndpointKey("http://Example.COM/x"), "http://example.com:80");
  EXPECT_EQ(*EndpointKey("HTTPS://h.example/p?q#f"), "https://h.example:443");
  EXPECT_EQ(*EndpointKey("https://h:8443"), "https://h:8443");
  EXPECT_EQ(*EndpointKey("http://h:080/"), "http://h:80");
  EXPECT_EQ(*EndpointKey("http://user:pw@h/x"), "http://h:80");
  EXPECT_EQ(*EndpointKey("http://h?x=@evil"), "http://h:80");
  EXPECT_EQ(*EndpointKey("http://[::1]:8080/"), "http://[::1]:8080");
  EXPECT_EQ(*EndpointKey("https://[FE80::1]/"), "https://[fe80::1]:443");
  EXPECT_EQ(*EndpointKey("http://10.0.0.1:9000"), "http://10.0.0.1:9000");
}

TEST(EndpointKey, RejectsWhatIsNotAnHttpUrl) {
  for (const char* bad : {"", "hooks.example.com", "ftp://h/", "http://",
                          "http:///x", "http://h:0/", "http://h:65536/",
                          "http://h:12a/", "http://[::1/", "http://[::1]x/",
                          "http://h:-1/"}) {
    EXPECT_FALSE(EndpointKey(bad).ok()) << bad;
  }
}

TEST(BuildRequest, UnparsableAddressStillGetsAKey) {
  core::Execution e = HttpExecution();
  e.target.address = "not a url";
  EXPECT_EQ(BuildRequest(e, {}, kNow).endpoint_key, "not a url");
}

}  // namespace
}  // namespace herald::delivery
