#include "server/common/signals.h"

#include <pthread.h>
#include <unistd.h>

#include <vector>

#include "absl/base/const_init.h"
#include "absl/base/thread_annotations.h"
#include "absl/synchronization/mutex.h"

namespace herald::common {
namespace {

// The threads currently inside sigwait. A waiter stays registered until it
// has re-taken the mutex, so RequestTermination never signals a thread that
// may have exited.
ABSL_CONST_INIT absl::Mutex g_mu(absl::kConstInit);
std::vector<pthread_t>* g_waiters ABSL_GUARDED_BY(g_mu) = nullptr;

sigset_t TerminationSet() {
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, SIGTERM);
  sigaddset(&set, SIGINT);
  sigaddset(&set, SIGHUP);
  return set;
}

}  // namespace

void BlockTerminationSignals() {
  const sigset_t set = TerminationSet();
  // Both calls only fail for invalid arguments.
  pthread_sigmask(SIG_BLOCK, &set, nullptr);
  std::signal(SIGPIPE, SIG_IGN);
}

int WaitForTerminationSignal() {
  const sigset_t set = TerminationSet();
  {
    absl::MutexLock lock(&g_mu);
    if (g_waiters == nullptr) g_waiters = new std::vector<pthread_t>();
    g_waiters->push_back(pthread_self());
  }
  int signo = 0;
  while (sigwait(&set, &signo) != 0) {
  }
  absl::MutexLock lock(&g_mu);
  for (auto it = g_waiters->begin(); it != g_waiters->end(); ++it) {
    if (pthread_equal(*it, pthread_self())) {
      g_waiters->erase(it);
      break;
    }
  }
  return signo;
}

void RequestTermination(int signo) {
  absl::MutexLock lock(&g_mu);
  if (g_waiters != nullptr && !g_waiters->empty()) {
    pthread_kill(g_waiters->front(), signo);
  } else {
    ::kill(::getpid(), signo);
  }
}

}  // namespace herald::common
