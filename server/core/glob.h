// Doublestar glob patterns, as used by Harbor's "doublestar" selectors
// (github.com/bmatcuk/doublestar v1 semantics), compiled once and matched
// many times.
//
// Syntax (a pattern must match the WHOLE input):
//
//   *        any run of characters except '/' (possibly empty)
//   **       as a whole path segment ("**", "a/**", "**/b", "a/**/b"):
//            any run of characters including '/'. "**/" also matches
//            nothing, so "a/**/b" matches "a/b" and "**/x" matches "x".
//            "a/**" matches "a/b" and "a/b/c" but not "a" (doublestar v1).
//            Anywhere else ("a**", "**b") it behaves like '*'.
//   ?        exactly one character except '/'
//   [abc]    one character of the set; ranges "[a-z]"; "[!a]" or "[^a]"
//            negates. A class never matches '/'. Inside a class '\' escapes
//            the next character; an unescaped '-' that is not part of a
//            range, an empty class "[]" and a reversed range are errors.
//   {a,b}    any of the comma-separated alternatives; alternatives may be
//            empty, may contain any other syntax and may nest ("{a,b{c,d}}").
//   \c       the character c literally (e.g. "\*", "\{", "\\").
//
// ',' and '}' are literal outside braces. Characters are Unicode code points
// of UTF-8 input ('?' matches "é" as one character); bytes that are not
// valid UTF-8 are matched as single opaque characters. Matching is
// case-sensitive.
//
// Matching runs a Thompson NFA over the compiled program: time is
// O(len(input) * len(pattern)) with no backtracking, so hostile patterns
// such as "*a*a*a*a*a*a*a*a*b" cannot stall the caller.
#ifndef HERALD_SERVER_CORE_GLOB_H_
#define HERALD_SERVER_CORE_GLOB_H_

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "absl/status/statusor.h"

namespace herald::core {

// A compiled pattern. Immutable after Compile: Matches() is const and safe
// to call from many threads at once. Copyable and movable.
class Glob {
 public:
  // The longest pattern accepted, in bytes.
  static constexpr size_t kMaxPatternBytes = 256;

  // Compiles `pattern`. Returns kInvalidArgument, with a message naming the
  // problem and its byte offset, when the pattern is empty, longer than
  // kMaxPatternBytes, ends in a lone '\', has an unclosed '[' or '{', or
  // has a malformed character class.
  static absl::StatusOr<Glob> Compile(std::string_view pattern);

  // Whether `input` matches the whole pattern.
  bool Matches(std::string_view input) const;

  // The source pattern, as given to Compile.
  const std::string& pattern() const { return pattern_; }

 private:
  friend class GlobCompiler;  // glob.cc: builds program_ and classes_

  // One instruction of the compiled program (a Thompson NFA). Consuming
  // instructions continue at the next instruction.
  struct Inst {
    enum class Op : uint8_t {
      kChar,       // consume `ch`
      kAnyNotSep,  // consume one character other than '/'
      kAny,        // consume any one character, '/' included
      kClass,      // consume one non-'/' character in classes_[x]
      kSplit,      // continue at both x and y
      kJump,       // continue at x
      kMatch,      // accept if the input is exhausted
    };
    Op op = Op::kMatch;
    uint32_t ch = 0;
    uint32_t x = 0;
    uint32_t y = 0;
  };

  // A bracket expression: inclusive code point ranges, maybe negated.
  struct CharClass {
    bool negated = false;
    std::vector<std::pair<uint32_t, uint32_t>> ranges;
    bool Contains(uint32_t c) const;
  };

  Glob() = default;

  std::string pattern_;
  std::vector<Inst> program_;
  std::vector<CharClass> classes_;
};

}  // namespace herald::core

#endif  // HERALD_SERVER_CORE_GLOB_H_
