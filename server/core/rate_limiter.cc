#include "server/core/rate_limiter.h"

#include <algorithm>
#include <cmath>

namespace herald::core {

RateLimiter::RateLimiter(double rate, double burst, Clock* clock)
    : rate_(rate), burst_(std::max(burst, 1.0)), clock_(clock) {}

std::optional<absl::Duration> RateLimiter::TryAcquire(int64_t key) {
  const absl::Time now = clock_->Now();
  absl::MutexLock lock(&mu_);
  auto [it, inserted] = buckets_.try_emplace(key, Bucket{burst_, now});
  Bucket& b = it->second;
  if (now > b.last) {
    b.units = std::min(
        burst_, b.units + absl::ToDoubleSeconds(now - b.last) * rate_);
    b.last = now;
  }
  if (b.units >= 1.0) {
    b.units -= 1.0;
    return std::nullopt;
  }
  // At least 1 ms, so a client sleeping for it never spins.
  const double seconds = (1.0 - b.units) / rate_;
  return std::max(absl::Milliseconds(1),
                  absl::Microseconds(std::ceil(seconds * 1e6)));
}

}  // namespace herald::core
