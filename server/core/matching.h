// Event -> policy matching: which policies receive an event.
//
// Harbor delivers every event of a project to every enabled policy of that
// project listing the event type (reference/harbor-behaviour.md §7). herald
// adds system-wide policies (project_id 0, receive the events of every
// project) and filters by repository, tag, scan status and replication
// status. A policy matches an event at most once, even if a stored policy
// somehow lists the event type twice (Harbor then delivers twice).
//
// Filters (each empty list means "no restriction"; all set lists must pass):
//  * repository_patterns: the event's repository full name
//    ("namespace/name") matches at least one pattern. An event without a
//    repository does not pass.
//  * tag_patterns: at least one of the event's tags matches at least one
//    pattern. An event without tags (e.g. a push by digest) does not pass.
//  * scan_statuses: for SCANNING_* events, the scan status is listed.
//    Other event types ignore this filter.
//  * replication_statuses: for REPLICATION events, the job status is
//    listed. Other event types ignore this filter.
// Status comparisons are exact ("Success", not "success").
#ifndef HERALD_SERVER_CORE_MATCHING_H_
#define HERALD_SERVER_CORE_MATCHING_H_

#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/statusor.h"
#include "server/core/glob.h"
#include "server/core/policy.h"

namespace herald::core {

// What matching needs to know about an event.
struct MatchInput {
  int64_t project_id = 0;
  std::string event_type;  // e.g. "PUSH_ARTIFACT"
  // "namespace/name"; empty when the event concerns no repository.
  std::string repo_full_name;
  std::vector<std::string> tags;  // tags of the event's resources
  std::string scan_status;        // SCANNING_* events, e.g. "Success"
  std::string replication_status;  // REPLICATION events (job_status)
};

// A policy's Filters with the globs compiled once. Immutable after
// construction; Matches() is thread-safe. Default-constructed: no
// restriction.
class CompiledPolicyFilters {
 public:
  CompiledPolicyFilters() = default;

  // Compiles every pattern. Fails with kInvalidArgument (naming the
  // pattern) only for filters that ValidatePolicy would refuse.
  static absl::StatusOr<CompiledPolicyFilters> Compile(const Filters& filters);

  // Whether the event passes every filter (see the file comment).
  bool Matches(const MatchInput& input) const;

  // Whether no filter is set.
  bool empty() const;

 private:
  std::vector<Glob> repository_patterns_;
  std::vector<Glob> tag_patterns_;
  std::vector<std::string> scan_statuses_;
  std::vector<std::string> replication_statuses_;
};

// Whether `policy` receives the event: it is enabled, belongs to the
// event's project or is system-wide, lists the event type, and `filters`
// (compiled from policy.filters) pass.
bool PolicyMatches(const Policy& policy, const CompiledPolicyFilters& filters,
                   const MatchInput& input);

// A policy with its filters compiled, built once when the policy is
// loaded or changed. Immutable; Matches() is thread-safe.
class PolicyMatcher {
 public:
  static absl::StatusOr<PolicyMatcher> Create(Policy policy);

  bool Matches(const MatchInput& input) const {
    return PolicyMatches(policy_, filters_, input);
  }
  const Policy& policy() const { return policy_; }
  const CompiledPolicyFilters& filters() const { return filters_; }

 private:
  PolicyMatcher(Policy policy, CompiledPolicyFilters filters)
      : policy_(std::move(policy)), filters_(std::move(filters)) {}

  Policy policy_;
  CompiledPolicyFilters filters_;
};

// The policies among `matchers` that receive the event, each once, in the
// order given.
std::vector<const Policy*> MatchPolicies(
    const std::vector<PolicyMatcher>& matchers, const MatchInput& input);

}  // namespace herald::core

#endif  // HERALD_SERVER_CORE_MATCHING_H_
