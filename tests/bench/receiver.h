// BenchReceiver: the benchmark's webhook receiver. A minimal HTTP/1.1
// server (one epoll thread, keep-alive, pipelining, Content-Length bodies)
// that answers every request "200 OK" with an empty body and records, for
// every request carrying a webhook-id header, the id, the arrival time and
// the sequence number the bench driver put into the payload's operator
// ("bench-<seq>"). Requests without webhook-id (wrk's) are only counted.
//
// It is deliberately cheaper than tests/receivers/TestReceiver (one thread
// per connection, a lock and a copy per request): a throughput benchmark
// needs a receiver that takes as little as possible of the CPU it shares
// with heraldd, and one that wrk can be pointed at as the reference.
//
// One receiver may listen on several ports (fan-out: "10 receivers" are 10
// ports served by one thread); Record::port_index says which one.
//
// Modes (SetMode, effective within a millisecond):
//   kOk      answer at once;
//   kHang    accept and read, answer nothing (requests are held and
//            answered - and recorded - when the mode returns to kOk): an
//            unresponsive receiver;
//   kRefuse  close the listening sockets and every connection: connection
//            refused. kOk binds the same ports again.
//
// Thread-safety: every public method may be called from any thread.
#ifndef HERALD_TESTS_BENCH_RECEIVER_H_
#define HERALD_TESTS_BENCH_RECEIVER_H_

#include <atomic>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

namespace herald::bench {

struct Record {
  int64_t arrival_ns = 0;  // CLOCK_REALTIME, when the request was answered
  int64_t seq = -1;        // from "operator":"bench-<seq>", -1 if absent
  int port_index = 0;
  char webhook_id[40] = {};  // NUL-terminated, truncated to 39 bytes
};

class BenchReceiver {
 public:
  enum class Mode { kOk, kHang, kRefuse };

  // Listens on 127.0.0.1 on `ports` kernel-chosen ports. nullptr and a
  // message on stderr on failure.
  static std::unique_ptr<BenchReceiver> Start(int ports = 1);
  ~BenchReceiver();
  BenchReceiver(const BenchReceiver&) = delete;
  BenchReceiver& operator=(const BenchReceiver&) = delete;

  int port(int index = 0) const;
  int port_count() const;
  std::string url(int index = 0, const std::string& path = "/hook") const;

  void SetMode(Mode mode);
  // Requests recorded (with a webhook-id) since the last TakeRecords.
  int64_t recorded() const { return recorded_.load(std::memory_order_relaxed); }
  // Every request answered since start (wrk's included).
  int64_t answered() const { return answered_.load(std::memory_order_relaxed); }
  // The records since the last call, in arrival order.
  std::vector<Record> TakeRecords();
  // CPU time (ns) the receiver thread has used since start.
  int64_t ThreadCpuNanos() const;

 private:
  struct Impl;
  explicit BenchReceiver(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
  std::atomic<int64_t> recorded_{0};
  std::atomic<int64_t> answered_{0};
};

}  // namespace herald::bench

#endif  // HERALD_TESTS_BENCH_RECEIVER_H_
