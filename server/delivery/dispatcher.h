// Dispatcher: turns due tasks in the store into HTTP attempts and their
// outcomes back into task states. Proto-free.
//
//   store --ClaimTasks (lease)--> per-endpoint queues --Send--> HttpSender
//     ^                                                            |
//     +--- CompleteTasksAsync (batched) <-- ClassifyAttempt <------+
//
// A claimer thread claims due tasks in batches and queues them per
// endpoint key; a loop thread starts attempts within the limits (so a
// claim in progress never holds up sending); the sender's completion
// callbacks classify the outcome (retry_policy.h), append the result to a
// batch and wake the loop, which writes batches back through the store's
// group commit. Memory is bounded by the limits, never by the backlog:
// pending and retrying tasks stay in the store and are claimed by due time.
//
// Limits
//   * max_in_flight attempts at once over all endpoints;
//   * per_endpoint_concurrency attempts at once per endpoint key
//     ("scheme://host:port"), so one slow or dead endpoint holds at most
//     that many slots. Tasks are claimed ahead (queued here) in proportion
//     to how fast an endpoint completes attempts: about 200 ms worth, at
//     least per_endpoint_concurrency and at most batch_size. A slow or
//     dead endpoint therefore has at most per_endpoint_concurrency tasks
//     waiting here and its backlog never fills a batch, while a fast one
//     always has its next attempts ready;
//   * Slack: at most one message per slack_interval (1 s) per Slack webhook
//     URL, one queue per URL (not one global slot as in Harbor); a 429
//     Retry-After from Slack also holds back the rest of that URL's queue.
//
// Delivery guarantees
//   At least once. A task is leased while claimed; if heraldd dies, the
//   lease expires (or, with expire_foreign_leases_at_start, is expired at
//   the next start) and the task is claimed again. A task whose policy is
//   deleted is gone from the store: it is never claimed again and a result
//   arriving for it is ignored. Attempts already handed to the sender when
//   the deletion commits may still complete (at most one per task); a task
//   that waited in a queue here for longer than kRecheckAfter is looked up
//   again before it is sent and dropped if it is gone, so only tasks
//   claimed within the last kRecheckAfter can still go out after a delete.
//   Disabling a policy only stops new matches; accepted deliveries finish.
//
// Leases and replicas: a dispatcher never reclaims its own leases (it still
// holds those tasks). Another replica reclaims a task when its lease
// expires, so with several replicas `lease` must exceed the longest HTTP
// timeout plus the time a task may wait in a queue here (Slack pacing).
//
// Shutdown(deadline): stop claiming, hand queued tasks back (released:
// due again, no attempt counted), let attempts in flight finish within the
// deadline, abort the rest through HttpSender::Shutdown and release those
// too, write every result, join. The sender is shut down by it.
//
// Thread-safety: every public method may be called from any thread.
#ifndef HERALD_SERVER_DELIVERY_DISPATCHER_H_
#define HERALD_SERVER_DELIVERY_DISPATCHER_H_

#include <cstdint>
#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/random/random.h"
#include "absl/status/status.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "server/core/clock.h"
#include "server/core/settings.h"
#include "server/delivery/http_sender.h"
#include "server/delivery/request_builder.h"
#include "server/delivery/retry_policy.h"
#include "server/store/store.h"

namespace herald::delivery {

// What the dispatcher reports after each attempt (for metrics).
struct AttemptReport {
  core::VendorType vendor_type = core::VendorType::kWebhook;
  Verdict verdict = Verdict::kFailed;
  absl::Duration latency = absl::ZeroDuration();
  // From the creation of the delivery (its event's acknowledgement) to the
  // end of this attempt.
  absl::Duration since_created = absl::ZeroDuration();
};

struct DispatcherOptions {
  // Lease owner id, unique per process start; "" = "<host>:<pid>:<random>".
  std::string owner;
  // Most tasks per claim.
  int batch_size = 256;
  // How often the store is polled for due work when nothing woke the loop
  // (retries of other replicas, expired leases).
  absl::Duration poll_interval = absl::Seconds(1);
  // Config delivery_max_in_flight.
  int max_in_flight = 256;
  // Config delivery_per_endpoint_concurrency.
  int per_endpoint_concurrency = 16;
  // Config delivery_backoff_scale: multiplies computed retry delays.
  double backoff_scale = 1.0;
  // Config delivery_lease.
  absl::Duration lease = absl::Seconds(60);
  // Slack pacing per webhook URL, and how many of a URL's tasks are
  // claimed ahead (queued here, leased) at most.
  absl::Duration slack_interval = absl::Seconds(1);
  int slack_queue = 2;
  // Claims are at least this far apart while deliveries are flowing, so a
  // stream of completions does not become a stream of one-task claims.
  absl::Duration claim_min_interval = absl::Milliseconds(1);
  // For stores with a single claimer (embedded SQLite): at Start, expire
  // every lease not ours, so work a killed heraldd left Running is
  // delivered at once instead of after its lease.
  bool expire_foreign_leases_at_start = false;
  // Sent as User-Agent.
  std::string user_agent = DefaultUserAgent();
  // Uniform random numbers in [0, 1) for backoff jitter; null = absl's.
  std::function<double()> uniform;
  // How long the settings (timeout) read from the store are reused.
  absl::Duration settings_max_age = absl::Seconds(1);
  // Wait before retrying a failed result write or claim.
  absl::Duration store_retry_delay = absl::Seconds(1);
  // Called after every attempt (not for attempts aborted by the shutdown),
  // on the sender's thread: must be quick and must not block.
  std::function<void(const AttemptReport&)> on_attempt;
};

// Counters since Start; a consistent snapshot.
struct DispatcherStats {
  int64_t claims = 0;          // ClaimTasks calls that returned tasks
  int64_t claimed = 0;         // tasks claimed
  int64_t attempts = 0;        // attempts handed to the sender
  int64_t succeeded = 0;       // attempts that delivered
  int64_t retries = 0;         // failed attempts with a retry scheduled
  int64_t failed = 0;          // failed attempts that ended their task
  int64_t released = 0;        // tasks handed back unattempted
  int64_t dropped = 0;         // claimed tasks found deleted before sending
  int64_t stale_results = 0;   // results the store ignored (lease lost)
  int64_t store_errors = 0;    // failed claims/result writes (retried)
  int in_flight = 0;           // attempts in flight now
  int queued = 0;              // claimed, waiting for a slot, now
};

class Dispatcher {
 public:
  // Queued tasks older than this are checked against the store before
  // they are sent (see "Delivery guarantees").
  static constexpr absl::Duration kRecheckAfter = absl::Milliseconds(50);

  // Every pointer must outlive the Dispatcher.
  Dispatcher(store::Store* store, HttpSender* sender, core::Clock* clock,
             DispatcherOptions options);
  // Shutdown(absl::ZeroDuration()) if still running.
  ~Dispatcher();

  Dispatcher(const Dispatcher&) = delete;
  Dispatcher& operator=(const Dispatcher&) = delete;

  // Registers as the store's work listener and starts the loop. Fails if
  // the options are invalid or expiring foreign leases fails. Call once.
  absl::Status Start();

  // New due work was committed (or the clock moved, in tests): claim now
  // rather than at the next poll. Cheap, never blocks.
  void Notify();

  // The first half of Shutdown, for the daemon to call as soon as SIGTERM
  // arrives: no more claims, queued tasks are released; attempts in flight
  // go on. Idempotent; never blocks.
  void StopClaiming();

  // See the file comment. Idempotent; returns when everything is written.
  void Shutdown(absl::Duration deadline);

  DispatcherStats stats() const;
  // Attempts in flight per endpoint ("scheme://host:port"), for metrics.
  // Slack webhook URLs are secrets: they are counted under their host.
  std::map<std::string, int> EndpointInFlight() const;
  const std::string& owner() const { return owner_; }

 private:
  // An attempt waiting for a slot (claimed, leased).
  struct Work {
    store::ClaimedTask claimed;
    absl::Time claim_time;  // real time
  };
  struct Endpoint {
    bool slack = false;
    int in_flight = 0;
    std::deque<Work> queued;
    absl::Time next_send = absl::InfinitePast();  // Slack pacing
    // Completion rate: attempts finished since window_start (real time),
    // and the count of the last full 100 ms window.
    int completed = 0;
    int completed_per_window = 0;
    absl::Time window_start = absl::InfinitePast();
  };
  // What a completion needs (the payload is not kept).
  struct Attempt {
    int64_t task_id = 0;
    int run_count = 0;  // the lease's, for the result's compare-and-set
    std::string endpoint;
    bool slack = false;
    AttemptContext context;
    std::vector<std::string> secrets;
    absl::Time start;
    absl::Time created;  // the execution's start time
  };

  void Loop();
  // Moves ready work out of the queues (under mu_) into `out`.
  void TakeReadyLocked(absl::Time now, std::vector<Work>& out)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // How long the loop may sleep without a Notify. Task times (retries,
  // Slack pacing) follow the injected clock; the loop's own timers (poll,
  // claim spacing, store backoff) follow real time (absl::Now()).
  absl::Duration NextWaitLocked(absl::Time now, absl::Time real_now) const
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  void StartAttempt(Work work, const core::Settings& settings);
  void OnResult(const Attempt& attempt, HttpResult result);
  void ClaimLoop();
  void ClaimOnce();
  // Tasks of `ep` that may be claimed now (in flight + queued + room =
  // its claim-ahead target).
  int RoomLocked(Endpoint& ep, absl::Time real_now) const
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  void FlushResults();
  void FlushReleases();
  // The settings, re-read from the store when older than settings_max_age
  // (may block: loop thread only).
  core::Settings CurrentSettings();
  // The last settings read; never blocks (completion callbacks).
  core::Settings CachedSettings();
  double Uniform();
  int MaxOutstanding() const { return 2 * options_.max_in_flight; }

  store::Store* const store_;
  HttpSender* const sender_;
  core::Clock* const clock_;
  const DispatcherOptions options_;
  const std::string owner_;

  mutable absl::Mutex mu_;
  std::map<std::string, Endpoint> endpoints_ ABSL_GUARDED_BY(mu_);
  int in_flight_ ABSL_GUARDED_BY(mu_) = 0;
  int queued_ ABSL_GUARDED_BY(mu_) = 0;
  bool wake_ ABSL_GUARDED_BY(mu_) = false;
  bool claim_wanted_ ABSL_GUARDED_BY(mu_) = true;
  // A claim was handed to the claimer thread and has not finished.
  bool claiming_ ABSL_GUARDED_BY(mu_) = false;
  bool claimer_stop_ ABSL_GUARDED_BY(mu_) = false;
  // The last claim may have left due work behind (full batch or an
  // endpoint at its room): claim again as slots free up.
  bool saturated_ ABSL_GUARDED_BY(mu_) = false;
  // Real time (absl::Now()).
  absl::Time last_claim_ ABSL_GUARDED_BY(mu_) = absl::InfinitePast();
  absl::Time next_poll_ ABSL_GUARDED_BY(mu_) = absl::InfinitePast();
  // Earliest retry this dispatcher scheduled (committed) and not yet due.
  absl::Time next_retry_ ABSL_GUARDED_BY(mu_) = absl::InfiniteFuture();
  // Earliest (real) time a failed store call may be retried.
  absl::Time store_backoff_until_ ABSL_GUARDED_BY(mu_) = absl::InfinitePast();
  std::vector<store::TaskResult> results_ ABSL_GUARDED_BY(mu_);
  bool flushing_ ABSL_GUARDED_BY(mu_) = false;
  std::vector<store::TaskLease> releases_ ABSL_GUARDED_BY(mu_);
  // Store failures while stopping; the loop gives up writing after a few.
  int stopping_failures_ ABSL_GUARDED_BY(mu_) = 0;
  // Round-robin position over endpoints_ when the global limit binds.
  std::string rr_cursor_ ABSL_GUARDED_BY(mu_);
  bool started_ ABSL_GUARDED_BY(mu_) = false;
  bool stopping_ ABSL_GUARDED_BY(mu_) = false;
  // Set just before the sender is shut down: its "shutting down" aborts
  // are released, not counted as failed attempts.
  bool sender_stopping_ ABSL_GUARDED_BY(mu_) = false;
  bool sender_stopped_ ABSL_GUARDED_BY(mu_) = false;
  bool shut_down_ ABSL_GUARDED_BY(mu_) = false;
  DispatcherStats stats_ ABSL_GUARDED_BY(mu_);

  absl::Mutex settings_mu_;
  core::Settings settings_ ABSL_GUARDED_BY(settings_mu_);
  absl::Time settings_time_ ABSL_GUARDED_BY(settings_mu_) =
      absl::InfinitePast();

  absl::Mutex rng_mu_;
  absl::BitGen rng_ ABSL_GUARDED_BY(rng_mu_);

  absl::Mutex shutdown_mu_;  // serialises Shutdown calls
  std::thread loop_;
  std::thread claimer_;
};

}  // namespace herald::delivery

#endif  // HERALD_SERVER_DELIVERY_DISPATCHER_H_
