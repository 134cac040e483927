// Lifetime of a self-deleting callback reactor that hands work to other
// threads. gRPC calls OnDone once the RPC is over, but callbacks scheduled
// elsewhere (an executor, the publisher, the watch hub) may still hold
// `this`; the reactor may delete itself only when both have happened.
//
//   Hold();                         // before scheduling work that uses this
//   ... if (lifetime_.Release()) delete this;   // at the end of that work
//   OnDone(): if (lifetime_.Done()) delete this;
//
// Thread-safe.
#ifndef HERALD_SERVER_API_REACTOR_LIFETIME_H_
#define HERALD_SERVER_API_REACTOR_LIFETIME_H_

#include "absl/base/thread_annotations.h"
#include "absl/synchronization/mutex.h"

namespace herald::api {

class ReactorLifetime {
 public:
  // Counts one piece of outstanding work that uses the reactor.
  void Hold() {
    absl::MutexLock lock(&mu_);
    ++outstanding_;
  }

  // Ends one piece of work. True when the reactor must now delete itself
  // (OnDone has run and nothing else is outstanding).
  [[nodiscard]] bool Release() {
    absl::MutexLock lock(&mu_);
    return --outstanding_ == 0 && done_;
  }

  // Called from OnDone. True when the reactor must delete itself now.
  [[nodiscard]] bool Done() {
    absl::MutexLock lock(&mu_);
    done_ = true;
    return outstanding_ == 0;
  }

 private:
  absl::Mutex mu_;
  bool done_ ABSL_GUARDED_BY(mu_) = false;
  int outstanding_ ABSL_GUARDED_BY(mu_) = 0;  // work that uses the reactor
};

}  // namespace herald::api

#endif  // HERALD_SERVER_API_REACTOR_LIFETIME_H_
