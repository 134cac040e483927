// RetentionSweeper: Harbor's EXECUTION_SWEEP for herald. Keeps the newest
// `execution_retention_count` (a setting, default 50) finished executions
// per (policy, vendor type) and deletes older finished ones with their
// tasks and logs. Unfinished executions (Pending, Running, Error with a
// retry scheduled) are never touched and do not count.
//
// It runs on its own thread: once shortly after Start (first_delay), then
// every `interval` (Harbor sweeps daily; herald every 10 minutes, in
// transactions of a few hundred rows so publishing is never held up).
//
// Thread-safety: Start/Stop from one thread; SweepOnce from any.
#ifndef HERALD_SERVER_DELIVERY_RETENTION_SWEEPER_H_
#define HERALD_SERVER_DELIVERY_RETENTION_SWEEPER_H_

#include <cstdint>
#include <thread>

#include "absl/base/thread_annotations.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "server/store/store.h"

namespace herald::delivery {

class RetentionSweeper {
 public:
  struct Options {
    absl::Duration first_delay = absl::Seconds(30);
    absl::Duration interval = absl::Minutes(10);
    // Executions deleted per store call.
    int64_t batch = 2048;
  };

  // `store` must outlive the sweeper.
  RetentionSweeper(store::Store* store, Options options);
  // Stop().
  ~RetentionSweeper();

  RetentionSweeper(const RetentionSweeper&) = delete;
  RetentionSweeper& operator=(const RetentionSweeper&) = delete;

  void Start();
  // Stops the thread (an ongoing sweep finishes its current batch). Idempotent.
  void Stop();

  // One full sweep with the stored retention setting; returns how many
  // executions were deleted.
  absl::StatusOr<int64_t> SweepOnce();

 private:
  void Loop();

  store::Store* const store_;
  const Options options_;
  absl::Mutex mu_;
  bool stopping_ ABSL_GUARDED_BY(mu_) = false;
  std::thread thread_;
};

}  // namespace herald::delivery

#endif  // HERALD_SERVER_DELIVERY_RETENTION_SWEEPER_H_
