// RateLimiter: one token bucket per key (heraldd keys it by API token id),
// for the per-token publish rate limit (config publish_rate_limit /
// publish_rate_burst).
//
// Each bucket holds up to `burst` units and refills at `rate` units per
// second; a bucket starts full. TryAcquire takes one unit or says how long
// until one is available. Buckets are created on first use and kept (one
// small entry per token that ever published).
//
// Thread-safety: thread-safe (one mutex, held for a few arithmetic
// operations).
#ifndef HERALD_SERVER_CORE_RATE_LIMITER_H_
#define HERALD_SERVER_CORE_RATE_LIMITER_H_

#include <cstdint>
#include <optional>

#include "absl/base/thread_annotations.h"
#include "absl/container/flat_hash_map.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "server/core/clock.h"

namespace herald::core {

class RateLimiter {
 public:
  // `rate` > 0 units per second; `burst` >= 1 units. `clock` must outlive
  // the limiter.
  RateLimiter(double rate, double burst, Clock* clock);

  // Takes one unit from `key`'s bucket: nullopt when allowed, else the time
  // until the next unit is available (> 0). A refusal takes nothing.
  std::optional<absl::Duration> TryAcquire(int64_t key);

  double rate() const { return rate_; }
  double burst() const { return burst_; }

 private:
  struct Bucket {
    double units;
    absl::Time last;
  };

  const double rate_;
  const double burst_;
  Clock* const clock_;
  absl::Mutex mu_;
  absl::flat_hash_map<int64_t, Bucket> buckets_ ABSL_GUARDED_BY(mu_);
};

}  // namespace herald::core

#endif  // HERALD_SERVER_CORE_RATE_LIMITER_H_
