// A small streaming JSON writer whose bytes equal what Go's encoding/json
// produces for the same values, so herald's payloads match Harbor's byte
// for byte.
//
// Strings (JsonEscaping::kGo, json.Marshal with its default HTML escaping):
//  * '"' and '\\' as \" and \\; \b \f \n \r \t as short escapes (Go 1.22
//    and later; Harbor is built with Go 1.26); other bytes below 0x20 as
//    \u00XX with lowercase hex;
//  * '<' '>' '&' as \u003c \u003e \u0026; U+2028 and U+2029 as \u2028 and
//    \u2029;
//  * every byte that does not start a well-formed UTF-8 sequence as \ufffd;
//  * everything else, DEL and non-BMP characters included, as raw UTF-8.
// Numbers: integers in decimal; doubles like Go's float64 encoder (shortest
// round-trip digits, exponent form below 1e-6 and from 1e21).
// Layout: compact, or json.MarshalIndent(v, "", "\t") (newline and tabs
// per level, ": " after keys, empty objects and arrays as {} and []).
//
// The writer checks its call sequence only in debug builds (assert): keys
// only inside objects, one value per key, balanced Begin/End. A JsonWriter
// is not thread-safe; distinct writers are independent.
#ifndef HERALD_SERVER_RENDER_JSON_WRITER_H_
#define HERALD_SERVER_RENDER_JSON_WRITER_H_

#include <cstdint>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "absl/time/time.h"

namespace herald::render {

enum class JsonEscaping {
  // Go's encoding/json, described above.
  kGo,
  // A CloudEvents attribute as Harbor's CloudEvents SDK (sdk-go v2.16.2)
  // writes it: json-iterator's ConfigFastest escaping (\b and \f as \u0008
  // and \u000c) followed by encoding/json's compaction, which escapes '<'
  // '>' '&' U+2028 U+2029. Identical to kGo except for \b and \f. (The SDK
  // copies invalid UTF-8 bytes, making invalid JSON; herald writes \ufffd
  // in both modes, and validation refuses such bytes anyway.)
  kCloudEventsAttribute,
};

// Appends `s` as a quoted JSON string.
void AppendJsonString(std::string& out, std::string_view s,
                      JsonEscaping escaping = JsonEscaping::kGo);

// Appends `v` the way Go's encoding/json writes a float64. `v` must be
// finite (Go refuses NaN and infinities; validation rejects them).
void AppendGoFloat(std::string& out, double v);

// `t` the way Go's time.Time marshals it (RFC 3339 with nanoseconds,
// trailing zeros dropped), in UTC: "2023-04-03T06:12:47Z",
// "2024-05-01T10:00:00.5Z". Years 1..9999 (validation enforces it).
std::string FormatGoTime(absl::Time t);

class JsonWriter {
 public:
  enum class Layout {
    kCompact,
    kIndentTabs,  // json.MarshalIndent(v, "", "\t")
  };

  explicit JsonWriter(Layout layout = Layout::kCompact) : layout_(layout) {}

  JsonWriter& BeginObject();
  JsonWriter& EndObject();
  JsonWriter& BeginArray();
  JsonWriter& EndArray();
  // The next member's key; must be followed by exactly one value.
  JsonWriter& Key(std::string_view key);
  JsonWriter& String(std::string_view value,
                     JsonEscaping escaping = JsonEscaping::kGo);
  JsonWriter& Int(int64_t value);
  JsonWriter& Double(double value);
  JsonWriter& Bool(bool value);
  JsonWriter& Null();

  // The bytes written so far (a complete document once every Begin has
  // its End).
  const std::string& str() const { return out_; }
  std::string Release() && { return std::move(out_); }

 private:
  struct Frame {
    bool is_object = false;
    bool has_members = false;
    bool expects_value = false;  // objects: a Key() was written
  };
  void BeforeValue();
  void NewlineAndIndent(size_t depth);
  JsonWriter& Open(char bracket, bool is_object);
  JsonWriter& Close(char bracket, bool is_object);

  std::string out_;
  Layout layout_;
  std::vector<Frame> stack_;
};

}  // namespace herald::render

#endif  // HERALD_SERVER_RENDER_JSON_WRITER_H_
