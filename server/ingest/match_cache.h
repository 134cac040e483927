// An in-memory snapshot of what publishing needs on every event: the
// enabled policies (filters compiled) indexed by project, and the settings.
// Publishing reads it without touching the store.
#ifndef HERALD_SERVER_INGEST_MATCH_CACHE_H_
#define HERALD_SERVER_INGEST_MATCH_CACHE_H_

#include <cstdint>
#include <map>
#include <memory>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "server/core/clock.h"
#include "server/core/matching.h"
#include "server/core/settings.h"
#include "server/store/store.h"

namespace herald::ingest {

// Immutable once built; shared by readers.
struct MatchSnapshot {
  core::Settings settings;
  // Enabled policies by project id; project 0 holds the system-wide ones.
  std::map<int64_t, std::vector<core::PolicyMatcher>> policies_by_project;

  // The policies receiving the event (its project's, then system-wide).
  std::vector<const core::Policy*> Match(const core::MatchInput& input) const;
};

// Thread-safe. Get() returns the current snapshot, reloading it from the
// store first when it was invalidated or is older than `max_age` (which
// bounds how long a change made by another replica takes to apply).
class MatchCache {
 public:
  MatchCache(store::Store* store, core::Clock* clock, absl::Duration max_age)
      : store_(store), clock_(clock), max_age_(max_age) {}

  // Blocks on the store when a reload is due: call it off reactor threads.
  absl::StatusOr<std::shared_ptr<const MatchSnapshot>> Get();

  // The next Get() reloads. Call after every policy or settings change.
  void Invalidate();

 private:
  absl::StatusOr<std::shared_ptr<const MatchSnapshot>> Load();

  store::Store* const store_;
  core::Clock* const clock_;
  const absl::Duration max_age_;

  absl::Mutex reload_mu_ ABSL_ACQUIRED_BEFORE(mu_);  // one reload at a time
  absl::Mutex mu_;
  std::shared_ptr<const MatchSnapshot> snapshot_ ABSL_GUARDED_BY(mu_);
  absl::Time loaded_at_ ABSL_GUARDED_BY(mu_) = absl::InfinitePast();
  uint64_t generation_ ABSL_GUARDED_BY(mu_) = 0;  // bumped by Invalidate
};

}  // namespace herald::ingest

#endif  // HERALD_SERVER_INGEST_MATCH_CACHE_H_
