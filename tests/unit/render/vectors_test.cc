// The golden vectors (tests/vectors): every case renders to exactly the
// checked-in bytes, which tests/vectors/gojson produced with Go's encoder
// and the CloudEvents Go SDK (go_crosscheck_test.cc re-runs it); the cases
// taken from Harbor's documentation equal the documented payloads; and the
// exact bytes quoted from Harbor's own tests are reproduced byte for byte.
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>
#include <set>
#include <string>
#include <vector>

#include "server/render/cloudevents_renderer.h"
#include "server/render/default_renderer.h"
#include "server/render/slack_renderer.h"
#include "tests/unit/render/event_json.h"

namespace herald::render {
namespace {

using herald::testing::CaseNames;
using herald::testing::EventFromJson;
using herald::testing::ReadCase;
using herald::testing::ReadFile;
using herald::testing::VectorsDir;
using nlohmann::json;

class VectorTest : public ::testing::TestWithParam<std::string> {
 protected:
  void SetUp() override {
    c_ = ReadCase(GetParam());
    event_ = EventFromJson(c_["event"]);
    context_ = CloudEventsContext::For(
        event_, c_["cloudevents"]["policy_id"].get<int64_t>(),
        c_["cloudevents"]["id"].get<std::string>());
  }
  std::string Expected(const std::string& format) {
    return ReadFile(VectorsDir() + "/cases/" + GetParam() + "." + format +
                    ".json");
  }

  json c_;
  core::Event event_;
  CloudEventsContext context_;
};

TEST_P(VectorTest, DefaultBytesEqualGo) {
  absl::StatusOr<std::string> body = RenderDefault(event_);
  ASSERT_TRUE(body.ok()) << body.status();
  EXPECT_EQ(*body, Expected("default"));
}

TEST_P(VectorTest, CloudEventsBytesEqualGoSdk) {
  absl::StatusOr<std::string> body = RenderCloudEvents(event_, context_);
  ASSERT_TRUE(body.ok()) << body.status();
  EXPECT_EQ(*body, Expected("cloudevents"));
}

TEST_P(VectorTest, SlackBytesEqualGo) {
  absl::StatusOr<std::string> body = RenderSlack(event_);
  ASSERT_TRUE(body.ok()) << body.status();
  EXPECT_EQ(*body, Expected("slack"));
}

// Harbor's documentation predates a few fields that today's Harbor always
// sends (e.g. artifact "references", v2.10+): the case lists them under
// "harbor_doc_ignores" and they are removed before comparing.
json WithoutIgnored(json rendered, const json& c) {
  if (!c.contains("harbor_doc_ignores")) return rendered;
  for (const json& pointer : c["harbor_doc_ignores"]) {
    const json::json_pointer ptr(pointer.get<std::string>());
    if (rendered.contains(ptr)) {
      rendered[ptr.parent_pointer()].erase(ptr.back());
    }
  }
  return rendered;
}

// The cases taken from Harbor's documentation and tests.
using HarborDocTest = VectorTest;

std::vector<std::string> DocCaseNames() {
  std::vector<std::string> names;
  for (const std::string& name : CaseNames()) {
    if (ReadCase(name).contains("harbor_doc")) names.push_back(name);
  }
  return names;
}

TEST_P(HarborDocTest, EqualsHarborDocumentation) {
  const json& doc = c_["harbor_doc"];
  if (doc.contains("default")) {
    const json expected = json::parse(
        ReadFile(VectorsDir() + "/" + doc["default"].get<std::string>()));
    const json actual = WithoutIgnored(json::parse(*RenderDefault(event_)), c_);
    EXPECT_EQ(actual, expected) << "rendered: " << actual.dump(2);
  }
  if (doc.contains("cloudevents")) {
    const json expected = json::parse(
        ReadFile(VectorsDir() + "/" + doc["cloudevents"].get<std::string>()));
    const json actual =
        WithoutIgnored(json::parse(*RenderCloudEvents(event_, context_)), c_);
    EXPECT_EQ(actual, expected) << "rendered: " << actual.dump(2);
  }
  // The exact bytes quoted in harbor-behaviour.md 3.2 and 3.3.
  if (doc.contains("default_exact")) {
    EXPECT_EQ(
        *RenderDefault(event_),
        ReadFile(VectorsDir() + "/" + doc["default_exact"].get<std::string>()));
  }
  if (doc.contains("cloudevents_exact")) {
    EXPECT_EQ(*RenderCloudEvents(event_, context_),
              ReadFile(VectorsDir() + "/" +
                       doc["cloudevents_exact"].get<std::string>()));
  }
}

// Every documented example is covered: both formats of all ten event types,
// plus the two exact-bytes examples.
TEST(VectorCoverage, EveryDocumentedExampleIsACase) {
  std::set<std::string> referenced;
  for (const std::string& name : CaseNames()) {
    const json c = ReadCase(name);
    if (!c.contains("harbor_doc")) continue;
    for (const auto& [format, file] : c["harbor_doc"].items()) {
      referenced.insert(file.get<std::string>());
    }
  }
  for (const char* type :
       {"push_artifact", "pull_artifact", "delete_artifact",
        "scanning_completed", "scanning_stopped", "scanning_failed",
        "quota_exceed", "quota_warning", "replication", "tag_retention"}) {
    for (const char* format : {"default", "cloudevents"}) {
      EXPECT_TRUE(referenced.count(std::string("harbor_doc/") + type + "." +
                                   format + ".json"))
          << type << " " << format;
    }
  }
  EXPECT_TRUE(referenced.count(
      "harbor_doc/harbor_default_format_test.default.exact.json"));
  EXPECT_TRUE(referenced.count(
      "harbor_doc/harbor_cloudevents_format_test.cloudevents.exact.json"));
}

std::string CaseName(const ::testing::TestParamInfo<std::string>& info) {
  return info.param;
}

INSTANTIATE_TEST_SUITE_P(Cases, VectorTest, ::testing::ValuesIn(CaseNames()),
                         CaseName);
INSTANTIATE_TEST_SUITE_P(Cases, HarborDocTest,
                         ::testing::ValuesIn(DocCaseNames()), CaseName);

}  // namespace
}  // namespace herald::render
