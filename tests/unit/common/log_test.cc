#include "server/common/log.h"

#include <fcntl.h>
#include <unistd.h>

#include <cmath>
#include <limits>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/str_split.h"
#include "absl/time/time.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/unit/common/temp_dir.h"

namespace herald::log {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::MatchesRegex;

// 2026-11-27T10:00:00.123456Z
const absl::Time kTs = absl::FromUnixMicros(1795773600123456);

std::string Json(std::string_view msg, std::initializer_list<Field> fields) {
  return FormatRecord(Format::kJson, kTs, Level::kInfo, msg,
                      absl::Span<const Field>(fields.begin(), fields.size()));
}

std::string Text(std::string_view msg, std::initializer_list<Field> fields) {
  return FormatRecord(Format::kText, kTs, Level::kInfo, msg,
                      absl::Span<const Field>(fields.begin(), fields.size()));
}

std::string JsonString(std::string_view s) {
  std::string out;
  AppendJsonString(out, s);
  return out;
}

// Restores the global logger state after each test.
class LogTest : public ::testing::Test {
 protected:
  void SetUp() override {
    SetSinkForTest(
        [this](std::string_view line) { lines_.emplace_back(line); });
  }
  void TearDown() override {
    SetSinkForTest(nullptr);
    SetMinLevel(Level::kInfo);
    SetFormat(Format::kJson);
  }
  std::vector<std::string> lines_;
};

TEST(FormatRecordTest, JsonRecordHasTimestampLevelMessageAndFieldsInOrder) {
  EXPECT_EQ(Json("server started", {{"address", "127.0.0.1:7070"},
                                    {"port", 7070},
                                    {"tls", false},
                                    {"scale", 0.001}}),
            "{\"ts\":\"2026-11-27T10:00:00.123456Z\",\"level\":\"info\","
            "\"msg\":\"server started\",\"address\":\"127.0.0.1:7070\","
            "\"port\":7070,\"tls\":false,\"scale\":0.001}\n");
}

TEST(FormatRecordTest, JsonLevelNames) {
  for (auto [level, name] :
       {std::pair{Level::kDebug, "debug"}, std::pair{Level::kInfo, "info"},
        std::pair{Level::kWarn, "warn"}, std::pair{Level::kError, "error"}}) {
    EXPECT_THAT(FormatRecord(Format::kJson, kTs, level, "m", {}),
                HasSubstr(std::string("\"level\":\"") + name + "\""));
  }
}

TEST(FormatRecordTest, AllValueTypes) {
  const std::string s("owned");
  EXPECT_EQ(
      Json("m", {{"str", s},
                 {"cstr", "c"},
                 {"sv", std::string_view("v")},
                 {"i", -42},
                 {"i64", int64_t{-9223372036854775807LL - 1}},
                 {"u64", uint64_t{18446744073709551615ULL}},
                 {"d", 2.5},
                 {"t", true},
                 {"dur", absl::Milliseconds(1500)},
                 {"time", kTs}}),
      "{\"ts\":\"2026-11-27T10:00:00.123456Z\",\"level\":\"info\",\"msg\":"
      "\"m\","
      "\"str\":\"owned\",\"cstr\":\"c\",\"sv\":\"v\",\"i\":-42,"
      "\"i64\":-9223372036854775808,\"u64\":18446744073709551615,\"d\":2.5,"
      "\"t\":true,\"dur\":\"1.5s\",\"time\":\"2026-11-27T10:00:00.123456Z\"}"
      "\n");
}

TEST(FormatRecordTest, NonFiniteDoublesAreStrings) {
  EXPECT_THAT(Json("m", {{"a", std::nan("")},
                         {"b", std::numeric_limits<double>::infinity()},
                         {"c", -std::numeric_limits<double>::infinity()}}),
              HasSubstr("\"a\":\"NaN\",\"b\":\"+Inf\",\"c\":\"-Inf\"}"));
}

TEST(FormatRecordTest, ReservedKeysAreRenamed) {
  EXPECT_THAT(Json("real", {{"msg", "fake"}, {"ts", 1}, {"level", "x"}}),
              HasSubstr("\"msg\":\"real\",\"field_msg\":\"fake\","
                        "\"field_ts\":1,\"field_level\":\"x\"}"));
}

TEST(JsonEscapeTest, QuotesAndBackslashes) {
  EXPECT_EQ(JsonString("a\"b\\c/d"), R"("a\"b\\c/d")");
}

TEST(JsonEscapeTest, NamedControlCharacters) {
  EXPECT_EQ(JsonString("\b\f\n\r\t"), R"("\b\f\n\r\t")");
}

TEST(JsonEscapeTest, OtherControlCharactersAsUnicodeEscapes) {
  EXPECT_EQ(JsonString(std::string("\x00\x01\x1b\x1f\x7f", 5)),
            R"("\u0000\u0001\u001b\u001f\u007f")");
}

TEST(JsonEscapeTest, ValidUtf8IsKept) {
  EXPECT_EQ(JsonString("caf\xC3\xA9 \xE2\x82\xAC \xF0\x9F\x98\x80"),
            "\"caf\xC3\xA9 \xE2\x82\xAC \xF0\x9F\x98\x80\"");
}

TEST(JsonEscapeTest, InvalidUtf8BecomesReplacementCharacter) {
  const std::string kFffd = "\xEF\xBF\xBD";
  EXPECT_EQ(JsonString("a\xFF"
                       "b"),
            "\"a" + kFffd + "b\"");
  EXPECT_EQ(JsonString("\xC3"), "\"" + kFffd + "\"");              // truncated
  EXPECT_EQ(JsonString("\xC0\xAF"), "\"" + kFffd + kFffd + "\"");  // overlong
  EXPECT_EQ(JsonString("\xED\xA0\x80"),                            // surrogate
            "\"" + kFffd + kFffd + kFffd + "\"");
  EXPECT_EQ(JsonString("\xF4\x90\x80\x80"),  // > U+10FFFF
            "\"" + kFffd + kFffd + kFffd + kFffd + "\"");
}

TEST(JsonEscapeTest, MessageAndKeysAreEscapedToo) {
  const std::string line = Json("two\nlines \"quoted\"", {{"k\"ey", "v\n"}});
  EXPECT_THAT(line,
              HasSubstr(R"("msg":"two\nlines \"quoted\"","k\"ey":"v\n"})"));
  EXPECT_EQ(line.find('\n'), line.size() - 1) << "one record, one line";
}

TEST(FormatRecordTest, TextFormat) {
  EXPECT_EQ(Text("server started",
                 {{"address", "127.0.0.1:7070"}, {"port", 7070}, {"ok", true}}),
            "2026-11-27T10:00:00.123456Z INFO  server started "
            "address=127.0.0.1:7070 port=7070 ok=true\n");
  EXPECT_EQ(FormatRecord(Format::kText, kTs, Level::kError, "boom", {}),
            "2026-11-27T10:00:00.123456Z ERROR boom\n");
}

TEST(FormatRecordTest, TextQuotesAmbiguousValues) {
  EXPECT_EQ(Text("multi\nline", {{"a", "has space"},
                                 {"b", ""},
                                 {"c", "x=y"},
                                 {"d", "say \"hi\""},
                                 {"e", "tab\there"}}),
            "2026-11-27T10:00:00.123456Z INFO  multi\\nline a=\"has space\" "
            "b=\"\" c=\"x=y\" d=\"say \\\"hi\\\"\" e=\"tab\\there\"\n");
}

TEST_F(LogTest, LevelFunctionsWriteThroughTheSink) {
  SetMinLevel(Level::kDebug);
  Debug("d");
  Info("i", {{"k", 1}});
  Warn("w");
  Error("e");
  ASSERT_EQ(lines_.size(), 4u);
  EXPECT_THAT(lines_[0],
              MatchesRegex(R"(\{"ts":"[0-9]{4}-[0-9]{2}-[0-9]{2}T)"
                           R"([0-9]{2}:[0-9]{2}:[0-9]{2}\.[0-9]{6}Z",)"
                           R"("level":"debug","msg":"d"\}
)"));
  EXPECT_THAT(lines_[1], HasSubstr(R"("level":"info","msg":"i","k":1})"));
  EXPECT_THAT(lines_[2], HasSubstr(R"("level":"warn")"));
  EXPECT_THAT(lines_[3], HasSubstr(R"("level":"error")"));
}

TEST_F(LogTest, RecordsBelowTheMinimumLevelAreDropped) {
  SetMinLevel(Level::kWarn);
  EXPECT_FALSE(Enabled(Level::kDebug));
  EXPECT_FALSE(Enabled(Level::kInfo));
  EXPECT_TRUE(Enabled(Level::kWarn));
  EXPECT_TRUE(Enabled(Level::kError));
  Debug("no");
  Info("no");
  Warn("yes");
  Error("yes");
  ASSERT_EQ(lines_.size(), 2u);
  EXPECT_EQ(MinLevel(), Level::kWarn);
}

TEST_F(LogTest, DefaultMinimumLevelIsInfo) {
  EXPECT_EQ(MinLevel(), Level::kInfo);
  Debug("dropped");
  EXPECT_TRUE(lines_.empty());
}

TEST_F(LogTest, FormatSwitchesToText) {
  SetFormat(Format::kText);
  EXPECT_EQ(CurrentFormat(), Format::kText);
  Info("hello", {{"n", 1}});
  ASSERT_EQ(lines_.size(), 1u);
  EXPECT_THAT(lines_[0], MatchesRegex(R"([0-9TZ:.-]+ INFO  hello n=1
)"));
}

TEST_F(LogTest, ConcurrentRecordsThroughTheSinkStayWhole) {
  std::vector<std::thread> threads;
  for (int t = 0; t < 8; ++t) {
    threads.emplace_back([t] {
      for (int i = 0; i < 500; ++i) Info("tick", {{"thread", t}, {"i", i}});
    });
  }
  for (auto& th : threads) th.join();
  ASSERT_EQ(lines_.size(), 4000u);
  for (const std::string& line : lines_) {
    ASSERT_THAT(line,
                MatchesRegex(R"(\{.*"msg":"tick","thread":[0-7],"i":[0-9]+\}
)"));
  }
}

// Records written to stderr by many threads never interleave: each is one
// write(2) to an O_APPEND file.
TEST(LogStderrTest, ConcurrentRecordsOnStderrNeverInterleave) {
  herald::testing::TempDir dir;
  const std::string path = dir.Join("stderr.log");
  const int file = ::open(path.c_str(), O_WRONLY | O_CREAT | O_APPEND, 0600);
  ASSERT_GE(file, 0);
  const int saved = ::dup(STDERR_FILENO);
  ASSERT_GE(::dup2(file, STDERR_FILENO), 0);
  ::close(file);

  const std::string padding(300, 'x');
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([t, &padding] {
      for (int i = 0; i < 500; ++i) {
        Info("tick", {{"thread", t}, {"i", i}, {"pad", padding}});
      }
    });
  }
  for (auto& th : threads) th.join();
  ::dup2(saved, STDERR_FILENO);
  ::close(saved);

  std::string contents;
  {
    char buf[65536];
    const int fd = ::open(path.c_str(), O_RDONLY);
    ASSERT_GE(fd, 0);
    ssize_t n;
    while ((n = ::read(fd, buf, sizeof(buf))) > 0) contents.append(buf, n);
    ::close(fd);
  }
  std::vector<std::string> lines =
      absl::StrSplit(contents, '\n', absl::SkipEmpty());
  ASSERT_EQ(lines.size(), 2000u);
  for (const std::string& line : lines) {
    ASSERT_THAT(line,
                MatchesRegex(R"(\{"ts":"[^"]+","level":"info","msg":"tick",)"
                             R"("thread":[0-3],"i":[0-9]+,"pad":"x+"\})"));
  }
}

TEST(ParseTest, Levels) {
  EXPECT_EQ(*ParseLevel("debug"), Level::kDebug);
  EXPECT_EQ(*ParseLevel("INFO"), Level::kInfo);
  EXPECT_EQ(*ParseLevel("warn"), Level::kWarn);
  EXPECT_EQ(*ParseLevel("warning"), Level::kWarn);
  EXPECT_EQ(*ParseLevel("error"), Level::kError);
  EXPECT_THAT(ParseLevel("verbose").status().message(),
              HasSubstr("expected debug, info, warn or error"));
}

TEST(ParseTest, Formats) {
  EXPECT_EQ(*ParseFormat("json"), Format::kJson);
  EXPECT_EQ(*ParseFormat("Text"), Format::kText);
  EXPECT_FALSE(ParseFormat("yaml").ok());
}

TEST(MaskSecretTest, ShortSecretsRevealNothing) {
  EXPECT_EQ(MaskSecret(""), "****");
  EXPECT_EQ(MaskSecret("abc"), "****");
  EXPECT_EQ(MaskSecret("0123456789abcde"), "****");  // 15 chars
}

TEST(MaskSecretTest, LongSecretsRevealOnlyTheLastFourCharacters) {
  EXPECT_EQ(MaskSecret("0123456789abcdef"), "****cdef");  // 16 chars
  EXPECT_EQ(MaskSecret("Bearer eyJhbGciOiJIUzI1NiJ9.payload.sig9"), "****sig9");
}

}  // namespace
}  // namespace herald::log
