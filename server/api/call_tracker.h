// Counts the RPCs in flight so shutdown can wait for exactly those, and
// refuses new ones while draining.
//
// gRPC's own Server::Shutdown(deadline) also waits for idle client
// connections to go away, which well-behaved clients holding a channel
// never do; heraldd therefore drains with this tracker first and then shuts
// gRPC down with a short deadline.
#ifndef HERALD_SERVER_API_CALL_TRACKER_H_
#define HERALD_SERVER_API_CALL_TRACKER_H_

#include "absl/base/thread_annotations.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"

namespace herald::api {

// Thread-safe.
class CallTracker {
 public:
  // Registers a call. False once Drain() was called: answer UNAVAILABLE.
  bool Begin() {
    absl::MutexLock lock(&mu_);
    if (draining_) return false;
    ++in_flight_;
    return true;
  }
  void End() {
    absl::MutexLock lock(&mu_);
    --in_flight_;
  }
  // Refuses new calls from now on.
  void Drain() {
    absl::MutexLock lock(&mu_);
    draining_ = true;
  }
  // Waits until no call is in flight or `timeout` passed; true if idle.
  bool WaitIdle(absl::Duration timeout) {
    absl::MutexLock lock(&mu_);
    auto idle = [this]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
      return in_flight_ == 0;
    };
    return mu_.AwaitWithTimeout(absl::Condition(&idle), timeout);
  }
  int in_flight() const {
    absl::MutexLock lock(&mu_);
    return in_flight_;
  }

 private:
  mutable absl::Mutex mu_;
  int in_flight_ ABSL_GUARDED_BY(mu_) = 0;
  bool draining_ ABSL_GUARDED_BY(mu_) = false;
};

}  // namespace herald::api

#endif  // HERALD_SERVER_API_CALL_TRACKER_H_
