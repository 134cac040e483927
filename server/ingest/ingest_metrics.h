// Counters of the publish path, read by the /metrics exporter.
#ifndef HERALD_SERVER_INGEST_INGEST_METRICS_H_
#define HERALD_SERVER_INGEST_INGEST_METRICS_H_

#include <atomic>
#include <cstdint>
#include <map>
#include <string>

#include "absl/base/thread_annotations.h"
#include "absl/synchronization/mutex.h"

namespace herald::ingest {

// Thread-safe; monotonic counters.
class IngestMetrics {
 public:
  void EventPublished() { published_.fetch_add(1, std::memory_order_relaxed); }
  void EventDropped() { dropped_.fetch_add(1, std::memory_order_relaxed); }
  void DeliveriesCreated(int64_t n) {
    deliveries_created_.fetch_add(n, std::memory_order_relaxed);
  }
  // `reason` is an ErrorInfo reason, e.g. "INVALID_FIELD".
  void EventRejected(const std::string& reason) {
    absl::MutexLock lock(&mu_);
    ++rejected_[reason];
  }

  int64_t published() const { return published_.load(); }
  int64_t dropped() const { return dropped_.load(); }
  int64_t deliveries_created() const { return deliveries_created_.load(); }
  std::map<std::string, int64_t> rejected() const {
    absl::MutexLock lock(&mu_);
    return rejected_;
  }

 private:
  std::atomic<int64_t> published_{0};
  std::atomic<int64_t> dropped_{0};
  std::atomic<int64_t> deliveries_created_{0};
  mutable absl::Mutex mu_;
  std::map<std::string, int64_t> rejected_ ABSL_GUARDED_BY(mu_);
};

}  // namespace herald::ingest

#endif  // HERALD_SERVER_INGEST_INGEST_METRICS_H_
