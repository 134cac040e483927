// Crash test: heraldd under a publish-and-deliver load is killed with
// SIGKILL at random moments and restarted on the same data directory each
// time. At the end every acknowledged (event, target) must have reached the
// receiver at least once; duplicates are counted and must each straddle a
// kill (an attempt in flight when heraldd died, delivered again after the
// restart).
//
//   crash_test [--kills=20] [--seconds=60] [--rate=400] [--seed=N]
//              [--report=FILE]
//              [--delivery_lease=D] [--postgres_dsn=DSN [--replicas=2]]
//
// With --postgres_dsn, --replicas heraldd run on that (empty) PostgreSQL
// database with one admin token and one secret key; each publisher prefers
// its own replica and moves to another while its replica is down (as a
// client behind a load balancer would), re-sending what was not
// acknowledged with the same request_id; each kill picks a random replica.
// Tasks a killed replica had claimed are reclaimed when their lease expires
// (--delivery_lease), by whichever replica claims first.
//
// Run it through scripts/crash-test.sh. Exit status 0 when nothing
// acknowledged was lost and every duplicate is explained by a kill: its
// first copy arrived before the kill, at most one delivery_lease before
// it (an attempt sent earlier would have had its lease expire while its
// heraldd was alive), and the second copy after it.
//
// The load: one PublishEvents stream per replica (re-opened after every
// kill) sends PUSH_ARTIFACT events, --rate per second in all, each with
// request_id "crash-<n>" and operator "crash-<n>" (the marker the payloads
// carry). One policy has two targets on a local recording receiver: /fast
// answers at once (Default payload, with an auth_header), /slow answers
// after 30 ms (CloudEvents, signed), so attempts are in flight at most
// kills. Events whose ack did not arrive before a kill are published again
// with the same request_id after the restart (the idempotency key makes
// that safe), so in the end every event is acknowledged.
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cstdlib>
#include <deque>
#include <fstream>
#include <iostream>
#include <map>
#include <random>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/escaping.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/string_view.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "herald/v1/event_service.grpc.pb.h"
#include "herald/v1/policy_service.grpc.pb.h"
#include "tests/integration/grpc_test_util.h"
#include "tests/integration/heraldd_process.h"
#include "tests/receivers/test_receiver.h"

namespace herald::crash {
namespace {

using herald::receivers::Reply;
using herald::receivers::TestReceiver;
using herald::testing::HeralddProcess;

struct Flags {
  int kills = 20;
  double seconds = 60;
  int rate = 400;
  uint64_t seed = 0;
  std::string report;
  std::string postgres_dsn;  // empty: one heraldd on SQLite
  int replicas = 2;          // with postgres_dsn
  // heraldd's delivery_lease; "" = its default (60 s).
  std::string delivery_lease;
};

bool ParseFlags(int argc, char** argv, Flags* f) {
  for (int i = 1; i < argc; ++i) {
    absl::string_view a(argv[i]);
    auto value = [&](absl::string_view name) -> std::optional<absl::string_view> {
      const std::string prefix = absl::StrCat("--", name, "=");
      if (a.substr(0, prefix.size()) == prefix) return a.substr(prefix.size());
      return std::nullopt;
    };
    bool ok = true;
    if (auto v = value("kills")) {
      ok = absl::SimpleAtoi(*v, &f->kills) && f->kills >= 0;
    } else if (auto v = value("seconds")) {
      ok = absl::SimpleAtod(*v, &f->seconds) && f->seconds > 0;
    } else if (auto v = value("rate")) {
      ok = absl::SimpleAtoi(*v, &f->rate) && f->rate > 0;
    } else if (auto v = value("seed")) {
      ok = absl::SimpleAtoi(*v, &f->seed);
    } else if (auto v = value("report")) {
      f->report = std::string(*v);
    } else if (auto v = value("postgres_dsn")) {
      f->postgres_dsn = std::string(*v);
      ok = !f->postgres_dsn.empty();
    } else if (auto v = value("replicas")) {
      ok = absl::SimpleAtoi(*v, &f->replicas) && f->replicas >= 1 &&
           f->replicas <= 8;
    } else if (auto v = value("delivery_lease")) {
      f->delivery_lease = std::string(*v);
      absl::Duration d;
      ok = absl::ParseDuration(f->delivery_lease, &d) &&
           d > absl::ZeroDuration();
    } else {
      ok = false;
    }
    if (!ok) {
      std::cerr << "crash_test: bad argument " << a
                << "\nusage: crash_test [--kills=N] [--seconds=S] [--rate=R]"
                   " [--seed=N] [--report=FILE] [--postgres_dsn=DSN"
                   " [--replicas=N] [--delivery_lease=D]]\n";
      return false;
    }
  }
  return true;
}

std::string Marker(int64_t n) { return absl::StrCat("crash-", n); }

// The marker number in a payload ("operator":"crash-<n>"), or -1.
int64_t MarkerOf(const std::string& body) {
  static constexpr absl::string_view kKey = "\"operator\":\"crash-";
  const size_t at = absl::string_view(body).find(kKey);
  if (at == absl::string_view::npos) return -1;
  const size_t start = at + kKey.size();
  const size_t end = body.find('"', start);
  int64_t n;
  if (end == std::string::npos ||
      !absl::SimpleAtoi(absl::string_view(body).substr(start, end - start), &n)) {
    return -1;
  }
  return n;
}

v1::Event MakeEvent(int64_t n) {
  v1::Event e = testing::PushArtifactEvent(1, "library/crash",
                                           absl::StrCat("t", n));
  e.set_operator_(Marker(n));
  e.mutable_repository()->set_repo_type("private");
  return e;
}

// The heraldd of the moment, shared by the killer and the publisher.
struct ServerSlot {
  absl::Mutex mu;
  int generation ABSL_GUARDED_BY(mu) = 0;
  std::string address ABSL_GUARDED_BY(mu);
  bool up ABSL_GUARDED_BY(mu) = false;
};

// Publishes events and keeps track of which ones were acknowledged. Its
// events are numbered first, first + step, ...; it publishes to
// slots[preferred] whenever that server is up, else to another one that
// is (and goes back when its own is up again).
class Publisher {
 public:
  Publisher(std::vector<ServerSlot*> slots, size_t preferred,
            std::string token, int rate, int64_t first, int64_t step)
      : slots_(std::move(slots)),
        preferred_(preferred),
        token_(std::move(token)),
        rate_(rate),
        step_(step),
        first_(first),
        next_(first) {}

  void Start() { thread_ = std::thread([this] { Run(); }); }
  // Stops creating new events; keeps re-sending unacknowledged ones.
  void StopNewEvents() { new_events_ = false; }
  // Waits until every event created was acknowledged (or the deadline).
  bool WaitAllAcked(absl::Duration timeout) {
    absl::MutexLock lock(&mu_);
    auto all = [this]() ABSL_SHARED_LOCKS_REQUIRED(mu_) {
      return unacked_.empty() && !new_events_;
    };
    return mu_.AwaitWithTimeout(absl::Condition(&all), timeout);
  }
  void Stop() {
    stop_ = true;
    {
      absl::MutexLock lock(&mu_);
      if (context_ != nullptr) context_->TryCancel();
    }
    if (thread_.joinable()) thread_.join();
  }

  std::set<int64_t> acked() const {
    absl::MutexLock lock(&mu_);
    return acked_;
  }
  int64_t created() const { return (next_.load() - first_) / step_; }
  // Streams opened on a replica other than the preferred one.
  int64_t failovers() const { return failovers_.load(); }
  int64_t resent() const { return resent_.load(); }
  int64_t duplicate_acks() const { return duplicate_acks_.load(); }
  int64_t error_acks() const { return error_acks_.load(); }
  int64_t streams() const { return streams_.load(); }
  int64_t bad_delivery_counts() const { return bad_delivery_counts_.load(); }

 private:
  // The server to publish to: the preferred one if up, else the first
  // other one up (-1: none). Sets `generation` to its generation.
  int Pick(int* generation) const {
    for (size_t k = 0; k < slots_.size(); ++k) {
      const size_t i = (preferred_ + k) % slots_.size();
      absl::MutexLock lock(&slots_[i]->mu);
      if (slots_[i]->up) {
        *generation = slots_[i]->generation;
        return static_cast<int>(i);
      }
    }
    return -1;
  }

  void Run() {
    int current = -1, generation = -1;
    std::shared_ptr<grpc::Channel> channel;
    std::unique_ptr<v1::EventService::Stub> stub;
    while (!stop_) {
      int g = -1;
      const int pick = Pick(&g);
      if (pick < 0) {
        absl::SleepFor(absl::Milliseconds(5));
        continue;
      }
      if (pick != current || g != generation) {
        current = pick;
        generation = g;
        absl::MutexLock lock(&slots_[pick]->mu);
        channel = grpc::CreateChannel(slots_[pick]->address,
                                      grpc::InsecureChannelCredentials());
        stub = v1::EventService::NewStub(channel);
      }
      bool idle;
      {
        absl::MutexLock lock(&mu_);
        idle = !new_events_ && unacked_.empty();
      }
      if (!idle) {
        if (current != static_cast<int>(preferred_)) ++failovers_;
        RunStream(*stub, current);
      }
      if (!stop_) absl::SleepFor(absl::Milliseconds(10));
    }
  }

  // True while publishing to another server although the preferred one is
  // up again: the stream then ends (what it has not had acknowledged is
  // re-sent on the next one).
  bool ShouldMoveBack(int current) const {
    if (current == static_cast<int>(preferred_)) return false;
    absl::MutexLock lock(&slots_[preferred_]->mu);
    return slots_[preferred_]->up;
  }

  // One stream: re-sends what is unacknowledged, then new events, until the
  // stream breaks.
  void RunStream(v1::EventService::Stub& stub, int current) {
    grpc::ClientContext context;
    context.AddMetadata("authorization", "Bearer " + token_);
    {
      absl::MutexLock lock(&mu_);
      if (stop_) return;
      context_ = &context;
    }
    ++streams_;
    auto stream = stub.PublishEvents(&context);
    std::atomic<bool> broken{false};
    std::thread reader([&] {
      v1::PublishEventsResponse response;
      while (stream->Read(&response)) {
        int64_t n = -1;
        const std::string& id = response.request_id();
        if (id.rfind("crash-", 0) == 0) {
          (void)absl::SimpleAtoi(absl::string_view(id).substr(6), &n);
        }
        absl::MutexLock lock(&mu_);
        in_stream_.erase(n);
        if (response.has_ack()) {
          if (response.ack().duplicate()) ++duplicate_acks_;
          if (response.ack().deliveries_created() != 2) ++bad_delivery_counts_;
          unacked_.erase(n);
          acked_.insert(n);
        } else {
          ++error_acks_;  // stays unacked: re-sent on the next stream
        }
      }
      broken = true;
      context.TryCancel();
    });

    // Everything unacknowledged from earlier streams goes first, in order.
    std::vector<int64_t> backlog;
    {
      absl::MutexLock lock(&mu_);
      in_stream_.clear();
      backlog.assign(unacked_.begin(), unacked_.end());
    }
    auto send = [&](int64_t n) {
      v1::PublishEventsRequest request;
      *request.mutable_event() = MakeEvent(n);
      request.set_request_id(Marker(n));
      {
        absl::MutexLock lock(&mu_);
        in_stream_.insert(n);
        unacked_.insert(n);
      }
      return stream->Write(request);
    };
    bool ok = true;
    for (int64_t n : backlog) {
      if (!(ok = send(n))) break;
      ++resent_;
    }
    const absl::Duration interval = absl::Seconds(1) / rate_;
    absl::Time next_send = absl::Now();
    int64_t sent_here = 0;
    while (ok && !stop_ && !broken) {
      if ((++sent_here & 63) == 0 && ShouldMoveBack(current)) break;
      if (!new_events_) {
        // Nothing new: wait for this stream's acks (or the break), then
        // close it; what was refused is re-sent on the next stream.
        absl::MutexLock lock(&mu_);
        auto drained = [this]() ABSL_SHARED_LOCKS_REQUIRED(mu_) {
          return in_stream_.empty();
        };
        if (mu_.AwaitWithTimeout(absl::Condition(&drained),
                                 absl::Milliseconds(50))) {
          break;
        }
        continue;
      }
      bool full;
      {
        // Keep at most 2,000 events waiting for their acks.
        absl::MutexLock lock(&mu_);
        full = in_stream_.size() >= 2000;
      }
      if (full) {
        absl::SleepFor(absl::Milliseconds(1));
        continue;
      }
      const absl::Time now = absl::Now();
      if (now < next_send) {
        absl::SleepFor(std::min(next_send - now, absl::Milliseconds(2)));
        continue;
      }
      next_send = std::max(next_send + interval, now - absl::Milliseconds(100));
      ok = send(next_.fetch_add(step_));
    }
    stream->WritesDone();
    reader.join();
    (void)stream->Finish();
    absl::MutexLock lock(&mu_);
    context_ = nullptr;
  }

  const std::vector<ServerSlot*> slots_;
  const size_t preferred_;
  const std::string token_;
  const int rate_;
  const int64_t step_;
  const int64_t first_;
  std::thread thread_;
  std::atomic<bool> stop_{false};
  std::atomic<bool> new_events_{true};
  std::atomic<int64_t> next_;
  std::atomic<int64_t> failovers_{0};
  std::atomic<int64_t> resent_{0};
  std::atomic<int64_t> duplicate_acks_{0};
  std::atomic<int64_t> error_acks_{0};
  std::atomic<int64_t> streams_{0};
  std::atomic<int64_t> bad_delivery_counts_{0};
  mutable absl::Mutex mu_;
  grpc::ClientContext* context_ ABSL_GUARDED_BY(mu_) = nullptr;
  std::set<int64_t> unacked_ ABSL_GUARDED_BY(mu_);    // sent, no ack yet
  std::set<int64_t> in_stream_ ABSL_GUARDED_BY(mu_);  // sent on this stream
  std::set<int64_t> acked_ ABSL_GUARDED_BY(mu_);
};

struct Kill {
  int replica;
  absl::Time killed;
  // When the killed heraldd had been reaped and its successor was about to
  // be spawned: a request the receiver parsed before this moment was sent
  // by the killed process (or earlier), even if the receiver only read it
  // from its socket after `killed`.
  absl::Time reaped;
  absl::Time restarted;
};

// One heraldd: how to start it, the process of the moment, and the slot
// the publishers read its address from.
struct Replica {
  HeralddProcess::Options options;
  std::unique_ptr<HeralddProcess> process;
  ServerSlot slot;
  int kills = 0;
};

int Main(int argc, char** argv) {
  Flags flags;
  if (!ParseFlags(argc, argv, &flags)) return 2;
  if (flags.seed == 0) flags.seed = static_cast<uint64_t>(absl::ToUnixNanos(absl::Now()));
  std::mt19937_64 rng(flags.seed);
  std::cout << "crash test: " << flags.kills << " kills over ~" << flags.seconds
            << " s, " << flags.rate << " events/s, seed " << flags.seed
            << std::endl;

  auto receiver_or = TestReceiver::Start();
  if (!receiver_or.ok()) {
    std::cerr << "receiver: " << receiver_or.status() << "\n";
    return 1;
  }
  std::unique_ptr<TestReceiver> receiver = *std::move(receiver_or);
  receiver->SetReply("/slow", Reply::Status(200).After(absl::Milliseconds(30)));

  const bool postgres = !flags.postgres_dsn.empty();
  const int replica_count = postgres ? flags.replicas : 1;
  std::vector<std::unique_ptr<Replica>> replicas;
  std::vector<std::string> data_dirs;
  // On PostgreSQL every replica gets the same admin token and secret key.
  const std::string admin_token = absl::StrCat(
      "crash-test-admin-", std::uniform_int_distribution<uint64_t>()(rng));
  std::string secret_key(32, '\0');
  for (char& c : secret_key) c = static_cast<char>(rng());
  for (int i = 0; i < replica_count; ++i) {
    auto r = std::make_unique<Replica>();
    r->options.data_dir = herald::testing::MakeTempDir("herald-crash");
    data_dirs.push_back(r->options.data_dir);
    r->options.extra_args = {"--delivery_backoff_scale=0.01",
                             "--webhook_job_max_retry=10", "--log_level=warn"};
    if (!flags.delivery_lease.empty()) {
      r->options.extra_args.push_back(
          absl::StrCat("--delivery_lease=", flags.delivery_lease));
    }
    if (postgres) {
      r->options.extra_args.insert(
          r->options.extra_args.end(),
          {"--store=postgres",
           absl::StrCat("--postgres_dsn=", flags.postgres_dsn),
           "--postgres_pool_size=4"});
      r->options.env["HERALD_ADMIN_TOKEN"] = admin_token;
      r->options.env["HERALD_SECRET_KEY"] = absl::Base64Escape(secret_key);
    }
    // One after the other: the first creates the schema.
    auto started = HeralddProcess::Start(r->options);
    if (!started.ok()) {
      std::cerr << "heraldd " << i << ": " << started.status() << "\n";
      return 1;
    }
    r->process = *std::move(started);
    replicas.push_back(std::move(r));
  }
  const std::string token =
      postgres ? admin_token : replicas[0]->process->AdminToken();

  {
    auto policies = v1::PolicyService::NewStub(replicas[0]->process->Channel());
    v1::CreatePolicyRequest request;
    v1::Policy* p = request.mutable_policy();
    p->set_project_id(1);
    p->set_name("crash");
    p->add_event_types("PUSH_ARTIFACT");
    v1::Target* fast = p->add_targets();
    fast->set_type(v1::TARGET_TYPE_HTTP);
    fast->set_address(receiver->url("/fast"));
    fast->set_payload_format(v1::PAYLOAD_FORMAT_DEFAULT);
    fast->set_auth_header("Bearer crash-test-auth-header-secret");
    v1::Target* slow = p->add_targets();
    slow->set_type(v1::TARGET_TYPE_HTTP);
    slow->set_address(receiver->url("/slow"));
    slow->set_payload_format(v1::PAYLOAD_FORMAT_CLOUDEVENTS);
    slow->set_signing_secret("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw");
    v1::CreatePolicyResponse response;
    grpc::Status s = policies->CreatePolicy(
        herald::testing::AuthContext(token).get(), request, &response);
    if (!s.ok()) {
      std::cerr << "CreatePolicy: " << s.error_message() << "\n";
      return 1;
    }
  }
  // The other replicas' match caches pick the policy up within 1 s.
  if (replica_count > 1) absl::SleepFor(absl::Milliseconds(1500));

  std::vector<ServerSlot*> slots;
  for (auto& r : replicas) {
    absl::MutexLock lock(&r->slot.mu);
    r->slot.address = r->process->address();
    r->slot.up = true;
    slots.push_back(&r->slot);
  }
  std::vector<std::unique_ptr<Publisher>> publishers;
  for (int i = 0; i < replica_count; ++i) {
    // The rate is shared out; publisher i numbers its events i+1, i+1+N, ...
    publishers.push_back(std::make_unique<Publisher>(
        slots, i, token, std::max(1, flags.rate / replica_count), i + 1,
        replica_count));
  }
  const absl::Time begin = absl::Now();
  for (auto& p : publishers) p->Start();

  // Kill at random moments: intervals uniform in [50 ms, 2 x mean - 50 ms],
  // so some kills land while the restarted heraldd is still recovering; on
  // PostgreSQL each kill picks one replica at random.
  std::vector<Kill> kills;
  const double mean = flags.seconds / std::max(flags.kills + 1, 1);
  std::uniform_real_distribution<double> interval(0.05, std::max(0.1, 2 * mean - 0.05));
  std::uniform_int_distribution<int> victim(0, replica_count - 1);
  int failed_restarts = 0;
  for (int k = 0; k < flags.kills; ++k) {
    absl::SleepFor(absl::Seconds(interval(rng)));
    Kill kill;
    kill.replica = victim(rng);
    Replica& r = *replicas[kill.replica];
    ::kill(r.process->pid(), SIGKILL);
    kill.killed = absl::Now();
    {
      absl::MutexLock lock(&r.slot.mu);
      r.slot.up = false;
    }
    r.process->Kill();  // reaps
    r.process.reset();
    kill.reaped = absl::Now();
    absl::StatusOr<std::unique_ptr<HeralddProcess>> again;
    for (int attempt = 0; attempt < 3; ++attempt) {
      again = HeralddProcess::Start(r.options);
      if (again.ok()) break;
      ++failed_restarts;
      std::cerr << "restart failed: " << again.status() << "\n";
    }
    if (!again.ok()) return 1;
    r.process = *std::move(again);
    ++r.kills;
    kill.restarted = absl::Now();
    {
      absl::MutexLock lock(&r.slot.mu);
      r.slot.address = r.process->address();
      ++r.slot.generation;
      r.slot.up = true;
    }
    kills.push_back(kill);
    std::cout << "kill " << (k + 1);
    if (replica_count > 1) std::cout << " (replica " << kill.replica << ")";
    std::cout << " at " << absl::ToDoubleSeconds(kill.killed - begin)
              << " s; restarted in "
              << absl::ToInt64Milliseconds(kill.restarted - kill.killed) << " ms"
              << std::endl;
  }
  absl::SleepFor(absl::Seconds(std::min(mean, 2.0)));
  for (auto& p : publishers) p->StopNewEvents();
  bool all_acked = true;
  for (auto& p : publishers) {
    all_acked = p->WaitAllAcked(absl::Seconds(60)) && all_acked;
  }
  std::set<int64_t> acked;
  int64_t created = 0, resent = 0, duplicate_acks = 0, error_acks = 0,
          streams = 0, bad_delivery_counts = 0, failovers = 0;
  for (auto& p : publishers) {
    p->Stop();
    const std::set<int64_t> a = p->acked();
    acked.insert(a.begin(), a.end());
    created += p->created();
    resent += p->resent();
    duplicate_acks += p->duplicate_acks();
    error_acks += p->error_acks();
    streams += p->streams();
    bad_delivery_counts += p->bad_delivery_counts();
    failovers += p->failovers();
  }

  // Wait for every acknowledged (event, target) to arrive.
  const int64_t expected = static_cast<int64_t>(acked.size()) * 2;
  std::map<std::pair<std::string, int64_t>, std::vector<absl::Time>> arrivals;
  std::set<int64_t> unknown_markers;
  int64_t unmarked = 0;
  const absl::Time drain_start = absl::Now();
  const absl::Time drain_deadline = drain_start + absl::Seconds(120);
  int64_t missing = expected;
  while (true) {
    arrivals.clear();
    unmarked = 0;
    for (const auto& r : receiver->requests()) {
      const int64_t n = MarkerOf(r.body);
      if (n < 0) {
        ++unmarked;
        continue;
      }
      arrivals[{r.path, n}].push_back(r.arrival);
    }
    missing = 0;
    for (int64_t n : acked) {
      for (const char* path : {"/fast", "/slow"}) {
        if (!arrivals.count({path, n})) ++missing;
      }
    }
    if (missing == 0 || absl::Now() > drain_deadline) break;
    absl::SleepFor(absl::Milliseconds(200));
  }
  const absl::Duration drain_time = absl::Now() - drain_start;
  int exit_code = 0;
  std::vector<int64_t> kills_per_replica;
  for (auto& r : replicas) {
    const int code = r->process->Terminate(absl::Seconds(30));
    if (code != 0) exit_code = code;
    kills_per_replica.push_back(r->kills);
  }
  receiver->Stop();

  // Duplicates: each must straddle a kill (the earlier copy arrived at most
  // a lease before the kill and before the killed heraldd's successor was
  // spawned: an attempt in flight at the kill, whose request the receiver
  // may read from its socket a few milliseconds after the SIGKILL; the
  // later copy after the kill).
  absl::Duration lease = absl::Seconds(60);  // heraldd's default
  if (!flags.delivery_lease.empty()) {
    (void)absl::ParseDuration(flags.delivery_lease, &lease);
  }
  int64_t duplicates = 0, unexplained = 0, deliveries = 0;
  int64_t read_after_kill = 0;  // first copies parsed after the SIGKILL
  absl::Duration worst_gap = absl::ZeroDuration();
  for (auto& [key, times] : arrivals) {
    if (!acked.count(key.second)) unknown_markers.insert(key.second);
    deliveries += static_cast<int64_t>(times.size());
    std::sort(times.begin(), times.end());
    for (size_t i = 1; i < times.size(); ++i) {
      ++duplicates;
      bool explained = false;
      for (const Kill& k : kills) {
        if (times[i - 1] <= k.reaped && times[i] >= k.killed &&
            k.killed - times[i - 1] <= lease) {
          explained = true;
          worst_gap = std::max(worst_gap, k.killed - times[i - 1]);
          if (times[i - 1] > k.killed) ++read_after_kill;
          break;
        }
      }
      if (!explained) {
        ++unexplained;
        std::cerr << "unexplained duplicate: " << key.first << " "
                  << Marker(key.second) << "\n";
      }
    }
  }
  // Events published but never acknowledged may or may not be delivered;
  // every event is acknowledged in the end, so there should be none.
  const int64_t never_acked = created - static_cast<int64_t>(acked.size());

  const bool pass = missing == 0 && unexplained == 0 && all_acked &&
                    never_acked == 0 && exit_code == 0 && unmarked == 0 &&
                    bad_delivery_counts == 0;
  std::ostringstream figures;
  figures << "{\"store\":\"" << (postgres ? "postgres" : "sqlite")
          << "\",\"replicas\":" << replica_count
          << ",\"kills\":" << kills.size();
  if (replica_count > 1) {
    figures << ",\"kills_per_replica\":[";
    for (size_t i = 0; i < kills_per_replica.size(); ++i) {
      figures << (i ? "," : "") << kills_per_replica[i];
    }
    figures << "],\"publisher_failovers\":" << failovers;
  }
  figures
          << ",\"seconds\":" << absl::ToDoubleSeconds(absl::Now() - begin)
          << ",\"events_acknowledged\":" << acked.size()
          << ",\"events_resent_after_kill\":" << resent
          << ",\"duplicate_acks\":" << duplicate_acks
          << ",\"error_acks\":" << error_acks
          << ",\"streams\":" << streams
          << ",\"deliveries_expected\":" << expected
          << ",\"deliveries_received\":" << deliveries
          << ",\"acknowledged_lost\":" << missing
          << ",\"duplicates\":" << duplicates
          << ",\"duplicates_unexplained\":" << unexplained
          << ",\"duplicates_first_read_after_kill\":" << read_after_kill
          << ",\"worst_duplicate_gap_ms\":" << absl::ToInt64Milliseconds(worst_gap)
          << ",\"delivery_lease_ms\":" << absl::ToInt64Milliseconds(lease)
          << ",\"drain_ms\":" << absl::ToInt64Milliseconds(drain_time)
          << ",\"failed_restarts\":" << failed_restarts
          << ",\"final_sigterm_exit\":" << exit_code
          << ",\"seed\":" << flags.seed
          << ",\"pass\":" << (pass ? "true" : "false") << "}";
  std::cout << "crash test figures: " << figures.str() << std::endl;
  if (!flags.report.empty()) {
    std::ofstream(flags.report) << figures.str() << "\n";
  }
  if (!pass) {
    std::cerr << "CRASH TEST FAILED (data dirs kept:";
    for (const std::string& d : data_dirs) std::cerr << " " << d;
    std::cerr << ")\n";
    if (missing > 0) std::cerr << missing << " acknowledged deliveries missing\n";
    if (!all_acked || never_acked != 0) std::cerr << "events never acknowledged: " << never_acked << "\n";
    if (exit_code != 0) std::cerr << "final SIGTERM exit status " << exit_code << "\n";
    if (unmarked != 0) std::cerr << unmarked << " requests without a marker\n";
    if (bad_delivery_counts != 0) {
      std::cerr << bad_delivery_counts
                << " acks with deliveries_created != 2\n";
    }
    return 1;
  }
  std::cout << "CRASH TEST PASSED" << std::endl;
  return 0;
}

}  // namespace
}  // namespace herald::crash

int main(int argc, char** argv) { return herald::crash::Main(argc, argv); }
