#include "server/render/json_writer.h"

#include <cassert>
#include <charconv>
#include <cmath>
#include <cstdio>
#include <utility>

#include "server/core/event_validation.h"

namespace herald::render {
namespace {

constexpr char kHex[] = "0123456789abcdef";

void AppendUnicodeEscape(std::string& out, unsigned char b) {
  out += "\\u00";
  out += kHex[b >> 4];
  out += kHex[b & 0xF];
}

}  // namespace

void AppendJsonString(std::string& out, std::string_view s,
                      JsonEscaping escaping) {
  const bool go = escaping == JsonEscaping::kGo;
  out.reserve(out.size() + s.size() + 2);
  out += '"';
  size_t start = 0;  // first byte not yet copied
  size_t i = 0;
  while (i < s.size()) {
    const auto b = static_cast<unsigned char>(s[i]);
    if (b < 0x80) {
      if (b >= 0x20 && b != '"' && b != '\\' && b != '<' && b != '>' &&
          b != '&') {
        ++i;
        continue;
      }
      out.append(s, start, i - start);
      switch (b) {
        case '"':
          out += "\\\"";
          break;
        case '\\':
          out += "\\\\";
          break;
        case '\n':
          out += "\\n";
          break;
        case '\r':
          out += "\\r";
          break;
        case '\t':
          out += "\\t";
          break;
        case '\b':
        case '\f':
          if (go) {
            out += b == '\b' ? "\\b" : "\\f";
          } else {
            AppendUnicodeEscape(out, b);
          }
          break;
        default:
          AppendUnicodeEscape(out, b);
          break;
      }
      start = ++i;
      continue;
    }
    const size_t n = core::Utf8SequenceLength(s, i);
    if (n == 0) {
      // Go writes U+FFFD for each byte that does not start a well-formed
      // sequence. (sdk-go would copy it into the CloudEvents attribute and
      // produce invalid JSON; validation never lets such bytes through, so
      // both modes write \ufffd.)
      out.append(s, start, i - start);
      out += "\\ufffd";
      start = ++i;
      continue;
    }
    if (n == 3 && b == 0xE2 && static_cast<unsigned char>(s[i + 1]) == 0x80 &&
        (static_cast<unsigned char>(s[i + 2]) & 0xFE) == 0xA8) {
      out.append(s, start, i - start);
      out += (s[i + 2] == '\xA8') ? "\\u2028" : "\\u2029";
      i += 3;
      start = i;
      continue;
    }
    i += n;
  }
  out.append(s, start, s.size() - start);
  out += '"';
}

void AppendGoFloat(std::string& out, double v) {
  assert(std::isfinite(v));
  const double a = std::fabs(v);
  const bool exponent = a != 0 && (a < 1e-6 || a >= 1e21);
  char buf[64];
  const auto result = std::to_chars(
      buf, buf + sizeof(buf), v,
      exponent ? std::chars_format::scientific : std::chars_format::fixed);
  std::string_view digits(buf, result.ptr - buf);
  // Go shortens a two-digit negative exponent: 1e-07 -> 1e-7.
  const size_t n = digits.size();
  if (exponent && n >= 4 && digits[n - 4] == 'e' && digits[n - 3] == '-' &&
      digits[n - 2] == '0') {
    out.append(digits.substr(0, n - 2));
    out += digits[n - 1];
    return;
  }
  out.append(digits);
}

std::string FormatGoTime(absl::Time t) {
  const absl::TimeZone utc = absl::UTCTimeZone();
  const absl::CivilSecond cs = absl::ToCivilSecond(t, utc);
  const int64_t nanos = absl::ToInt64Nanoseconds(t - absl::FromCivil(cs, utc));
  char buf[64];
  int len = std::snprintf(buf, sizeof(buf), "%04lld-%02d-%02dT%02d:%02d:%02d",
                          static_cast<long long>(cs.year()), cs.month(),
                          cs.day(), cs.hour(), cs.minute(), cs.second());
  std::string out(buf, len);
  if (nanos > 0) {
    len = std::snprintf(buf, sizeof(buf), "%09lld",
                        static_cast<long long>(nanos));
    std::string_view frac(buf, len);
    while (frac.back() == '0') frac.remove_suffix(1);
    out += '.';
    out.append(frac);
  }
  out += 'Z';
  return out;
}

void JsonWriter::NewlineAndIndent(size_t depth) {
  out_ += '\n';
  out_.append(depth, '\t');
}

void JsonWriter::BeforeValue() {
  if (stack_.empty()) {
    assert(out_.empty() && "one top-level value only");
    return;
  }
  Frame& top = stack_.back();
  if (top.is_object) {
    assert(top.expects_value && "a value in an object needs a Key() first");
    top.expects_value = false;
    return;
  }
  if (top.has_members) out_ += ',';
  top.has_members = true;
  if (layout_ == Layout::kIndentTabs) NewlineAndIndent(stack_.size());
}

JsonWriter& JsonWriter::Open(char bracket, bool is_object) {
  BeforeValue();
  out_ += bracket;
  stack_.push_back(Frame{is_object, false, false});
  return *this;
}

JsonWriter& JsonWriter::Close(char bracket, bool is_object) {
  assert(!stack_.empty() && stack_.back().is_object == is_object);
  assert(!stack_.back().expects_value);
  const bool had_members = stack_.back().has_members;
  stack_.pop_back();
  if (had_members && layout_ == Layout::kIndentTabs) {
    NewlineAndIndent(stack_.size());
  }
  out_ += bracket;
  return *this;
}

JsonWriter& JsonWriter::BeginObject() { return Open('{', true); }
JsonWriter& JsonWriter::EndObject() { return Close('}', true); }
JsonWriter& JsonWriter::BeginArray() { return Open('[', false); }
JsonWriter& JsonWriter::EndArray() { return Close(']', false); }

JsonWriter& JsonWriter::Key(std::string_view key) {
  assert(!stack_.empty() && stack_.back().is_object);
  Frame& top = stack_.back();
  assert(!top.expects_value);
  if (top.has_members) out_ += ',';
  top.has_members = true;
  top.expects_value = true;
  if (layout_ == Layout::kIndentTabs) NewlineAndIndent(stack_.size());
  AppendJsonString(out_, key);
  out_ += layout_ == Layout::kIndentTabs ? ": " : ":";
  return *this;
}

JsonWriter& JsonWriter::String(std::string_view value, JsonEscaping escaping) {
  BeforeValue();
  AppendJsonString(out_, value, escaping);
  return *this;
}

JsonWriter& JsonWriter::Int(int64_t value) {
  BeforeValue();
  char buf[24];
  const auto result = std::to_chars(buf, buf + sizeof(buf), value);
  out_.append(buf, result.ptr);
  return *this;
}

JsonWriter& JsonWriter::Double(double value) {
  BeforeValue();
  AppendGoFloat(out_, value);
  return *this;
}

JsonWriter& JsonWriter::Bool(bool value) {
  BeforeValue();
  out_ += value ? "true" : "false";
  return *this;
}

JsonWriter& JsonWriter::Null() {
  BeforeValue();
  out_ += "null";
  return *this;
}

}  // namespace herald::render
