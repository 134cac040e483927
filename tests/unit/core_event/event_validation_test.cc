// ValidateEvent(): one test per refusal rule and per limit.
#include "server/core/event_validation.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <string>
#include <vector>

namespace herald::core {
namespace {

using ::testing::Contains;
using ::testing::Field;
using ::testing::IsEmpty;
using ::testing::SizeIs;

constexpr char kDigest[] =
    "sha256:954b378c375d852eb3c63ab88978f640b4348b01c1b3456a024a81536dafbbf4";

Repository Repo() {
  return Repository{std::nullopt, "alpine", "harbor", "harbor/alpine",
                    "private"};
}

Event Push() {
  Event e;
  e.event_type = std::string(kPushArtifact);
  e.project_id = 2;
  e.operator_name = "admin";
  e.occur_time = absl::FromUnixSeconds(1680501893);
  e.resources.push_back(Resource{kDigest, "latest", "", {}, std::nullopt});
  e.repository = Repo();
  return e;
}

Event ScanEvent() {
  Event e = Push();
  e.event_type = std::string(kScanningCompleted);
  ScanReportSummary s;
  s.scan_status = "Success";
  e.resources[0].scan_overview
      ["application/vnd.security.vulnerability.report; version=1.1"] = s;
  return e;
}

Event Quota() {
  Event e = Push();
  e.event_type = std::string(kQuotaExceed);
  e.custom_attributes["Details"] = "over the limit";
  return e;
}

Event ReplicationEvent() {
  Event e;
  e.event_type = std::string(kReplication);
  e.project_id = 2;
  e.occur_time = absl::FromUnixSeconds(1);
  e.replication.emplace();
  return e;
}

Event RetentionEvent() {
  Event e;
  e.event_type = std::string(kTagRetention);
  e.project_id = 2;
  e.occur_time = absl::FromUnixSeconds(1);
  e.retention.emplace();
  return e;
}

// The violation paths of `e`.
std::vector<std::string> Fields(const Event& e) {
  std::vector<std::string> fields;
  for (const FieldViolation& v : ValidateEvent(e)) fields.push_back(v.field);
  return fields;
}

TEST(ValidateEventTest, ValidEventsOfEveryFamilyPass) {
  EXPECT_THAT(ValidateEvent(Push()), IsEmpty());
  EXPECT_THAT(ValidateEvent(ScanEvent()), IsEmpty());
  EXPECT_THAT(ValidateEvent(Quota()), IsEmpty());
  EXPECT_THAT(ValidateEvent(ReplicationEvent()), IsEmpty());
  EXPECT_THAT(ValidateEvent(RetentionEvent()), IsEmpty());
  EXPECT_TRUE(CheckEvent(Push()).ok());
}

TEST(ValidateEventTest, EveryKnownTypeIsAccepted) {
  EXPECT_THAT(KnownEventTypes(), SizeIs(10));
  for (const std::string& type : KnownEventTypes()) {
    Event e = Quota();  // carries everything but replication/retention
    e.event_type = type;
    e.replication.emplace();
    e.retention.emplace();
    e.resources[0].scan_overview["m"] = ScanReportSummary{};
    EXPECT_THAT(ValidateEvent(e), IsEmpty()) << type;
  }
}

TEST(ValidateEventTest, EventTypeMustBeKnown) {
  Event e = Push();
  e.event_type = "";
  EXPECT_THAT(Fields(e), Contains("event.event_type"));
  e.event_type = "CREATE_PROJECT";
  const auto v = ValidateEvent(e);
  ASSERT_THAT(v, SizeIs(1));
  EXPECT_EQ(v[0].field, "event.event_type");
  EXPECT_THAT(v[0].description, ::testing::HasSubstr("\"CREATE_PROJECT\""));
  EXPECT_THAT(v[0].description, ::testing::HasSubstr("PUSH_ARTIFACT"));
  e.event_type = "push_artifact";  // case matters, as in Harbor
  EXPECT_THAT(Fields(e), Contains("event.event_type"));
}

TEST(ValidateEventTest, ProjectIdMustBePositive) {
  Event e = Push();
  e.project_id = 0;
  EXPECT_THAT(Fields(e), Contains("event.project_id"));
  e.project_id = -3;
  EXPECT_THAT(Fields(e), Contains("event.project_id"));
}

TEST(ValidateEventTest, ArtifactEventsNeedRepositoryAndDigests) {
  for (auto type : {kPushArtifact, kPullArtifact, kDeleteArtifact}) {
    Event e = Push();
    e.event_type = std::string(type);
    e.repository.reset();
    EXPECT_THAT(Fields(e), Contains("event.repository")) << type;
    e = Push();
    e.event_type = std::string(type);
    e.resources.clear();
    EXPECT_THAT(Fields(e), Contains("event.resources")) << type;
    e = Push();
    e.event_type = std::string(type);
    e.resources.push_back(Resource{});
    EXPECT_THAT(Fields(e), ::testing::ElementsAre("event.resources[1].digest"))
        << type;
  }
}

TEST(ValidateEventTest, RepositoryNeedsNamespaceNameAndAKnownType) {
  Event e = Push();
  e.repository->name.clear();
  e.repository->namespace_name.clear();
  e.repository->repo_type = "internal";
  EXPECT_THAT(Fields(e), ::testing::ElementsAre("event.repository.name",
                                                "event.repository.namespace",
                                                "event.repository.repo_type"));
  e = Push();
  e.repository->repo_type = "";
  EXPECT_THAT(ValidateEvent(e), IsEmpty());
  e.repository->repo_type = "public";
  EXPECT_THAT(ValidateEvent(e), IsEmpty());
}

TEST(ValidateEventTest, QuotaEventsNeedDetails) {
  for (auto type : {kQuotaExceed, kQuotaWarning}) {
    Event e = Quota();
    e.event_type = std::string(type);
    e.custom_attributes.clear();
    EXPECT_THAT(Fields(e), Contains("event.custom_attributes[\"Details\"]"));
    e.custom_attributes["Details"] = "";
    EXPECT_THAT(Fields(e), Contains("event.custom_attributes[\"Details\"]"));
    e = Quota();
    e.event_type = std::string(type);
    e.repository.reset();
    EXPECT_THAT(Fields(e), Contains("event.repository"));
    e = Quota();
    e.resources.clear();  // a quota event without a manifest is fine
    EXPECT_THAT(ValidateEvent(e), IsEmpty());
  }
}

TEST(ValidateEventTest, ScanningEventsNeedAnOverview) {
  for (auto type : {kScanningCompleted, kScanningFailed, kScanningStopped}) {
    Event e = ScanEvent();
    e.event_type = std::string(type);
    e.resources[0].scan_overview.clear();
    EXPECT_THAT(Fields(e), Contains("event.resources[0]")) << type;
    e.resources[0].sbom_overview = SbomOverview{};  // empty does not count
    EXPECT_THAT(Fields(e), Contains("event.resources[0]")) << type;
    e.resources[0].sbom_overview->scan_status = "Success";
    EXPECT_THAT(ValidateEvent(e), IsEmpty()) << type;
    e.resources.clear();
    EXPECT_THAT(Fields(e), Contains("event.resources")) << type;
    e = ScanEvent();
    e.event_type = std::string(type);
    e.repository.reset();
    EXPECT_THAT(Fields(e), Contains("event.repository")) << type;
  }
}

TEST(ValidateEventTest, ReplicationAndRetentionNeedTheirBlocks) {
  Event e = ReplicationEvent();
  e.replication.reset();
  EXPECT_THAT(Fields(e), ::testing::ElementsAre("event.replication"));
  e = RetentionEvent();
  e.retention.reset();
  EXPECT_THAT(Fields(e), ::testing::ElementsAre("event.retention"));
}

TEST(ValidateEventTest, StringsMustBeValidUtf8) {
  Event e = Push();
  e.operator_name = "bad\xff";
  e.resources[0].tag = "\xc0\x80";
  e.repository->name = "\xed\xa0\x80";
  e.custom_attributes["k\xfe"] = "v";
  e.custom_attributes["k"] = "\xe2\x82";
  EXPECT_THAT(Fields(e), ::testing::UnorderedElementsAre(
                             "event.operator", "event.resources[0].tag",
                             "event.repository.name",
                             "event.custom_attributes[\"k\xEF\xBF\xBD\"]",
                             "event.custom_attributes[\"k\"]"));
  for (const FieldViolation& v : ValidateEvent(e)) {
    EXPECT_TRUE(IsValidUtf8(v.field)) << v.field;
    EXPECT_TRUE(IsValidUtf8(v.description)) << v.description;
  }
}

TEST(ValidateEventTest, StringLimit) {
  Event e = Push();
  e.operator_name = std::string(kMaxStringBytes, 'a');
  EXPECT_THAT(ValidateEvent(e), IsEmpty());
  e.operator_name += 'a';
  const auto v = ValidateEvent(e);
  ASSERT_THAT(v, SizeIs(1));
  EXPECT_EQ(v[0].field, "event.operator");
  EXPECT_EQ(v[0].description, "is 4097 bytes long; the limit is 4096");
}

TEST(ValidateEventTest, NestedStringLimits) {
  Event e = RetentionEvent();
  RetentionRule rule;
  rule.scope_selectors["repository"].push_back(RetentionSelector{
      "doublestar", "repoMatches", std::string(kMaxStringBytes + 1, '*'), ""});
  e.retention->retention_rules.push_back(rule);
  EXPECT_THAT(Fields(e),
              ::testing::ElementsAre("event.retention.retention_rules[0]."
                                     "scope_selectors[\"repository\"]."
                                     "selectors[0].pattern"));
}

TEST(ValidateEventTest, CustomAttributeValuesMayBeLonger) {
  Event e = Quota();
  e.custom_attributes["Details"] =
      std::string(kMaxCustomAttributeValueBytes, 'x');
  EXPECT_THAT(ValidateEvent(e), IsEmpty());
  e.custom_attributes["Details"] += 'x';
  EXPECT_THAT(Fields(e),
              ::testing::ElementsAre("event.custom_attributes[\"Details\"]"));
  e = Quota();
  e.custom_attributes[std::string(kMaxStringBytes + 1, 'k')] = "v";
  ASSERT_THAT(ValidateEvent(e), SizeIs(1));
  e = Quota();
  e.custom_attributes[""] = "v";
  EXPECT_THAT(ValidateEvent(e),
              ::testing::ElementsAre(
                  Field(&FieldViolation::description, "the key is empty")));
}

TEST(ValidateEventTest, RepeatedFieldLimits) {
  Event e = Push();
  e.resources.assign(kMaxResources, e.resources[0]);
  EXPECT_THAT(ValidateEvent(e), IsEmpty());
  e.resources.push_back(e.resources[0]);
  EXPECT_THAT(Fields(e), ::testing::ElementsAre("event.resources"));

  e = Quota();
  for (size_t i = 0; i < kMaxCustomAttributes; ++i) {
    e.custom_attributes["k" + std::to_string(i)] = "v";
  }
  EXPECT_THAT(Fields(e), ::testing::ElementsAre("event.custom_attributes"));

  e = ReplicationEvent();
  e.replication->failed_artifacts.resize(kMaxArtifacts + 1);
  e.replication->successful_artifacts.resize(1);
  e.replication->successful_artifacts[0].references.resize(kMaxReferences + 1);
  EXPECT_THAT(Fields(e),
              ::testing::ElementsAre(
                  "event.replication.successful_artifacts[0].references",
                  "event.replication.failed_artifacts"));

  e = RetentionEvent();
  e.retention->retention_rules.resize(kMaxRetentionRules + 1);
  e.retention->deleted_artifacts.resize(kMaxArtifacts + 1);
  EXPECT_THAT(Fields(e),
              ::testing::ElementsAre("event.retention.retention_rules",
                                     "event.retention.deleted_artifacts"));

  e = RetentionEvent();
  RetentionRule& rule = e.retention->retention_rules.emplace_back();
  rule.tag_selectors.resize(kMaxSelectors + 1);
  for (size_t i = 0; i <= kMaxRuleParams; ++i) {
    rule.params["p" + std::to_string(i)] = JsonValue::Number(1);
  }
  EXPECT_THAT(Fields(e),
              ::testing::ElementsAre(
                  "event.retention.retention_rules[0].params",
                  "event.retention.retention_rules[0].tag_selectors"));

  e = ScanEvent();
  for (size_t i = 0; i <= kMaxScanReports; ++i) {
    e.resources[0].scan_overview["m" + std::to_string(i)] = {};
  }
  EXPECT_THAT(Fields(e),
              ::testing::ElementsAre("event.resources[0].scan_overview"));

  e = ScanEvent();
  ScanReportSummary& s = e.resources[0].scan_overview.begin()->second;
  s.summary.emplace();
  for (size_t i = 0; i <= kMaxSeverities; ++i) {
    s.summary->severity_counts["s" + std::to_string(i)] = 1;
  }
  ASSERT_THAT(ValidateEvent(e), SizeIs(1));
  EXPECT_THAT(ValidateEvent(e)[0].field,
              ::testing::EndsWith(".summary.severity_counts"));
}

TEST(ValidateEventTest, TotalStringBytesLimit) {
  Event e = Quota();
  // 40 values of 64 KiB stay within each value's limit but add up to more
  // than the per-event total.
  for (int i = 0; i < 40; ++i) {
    e.custom_attributes["k" + std::to_string(i)] =
        std::string(kMaxCustomAttributeValueBytes, 'x');
  }
  EXPECT_THAT(Fields(e), ::testing::ElementsAre("event"));
}

TEST(ValidateEventTest, NumbersAndDurations) {
  Event e = ScanEvent();
  ScanReportSummary& s = e.resources[0].scan_overview.begin()->second;
  s.duration = absl::Seconds(-1);
  s.complete_percent = 101;
  s.summary = VulnerabilitySummary{-1, -2, {{"High", -3}}};
  const std::string base =
      "event.resources[0].scan_overview[\"application/vnd.security."
      "vulnerability.report; version=1.1\"]";
  EXPECT_THAT(Fields(e), ::testing::ElementsAre(
                             base + ".duration", base + ".summary.total",
                             base + ".summary.fixable",
                             base + ".summary.severity_counts[\"High\"]",
                             base + ".complete_percent"));
  e = RetentionEvent();
  e.retention->total = -1;
  e.retention->retained = -1;
  e.retention->retention_policy_id = -1;
  EXPECT_THAT(Fields(e), SizeIs(3));
  e = ReplicationEvent();
  e.replication->execution_id = -1;
  e.replication->task_id = -1;
  EXPECT_THAT(Fields(e), SizeIs(2));
}

TEST(ValidateEventTest, TimesMustBeWithinYears1To9999) {
  Event e = Push();
  e.occur_time = absl::FromCivil(absl::CivilSecond(10000, 1, 1, 0, 0, 0),
                                 absl::UTCTimeZone());
  EXPECT_THAT(Fields(e), ::testing::ElementsAre("event.occur_time"));
  e.occur_time = absl::FromCivil(absl::CivilSecond(9999, 12, 31, 23, 59, 59),
                                 absl::UTCTimeZone());
  EXPECT_THAT(ValidateEvent(e), IsEmpty());
  e.repository->create_time = absl::InfinitePast();
  EXPECT_THAT(Fields(e),
              ::testing::ElementsAre("event.repository.create_time"));
}

TEST(ValidateEventTest, RetentionParameterValues) {
  Event e = RetentionEvent();
  RetentionRule& rule = e.retention->retention_rules.emplace_back();
  rule.params["nan"] = JsonValue::Number(std::nan(""));
  rule.params["inf"] = JsonValue::Number(HUGE_VAL);
  rule.params["bad"] = JsonValue::String("\xff");
  JsonValue deep = JsonValue::Number(1);
  for (int i = 0; i < kMaxJsonDepth; ++i) {
    JsonValue array;
    array.kind = JsonValue::Kind::kArray;
    array.array_items.push_back(deep);
    deep = array;
  }
  rule.params["deep"] = deep;
  JsonValue wide;
  wide.kind = JsonValue::Kind::kArray;
  wide.array_items.assign(kMaxJsonValues, JsonValue::Null());
  rule.params["wide"] = wide;
  const std::string p = "event.retention.retention_rules[0].params";
  EXPECT_THAT(Fields(e),
              ::testing::ElementsAre(
                  p + "[\"bad\"]",
                  p + "[\"deep\"][0][0][0][0][0][0][0][0][0][0][0]"
                      "[0][0][0][0][0]",
                  p + "[\"inf\"]", p + "[\"nan\"]", p + "[\"wide\"][999]"));
  e.retention->retention_rules[0].params = {{"ok", JsonValue::Number(10)},
                                            {"s", JsonValue::String("x")}};
  EXPECT_THAT(ValidateEvent(e), IsEmpty());
}

TEST(ValidateEventTest, ViolationCountIsCapped) {
  Event e = Push();
  e.resources.assign(kMaxResources, Resource{});
  EXPECT_THAT(ValidateEvent(e), SizeIs(kMaxViolations));
}

TEST(ValidateEventTest, QuotedUserDataIsTruncatedAndEscaped) {
  Event e = Push();
  e.event_type = std::string(200, 'X') + "\"\\\n";
  const auto v = ValidateEvent(e);
  ASSERT_THAT(v, SizeIs(1));
  EXPECT_THAT(v[0].description, ::testing::HasSubstr("XXX...\""));
  e.event_type = "A\"B\\C\nD";
  EXPECT_THAT(ValidateEvent(e)[0].description,
              ::testing::HasSubstr("\"A\\\"B\\\\C?D\""));
}

TEST(ValidateEventTest, CustomRootAndStatus) {
  Event e = Push();
  e.resources[0].digest.clear();
  EXPECT_THAT(ValidateEvent(e, "events[3]"),
              ::testing::ElementsAre(Field(&FieldViolation::field,
                                           "events[3].resources[0].digest")));
  const absl::Status status = CheckEvent(e);
  EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(status.message(),
            "event.resources[0].digest: is required for PUSH_ARTIFACT");
}

TEST(Utf8Test, SequenceLengths) {
  EXPECT_EQ(Utf8SequenceLength("a", 0), 1u);
  EXPECT_EQ(Utf8SequenceLength("\xc3\xa9", 0), 2u);
  EXPECT_EQ(Utf8SequenceLength("\xe2\x80\xa8", 0), 3u);
  EXPECT_EQ(Utf8SequenceLength("\xf0\x9f\x98\x80", 0), 4u);
  EXPECT_EQ(Utf8SequenceLength("\xf4\x8f\xbf\xbf", 0), 4u);  // U+10FFFF
  EXPECT_EQ(Utf8SequenceLength("\xc1\xbf", 0), 0u);          // overlong
  EXPECT_EQ(Utf8SequenceLength("\xe0\x9f\xbf", 0), 0u);      // overlong
  EXPECT_EQ(Utf8SequenceLength("\xed\xa0\x80", 0), 0u);      // surrogate
  EXPECT_EQ(Utf8SequenceLength("\xf4\x90\x80\x80", 0), 0u);  // > U+10FFFF
  EXPECT_EQ(Utf8SequenceLength("\xf0\x9f\x98", 0), 0u);      // truncated
  EXPECT_EQ(Utf8SequenceLength("\x80", 0), 0u);
  EXPECT_TRUE(IsValidUtf8(""));
  EXPECT_FALSE(IsValidUtf8("ok\xff"));
}

}  // namespace
}  // namespace herald::core
