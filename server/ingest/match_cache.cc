#include "server/ingest/match_cache.h"

#include "server/common/log.h"
#include "server/core/status_macros.h"

namespace herald::ingest {

std::vector<const core::Policy*> MatchSnapshot::Match(
    const core::MatchInput& input) const {
  std::vector<const core::Policy*> out;
  for (int64_t project : {input.project_id, int64_t{0}}) {
    auto it = policies_by_project.find(project);
    if (it == policies_by_project.end()) continue;
    std::vector<const core::Policy*> found =
        core::MatchPolicies(it->second, input);
    out.insert(out.end(), found.begin(), found.end());
    if (input.project_id == 0) break;
  }
  return out;
}

absl::StatusOr<std::shared_ptr<const MatchSnapshot>> MatchCache::Get() {
  uint64_t generation;
  {
    absl::MutexLock lock(&mu_);
    if (snapshot_ != nullptr && clock_->Now() - loaded_at_ < max_age_) {
      return snapshot_;
    }
    generation = generation_;
  }
  absl::MutexLock reload(&reload_mu_);
  {
    // Another thread may have reloaded while this one waited.
    absl::MutexLock lock(&mu_);
    if (snapshot_ != nullptr && generation_ == generation &&
        clock_->Now() - loaded_at_ < max_age_) {
      return snapshot_;
    }
    generation = generation_;
  }
  const absl::Time started = clock_->Now();
  HERALD_ASSIGN_OR_RETURN(std::shared_ptr<const MatchSnapshot> fresh, Load());
  absl::MutexLock lock(&mu_);
  snapshot_ = fresh;
  // An Invalidate() during the load leaves the snapshot stale.
  loaded_at_ = generation_ == generation ? started : absl::InfinitePast();
  return fresh;
}

void MatchCache::Invalidate() {
  absl::MutexLock lock(&mu_);
  ++generation_;
  loaded_at_ = absl::InfinitePast();
}

absl::StatusOr<std::shared_ptr<const MatchSnapshot>> MatchCache::Load() {
  auto snapshot = std::make_shared<MatchSnapshot>();
  HERALD_ASSIGN_OR_RETURN(snapshot->settings, store_->GetSettings());
  store::PolicyQuery query;
  query.enabled = true;
  query.page.limit = 500;
  while (true) {
    HERALD_ASSIGN_OR_RETURN(store::PolicyList page,
                            store_->ListPolicies(query));
    for (core::Policy& policy : page.policies) {
      const int64_t project = policy.project_id;
      const int64_t id = policy.id;
      absl::StatusOr<core::PolicyMatcher> matcher =
          core::PolicyMatcher::Create(std::move(policy));
      if (!matcher.ok()) {
        // Validation keeps bad filters out; never let one policy stop all.
        log::Error("policy skipped: filters do not compile",
                   {{"policy_id", id},
                    {"error", std::string(matcher.status().message())}});
        continue;
      }
      snapshot->policies_by_project[project].push_back(*std::move(matcher));
    }
    query.page.offset += static_cast<int64_t>(page.policies.size());
    if (page.policies.empty() || query.page.offset >= page.total_size) break;
  }
  return snapshot;
}

}  // namespace herald::ingest
