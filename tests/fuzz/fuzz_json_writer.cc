// libFuzzer target: the JSON writer that reproduces Go's encoding/json.
//
// The input drives a legal sequence of JsonWriter calls (objects, arrays,
// keys, strings of arbitrary bytes, integers, finite doubles, bools, nulls)
// in both layouts. Invariants:
//  * the document is valid JSON (invalid UTF-8 becomes \ufffd);
//  * a valid UTF-8 string reads back as itself, in both escaping modes;
//  * AppendGoFloat reads back as the same double (shortest round trip);
//  * FormatGoTime of a time in years 1..9999 parses back to that time.
#include <fuzzer/FuzzedDataProvider.h>

#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <vector>

#include "absl/time/time.h"
#include "nlohmann/json.hpp"
#include "server/core/event_validation.h"
#include "server/render/json_writer.h"

namespace {

void Check(bool ok, const char* what) {
  if (!ok) {
    std::fprintf(stderr, "invariant violated: %s\n", what);
    std::abort();
  }
}

using herald::render::JsonEscaping;
using herald::render::JsonWriter;

void WriteValue(FuzzedDataProvider& in, JsonWriter& w, int depth,
                int* budget) {
  --*budget;
  const int kind = in.ConsumeIntegralInRange<int>(0, depth < 8 ? 7 : 5);
  switch (kind) {
    case 0:
      w.String(in.ConsumeRandomLengthString(64),
               in.ConsumeBool() ? JsonEscaping::kGo
                                : JsonEscaping::kCloudEventsAttribute);
      break;
    case 1:
      w.Int(in.ConsumeIntegral<int64_t>());
      break;
    case 2: {
      const double d = in.ConsumeFloatingPoint<double>();
      if (std::isfinite(d)) {
        w.Double(d);
      } else {
        w.Null();
      }
      break;
    }
    case 3:
      w.Bool(in.ConsumeBool());
      break;
    case 4:
    case 5:
      w.Null();
      break;
    case 6: {
      w.BeginObject();
      while (*budget > 0 && in.remaining_bytes() > 0 && in.ConsumeBool()) {
        w.Key(in.ConsumeRandomLengthString(16));
        WriteValue(in, w, depth + 1, budget);
      }
      w.EndObject();
      break;
    }
    default: {
      w.BeginArray();
      while (*budget > 0 && in.remaining_bytes() > 0 && in.ConsumeBool()) {
        WriteValue(in, w, depth + 1, budget);
      }
      w.EndArray();
      break;
    }
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  FuzzedDataProvider in(data, size);
  const std::string s = in.ConsumeRandomLengthString(256);
  for (JsonEscaping e :
       {JsonEscaping::kGo, JsonEscaping::kCloudEventsAttribute}) {
    std::string out;
    herald::render::AppendJsonString(out, s, e);
    Check(nlohmann::json::accept(out), "a string is valid JSON");
    if (herald::core::IsValidUtf8(s)) {
      Check(nlohmann::json::parse(out).get<std::string>() == s,
            "a valid UTF-8 string reads back as itself");
    }
  }
  const double d = in.ConsumeFloatingPoint<double>();
  if (std::isfinite(d)) {
    std::string out;
    herald::render::AppendGoFloat(out, d);
    Check(nlohmann::json::accept(out), "a double is valid JSON");
    Check(std::strtod(out.c_str(), nullptr) == d, "a double round-trips");
  }
  const int64_t seconds = in.ConsumeIntegralInRange<int64_t>(
      -62135596800LL, 253402300799LL);  // 0001-01-01 .. 9999-12-31
  const absl::Time t = absl::FromUnixSeconds(seconds) +
                       absl::Nanoseconds(in.ConsumeIntegralInRange<int>(0, 999999999));
  const std::string formatted = herald::render::FormatGoTime(t);
  absl::Time back;
  std::string err;
  Check(absl::ParseTime(absl::RFC3339_full, formatted, &back, &err) && back == t,
        "FormatGoTime parses back");

  for (JsonWriter::Layout layout :
       {JsonWriter::Layout::kCompact, JsonWriter::Layout::kIndentTabs}) {
    JsonWriter w(layout);
    int budget = 200;
    WriteValue(in, w, 0, &budget);
    Check(nlohmann::json::accept(w.str()), "the document is valid JSON");
  }
  return 0;
}
