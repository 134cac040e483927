// The receiver helper (client/webhooks.h): Verify against the shared
// Standard Webhooks vectors (tests/vectors/webhooks) and against cases
// signed in-test with herald's signer; ParseEvent against the golden
// payloads (tests/vectors/cases), field by field.
#include <google/protobuf/util/json_util.h>
#include <google/protobuf/util/message_differencer.h>
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <map>
#include <nlohmann/json.hpp>
#include <sstream>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "client/webhooks.h"
#include "server/delivery/signer.h"  // compiled into herald_client

namespace herald::webhooks {
namespace {

using ::testing::HasSubstr;
using Json = nlohmann::json;
namespace fs = std::filesystem;

const std::string kVectors = std::string(HERALD_SOURCE_DIR) + "/tests/vectors";

std::string ReadFile(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

std::vector<fs::path> Files(const fs::path& dir, const std::string& suffix) {
  std::vector<fs::path> out;
  if (!fs::exists(dir)) return out;
  for (const auto& entry : fs::directory_iterator(dir)) {
    if (absl::EndsWith(entry.path().filename().string(), suffix)) out.push_back(entry.path());
  }
  std::sort(out.begin(), out.end());
  return out;
}

// --- Verify: the shared vectors -------------------------------------------------

TEST(Verify, SharedStandardWebhooksVectors) {
  const std::vector<fs::path> files = Files(kVectors + "/webhooks", ".json");
  if (files.empty()) GTEST_SKIP() << "tests/vectors/webhooks is not there (yet)";
  int valid = 0, invalid = 0;
  for (const fs::path& file : files) {
    SCOPED_TRACE(file.filename().string());
    const Json c = Json::parse(ReadFile(file));
    std::vector<std::pair<std::string, std::string>> headers = {
        {"Content-Type", "application/json"}};
    // Header names in any case: the helper compares case-insensitively.
    if (!c["id"].is_null()) headers.emplace_back("Webhook-Id", c["id"].get<std::string>());
    if (!c["timestamp"].is_null()) {
      headers.emplace_back("webhook-timestamp", c["timestamp"].get<std::string>());
    }
    if (!c["header"].is_null()) {
      headers.emplace_back("WEBHOOK-SIGNATURE", c["header"].get<std::string>());
    }
    const std::vector<std::string> secrets = c["secrets"].get<std::vector<std::string>>();
    const std::string body = c["body"].get<std::string>();
    const absl::Time now = absl::FromUnixSeconds(c["now"].get<int64_t>());
    const absl::Duration tolerance = absl::Seconds(c["tolerance_seconds"].get<int64_t>());

    const absl::Status status = Verify(body, headers, secrets, tolerance, now);
    if (c["valid"].get<bool>()) {
      ++valid;
      EXPECT_TRUE(status.ok()) << status;
    } else {
      ++invalid;
      ASSERT_FALSE(status.ok());
      const std::string error = c["error"].get<std::string>();
      if (error == "missing_header") {
        EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument) << status;
        EXPECT_THAT(std::string(status.message()), HasSubstr("missing"));
      } else if (error == "invalid_timestamp") {
        EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument) << status;
        EXPECT_THAT(std::string(status.message()), HasSubstr("timestamp"));
      } else if (error == "timestamp_too_old") {
        EXPECT_EQ(status.code(), absl::StatusCode::kUnauthenticated) << status;
        EXPECT_THAT(std::string(status.message()), HasSubstr("too old"));
      } else if (error == "timestamp_too_new") {
        EXPECT_EQ(status.code(), absl::StatusCode::kUnauthenticated) << status;
        EXPECT_THAT(std::string(status.message()), HasSubstr("too new"));
      } else {
        EXPECT_EQ(error, "no_matching_signature");
        EXPECT_EQ(status.code(), absl::StatusCode::kUnauthenticated) << status;
        EXPECT_THAT(std::string(status.message()), HasSubstr("no matching signature"));
      }
      // No message leaks a secret or a signature.
      for (const std::string& s : secrets) {
        EXPECT_FALSE(absl::StrContains(status.message(), s.substr(6)));
      }
    }
    // Sender side: herald's signer produces exactly the header.
    if (c["sign_check"].get<bool>()) {
      EXPECT_EQ(delivery::SignatureHeader(c["id"].get<std::string>(),
                                          std::stoll(c["timestamp"].get<std::string>()),
                                          body,
                                          c["signed_with"].get<std::vector<std::string>>()),
                c["header"].get<std::string>());
    }
  }
  EXPECT_GT(valid, 5);
  EXPECT_GT(invalid, 5);
}

// --- Verify: cases signed here with herald's signer ---------------------------

class VerifyGenerated : public ::testing::Test {
 protected:
  const std::string old_secret_ = "whsec_b2xkc2VjcmV0b2xkc2VjcmV0b2xkc2VjcmV0";
  const std::string new_secret_ = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";
  const std::string body_ = R"({"type":"PUSH_ARTIFACT","occur_at":1700000000})";
  const absl::Time now_ = absl::FromUnixSeconds(1700000000);

  std::map<std::string, std::string> Signed(const std::vector<std::string>& secrets,
                                            int64_t ts = 1700000000,
                                            const std::string& body = "") const {
    return {{"webhook-id", "msg_1"},
            {"webhook-timestamp", absl::StrCat(ts)},
            {"webhook-signature",
             delivery::SignatureHeader("msg_1", ts, body.empty() ? body_ : body, secrets)}};
  }
};

TEST_F(VerifyGenerated, ValidAndTampered) {
  auto headers = Signed({new_secret_});
  EXPECT_TRUE(Verify(body_, headers, {new_secret_}, kDefaultTolerance, now_).ok());
  EXPECT_EQ(Verify(body_ + " ", headers, {new_secret_}, kDefaultTolerance, now_).code(),
            absl::StatusCode::kUnauthenticated);
  EXPECT_EQ(Verify(body_, headers, {old_secret_}, kDefaultTolerance, now_).code(),
            absl::StatusCode::kUnauthenticated);
  auto other_id = headers;
  other_id["webhook-id"] = "msg_2";
  EXPECT_FALSE(Verify(body_, other_id, {new_secret_}, kDefaultTolerance, now_).ok());
}

TEST_F(VerifyGenerated, RotationFromBothSides) {
  // The sender signs with both secrets during the grace period...
  auto both = Signed({new_secret_, old_secret_});
  EXPECT_TRUE(Verify(body_, both, {old_secret_}, kDefaultTolerance, now_).ok());
  EXPECT_TRUE(Verify(body_, both, {new_secret_}, kDefaultTolerance, now_).ok());
  // ...and the receiver may accept several.
  auto only_new = Signed({new_secret_});
  EXPECT_TRUE(Verify(body_, only_new, {old_secret_, new_secret_}, kDefaultTolerance, now_).ok());
  EXPECT_FALSE(Verify(body_, only_new, {old_secret_}, kDefaultTolerance, now_).ok());
}

TEST_F(VerifyGenerated, TimestampTolerance) {
  for (int64_t skew : {-300, 300}) {
    auto h = Signed({new_secret_}, 1700000000 + skew);
    EXPECT_TRUE(Verify(body_, h, {new_secret_}, kDefaultTolerance, now_).ok()) << skew;
  }
  auto old = Signed({new_secret_}, 1700000000 - 301);
  absl::Status s = Verify(body_, old, {new_secret_}, kDefaultTolerance, now_);
  EXPECT_EQ(s.code(), absl::StatusCode::kUnauthenticated);
  EXPECT_THAT(std::string(s.message()), HasSubstr("too old"));
  auto future = Signed({new_secret_}, 1700000000 + 301);
  EXPECT_THAT(std::string(Verify(body_, future, {new_secret_}, kDefaultTolerance, now_).message()),
              HasSubstr("too new"));
  // A wider tolerance accepts it.
  EXPECT_TRUE(Verify(body_, old, {new_secret_}, absl::Minutes(10), now_).ok());
}

TEST_F(VerifyGenerated, MissingPiecesAreInvalidArguments) {
  auto h = Signed({new_secret_});
  h.erase("webhook-signature");
  EXPECT_EQ(Verify(body_, h, {new_secret_}, kDefaultTolerance, now_).code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(Verify(body_, Signed({new_secret_}), {}, kDefaultTolerance, now_).code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(Verify(body_, Signed({new_secret_}), {"whsec_***"}, kDefaultTolerance, now_).code(),
            absl::StatusCode::kInvalidArgument);
  SignatureHeaders direct;
  direct.webhook_id = "msg_1";
  direct.webhook_timestamp = "1700000000";
  direct.webhook_signature = Signed({new_secret_})["webhook-signature"];
  EXPECT_TRUE(Verify(body_, direct, {new_secret_}, kDefaultTolerance, now_).ok());
}

// --- ParseEvent: the golden payloads ---------------------------------------------

void TruncateToSeconds(google::protobuf::Timestamp* t) { t->set_nanos(0); }

// What the payload formats can express of an event, so that a parsed body
// and the case's input event compare equal field by field.
void Normalize(v1::Event& e) {
  if (e.has_occur_time()) TruncateToSeconds(e.mutable_occur_time());
  if (e.has_repository()) {
    v1::Repository* r = e.mutable_repository();
    if (r->has_create_time()) {
      TruncateToSeconds(r->mutable_create_time());
      if (r->create_time().seconds() == 0) r->clear_create_time();
    }
  }
  if (e.has_replication() && e.replication().has_execution_time()) {
    TruncateToSeconds(e.mutable_replication()->mutable_execution_time());
    if (e.replication().execution_time().seconds() == 0) {
      e.mutable_replication()->clear_execution_time();
    }
  }
  for (v1::Resource& r : *e.mutable_resources()) {
    for (auto& [mime, report] : *r.mutable_scan_overview()) {
      if (report.has_duration()) {
        report.mutable_duration()->set_nanos(0);
        if (report.duration().seconds() == 0) report.clear_duration();
      }
    }
    if (r.has_sbom_overview()) {
      v1::SbomOverview* s = r.mutable_sbom_overview();
      if (s->has_duration()) s->mutable_duration()->set_nanos(0);
      if (s->ByteSizeLong() == 0) r.clear_sbom_overview();
    }
  }
}

struct Case {
  std::string name;
  Json meta;
  v1::Event event;
};

std::vector<Case> LoadCases() {
  std::vector<Case> out;
  for (const fs::path& file : Files(kVectors + "/cases", ".case.json")) {
    Case c;
    c.name = file.filename().string();
    c.name.resize(c.name.size() - std::string(".case.json").size());
    c.meta = Json::parse(ReadFile(file));
    const auto parsed = google::protobuf::util::JsonStringToMessage(
        c.meta["event"].dump(), &c.event);
    EXPECT_TRUE(parsed.ok()) << c.name << ": " << parsed.ToString();
    out.push_back(std::move(c));
  }
  return out;
}

void ExpectSameEvent(v1::Event expected, v1::Event got) {
  Normalize(expected);
  Normalize(got);
  google::protobuf::util::MessageDifferencer differ;
  std::string diff;
  differ.ReportDifferencesToString(&diff);
  EXPECT_TRUE(differ.Compare(expected, got)) << diff;
}

TEST(ParseEvent, DefaultPayloadsOfEveryCase) {
  std::vector<Case> cases = LoadCases();
  ASSERT_GE(cases.size(), 10u);
  for (const Case& c : cases) {
    SCOPED_TRACE(c.name);
    const std::string body = ReadFile(kVectors + "/cases/" + c.name + ".default.json");
    absl::StatusOr<WebhookEvent> parsed = ParseEvent(body, "application/json; charset=utf-8");
    ASSERT_TRUE(parsed.ok()) << parsed.status();
    EXPECT_EQ(parsed->format, PayloadFormat::kDefault);
    EXPECT_EQ(parsed->event_type, c.event.event_type());
    EXPECT_EQ(parsed->operator_name, c.event.operator_());
    ASSERT_TRUE(parsed->occur_time.has_value());
    EXPECT_EQ(absl::ToUnixSeconds(*parsed->occur_time), c.event.occur_time().seconds());
    EXPECT_FALSE(parsed->cloudevent.has_value());
    // The Default format carries neither the project nor the request id.
    v1::Event expected = c.event;
    expected.clear_project_id();
    expected.clear_request_id();
    ExpectSameEvent(expected, parsed->event);
  }
}

TEST(ParseEvent, CloudEventsPayloadsOfEveryCase) {
  for (const Case& c : LoadCases()) {
    SCOPED_TRACE(c.name);
    const std::string body = ReadFile(kVectors + "/cases/" + c.name + ".cloudevents.json");
    absl::StatusOr<WebhookEvent> parsed = ParseEvent(body, "application/cloudevents+json");
    ASSERT_TRUE(parsed.ok()) << parsed.status();
    EXPECT_EQ(parsed->format, PayloadFormat::kCloudEvents);
    ASSERT_TRUE(parsed->cloudevent.has_value());
    const CloudEventAttributes& ce = *parsed->cloudevent;
    EXPECT_EQ(ce.specversion, "1.0");
    EXPECT_EQ(ce.id, c.meta["cloudevents"]["id"].get<std::string>());
    EXPECT_EQ(ce.policy_id, c.meta["cloudevents"]["policy_id"].get<int64_t>());
    EXPECT_EQ(ce.project_id, c.event.project_id());
    EXPECT_EQ(ce.type, CloudEventsTypeFromEventType(c.event.event_type()));
    EXPECT_EQ(ce.datacontenttype, "application/json");
    EXPECT_EQ(parsed->event_type, c.event.event_type());
    EXPECT_EQ(ce.extensions.at("operator"), c.event.operator_());
    ExpectSameEvent(c.event, parsed->event);
    // Without a content type the format is recognised from the body.
    absl::StatusOr<WebhookEvent> sniffed = ParseEvent(body, "");
    ASSERT_TRUE(sniffed.ok());
    EXPECT_EQ(sniffed->format, PayloadFormat::kCloudEvents);
  }
}

TEST(ParseEvent, RefusesWhatIsNotAHeraldPayload) {
  const std::string slack = ReadFile(kVectors + "/cases/doc_push_artifact.slack.json");
  EXPECT_THAT(std::string(ParseEvent(slack, "application/json").status().message()),
              HasSubstr("Slack"));
  EXPECT_EQ(ParseEvent("{not json", "application/json").status().code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(ParseEvent("[]", "application/json").status().code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(ParseEvent("{}", "text/plain").status().code(),
            absl::StatusCode::kInvalidArgument);
  absl::StatusOr<WebhookEvent> wrong_type = ParseEvent(
      R"({"type":"PUSH_ARTIFACT","occur_at":1,"operator":"x",
          "event_data":{"resources":[{"digest":"d","tag":7}]}})",
      "application/json");
  ASSERT_FALSE(wrong_type.ok());
  EXPECT_THAT(std::string(wrong_type.status().message()),
              HasSubstr("event_data.resources[0].tag"));
}

TEST(ParseEvent, EventTypeMapping) {
  EXPECT_EQ(EventTypeFromCloudEventsType("harbor.scan.completed"), "SCANNING_COMPLETED");
  EXPECT_EQ(CloudEventsTypeFromEventType("TAG_RETENTION"), "harbor.tag_retention.finished");
  EXPECT_EQ(EventTypeFromCloudEventsType("com.example.other"), "");
}

}  // namespace
}  // namespace herald::webhooks
