#include "server/core/matching.h"

#include <algorithm>
#include <utility>

#include "absl/strings/str_cat.h"
#include "server/core/policy_validation.h"

namespace herald::core {
namespace {

absl::Status CompileAll(const std::vector<std::string>& patterns,
                        std::vector<Glob>* out) {
  out->reserve(patterns.size());
  for (const std::string& pattern : patterns) {
    absl::StatusOr<Glob> glob = Glob::Compile(pattern);
    if (!glob.ok()) {
      return absl::InvalidArgumentError(
          absl::StrCat("filter pattern \"", pattern,
                       "\": ", glob.status().message()));
    }
    out->push_back(*std::move(glob));
  }
  return absl::OkStatus();
}

bool AnyMatches(const std::vector<Glob>& globs, const std::string& value) {
  return std::any_of(globs.begin(), globs.end(),
                     [&](const Glob& g) { return g.Matches(value); });
}

bool Listed(const std::vector<std::string>& list, const std::string& value) {
  return std::find(list.begin(), list.end(), value) != list.end();
}

}  // namespace

absl::StatusOr<CompiledPolicyFilters> CompiledPolicyFilters::Compile(
    const Filters& filters) {
  CompiledPolicyFilters out;
  if (absl::Status s = CompileAll(filters.repository_patterns,
                                  &out.repository_patterns_);
      !s.ok()) {
    return s;
  }
  if (absl::Status s = CompileAll(filters.tag_patterns, &out.tag_patterns_);
      !s.ok()) {
    return s;
  }
  out.scan_statuses_ = filters.scan_statuses;
  out.replication_statuses_ = filters.replication_statuses;
  return out;
}

bool CompiledPolicyFilters::empty() const {
  return repository_patterns_.empty() && tag_patterns_.empty() &&
         scan_statuses_.empty() && replication_statuses_.empty();
}

bool CompiledPolicyFilters::Matches(const MatchInput& input) const {
  if (!repository_patterns_.empty() &&
      (input.repo_full_name.empty() ||
       !AnyMatches(repository_patterns_, input.repo_full_name))) {
    return false;
  }
  if (!tag_patterns_.empty() &&
      std::none_of(input.tags.begin(), input.tags.end(),
                   [&](const std::string& tag) {
                     return !tag.empty() && AnyMatches(tag_patterns_, tag);
                   })) {
    return false;
  }
  if (!scan_statuses_.empty() && IsScanningEventType(input.event_type) &&
      !Listed(scan_statuses_, input.scan_status)) {
    return false;
  }
  if (!replication_statuses_.empty() &&
      input.event_type == kReplicationEventType &&
      !Listed(replication_statuses_, input.replication_status)) {
    return false;
  }
  return true;
}

bool PolicyMatches(const Policy& policy, const CompiledPolicyFilters& filters,
                   const MatchInput& input) {
  return policy.enabled &&
         (policy.project_id == 0 || policy.project_id == input.project_id) &&
         Listed(policy.event_types, input.event_type) &&
         filters.Matches(input);
}

absl::StatusOr<PolicyMatcher> PolicyMatcher::Create(Policy policy) {
  absl::StatusOr<CompiledPolicyFilters> filters =
      CompiledPolicyFilters::Compile(policy.filters);
  if (!filters.ok()) return filters.status();
  return PolicyMatcher(std::move(policy), *std::move(filters));
}

std::vector<const Policy*> MatchPolicies(
    const std::vector<PolicyMatcher>& matchers, const MatchInput& input) {
  std::vector<const Policy*> out;
  for (const PolicyMatcher& m : matchers) {
    if (m.Matches(input)) out.push_back(&m.policy());
  }
  return out;
}

}  // namespace herald::core
