// The benchmark's gRPC side: a heraldd child process with its stubs, a
// PublishEvents stream that publishes open-loop (paced) or closed-loop and
// timestamps every acknowledgement, WatchTasks streams that time every
// update, and open-loop unary health checks (the gRPC round-trip
// reference). Uses the generated stubs (herald_protos) directly.
#ifndef HERALD_TESTS_BENCH_GRPC_LOAD_H_
#define HERALD_TESTS_BENCH_GRPC_LOAD_H_

#include <grpcpp/grpcpp.h>

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "herald/v1/admin_service.grpc.pb.h"
#include "herald/v1/delivery_service.grpc.pb.h"
#include "herald/v1/event_service.grpc.pb.h"
#include "herald/v1/policy_service.grpc.pb.h"
#include "tests/bench/bench_util.h"

namespace herald::bench {

namespace v1 = ::herald::v1;

// heraldd on 127.0.0.1 with a fresh data directory (SQLite).
class Herald {
 public:
  struct Options {
    std::string binary;
    bool metrics = true;
    std::vector<std::string> extra_args;
    bool keep_data = false;  // leave the data directory for post-mortems
  };
  static std::unique_ptr<Herald> Start(const Options& options);
  // SIGTERM (then SIGKILL after 20 s); removes the data directory.
  ~Herald();

  pid_t pid() const { return child_.pid; }
  const std::string& address() const { return address_; }
  const std::string& metrics_address() const { return metrics_address_; }
  const std::string& data_dir() const { return dir_; }
  std::string LogTail(size_t bytes = 2000) const;
  std::optional<ProcStat> Stat() const { return ReadProcStat(child_.pid); }
  bool Alive() const;

  // A channel on its own HTTP/2 connection (`index` tells them apart).
  std::shared_ptr<grpc::Channel> NewChannel(int index) const;
  void Authorize(grpc::ClientContext& context) const;

  // Creates an enabled HTTP policy for PUSH_ARTIFACT events of `project`
  // with one Default-payload target per URL. Returns its id, or -1.
  int64_t CreatePolicy(int64_t project, const std::string& name,
                       const std::vector<std::string>& urls,
                       const v1::RetryPolicy* retry = nullptr);
  // The payload of one execution of `policy_id` ("" if none).
  std::string SomePayload(int64_t policy_id);

  v1::EventService::Stub* events() { return events_.get(); }
  v1::DeliveryService::Stub* deliveries() { return deliveries_.get(); }
  grpc::Channel* channel() { return channel_.get(); }

 private:
  Herald() = default;
  Child child_;
  Options options_;
  std::string dir_, address_, metrics_address_, token_;
  std::shared_ptr<grpc::Channel> channel_;
  std::unique_ptr<v1::PolicyService::Stub> policies_;
  std::unique_ptr<v1::EventService::Stub> events_;
  std::unique_ptr<v1::DeliveryService::Stub> deliveries_;
};

// Per-event timestamps of one publishing run, indexed by seq - first_seq.
struct PublishLog {
  PublishLog(int64_t first_seq, int64_t n)
      : first(first_seq), sent(static_cast<size_t>(n), 0),
        acked(static_cast<size_t>(n), 0) {}
  int64_t first;
  std::vector<int64_t> sent;   // intended (paced) or actual write start, ns
  std::vector<int64_t> acked;  // acknowledgement received, ns
  std::atomic<int64_t> acks{0};
  std::atomic<int64_t> errors{0};
  std::atomic<int64_t> deliveries{0};
  std::mutex mu;
  std::string first_error;
};

// The event published for `seq`: a Harbor PUSH_ARTIFACT (a ~520-byte
// Default payload) whose operator is "bench-<seq>", so the receiver can tell
// which publish a delivery belongs to.
void FillEvent(v1::Event* event, int64_t seq, int64_t project_id);

// One PublishEvents stream. Push() queues events; they are written one at
// a time as fast as gRPC flow control allows (the server reads a bounded
// number ahead of its acks).
class PublishStream final
    : public grpc::ClientBidiReactor<v1::PublishEventsRequest,
                                     v1::PublishEventsResponse> {
 public:
  // project_of(seq) picks each event's project.
  PublishStream(Herald& herald, v1::EventService::Stub* stub, PublishLog* log,
                std::function<int64_t(int64_t)> project_of);
  // Queues `seq`; `intended_ns` (0 = the moment it is written) is the
  // time its latency is measured from.
  void Push(int64_t seq, int64_t intended_ns = 0);
  // No more pushes: half-closes once everything queued is written.
  void Close();
  // Until the server ends the stream; its status.
  grpc::Status Wait();
  // Like Wait(), but cancels the stream first if it has not ended by
  // `deadline_ns` (realtime).
  grpc::Status WaitUntil(int64_t deadline_ns);

  void OnWriteDone(bool ok) override;
  void OnReadDone(bool ok) override;
  void OnWritesDoneDone(bool ok) override {}
  void OnDone(const grpc::Status& status) override;

 private:
  struct Item {
    int64_t seq;
    int64_t intended;
  };
  void Write(Item item);
  void MaybeWritesDoneLocked(std::unique_lock<std::mutex>& lock);

  grpc::ClientContext context_;
  PublishLog* const log_;
  const std::function<int64_t(int64_t)> project_of_;
  v1::PublishEventsRequest request_;
  v1::PublishEventsResponse response_;
  std::mutex mu_;
  std::condition_variable cv_;
  std::deque<Item> queue_;
  std::vector<int64_t> order_;  // seqs in write order
  bool writing_ = false;
  bool closing_ = false;
  bool writes_done_ = false;
  bool done_ = false;
  grpc::Status status_;
};

// Publishes seqs [first, first + n) over `streams` streams as fast as
// possible. Returns false (and says why on stderr) if a stream failed.
bool PublishClosedLoop(Herald& herald, PublishLog& log, int streams,
                       const std::function<int64_t(int64_t)>& project_of);
// Publishes seqs [first, first + n) at `rate` events/s in total,
// round-robin over `streams` streams (each on its own connection), open
// loop: latency is counted from each event's scheduled time. Gives up
// (cancels, returns false) if the acknowledgements are not all in by
// `deadline_s` after the start (0: no deadline).
bool PublishPaced(Herald& herald, PublishLog& log, double rate, int streams,
                  const std::function<int64_t(int64_t)>& project_of,
                  double deadline_s = 0);

// One WatchTasks stream; records the lag (arrival - task.update_time, us)
// of every update whose update_time is >= measure_from_ns.
class Watcher final : public grpc::ClientReadReactor<v1::WatchTasksResponse> {
 public:
  Watcher(Herald& herald, v1::DeliveryService::Stub* stub,
          v1::WatchTasksRequest request, std::atomic<int>* ready,
          std::atomic<int64_t>* measure_from_ns);
  void Cancel() { context_.TryCancel(); }
  grpc::Status Wait();
  int64_t updates() const { return updates_.load(); }
  // Valid after Wait().
  std::vector<int64_t>& lags_us() { return lags_; }

  void OnReadDone(bool ok) override;
  void OnDone(const grpc::Status& status) override;

 private:
  grpc::ClientContext context_;
  v1::WatchTasksRequest request_;
  v1::WatchTasksResponse response_;
  std::atomic<int>* ready_;
  std::atomic<int64_t>* measure_from_;
  bool counted_ready_ = false;
  std::atomic<int64_t> updates_{0};
  std::vector<int64_t> lags_;
  std::mutex mu_;
  std::condition_variable cv_;
  bool done_ = false;
  grpc::Status status_;
};

// grpc.health.v1.Health/Check at `rate` calls/s in total for `n` calls,
// round-robin over `channels`, open loop; latencies (us) from each call's
// scheduled time.
std::vector<int64_t> HealthChecksPaced(
    const std::vector<std::shared_ptr<grpc::Channel>>& channels, double rate,
    int64_t n);

}  // namespace herald::bench

#endif  // HERALD_TESTS_BENCH_GRPC_LOAD_H_
