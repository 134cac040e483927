// Test support: reads herald's golden vector cases (tests/vectors/cases).
//
// A case's "event" is a herald.v1.Event in the proto3 JSON mapping with the
// proto field names (int64 as strings or numbers, Timestamps as RFC 3339,
// Durations as "8s"). EventFromJson() reads it straight into core::Event
// without protobuf, so the render tests stay proto-free; the convert test
// checks that protobuf's own JSON parser plus api::EventFromProto agree.
#ifndef HERALD_TESTS_UNIT_RENDER_EVENT_JSON_H_
#define HERALD_TESTS_UNIT_RENDER_EVENT_JSON_H_

#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "server/core/event.h"

namespace herald::testing {

// The vectors directory (tests/vectors), from the HERALD_VECTORS_DIR
// compile definition.
std::string VectorsDir();

// The whole file as bytes; fails the calling test (ADD_FAILURE) and returns
// "" when it cannot be read.
std::string ReadFile(const std::string& path);

// The names of tests/vectors/cases/*.case.json, without the suffix, sorted.
std::vector<std::string> CaseNames();

// A case file, parsed.
nlohmann::json ReadCase(const std::string& name);

// The proto3 JSON of a herald.v1.Event as a core::Event. Throws
// std::runtime_error (or nlohmann's exceptions) on malformed input.
core::Event EventFromJson(const nlohmann::json& event);

}  // namespace herald::testing

#endif  // HERALD_TESTS_UNIT_RENDER_EVENT_JSON_H_
