// A fixed pool of threads for blocking work (store queries) that must not
// run on gRPC's reactor threads. Handlers hand a closure over and return at
// once; the closure finishes the reactor.
#ifndef HERALD_SERVER_API_EXECUTOR_H_
#define HERALD_SERVER_API_EXECUTOR_H_

#include <cstddef>
#include <deque>
#include <thread>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/functional/any_invocable.h"
#include "absl/synchronization/mutex.h"

namespace herald::api {

// Thread-safe. Work runs in FIFO order on `threads` threads.
class Executor {
 public:
  explicit Executor(int threads);
  // Runs Shutdown().
  ~Executor();

  Executor(const Executor&) = delete;
  Executor& operator=(const Executor&) = delete;

  // Queues `work`. Returns false (and drops it) after Shutdown() began.
  bool Submit(absl::AnyInvocable<void() &&> work);

  // Stops accepting work, runs what is queued, joins the threads. Idempotent.
  void Shutdown();

  // Closures queued and not yet started.
  size_t queued() const;

 private:
  void Loop();

  mutable absl::Mutex mu_;
  absl::CondVar cv_;
  std::deque<absl::AnyInvocable<void() &&>> queue_ ABSL_GUARDED_BY(mu_);
  bool stopping_ ABSL_GUARDED_BY(mu_) = false;
  std::vector<std::thread> threads_;  // written only in ctor and Shutdown
};

}  // namespace herald::api

#endif  // HERALD_SERVER_API_EXECUTOR_H_
