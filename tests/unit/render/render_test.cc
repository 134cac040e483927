// The Render() entry point (format and content type per target) and
// NewUuidV4().
#include "server/render/render.h"

#include <gtest/gtest.h>

#include <nlohmann/json.hpp>
#include <regex>
#include <set>
#include <string>

#include "server/core/event_validation.h"
#include "server/render/uuid.h"
#include "tests/unit/render/event_json.h"

namespace herald::render {
namespace {

using core::PayloadFormat;
using core::TargetType;

class RenderTest : public ::testing::Test {
 protected:
  core::Event event_ = herald::testing::EventFromJson(
      herald::testing::ReadCase("doc_pull_artifact")["event"]);
  CloudEventsContext ce_ = CloudEventsContext::For(
      event_, 15, "718eab63-2efa-4f88-8c27-8bcacc34929b");
  std::string Vector(const std::string& format) {
    return herald::testing::ReadFile(herald::testing::VectorsDir() +
                                     "/cases/doc_pull_artifact." + format +
                                     ".json");
  }
};

TEST_F(RenderTest, HttpDefault) {
  auto p = Render(event_, TargetType::kHttp, PayloadFormat::kDefault, ce_);
  ASSERT_TRUE(p.ok()) << p.status();
  EXPECT_EQ(p->content_type, "application/json");
  EXPECT_EQ(p->body, Vector("default"));
}

TEST_F(RenderTest, HttpUnspecifiedFormatIsDefault) {
  auto p = Render(event_, TargetType::kHttp, PayloadFormat::kUnspecified, ce_);
  ASSERT_TRUE(p.ok());
  EXPECT_EQ(p->content_type, "application/json");
  EXPECT_EQ(p->body, Vector("default"));
}

TEST_F(RenderTest, HttpCloudEvents) {
  auto p = Render(event_, TargetType::kHttp, PayloadFormat::kCloudEvents, ce_);
  ASSERT_TRUE(p.ok()) << p.status();
  EXPECT_EQ(p->content_type, "application/cloudevents+json");
  EXPECT_EQ(p->body, Vector("cloudevents"));
}

TEST_F(RenderTest, SlackIgnoresPayloadFormat) {
  for (auto format : {PayloadFormat::kUnspecified, PayloadFormat::kDefault,
                      PayloadFormat::kCloudEvents}) {
    auto p = Render(event_, TargetType::kSlack, format, ce_);
    ASSERT_TRUE(p.ok());
    EXPECT_EQ(p->content_type, "application/json");
    EXPECT_EQ(p->body, Vector("slack"));
  }
}

TEST_F(RenderTest, MissingOccurTimeIsRefused) {
  event_.occur_time.reset();
  for (auto type : {TargetType::kHttp, TargetType::kSlack}) {
    for (auto format : {PayloadFormat::kDefault, PayloadFormat::kCloudEvents}) {
      EXPECT_EQ(Render(event_, type, format, ce_).status().code(),
                absl::StatusCode::kInvalidArgument);
    }
  }
}

TEST_F(RenderTest, CloudEventsNeedsAKnownTypeAndAnId) {
  core::Event unknown = event_;
  unknown.event_type = "CREATE_PROJECT";
  EXPECT_EQ(Render(unknown, TargetType::kHttp, PayloadFormat::kCloudEvents, ce_)
                .status()
                .code(),
            absl::StatusCode::kInvalidArgument);
  CloudEventsContext no_id = ce_;
  no_id.id.clear();
  EXPECT_EQ(
      Render(event_, TargetType::kHttp, PayloadFormat::kCloudEvents, no_id)
          .status()
          .code(),
      absl::StatusCode::kInvalidArgument);
}

TEST_F(RenderTest, CloudEventsTimeIsWholeSecondsUtc) {
  event_.occur_time =
      absl::FromUnixSeconds(1680502372) + absl::Milliseconds(999);
  auto p = Render(event_, TargetType::kHttp, PayloadFormat::kCloudEvents, ce_);
  ASSERT_TRUE(p.ok());
  const auto j = nlohmann::json::parse(p->body);
  EXPECT_EQ(j["time"], "2023-04-03T06:12:52Z");
}

TEST_F(RenderTest, CloudEventsSourceUsesTheContext) {
  CloudEventsContext ce = ce_;
  ce.project_id = 77;
  ce.policy_id = 9;
  ce.request_id = "";
  auto p = Render(event_, TargetType::kHttp, PayloadFormat::kCloudEvents, ce);
  ASSERT_TRUE(p.ok());
  const auto j = nlohmann::json::parse(p->body);
  EXPECT_EQ(j["source"], "/projects/77/webhook/policies/9");
  EXPECT_EQ(j["requestid"], "");  // written even when empty, as Harbor does
}

// Anything that validates renders, for every target and format.
TEST_F(RenderTest, EveryValidCaseRendersEverywhere) {
  for (const std::string& name : herald::testing::CaseNames()) {
    core::Event e = herald::testing::EventFromJson(
        herald::testing::ReadCase(name)["event"]);
    if (!core::ValidateEvent(e).empty()) continue;
    for (auto type : {TargetType::kHttp, TargetType::kSlack}) {
      for (auto format :
           {PayloadFormat::kDefault, PayloadFormat::kCloudEvents}) {
        auto p = Render(e, type, format, ce_);
        ASSERT_TRUE(p.ok()) << name << ": " << p.status();
        EXPECT_TRUE(nlohmann::json::accept(p->body)) << name;
      }
    }
  }
}

TEST(UuidTest, IsVersion4Canonical) {
  const std::regex re(
      "^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$");
  std::set<std::string> seen;
  for (int i = 0; i < 1000; ++i) {
    const std::string id = NewUuidV4();
    EXPECT_TRUE(std::regex_match(id, re)) << id;
    seen.insert(id);
  }
  EXPECT_EQ(seen.size(), 1000u);
}

}  // namespace
}  // namespace herald::render
