// The publish path, proto-free: validate an event, match it to policies,
// render one payload per matching target, and commit the event with its
// executions and Pending tasks in one transaction (group-committed with
// concurrent publishes). The acknowledgement is sent only after the commit.
#ifndef HERALD_SERVER_INGEST_PUBLISHER_H_
#define HERALD_SERVER_INGEST_PUBLISHER_H_

#include <cstdint>
#include <string>

#include "absl/functional/any_invocable.h"
#include "absl/status/statusor.h"
#include "server/core/clock.h"
#include "server/core/event.h"
#include "server/ingest/ingest_metrics.h"
#include "server/ingest/match_cache.h"
#include "server/store/store.h"

namespace herald::ingest {

struct PublishRequest {
  core::Event event;
  // Idempotency key ("" = none), scoped to the publishing token.
  std::string request_id;
  int64_t token_id = 0;
};

struct PublishResult {
  int64_t event_id = 0;
  int deliveries_created = 0;
  bool duplicate = false;  // the original ack of an earlier publish
  bool dropped = false;    // notification_enable is false
};

using PublishCallback =
    absl::AnyInvocable<void(absl::StatusOr<PublishResult>) &&>;

// Thread-safe. Publish() does CPU work (validation, rendering) and may block
// briefly on a MatchCache reload, so call it off reactor threads; the commit
// itself is asynchronous.
class Publisher {
 public:
  // Every pointer must outlive the Publisher.
  Publisher(store::Store* store, MatchCache* cache, core::Clock* clock,
            IngestMetrics* metrics, std::string registry_endpoint)
      : store_(store),
        cache_(cache),
        clock_(clock),
        metrics_(metrics),
        registry_endpoint_(std::move(registry_endpoint)) {}

  // Calls `done` exactly once: inline for a refused event (INVALID_ARGUMENT
  // with field violations, UNAVAILABLE when the store cannot be read), else
  // from the store's commit thread once the event is durable (or the commit
  // failed: nothing was acknowledged). Field paths are rooted at "event".
  void Publish(PublishRequest request, PublishCallback done);

  IngestMetrics& metrics() { return *metrics_; }

 private:
  absl::StatusOr<store::NewEvent> Prepare(PublishRequest& request,
                                          const MatchSnapshot& snapshot);

  store::Store* const store_;
  MatchCache* const cache_;
  core::Clock* const clock_;
  IngestMetrics* const metrics_;
  const std::string registry_endpoint_;
};

}  // namespace herald::ingest

#endif  // HERALD_SERVER_INGEST_PUBLISHER_H_
