// Time sources. Everything that stamps or schedules by wall-clock time takes
// a Clock so tests can drive time by hand (FakeClock) instead of sleeping.
#ifndef HERALD_SERVER_CORE_CLOCK_H_
#define HERALD_SERVER_CORE_CLOCK_H_

#include <atomic>
#include <cstdint>

#include "absl/time/clock.h"
#include "absl/time/time.h"

namespace herald::core {

// A source of the current wall-clock time. Implementations are thread-safe.
class Clock {
 public:
  virtual ~Clock() = default;
  virtual absl::Time Now() = 0;
};

// The system clock (absl::Now()).
class RealClock final : public Clock {
 public:
  absl::Time Now() override { return absl::Now(); }

  // A process-wide instance; never destroyed.
  static RealClock* Default() {
    static RealClock* const clock = new RealClock();
    return clock;
  }
};

// A clock that only moves when told to. Thread-safe. Resolution: 1 ns.
class FakeClock final : public Clock {
 public:
  explicit FakeClock(absl::Time start = absl::FromUnixSeconds(1700000000))
      : unix_nanos_(absl::ToUnixNanos(start)) {}

  absl::Time Now() override {
    return absl::FromUnixNanos(unix_nanos_.load(std::memory_order_acquire));
  }
  void Set(absl::Time t) {
    unix_nanos_.store(absl::ToUnixNanos(t), std::memory_order_release);
  }
  void Advance(absl::Duration d) {
    unix_nanos_.fetch_add(absl::ToInt64Nanoseconds(d),
                          std::memory_order_acq_rel);
  }

 private:
  std::atomic<int64_t> unix_nanos_;
};

}  // namespace herald::core

#endif  // HERALD_SERVER_CORE_CLOCK_H_
