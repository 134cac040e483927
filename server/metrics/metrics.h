// heraldd's Prometheus metrics and the /metrics listener.
//
// Two kinds of metrics live here:
//  * recorded ones (attempt counters and latency histograms), which the
//    delivery engine reports as things happen through Record*();
//  * pulled ones (publish counters, queue depth, per-endpoint concurrency,
//    calls in flight), read from their owners at scrape time through the
//    sources set with Set*Source(), so the hot paths keep plain atomics.
//
// Metric names, all prefixed herald_:
//   events_published_total, events_dropped_total,
//   events_rejected_total{reason}, deliveries_created_total,
//   delivery_attempts_total{target_type,outcome}      outcome: success | retry | failed
//   deliveries_finished_total{target_type,outcome}    outcome: success | failed
//   attempt_duration_seconds{target_type}             histogram
//   ack_to_delivery_seconds                           histogram, publish ack -> 2xx
//   queue_tasks{state}                                state: pending | retrying | running
//   endpoint_in_flight{endpoint}
//   grpc_calls_in_flight
#ifndef HERALD_SERVER_METRICS_METRICS_H_
#define HERALD_SERVER_METRICS_METRICS_H_

#include <prometheus/counter.h>
#include <prometheus/exposer.h>
#include <prometheus/histogram.h>
#include <prometheus/registry.h>

#include <functional>
#include <map>
#include <memory>
#include <string>
#include <string_view>

#include "absl/base/thread_annotations.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"

namespace herald::metrics {

// Counts of tasks by queue state, for herald_queue_tasks.
struct QueueDepth {
  int64_t pending = 0;
  int64_t retrying = 0;
  int64_t running = 0;
};

// Values read at scrape time. Each source must be thread-safe and quick;
// unset sources are skipped.
struct Sources {
  std::function<int64_t()> events_published;
  std::function<int64_t()> events_dropped;
  std::function<std::map<std::string, int64_t>()> events_rejected;
  std::function<int64_t()> deliveries_created;
  std::function<absl::StatusOr<QueueDepth>()> queue_depth;
  std::function<std::map<std::string, int>()> endpoint_in_flight;
  std::function<int()> grpc_calls_in_flight;
};

// Thread-safe.
class Metrics {
 public:
  Metrics();

  // One finished attempt. target_type: "http" or "slack"; outcome:
  // "success", "retry" (failed, another attempt scheduled) or "failed"
  // (failed, final).
  void RecordAttempt(std::string_view target_type, std::string_view outcome,
                     absl::Duration latency);
  // A delivery reached its receiver, `latency` after its event was
  // acknowledged.
  void RecordAckToDelivery(absl::Duration latency);

  // Replaces the pulled sources (call before serving; thread-safe anyway).
  void SetSources(Sources sources);

  // The Prometheus text exposition of every metric (what /metrics serves).
  std::string Scrape() const;

  std::shared_ptr<prometheus::Registry> registry() const { return registry_; }
  std::shared_ptr<prometheus::Collectable> pulled() const { return pulled_; }

 private:
  std::shared_ptr<prometheus::Registry> registry_;
  std::shared_ptr<prometheus::Collectable> pulled_;
  prometheus::Family<prometheus::Counter>& attempts_;
  prometheus::Family<prometheus::Counter>& finished_;
  prometheus::Family<prometheus::Histogram>& attempt_duration_;
  prometheus::Histogram& ack_to_delivery_;

  // The series of one (target_type, outcome), looked up once: Family::Add
  // builds label maps and hashes them on every call, once per delivery.
  struct AttemptSeries {
    prometheus::Counter* attempts;
    prometheus::Counter* finished;  // nullptr for "retry"
    prometheus::Histogram* duration;
  };
  absl::Mutex series_mu_;
  std::map<std::string, AttemptSeries, std::less<>> series_
      ABSL_GUARDED_BY(series_mu_);
};

// The /metrics HTTP listener (civetweb, its own threads).
class MetricsServer {
 public:
  // Binds `address` (host:port, port 0 = any free port). UNAVAILABLE when
  // the address cannot be bound.
  static absl::StatusOr<std::unique_ptr<MetricsServer>> Start(
      const std::string& address, const Metrics& metrics);

  // The bound host:port.
  const std::string& address() const { return address_; }

 private:
  MetricsServer() = default;
  std::unique_ptr<prometheus::Exposer> exposer_;
  std::string address_;
};

}  // namespace herald::metrics

#endif  // HERALD_SERVER_METRICS_METRICS_H_
