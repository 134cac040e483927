// WatchHub: the in-memory tail of the task update log, shared by every
// WatchTasks stream of this heraldd.
//
// One fetcher thread copies new task updates from the store into a ring of
// the most recent ones whenever Notify() says something was committed (and
// every poll_interval anyway, so changes committed by other replicas arrive
// too); while nobody watches it only follows the latest seq (idle_after).
// Streams read from the ring; a stream that fell behind the ring reads from
// the store instead, so a slow consumer never costs memory and never misses
// an update. Streams wait for new updates with WhenAfter().
#ifndef HERALD_SERVER_WATCH_WATCH_HUB_H_
#define HERALD_SERVER_WATCH_WATCH_HUB_H_

#include <cstdint>
#include <deque>
#include <thread>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/functional/any_invocable.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "server/store/store.h"

namespace herald::watch {

// Thread-safe.
class WatchHub {
 public:
  struct Options {
    size_t ring_capacity = 32768;
    int fetch_limit = 2048;
    absl::Duration poll_interval = absl::Milliseconds(200);
    // Updates older than this are trimmed from the store (checked every
    // trim_interval); cursors older than that get OUT_OF_RANGE.
    absl::Duration retention = absl::Hours(24);
    absl::Duration trim_interval = absl::Minutes(10);
    // While no stream has called Read or WhenAfter for this long and none
    // is waiting, the fetcher only follows the latest seq and keeps the
    // ring empty (copying every update of a busy store into memory nobody
    // reads is most of the hub's cost). A stream that comes back reads the
    // store until the ring has refilled: same updates, same order.
    absl::Duration idle_after = absl::Seconds(10);
  };

  // `store` must outlive the hub.
  WatchHub(store::Store* store, Options options);
  WatchHub(store::Store* store) : WatchHub(store, Options()) {}
  // Runs Stop().
  ~WatchHub();

  // Starts the fetcher at the store's latest update.
  absl::Status Start();
  // Stops the fetcher and wakes every waiter; stopped() is true afterwards.
  // Idempotent.
  void Stop();
  bool stopped() const;

  // Something was committed: fetch soon. Cheap, never blocks.
  void Notify();

  // Up to `limit` updates with seq > after, oldest first; empty when there
  // are none yet. Reads the ring when `after` is within it, else the store
  // (blocking: call off reactor threads). OUT_OF_RANGE when updates after
  // `after` were trimmed from the store.
  absl::StatusOr<std::vector<store::TaskUpdate>> Read(int64_t after,
                                                      int limit);

  // Calls `wake` exactly once: at once (inline) when an update after
  // `after` is already known or the hub is stopped, else when one arrives
  // or at Stop(). `wake` must be quick.
  void WhenAfter(int64_t after, absl::AnyInvocable<void() &&> wake);

  // The latest seq the hub knows of.
  int64_t latest_seq() const;

 private:
  struct Waiter {
    int64_t after;
    absl::AnyInvocable<void() &&> wake;
  };

  void FetchLoop();
  // Fetches everything new; returns false when the store failed.
  bool FetchOnce();

  store::Store* const store_;
  const Options options_;
  std::thread fetcher_;
  absl::Time next_trim_ = absl::InfinitePast();  // fetcher thread only

  mutable absl::Mutex mu_;
  std::deque<store::TaskUpdate> ring_ ABSL_GUARDED_BY(mu_);
  int64_t latest_seq_ ABSL_GUARDED_BY(mu_) = 0;
  bool notified_ ABSL_GUARDED_BY(mu_) = false;
  bool stopping_ ABSL_GUARDED_BY(mu_) = false;
  std::vector<Waiter> waiters_ ABSL_GUARDED_BY(mu_);
  // The last Read or WhenAfter call (Options::idle_after).
  absl::Time last_use_ ABSL_GUARDED_BY(mu_) = absl::InfinitePast();
};

}  // namespace herald::watch

#endif  // HERALD_SERVER_WATCH_WATCH_HUB_H_
