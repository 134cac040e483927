#include "server/metrics/metrics.h"

#include <prometheus/gauge.h>
#include <prometheus/text_serializer.h>

#include <exception>
#include <vector>

#include "absl/strings/str_cat.h"

namespace herald::metrics {
namespace {

prometheus::MetricFamily Family(std::string name, std::string help,
                                prometheus::MetricType type) {
  prometheus::MetricFamily family;
  family.name = std::move(name);
  family.help = std::move(help);
  family.type = type;
  return family;
}

void AddSample(prometheus::MetricFamily& family, double value,
               std::vector<prometheus::ClientMetric::Label> labels = {}) {
  prometheus::ClientMetric metric;
  metric.label = std::move(labels);
  if (family.type == prometheus::MetricType::Counter) {
    metric.counter.value = value;
  } else {
    metric.gauge.value = value;
  }
  family.metric.push_back(std::move(metric));
}

// The metrics whose values live with their owners, read at scrape time.
class PulledMetrics final : public prometheus::Collectable {
 public:
  void Set(Sources sources) {
    absl::MutexLock lock(&mu_);
    sources_ = std::move(sources);
  }

  std::vector<prometheus::MetricFamily> Collect() const override {
    Sources s;
    {
      absl::MutexLock lock(&mu_);
      s = sources_;
    }
    using prometheus::MetricType;
    std::vector<prometheus::MetricFamily> out;
    auto counter = [&](const std::function<int64_t()>& source,
                       const char* name, const char* help) {
      if (!source) return;
      out.push_back(Family(name, help, MetricType::Counter));
      AddSample(out.back(), static_cast<double>(source()));
    };
    counter(s.events_published, "herald_events_published_total",
            "Events acknowledged with their deliveries durable.");
    counter(s.events_dropped, "herald_events_dropped_total",
            "Events acknowledged and dropped because notification_enable is "
            "false.");
    counter(s.deliveries_created, "herald_deliveries_created_total",
            "Deliveries (executions) created by published events.");
    if (s.events_rejected) {
      out.push_back(Family("herald_events_rejected_total",
                           "Published events refused, by ErrorInfo reason.",
                           MetricType::Counter));
      for (const auto& [reason, count] : s.events_rejected()) {
        AddSample(out.back(), static_cast<double>(count),
                  {{"reason", reason}});
      }
    }
    if (s.queue_depth) {
      absl::StatusOr<QueueDepth> depth = s.queue_depth();
      if (depth.ok()) {
        out.push_back(Family("herald_queue_tasks",
                             "Tasks waiting or being delivered, by state.",
                             MetricType::Gauge));
        AddSample(out.back(), depth->pending, {{"state", "pending"}});
        AddSample(out.back(), depth->retrying, {{"state", "retrying"}});
        AddSample(out.back(), depth->running, {{"state", "running"}});
      }
    }
    if (s.endpoint_in_flight) {
      out.push_back(Family("herald_endpoint_in_flight",
                           "Requests in flight per endpoint "
                           "(scheme://host:port).",
                           MetricType::Gauge));
      for (const auto& [endpoint, n] : s.endpoint_in_flight()) {
        AddSample(out.back(), n, {{"endpoint", endpoint}});
      }
    }
    if (s.grpc_calls_in_flight) {
      out.push_back(Family("herald_grpc_calls_in_flight",
                           "gRPC calls being served.", MetricType::Gauge));
      AddSample(out.back(), s.grpc_calls_in_flight());
    }
    return out;
  }

 private:
  mutable absl::Mutex mu_;
  Sources sources_ ABSL_GUARDED_BY(mu_);
};

const prometheus::Histogram::BucketBoundaries& LatencyBuckets() {
  static const auto* const buckets = new prometheus::Histogram::BucketBoundaries{
      0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1,
      0.25,   0.5,   1,      2.5,   5,    10,    30,    60};
  return *buckets;
}

}  // namespace

Metrics::Metrics()
    : registry_(std::make_shared<prometheus::Registry>()),
      pulled_(std::make_shared<PulledMetrics>()),
      attempts_(prometheus::BuildCounter()
                    .Name("herald_delivery_attempts_total")
                    .Help("Delivery attempts by target type and outcome "
                          "(success, retry, failed).")
                    .Register(*registry_)),
      finished_(prometheus::BuildCounter()
                    .Name("herald_deliveries_finished_total")
                    .Help("Deliveries that reached a final status, by target "
                          "type and outcome (success, failed).")
                    .Register(*registry_)),
      attempt_duration_(prometheus::BuildHistogram()
                            .Name("herald_attempt_duration_seconds")
                            .Help("Duration of one delivery attempt, request "
                                  "start to response or error.")
                            .Register(*registry_)),
      ack_to_delivery_(prometheus::BuildHistogram()
                           .Name("herald_ack_to_delivery_seconds")
                           .Help("From the publish acknowledgement to the "
                                 "receiver's 2xx answer.")
                           .Register(*registry_)
                           .Add({}, LatencyBuckets())) {}

void Metrics::RecordAttempt(std::string_view target_type,
                            std::string_view outcome, absl::Duration latency) {
  std::string key;
  key.reserve(target_type.size() + 1 + outcome.size());
  key.append(target_type).append("/").append(outcome);
  AttemptSeries series;
  {
    absl::MutexLock lock(&series_mu_);
    auto it = series_.find(key);
    if (it == series_.end()) {
      const std::string type(target_type);
      const std::string result(outcome);
      AttemptSeries s;
      s.attempts = &attempts_.Add({{"target_type", type}, {"outcome", result}});
      s.finished = result == "retry" ? nullptr
                                     : &finished_.Add({{"target_type", type},
                                                       {"outcome", result}});
      s.duration =
          &attempt_duration_.Add({{"target_type", type}}, LatencyBuckets());
      it = series_.emplace(std::move(key), s).first;
    }
    series = it->second;
  }
  series.attempts->Increment();
  if (series.finished != nullptr) series.finished->Increment();
  series.duration->Observe(absl::ToDoubleSeconds(latency));
}

void Metrics::RecordAckToDelivery(absl::Duration latency) {
  ack_to_delivery_.Observe(absl::ToDoubleSeconds(latency));
}

void Metrics::SetSources(Sources sources) {
  static_cast<PulledMetrics&>(*pulled_).Set(std::move(sources));
}

std::string Metrics::Scrape() const {
  std::vector<prometheus::MetricFamily> families = registry_->Collect();
  std::vector<prometheus::MetricFamily> pulled = pulled_->Collect();
  families.insert(families.end(), pulled.begin(), pulled.end());
  return prometheus::TextSerializer().Serialize(families);
}

absl::StatusOr<std::unique_ptr<MetricsServer>> MetricsServer::Start(
    const std::string& address, const Metrics& metrics) {
  std::unique_ptr<MetricsServer> server(new MetricsServer());
  try {
    server->exposer_ = std::make_unique<prometheus::Exposer>(address, 1);
  } catch (const std::exception& e) {
    return absl::UnavailableError(absl::StrCat(
        "cannot serve /metrics on ", address, ": ", e.what()));
  }
  server->exposer_->RegisterCollectable(metrics.registry());
  server->exposer_->RegisterCollectable(metrics.pulled());
  std::vector<int> ports = server->exposer_->GetListeningPorts();
  const std::string host = address.substr(0, address.rfind(':'));
  server->address_ =
      absl::StrCat(host, ":", ports.empty() ? 0 : ports.front());
  return server;
}

}  // namespace herald::metrics
