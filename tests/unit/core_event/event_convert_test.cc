// herald.v1.Event <-> core::Event. The golden cases' "event" objects are
// parsed with protobuf's own JSON parser, which also proves they are valid
// proto3 JSON for SDKs in other languages.
#include "server/api/event_convert.h"

#include <google/protobuf/util/json_util.h>
#include <google/protobuf/util/message_differencer.h>
#include <gtest/gtest.h>

#include <string>

#include "tests/unit/render/event_json.h"

namespace herald::api {
namespace {

v1::Event ParseProtoJson(const std::string& json) {
  v1::Event proto;
  const auto status = google::protobuf::util::JsonStringToMessage(json, &proto);
  EXPECT_TRUE(status.ok()) << status.ToString();
  return proto;
}

TEST(EventConvertTest, CasesParseAsProtoJsonAndConvertLikeTheTestReader) {
  const std::vector<std::string> names = herald::testing::CaseNames();
  ASSERT_FALSE(names.empty());
  for (const std::string& name : names) {
    const nlohmann::json event = herald::testing::ReadCase(name)["event"];
    const v1::Event proto = ParseProtoJson(event.dump());
    EXPECT_EQ(EventFromProto(proto), herald::testing::EventFromJson(event))
        << name;
  }
}

TEST(EventConvertTest, RoundTripsThroughTheProto) {
  for (const std::string& name : herald::testing::CaseNames()) {
    const core::Event event = herald::testing::EventFromJson(
        herald::testing::ReadCase(name)["event"]);
    EXPECT_EQ(EventFromProto(EventToProto(event)), event) << name;
    const v1::Event proto = EventToProto(event);
    EXPECT_TRUE(google::protobuf::util::MessageDifferencer::Equals(
        EventToProto(EventFromProto(proto)), proto))
        << name;
  }
}

TEST(EventConvertTest, PresenceIsKept) {
  v1::Event proto;
  proto.set_event_type("SCANNING_COMPLETED");
  v1::Resource* r = proto.add_resources();
  r->mutable_sbom_overview()->set_scan_status("");  // set, though empty
  proto.mutable_repository();
  proto.mutable_scan();
  core::Event e = EventFromProto(proto);
  EXPECT_FALSE(e.occur_time.has_value());
  ASSERT_TRUE(e.resources[0].sbom_overview.has_value());
  EXPECT_EQ(e.resources[0].sbom_overview->scan_status, std::string(""));
  EXPECT_FALSE(e.resources[0].sbom_overview->sbom_digest.has_value());
  EXPECT_TRUE(e.repository.has_value());
  EXPECT_FALSE(e.repository->create_time.has_value());
  EXPECT_TRUE(e.scan.has_value());
  EXPECT_FALSE(e.replication.has_value());
  EXPECT_FALSE(e.retention.has_value());
}

TEST(EventConvertTest, TimesKeepFullRangeAndNanoseconds) {
  core::Event e;
  e.occur_time = absl::FromCivil(absl::CivilSecond(1, 1, 1, 0, 0, 0),
                                 absl::UTCTimeZone()) +
                 absl::Nanoseconds(1);
  e.repository.emplace();
  e.repository->create_time = absl::FromCivil(
      absl::CivilSecond(9999, 12, 31, 23, 59, 59), absl::UTCTimeZone());
  const v1::Event proto = EventToProto(e);
  EXPECT_EQ(proto.occur_time().seconds(), -62135596800);
  EXPECT_EQ(proto.occur_time().nanos(), 1);
  EXPECT_EQ(proto.repository().create_time().seconds(), 253402300799);
  EXPECT_EQ(EventFromProto(proto), e);
}

TEST(EventConvertTest, ValueKindsMapToJsonValues) {
  v1::Event proto;
  auto* params =
      proto.mutable_retention()->add_retention_rules()->mutable_params();
  (*params)["unset"];  // no kind: null
  (*params)["n"].set_number_value(1.5);
  (*params)["l"].mutable_list_value()->add_values()->set_bool_value(true);
  (*(*params)["o"].mutable_struct_value()->mutable_fields())["k"]
      .set_string_value("v");
  const core::Event e = EventFromProto(proto);
  const auto& p = e.retention->retention_rules[0].params;
  EXPECT_EQ(p.at("unset").kind, core::JsonValue::Kind::kNull);
  EXPECT_EQ(p.at("n"), core::JsonValue::Number(1.5));
  EXPECT_EQ(p.at("l").array_items.at(0), core::JsonValue::Bool(true));
  EXPECT_EQ(p.at("o").object_members.at("k"), core::JsonValue::String("v"));
}

}  // namespace
}  // namespace herald::api
