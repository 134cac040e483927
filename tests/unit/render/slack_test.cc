// Slack bodies: valid JSON, Harbor's section texts, robust against hostile
// values.
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>
#include <string>

#include "server/render/default_renderer.h"
#include "server/render/slack_renderer.h"
#include "tests/unit/render/event_json.h"

namespace herald::render {
namespace {

using nlohmann::json;

core::Event PushEvent() {
  return herald::testing::EventFromJson(
      herald::testing::ReadCase("doc_delete_artifact")["event"]);
}

std::vector<std::string> TextsOf(const std::string& body) {
  std::vector<std::string> texts;
  const json j = json::parse(body);  // throws when not valid JSON
  EXPECT_EQ(j.size(), 1u);
  for (const json& block : j.at("blocks")) {
    EXPECT_EQ(block.at("type"), "section");
    EXPECT_EQ(block.at("text").at("type"), "mrkdwn");
    EXPECT_EQ(block.size(), 2u);
    texts.push_back(block.at("text").at("text").get<std::string>());
  }
  return texts;
}

TEST(SlackTest, SectionsCarryHarborsTexts) {
  const core::Event event = PushEvent();
  absl::StatusOr<std::string> body = RenderSlack(event);
  ASSERT_TRUE(body.ok()) << body.status();
  const std::vector<std::string> texts = TextsOf(*body);
  ASSERT_EQ(texts.size(), 6u);
  EXPECT_EQ(texts[0], "*Harbor webhook events*");
  EXPECT_EQ(texts[1], "*event_type:* DELETE_ARTIFACT");
  EXPECT_EQ(texts[2],
            "*occur_at:* <!date^1680502598^{date} at {time}|February 18th, "
            "2014 at 6:39 AM PST>");
  EXPECT_EQ(texts[3], "*operator:* harbor-jobservice");
  EXPECT_EQ(texts[4], "*event_data:*");
  EXPECT_EQ(
      texts[5],
      "```{\n"
      "\t\"resources\": [\n"
      "\t\t{\n"
      "\t\t\t\"digest\": "
      "\"sha256:"
      "2bb501e6173d9d006e56de5bce2720eb06396803300fe1687b58a7ff32bf4c14\",\n"
      "\t\t\t\"tag\": \"3.8\",\n"
      "\t\t\t\"resource_url\": \"localhost/harbor/alpine:3.8\"\n"
      "\t\t}\n"
      "\t],\n"
      "\t\"repository\": {\n"
      "\t\t\"date_created\": 1680501893,\n"
      "\t\t\"name\": \"alpine\",\n"
      "\t\t\"namespace\": \"harbor\",\n"
      "\t\t\"repo_full_name\": \"harbor/alpine\",\n"
      "\t\t\"repo_type\": \"private\"\n"
      "\t}\n"
      "}```");
  EXPECT_EQ(SlackTexts(event).value(), texts);
}

TEST(SlackTest, EventDataTextIsTheDefaultEventDataIndented) {
  for (const std::string& name : herald::testing::CaseNames()) {
    const core::Event event = herald::testing::EventFromJson(
        herald::testing::ReadCase(name)["event"]);
    const std::vector<std::string> texts = TextsOf(RenderSlack(event).value());
    ASSERT_EQ(texts.size(), 6u) << name;
    const std::string& data = texts[5];
    ASSERT_GE(data.size(), 6u);
    EXPECT_EQ(data.substr(0, 3), "```");
    EXPECT_EQ(data.substr(data.size() - 3), "```");
    const json default_data =
        json::parse(RenderDefault(event).value())["event_data"];
    EXPECT_EQ(json::parse(data.substr(3, data.size() - 6)), default_data)
        << name;
  }
}

TEST(SlackTest, HostileValuesCannotBreakTheJson) {
  core::Event event = PushEvent();
  event.operator_name = "\"},{\"type\":\"injected\"}]} \n\t\\ ``` <!channel>";
  event.event_type = "X\"Y";
  event.resources[0].tag = "\"\n```\\\"";
  event.custom_attributes["\"k"] = "\x01\xff";
  absl::StatusOr<std::string> body = RenderSlack(event);
  ASSERT_TRUE(body.ok());
  const std::vector<std::string> texts = TextsOf(*body);
  ASSERT_EQ(texts.size(), 6u);
  EXPECT_EQ(texts[1], "*event_type:* X\"Y");
  EXPECT_EQ(texts[3], "*operator:* " + event.operator_name);
  EXPECT_NE(texts[5].find("\"tag\": \"\\\"\\n```\\\\\\\"\""), std::string::npos)
      << texts[5];
  // Invalid UTF-8 becomes U+FFFD, so the body stays valid UTF-8 JSON.
  EXPECT_NE(texts[5].find("\\u0001\\ufffd"), std::string::npos) << texts[5];
}

TEST(SlackTest, RequiresOccurTime) {
  core::Event event = PushEvent();
  event.occur_time.reset();
  EXPECT_EQ(RenderSlack(event).status().code(),
            absl::StatusCode::kInvalidArgument);
}

}  // namespace
}  // namespace herald::render
