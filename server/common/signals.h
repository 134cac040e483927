// Termination signals handled synchronously: no async signal handlers, no
// gRPC calls from a handler. main() blocks the signals before it starts any
// thread, every thread inherits the mask, and one thread waits for them:
//
//   int main(int argc, char** argv) {
//     herald::common::BlockTerminationSignals();   // before gRPC starts
//     ... build and start the server and the dispatcher ...
//     int sig = herald::common::WaitForTerminationSignal();
//     log::Info("shutting down", {{"signal", strsignal(sig)}});
//     ... graceful shutdown ...
//   }
//
// A thread that was created before BlockTerminationSignals keeps its old
// mask and may receive the signal with its default action (terminating the
// process); hence "call it first".
#ifndef HERALD_SERVER_COMMON_SIGNALS_H_
#define HERALD_SERVER_COMMON_SIGNALS_H_

#include <csignal>

namespace herald::common {

// Blocks SIGTERM, SIGINT and SIGHUP in the calling thread (threads created
// afterwards inherit the mask) and ignores SIGPIPE, so a write to a closed
// socket or pipe returns EPIPE instead of killing the process. Idempotent;
// cannot fail.
void BlockTerminationSignals();

// Blocks until SIGTERM, SIGINT or SIGHUP arrives and returns its number. The
// signals must be blocked in every thread (see above). Consumes the signal.
// May be called repeatedly, e.g. to force-exit on a second SIGINT.
int WaitForTerminationSignal();

// Wakes WaitForTerminationSignal as if `signo` (SIGTERM, SIGINT or SIGHUP)
// had been delivered. If a thread is waiting, the signal is directed at that
// thread; otherwise it is sent to the process and stays pending until a
// thread waits. For tests, and for code that wants a graceful shutdown
// (e.g. after a fatal error in a background component). Thread-safe; not
// async-signal-safe.
void RequestTermination(int signo = SIGTERM);

}  // namespace herald::common

#endif  // HERALD_SERVER_COMMON_SIGNALS_H_
