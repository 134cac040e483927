// JsonWriter: Go's encoding/json bytes for strings, numbers, times and the
// MarshalIndent layout. Raw-byte escaping (invalid UTF-8 included) is
// checked against tests/vectors/strings/strings.expected.json, produced by
// Go (go_crosscheck_test.cc regenerates it).
#include "server/render/json_writer.h"

#include <gtest/gtest.h>

#include <nlohmann/json.hpp>
#include <string>

#include "absl/strings/escaping.h"
#include "tests/unit/render/event_json.h"

namespace herald::render {
namespace {

std::string Go(std::string_view s) {
  std::string out;
  AppendJsonString(out, s);
  return out;
}

std::string Attr(std::string_view s) {
  std::string out;
  AppendJsonString(out, s, JsonEscaping::kCloudEventsAttribute);
  return out;
}

TEST(JsonStringTest, ShortEscapes) {
  EXPECT_EQ(Go("\"\\\b\f\n\r\t"), R"("\"\\\b\f\n\r\t")");
}

TEST(JsonStringTest, EveryOtherControlCharacterIsLowercaseHex) {
  for (int c = 0; c < 0x20; ++c) {
    if (c == '\b' || c == '\f' || c == '\n' || c == '\r' || c == '\t') {
      continue;
    }
    char expected[16];
    std::snprintf(expected, sizeof(expected), "\"\\u00%02x\"", c);
    EXPECT_EQ(Go(std::string(1, static_cast<char>(c))), expected) << c;
  }
}

TEST(JsonStringTest, HtmlCharactersAreEscaped) {
  EXPECT_EQ(Go("<a href='x'>&amp;</a>"),
            R"("\u003ca href='x'\u003e\u0026amp;\u003c/a\u003e")");
}

TEST(JsonStringTest, LineAndParagraphSeparatorsAreEscaped) {
  EXPECT_EQ(Go("a\u2028b\u2029c"), R"("a\u2028b\u2029c")");
}

TEST(JsonStringTest, OtherUnicodePassesThroughRaw) {
  EXPECT_EQ(Go("\x7f é \u202f \U0001F600 \U0010FFFF"),
            "\"\x7f é \u202f \U0001F600 \U0010FFFF\"");
}

TEST(JsonStringTest, EachInvalidByteBecomesReplacementEscape) {
  EXPECT_EQ(Go("a\xffz"), R"("a\ufffdz")");
  EXPECT_EQ(Go("\xc0\x80"), R"("\ufffd\ufffd")");            // overlong NUL
  EXPECT_EQ(Go("\xed\xa0\x80"), R"("\ufffd\ufffd\ufffd")");  // surrogate
  EXPECT_EQ(Go("\xe2\x82"), R"("\ufffd\ufffd")");            // truncated
  EXPECT_EQ(Go("\xe2\x82"
               "A"),
            R"("\ufffd\ufffdA")");
  EXPECT_EQ(Go("\xf4\x90\x80\x80"), R"("\ufffd\ufffd\ufffd\ufffd")");
}

TEST(JsonStringTest, CloudEventsAttributesUseHexForBackspaceAndFormFeed) {
  EXPECT_EQ(Attr("\b\f\n<&>\u2028"),
            R"("\u0008\u000c\n\u003c\u0026\u003e\u2028")");
}

// Raw strings (invalid UTF-8 included) against Go's own output.
TEST(JsonStringTest, MatchesGoForRawStrings) {
  const std::string dir = herald::testing::VectorsDir() + "/strings";
  const auto input =
      nlohmann::json::parse(herald::testing::ReadFile(dir + "/strings.json"));
  const auto expected = nlohmann::json::parse(
      herald::testing::ReadFile(dir + "/strings.expected.json"));
  ASSERT_EQ(input["strings"].size(), expected["results"].size());
  for (size_t i = 0; i < input["strings"].size(); ++i) {
    const auto& in = input["strings"][i];
    const auto& want = expected["results"][i];
    std::string raw, go, attr;
    ASSERT_TRUE(absl::Base64Unescape(in["base64"].get<std::string>(), &raw));
    ASSERT_TRUE(
        absl::Base64Unescape(want["go_base64"].get<std::string>(), &go));
    ASSERT_TRUE(absl::Base64Unescape(
        want["cloudevents_attribute_base64"].get<std::string>(), &attr));
    EXPECT_EQ(Go(raw), go) << in["name"];
    // The SDK copies invalid UTF-8 into attributes (invalid JSON); herald
    // writes \ufffd there too. Compare only where the input is valid.
    if (in.value("valid_utf8", true)) {
      EXPECT_EQ(Attr(raw), attr) << in["name"];
    }
  }
}

std::string Float(double v) {
  std::string out;
  AppendGoFloat(out, v);
  return out;
}

TEST(GoFloatTest, MatchesEncodingJson) {
  EXPECT_EQ(Float(0), "0");
  EXPECT_EQ(Float(-0.0), "-0");
  EXPECT_EQ(Float(10), "10");
  EXPECT_EQ(Float(1.5), "1.5");
  EXPECT_EQ(Float(-2.25), "-2.25");
  EXPECT_EQ(Float(0.1), "0.1");
  EXPECT_EQ(Float(1e20), "100000000000000000000");
  EXPECT_EQ(Float(1e21), "1e+21");
  EXPECT_EQ(Float(1.5e300), "1.5e+300");
  EXPECT_EQ(Float(0.000001), "0.000001");
  EXPECT_EQ(Float(1e-7), "1e-7");
  EXPECT_EQ(Float(1.25e-10), "1.25e-10");
  EXPECT_EQ(Float(123456789012345680), "123456789012345680");
}

TEST(GoTimeTest, Rfc3339NanoUtc) {
  EXPECT_EQ(FormatGoTime(absl::FromUnixSeconds(1680502367)),
            "2023-04-03T06:12:47Z");
  EXPECT_EQ(FormatGoTime(absl::FromUnixSeconds(1) + absl::Milliseconds(500)),
            "1970-01-01T00:00:01.5Z");
  EXPECT_EQ(FormatGoTime(absl::FromUnixSeconds(1) + absl::Nanoseconds(1)),
            "1970-01-01T00:00:01.000000001Z");
  EXPECT_EQ(FormatGoTime(absl::FromUnixSeconds(-1)), "1969-12-31T23:59:59Z");
  EXPECT_EQ(FormatGoTime(absl::FromCivil(absl::CivilSecond(1, 1, 1, 0, 0, 0),
                                         absl::UTCTimeZone())),
            "0001-01-01T00:00:00Z");
}

TEST(JsonWriterTest, CompactLayout) {
  JsonWriter w;
  w.BeginObject();
  w.Key("a").Int(-5);
  w.Key("b").BeginArray().Bool(true).Null().String("x").EndArray();
  w.Key("c").BeginObject().EndObject();
  w.Key("d").BeginArray().EndArray();
  w.EndObject();
  EXPECT_EQ(w.str(), R"({"a":-5,"b":[true,null,"x"],"c":{},"d":[]})");
}

TEST(JsonWriterTest, IndentLayoutMatchesMarshalIndentWithTabs) {
  JsonWriter w(JsonWriter::Layout::kIndentTabs);
  w.BeginObject();
  w.Key("a").Int(1);
  w.Key("b")
      .BeginArray()
      .BeginObject()
      .Key("c")
      .String("d")
      .EndObject()
      .Int(2)
      .EndArray();
  w.Key("e").BeginObject().EndObject();
  w.Key("f").BeginArray().EndArray();
  w.EndObject();
  EXPECT_EQ(w.str(),
            "{\n\t\"a\": 1,\n\t\"b\": [\n\t\t{\n\t\t\t\"c\": \"d\"\n\t\t},\n"
            "\t\t2\n\t],\n\t\"e\": {},\n\t\"f\": []\n}");
}

TEST(JsonWriterTest, KeysAreEscapedLikeValues) {
  JsonWriter w;
  w.BeginObject().Key("<k\n>").String("v").EndObject();
  EXPECT_EQ(w.str(), R"({"\u003ck\n\u003e":"v"})");
}

}  // namespace
}  // namespace herald::render
