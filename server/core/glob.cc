#include "server/core/glob.h"

#include <utility>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"

namespace herald::core {
namespace {

// Bytes that are not part of a valid UTF-8 sequence decode to
// kInvalidBase + byte, outside the Unicode range, so they only ever match
// themselves (or '?', '*', classes that are negated).
constexpr uint32_t kInvalidBase = 0x110000;
constexpr uint32_t kSep = '/';

// Decodes the code point starting at s[*pos] and advances *pos. Rejects
// overlong forms, surrogates and values above U+10FFFF.
uint32_t NextCodePoint(std::string_view s, size_t* pos) {
  const auto b0 = static_cast<unsigned char>(s[*pos]);
  if (b0 < 0x80) {
    ++*pos;
    return b0;
  }
  int len = 0;
  uint32_t cp = 0;
  uint32_t min = 0;
  if ((b0 & 0xE0) == 0xC0) {
    len = 2, cp = b0 & 0x1F, min = 0x80;
  } else if ((b0 & 0xF0) == 0xE0) {
    len = 3, cp = b0 & 0x0F, min = 0x800;
  } else if ((b0 & 0xF8) == 0xF0) {
    len = 4, cp = b0 & 0x07, min = 0x10000;
  }
  if (len == 0 || *pos + len > s.size()) {
    ++*pos;
    return kInvalidBase + b0;
  }
  for (int i = 1; i < len; ++i) {
    const auto b = static_cast<unsigned char>(s[*pos + i]);
    if ((b & 0xC0) != 0x80) {
      ++*pos;
      return kInvalidBase + b0;
    }
    cp = (cp << 6) | (b & 0x3F);
  }
  if (cp < min || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF)) {
    ++*pos;
    return kInvalidBase + b0;
  }
  *pos += len;
  return cp;
}

}  // namespace

bool Glob::CharClass::Contains(uint32_t c) const {
  bool in = false;
  for (const auto& [lo, hi] : ranges) {
    if (c >= lo && c <= hi) {
      in = true;
      break;
    }
  }
  return in != negated;
}

// Recursive-descent compiler from pattern to Thompson NFA program.
class GlobCompiler {
 public:
  explicit GlobCompiler(std::string_view pattern) {
    for (size_t pos = 0; pos < pattern.size();) {
      offsets_.push_back(pos);
      chars_.push_back(NextCodePoint(pattern, &pos));
    }
    offsets_.push_back(pattern.size());
  }

  absl::Status Compile(Glob& glob) {
    glob_ = &glob;
    if (absl::Status s = ParseSequence(/*in_braces=*/false); !s.ok()) {
      return s;
    }
    Emit(Glob::Inst::Op::kMatch);
    return absl::OkStatus();
  }

 private:
  using Op = Glob::Inst::Op;

  uint32_t Emit(Op op, uint32_t ch = 0, uint32_t x = 0, uint32_t y = 0) {
    glob_->program_.push_back(Glob::Inst{op, ch, x, y});
    return static_cast<uint32_t>(glob_->program_.size() - 1);
  }
  uint32_t Next() const {
    return static_cast<uint32_t>(glob_->program_.size());
  }
  bool AtEnd() const { return pos_ >= chars_.size(); }
  uint32_t Peek(size_t ahead = 0) const {
    return pos_ + ahead < chars_.size() ? chars_[pos_ + ahead] : 0;
  }
  absl::Status Error(absl::string_view what, size_t index) const {
    return absl::InvalidArgumentError(
        absl::StrCat("invalid glob pattern: ", what, " at byte ",
                     offsets_[index]));
  }

  // Parses until the end of the pattern or, inside braces, an unescaped
  // ',' or '}' (left for the caller).
  absl::Status ParseSequence(bool in_braces) {
    while (!AtEnd()) {
      const uint32_t c = Peek();
      if (in_braces && (c == ',' || c == '}')) return absl::OkStatus();
      switch (c) {
        case '\\':
          if (pos_ + 1 >= chars_.size()) {
            return Error("trailing '\\' escapes nothing", pos_);
          }
          Emit(Op::kChar, chars_[pos_ + 1]);
          pos_ += 2;
          break;
        case '?':
          Emit(Op::kAnyNotSep);
          ++pos_;
          break;
        case '*':
          ParseStars();
          break;
        case '[':
          if (absl::Status s = ParseClass(); !s.ok()) return s;
          break;
        case '{':
          if (absl::Status s = ParseBraces(); !s.ok()) return s;
          break;
        default:
          Emit(Op::kChar, c);
          ++pos_;
      }
    }
    return absl::OkStatus();
  }

  // A run of '*'. Two or more stars forming a whole path segment are a
  // globstar; anything else behaves as a single '*'.
  void ParseStars() {
    const size_t start = pos_;
    while (!AtEnd() && Peek() == '*') ++pos_;
    const bool segment_start = start == 0 || chars_[start - 1] == kSep;
    const bool segment_end = AtEnd() || Peek() == kSep;
    if (pos_ - start >= 2 && segment_start && segment_end) {
      if (AtEnd()) {
        EmitLoop(Op::kAny);  // "a/**": everything below a/
      } else {
        // "**/": zero or more whole segments, i.e. (.*/)?
        ++pos_;  // the '/'
        const uint32_t split = Emit(Op::kSplit);
        glob_->program_[split].x = Next();
        EmitLoop(Op::kAny);
        Emit(Op::kChar, kSep);
        glob_->program_[split].y = Next();
      }
      return;
    }
    EmitLoop(Op::kAnyNotSep);
  }

  // L1: split L2, L3; L2: <op>; jump L1; L3:
  void EmitLoop(Op op) {
    const uint32_t split = Emit(Op::kSplit);
    glob_->program_[split].x = Next();
    Emit(op);
    Emit(Op::kJump, 0, split);
    glob_->program_[split].y = Next();
  }

  // Reads one member character of a bracket expression at pos_.
  absl::Status ClassChar(size_t open, uint32_t* out) {
    if (AtEnd()) return Error("unclosed '['", open);
    uint32_t c = Peek();
    if (c == '\\') {
      if (pos_ + 1 >= chars_.size()) return Error("unclosed '['", open);
      c = chars_[pos_ + 1];
      pos_ += 2;
    } else if (c == '-') {
      return Error("unescaped '-' in character class (write \\-)", pos_);
    } else {
      ++pos_;
    }
    *out = c;
    return absl::OkStatus();
  }

  absl::Status ParseClass() {
    const size_t open = pos_++;
    Glob::CharClass cls;
    if (!AtEnd() && (Peek() == '!' || Peek() == '^')) {
      cls.negated = true;
      ++pos_;
    }
    while (true) {
      if (AtEnd()) return Error("unclosed '['", open);
      if (Peek() == ']') {
        if (cls.ranges.empty()) return Error("empty character class", open);
        ++pos_;
        break;
      }
      uint32_t lo = 0;
      if (absl::Status s = ClassChar(open, &lo); !s.ok()) return s;
      uint32_t hi = lo;
      if (!AtEnd() && Peek() == '-') {
        const size_t dash = pos_;
        if (pos_ + 1 >= chars_.size()) return Error("unclosed '['", open);
        if (chars_[pos_ + 1] == ']') {
          return Error("unescaped '-' in character class (write \\-)", dash);
        }
        ++pos_;
        if (absl::Status s = ClassChar(open, &hi); !s.ok()) return s;
        if (hi < lo) return Error("character range is out of order", dash);
      }
      cls.ranges.emplace_back(lo, hi);
    }
    glob_->classes_.push_back(std::move(cls));
    Emit(Op::kClass, 0, static_cast<uint32_t>(glob_->classes_.size() - 1));
    return absl::OkStatus();
  }

  // {a,b,c} compiles to
  //   split La, S2; La: a; jump End; S2: split Lb, S3; Lb: b; jump End;
  //   S3: jump Lc; Lc: c; End:
  absl::Status ParseBraces() {
    const size_t open = pos_++;
    std::vector<uint32_t> jumps_to_end;
    while (true) {
      const uint32_t split = Emit(Op::kSplit);
      glob_->program_[split].x = Next();
      if (absl::Status s = ParseSequence(/*in_braces=*/true); !s.ok()) {
        return s;
      }
      if (AtEnd()) return Error("unclosed '{'", open);
      if (Peek() == '}') {
        ++pos_;
        // The last alternative needs no split: make it a no-op jump.
        glob_->program_[split].op = Op::kJump;
        break;
      }
      ++pos_;  // ','
      jumps_to_end.push_back(Emit(Op::kJump));
      glob_->program_[split].y = Next();
    }
    for (uint32_t j : jumps_to_end) glob_->program_[j].x = Next();
    return absl::OkStatus();
  }

  std::vector<uint32_t> chars_;
  std::vector<size_t> offsets_;  // byte offset of each char, plus the end
  size_t pos_ = 0;
  Glob* glob_ = nullptr;
};

absl::StatusOr<Glob> Glob::Compile(std::string_view pattern) {
  if (pattern.empty()) {
    return absl::InvalidArgumentError("invalid glob pattern: empty pattern");
  }
  if (pattern.size() > kMaxPatternBytes) {
    return absl::InvalidArgumentError(
        absl::StrCat("invalid glob pattern: longer than ", kMaxPatternBytes,
                     " bytes (", pattern.size(), ")"));
  }
  Glob glob;
  glob.pattern_ = std::string(pattern);
  GlobCompiler compiler(pattern);
  if (absl::Status s = compiler.Compile(glob); !s.ok()) return s;
  return glob;
}

bool Glob::Matches(std::string_view input) const {
  // Pike-style simulation: `current` holds the consuming (and match)
  // instructions reachable after the characters read so far. `mark` stamps
  // instructions already added in this step so each is visited once.
  const size_t n = program_.size();
  std::vector<uint32_t> current, next, stack;
  current.reserve(n);
  next.reserve(n);
  std::vector<size_t> mark(n, 0);
  size_t step = 1;

  auto add = [&](std::vector<uint32_t>& list, uint32_t start) {
    stack.push_back(start);
    while (!stack.empty()) {
      const uint32_t pc = stack.back();
      stack.pop_back();
      if (mark[pc] == step) continue;
      mark[pc] = step;
      const Inst& inst = program_[pc];
      switch (inst.op) {
        case Inst::Op::kJump:
          stack.push_back(inst.x);
          break;
        case Inst::Op::kSplit:
          stack.push_back(inst.y);
          stack.push_back(inst.x);
          break;
        default:
          list.push_back(pc);
      }
    }
  };

  add(current, 0);
  for (size_t pos = 0; pos < input.size() && !current.empty();) {
    const uint32_t c = NextCodePoint(input, &pos);
    ++step;
    next.clear();
    for (uint32_t pc : current) {
      const Inst& inst = program_[pc];
      bool ok = false;
      switch (inst.op) {
        case Inst::Op::kChar:
          ok = inst.ch == c;
          break;
        case Inst::Op::kAnyNotSep:
          ok = c != kSep;
          break;
        case Inst::Op::kAny:
          ok = true;
          break;
        case Inst::Op::kClass:
          ok = c != kSep && classes_[inst.x].Contains(c);
          break;
        default:
          break;
      }
      if (ok) add(next, pc + 1);
    }
    current.swap(next);
  }
  // The loop stops early only when no thread is left, so a non-empty
  // `current` means the whole input was read.
  for (uint32_t pc : current) {
    if (program_[pc].op == Inst::Op::kMatch) return true;
  }
  return false;
}

}  // namespace herald::core
