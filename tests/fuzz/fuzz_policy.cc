// libFuzzer target: policy validation, address normalisation and globs.
//
// The input is decoded (FuzzedDataProvider) into a core::Policy with
// arbitrary names, addresses, secrets, headers, filters and retry values,
// then ValidatePolicy, ApplyPolicyDefaults, NormalizeAddress and
// Glob::Compile/Matches run on it. Invariants:
//  * every violation's field and description is valid UTF-8 (they end up
//    in a gRPC status);
//  * NormalizeAddress is idempotent: a normalised address normalises to
//    itself;
//  * after ApplyPolicyDefaults, a policy that was valid is still valid;
//  * a glob that compiles matches without crashing, and a pattern without
//    metacharacters matches itself.
#include <fuzzer/FuzzedDataProvider.h>

#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <vector>

#include "server/core/event_validation.h"
#include "server/core/glob.h"
#include "server/core/policy_validation.h"

namespace {

void Check(bool ok, const char* what) {
  if (!ok) {
    std::fprintf(stderr, "invariant violated: %s\n", what);
    std::abort();
  }
}

const std::vector<std::string>& KnownTypes() {
  static const auto* types = new std::vector<std::string>{
      "PUSH_ARTIFACT",    "PULL_ARTIFACT",      "DELETE_ARTIFACT",
      "QUOTA_EXCEED",     "QUOTA_WARNING",      "SCANNING_FAILED",
      "SCANNING_STOPPED", "SCANNING_COMPLETED", "REPLICATION",
      "TAG_RETENTION"};
  return *types;
}

std::string SomeString(FuzzedDataProvider& in, size_t max) {
  switch (in.ConsumeIntegralInRange<int>(0, 5)) {
    case 0: return "";
    case 1: return "https://" + in.ConsumeRandomLengthString(max);
    case 2: return "http://" + in.ConsumeRandomLengthString(max);
    case 3: return "whsec_" + in.ConsumeRandomLengthString(max);
    default: return in.ConsumeRandomLengthString(max);
  }
}

void CheckViolations(const std::vector<herald::core::FieldViolation>& v) {
  for (const auto& violation : v) {
    Check(herald::core::IsValidUtf8(violation.field), "field is UTF-8");
    Check(herald::core::IsValidUtf8(violation.description),
          "description is UTF-8");
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace herald::core;
  FuzzedDataProvider in(data, size);
  Policy p;
  p.project_id = in.ConsumeIntegralInRange<int64_t>(-1, 3);
  p.name = in.ConsumeRandomLengthString(300);
  p.description = in.ConsumeRandomLengthString(64);
  const int types = in.ConsumeIntegralInRange<int>(0, 4);
  for (int i = 0; i < types; ++i) {
    p.event_types.push_back(
        in.ConsumeBool() ? KnownTypes()[in.ConsumeIntegralInRange<size_t>(
                               0, KnownTypes().size() - 1)]
                         : in.ConsumeRandomLengthString(24));
  }
  const int targets = in.ConsumeIntegralInRange<int>(0, 3);
  for (int i = 0; i < targets; ++i) {
    Target t;
    t.type = static_cast<TargetType>(in.ConsumeIntegralInRange<int>(0, 3));
    t.address = SomeString(in, 128);
    t.auth_header = SomeString(in, 64);
    t.payload_format =
        static_cast<PayloadFormat>(in.ConsumeIntegralInRange<int>(0, 3));
    t.signing_secret = SomeString(in, 96);
    t.previous_signing_secret = in.ConsumeBool() ? SomeString(in, 96) : "";
    const int headers = in.ConsumeIntegralInRange<int>(0, 3);
    for (int h = 0; h < headers; ++h) {
      t.headers.push_back({in.ConsumeRandomLengthString(32),
                           in.ConsumeRandomLengthString(32)});
    }
    t.follow_redirects = in.ConsumeBool();
    t.skip_cert_verify = in.ConsumeBool();
    if (in.ConsumeBool()) {
      t.ca_bundle_pem = "-----BEGIN CERTIFICATE-----\n" +
                        in.ConsumeRandomLengthString(128) +
                        "\n-----END CERTIFICATE-----\n";
    }
    p.targets.push_back(std::move(t));
  }
  const int patterns = in.ConsumeIntegralInRange<int>(0, 4);
  for (int i = 0; i < patterns; ++i) {
    (in.ConsumeBool() ? p.filters.repository_patterns : p.filters.tag_patterns)
        .push_back(in.ConsumeRandomLengthString(64));
  }
  if (in.ConsumeBool()) p.filters.scan_statuses.push_back(in.ConsumeRandomLengthString(10));
  if (in.ConsumeBool()) {
    p.filters.replication_statuses.push_back(in.ConsumeRandomLengthString(10));
  }
  p.retry_policy.max_attempts = in.ConsumeIntegralInRange<int>(-2, 120);
  p.retry_policy.backoff =
      static_cast<BackoffKind>(in.ConsumeIntegralInRange<int>(0, 3));
  p.retry_policy.initial_backoff =
      absl::Milliseconds(in.ConsumeIntegral<int32_t>());
  p.retry_policy.max_backoff = absl::Milliseconds(in.ConsumeIntegral<int32_t>());
  p.retry_policy.http_timeout =
      absl::Milliseconds(in.ConsumeIntegralInRange<int64_t>(-1000, 400000));

  const std::vector<FieldViolation> violations = ValidatePolicy(p, KnownTypes());
  CheckViolations(violations);
  Policy defaulted = p;
  ApplyPolicyDefaults(defaulted);
  if (violations.empty()) {
    const std::vector<FieldViolation> again =
        ValidatePolicy(defaulted, KnownTypes());
    Check(again.empty(), "a valid policy stays valid after defaults");
  }
  for (const Target& t : p.targets) {
    absl::StatusOr<std::string> normal = NormalizeAddress(t.address);
    if (!normal.ok()) {
      Check(!IsValidUtf8(t.address) ||
                IsValidUtf8(std::string(normal.status().message())),
            "the error of a UTF-8 address is UTF-8");
      continue;
    }
    absl::StatusOr<std::string> twice = NormalizeAddress(*normal);
    Check(twice.ok() && *twice == *normal, "NormalizeAddress is idempotent");
  }
  (void)CheckSigningSecret(in.ConsumeRandomLengthString(100));
  (void)IsReservedHeaderName(in.ConsumeRandomLengthString(20));

  const std::string subject = in.ConsumeRandomLengthString(128);
  for (const auto* list :
       {&p.filters.repository_patterns, &p.filters.tag_patterns}) {
    for (const std::string& pattern : *list) {
      absl::StatusOr<Glob> glob = Glob::Compile(pattern);
      if (!glob.ok()) {
        Check(!IsValidUtf8(pattern) ||
                  IsValidUtf8(std::string(glob.status().message())),
              "the error of a UTF-8 glob is UTF-8");
        continue;
      }
      (void)glob->Matches(subject);
      (void)glob->Matches(pattern);
      if (pattern.find_first_of("*?[]{}\\!") == std::string::npos) {
        Check(glob->Matches(pattern), "a literal pattern matches itself");
      }
    }
  }
  return 0;
}
