#include "server/core/glob.h"

#include <chrono>
#include <string>
#include <thread>
#include <vector>

#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace herald::core {
namespace {

using ::testing::HasSubstr;

struct MatchCase {
  const char* pattern;
  const char* input;
  bool match;
};

void PrintTo(const MatchCase& c, std::ostream* os) {
  *os << "Glob(\"" << c.pattern << "\").Matches(\"" << c.input << "\")";
}

class GlobMatchTest : public ::testing::TestWithParam<MatchCase> {};

TEST_P(GlobMatchTest, Matches) {
  const MatchCase& c = GetParam();
  absl::StatusOr<Glob> glob = Glob::Compile(c.pattern);
  ASSERT_TRUE(glob.ok()) << glob.status();
  EXPECT_EQ(glob->Matches(c.input), c.match);
}

INSTANTIATE_TEST_SUITE_P(
    Table, GlobMatchTest,
    ::testing::Values(
        // Literals match the whole input only.
        MatchCase{"abc", "abc", true}, MatchCase{"abc", "ab", false},
        MatchCase{"abc", "abcd", false}, MatchCase{"abc", "ABC", false},
        // '*' matches within one segment, possibly nothing.
        MatchCase{"*", "abc", true}, MatchCase{"*", "", true},
        MatchCase{"*c", "abc", true}, MatchCase{"a*", "a", true},
        MatchCase{"a*", "abc", true}, MatchCase{"a*", "ab/c", false},
        MatchCase{"*", "a/b", false}, MatchCase{"a*/b", "abc/b", true},
        MatchCase{"a*/b", "a/c/b", false},
        MatchCase{"a*b*c*d*e*/f", "axbxcxdxe/f", true},
        MatchCase{"a*b*c*d*e*/f", "axbxcxdxexxx/f", true},
        MatchCase{"a*b*c*d*e*/f", "axbxcxdxe/xxx/f", false},
        MatchCase{"a*b*c*d*e*/f", "axbxcxdxexxx/fff", false},
        MatchCase{"a*b?c*x", "abxbbxdbxebxczzx", true},
        MatchCase{"a*b?c*x", "abxbbxdbxebxczzy", false},
        MatchCase{"*x", "xxx", true},
        // '?' is exactly one character, never '/', and one code point.
        MatchCase{"a?c", "abc", true}, MatchCase{"a?c", "ac", false},
        MatchCase{"a?b", "a/b", false}, MatchCase{"a?b", "a\u263Ab", true},
        MatchCase{"a???b", "a\u263Ab", false},
        // Character classes.
        MatchCase{"ab[c]", "abc", true}, MatchCase{"ab[b-d]", "abc", true},
        MatchCase{"ab[e-g]", "abc", false}, MatchCase{"ab[^c]", "abc", false},
        MatchCase{"ab[!c]", "abd", true}, MatchCase{"ab[^b-d]", "abc", false},
        MatchCase{"ab[^e-g]", "abc", true},
        MatchCase{"a[^a]b", "a\u263Ab", true},
        MatchCase{"a[^a][^a][^a]b", "a\u263Ab", false},
        MatchCase{"[a-\u03B6]*", "\u03B1", true},
        MatchCase{"*[a-\u03B6]", "A", false},
        MatchCase{"[\\]a]", "]", true}, MatchCase{"[\\-]", "-", true},
        MatchCase{"[x\\-]", "x", true}, MatchCase{"[x\\-]", "-", true},
        MatchCase{"[x\\-]", "z", false}, MatchCase{"[\\-x]", "a", false},
        MatchCase{"a[/]b", "a/b", false}, MatchCase{"a[!x]b", "a/b", false},
        MatchCase{"v[0-9].[0-9]*", "v1.2", true},
        MatchCase{"v[0-9].[0-9]*", "v1.25-rc1", true},
        MatchCase{"v[0-9].[0-9]*", "vx.2", false},
        // Escapes.
        MatchCase{"a\\*b", "a*b", true}, MatchCase{"a\\*b", "ab", false},
        MatchCase{"a\\*b", "axb", false}, MatchCase{"\\{a\\}", "{a}", true},
        MatchCase{"a\\\\b", "a\\b", true}, MatchCase{"a/\\**", "a/b/c", false},
        MatchCase{"a/\\**", "a/*bc", true},
        // '**' as a whole segment crosses '/', including zero segments.
        MatchCase{"**", "a/b/c", true}, MatchCase{"**", "", true},
        MatchCase{"library/**", "library/a", true},
        MatchCase{"library/**", "library/a/b", true},
        MatchCase{"library/**", "library", false},
        MatchCase{"library/**", "libraryx/a", false},
        MatchCase{"**/c", "c", true}, MatchCase{"**/c", "b/c", true},
        MatchCase{"**/c", "a/b/c", true}, MatchCase{"**/c", "a/b", false},
        MatchCase{"**/c", "abcd", false}, MatchCase{"**/c", "a/abc", false},
        MatchCase{"a/**/b", "a/b", true}, MatchCase{"a/**/c", "a/b/c", true},
        MatchCase{"a/**/d", "a/b/c/d", true}, MatchCase{"a/**/d", "a/d/x", false},
        MatchCase{"a/**/b", "ab", false}, MatchCase{"**/x/**", "x/y", true},
        MatchCase{"**/x/**", "a/b/x/y/z", true},
        MatchCase{"**/x/**", "a/bx/y", false},
        MatchCase{"**/**/z", "z", true}, MatchCase{"**/**/z", "a/b/z", true},
        MatchCase{"***", "a/b", true},
        // '**' inside a segment is just '*'.
        MatchCase{"abc**", "abc", true}, MatchCase{"**abc", "abc", true},
        MatchCase{"a**", "ab/c", false}, MatchCase{"a/b**", "a/bc/d", false},
        MatchCase{"**.txt", "a/b.txt", false},
        // Alternatives.
        MatchCase{"ab{c,d}", "abc", true}, MatchCase{"ab{c,d}", "abd", true},
        MatchCase{"ab{c,d}", "abe", false}, MatchCase{"ab{c,d,*}", "abcde", true},
        MatchCase{"{a,b}/{c,d}", "b/c", true}, MatchCase{"{a,}x", "x", true},
        MatchCase{"{a,}x", "ax", true}, MatchCase{"{a,b{c,d}}", "bd", true},
        MatchCase{"{a,b{c,d}}", "b", false},
        MatchCase{"{library,team-*}/**", "team-x/app/web", true},
        MatchCase{"{library,team-*}/**", "other/app", false},
        MatchCase{"{v[0-9]*,latest}", "latest", true},
        MatchCase{"{v[0-9]*,latest}", "v2", true},
        MatchCase{"{a/b,c}", "a/b", true},
        MatchCase{"a{\\,,x}b", "a,b", true},
        // ',' and '}' are literal outside braces.
        MatchCase{"a,b}", "a,b}", true},
        // Invalid UTF-8 in the input is matched byte-wise, never crashes.
        MatchCase{"a?b", "a\xFF" "b", true},
        MatchCase{"a*", "a\xC3", true}, MatchCase{"ab", "a\xC3", false}));

struct ErrorCase {
  const char* pattern;
  const char* message;
};

class GlobErrorTest : public ::testing::TestWithParam<ErrorCase> {};

TEST_P(GlobErrorTest, Rejected) {
  absl::StatusOr<Glob> glob = Glob::Compile(GetParam().pattern);
  ASSERT_FALSE(glob.ok()) << GetParam().pattern;
  EXPECT_EQ(glob.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(std::string(glob.status().message()),
              HasSubstr(GetParam().message));
}

INSTANTIATE_TEST_SUITE_P(
    Table, GlobErrorTest,
    ::testing::Values(ErrorCase{"", "empty pattern"},
                      ErrorCase{"\\", "trailing '\\'"},
                      ErrorCase{"abc\\", "trailing '\\' escapes nothing at byte 3"},
                      ErrorCase{"[", "unclosed '['"},
                      ErrorCase{"a[", "unclosed '[' at byte 1"},
                      ErrorCase{"[^", "unclosed '['"},
                      ErrorCase{"[^bc", "unclosed '['"},
                      ErrorCase{"[a\\", "unclosed '['"},
                      ErrorCase{"[]a]", "empty character class"},
                      ErrorCase{"[-]", "unescaped '-'"},
                      ErrorCase{"[x-]", "unescaped '-'"},
                      ErrorCase{"[-x]", "unescaped '-'"},
                      ErrorCase{"[a-b-c]", "unescaped '-'"},
                      ErrorCase{"[z-a]", "out of order"},
                      ErrorCase{"{a,b", "unclosed '{' at byte 0"},
                      ErrorCase{"x{a,{b,c}", "unclosed '{' at byte 1"},
                      ErrorCase{"ab{c,d}[", "unclosed '['"}));

TEST(GlobTest, RejectsPatternsLongerThan256Bytes) {
  EXPECT_TRUE(Glob::Compile(std::string(256, 'a')).ok());
  absl::StatusOr<Glob> glob = Glob::Compile(std::string(257, 'a'));
  ASSERT_FALSE(glob.ok());
  EXPECT_THAT(std::string(glob.status().message()),
              HasSubstr("longer than 256 bytes"));
}

TEST(GlobTest, KeepsThePattern) {
  absl::StatusOr<Glob> glob = Glob::Compile("library/**");
  ASSERT_TRUE(glob.ok());
  EXPECT_EQ(glob->pattern(), "library/**");
}

TEST(GlobTest, PathologicalPatternsFinishFast) {
  const auto start = std::chrono::steady_clock::now();
  absl::StatusOr<Glob> stars = Glob::Compile("*a*a*a*a*a*a*a*a*b");
  ASSERT_TRUE(stars.ok());
  EXPECT_FALSE(stars->Matches(std::string(10000, 'a')));
  EXPECT_TRUE(stars->Matches(std::string(10000, 'a') + "b"));

  absl::StatusOr<Glob> globstars =
      Glob::Compile("**/a/**/a/**/a/**/a/**/a/**/a/**/b");
  ASSERT_TRUE(globstars.ok());
  std::string deep;
  for (int i = 0; i < 2000; ++i) deep += "a/";
  EXPECT_FALSE(globstars->Matches(deep + "c"));
  EXPECT_TRUE(globstars->Matches(deep + "b"));

  std::string nested = "{";
  for (int i = 0; i < 30; ++i) nested += "{a,*a,";
  nested += "b";
  for (int i = 0; i < 30; ++i) nested += "}";
  nested += "}*c";
  absl::StatusOr<Glob> braces = Glob::Compile(nested);
  ASSERT_TRUE(braces.ok()) << braces.status();
  EXPECT_FALSE(braces->Matches(std::string(2000, 'a')));
  const auto elapsed = std::chrono::steady_clock::now() - start;
  // Backtracking matchers take hours even on these lengths (the star
  // pattern alone is O(n^8) for them); the NFA takes milliseconds, about a
  // second unoptimised under ASan on a busy machine.
  EXPECT_LT(elapsed, std::chrono::seconds(10));
}

TEST(GlobTest, ConcurrentMatchesShareOneGlob) {
  absl::StatusOr<Glob> glob = Glob::Compile("{library,team-*}/**/web-?");
  ASSERT_TRUE(glob.ok());
  std::vector<std::thread> threads;
  std::vector<int> hits(4, 0);
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < 2000; ++i) {
        hits[t] += glob->Matches("team-a/x/y/web-1") ? 1 : 0;
        hits[t] += glob->Matches("team-a/x/y/web-12") ? 1 : 0;
      }
    });
  }
  for (auto& th : threads) th.join();
  for (int h : hits) EXPECT_EQ(h, 2000);
}

}  // namespace
}  // namespace herald::core
