// Soak: heraldd under a steady publish load with many WatchTasks streams
// and a flapping receiver, its resource use sampled at a fixed interval.
//
//   soak [--minutes=30] [--rate=5000] [--watchers=100] [--flap_seconds=5]
//        [--sample_seconds=10] [--csv=FILE]
//
// Run it through scripts/soak.sh. The receiver alternates between 200 and
// 503 every --flap_seconds, so deliveries keep failing and being retried.
// Every sample prints (and appends to --csv) heraldd's RSS, open file
// descriptors and threads, the size of its SQLite files (database + WAL),
// plus the events published, deliveries received and updates the watchers
// saw. At the end the second half of the run is
// compared with the first: RSS may not grow by more than 20 % (plus 8 MiB
// of slack), open fds and threads by more than 16. Exit status 0 when flat.
#include <dirent.h>
#include <signal.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <fstream>
#include <iostream>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/string_view.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "herald/v1/delivery_service.grpc.pb.h"
#include "herald/v1/event_service.grpc.pb.h"
#include "herald/v1/policy_service.grpc.pb.h"
#include "tests/integration/grpc_test_util.h"
#include "tests/integration/heraldd_process.h"
#include "tests/receivers/test_receiver.h"

namespace herald::soak {
namespace {

using herald::receivers::Reply;
using herald::receivers::TestReceiver;
using herald::testing::HeralddProcess;

struct Flags {
  double minutes = 30;
  int rate = 5000;
  int watchers = 100;
  double flap_seconds = 5;
  double sample_seconds = 10;
  std::string csv;
};

bool ParseFlags(int argc, char** argv, Flags* f) {
  for (int i = 1; i < argc; ++i) {
    absl::string_view a(argv[i]);
    const size_t eq = a.find('=');
    if (a.substr(0, 2) != "--" || eq == absl::string_view::npos) return false;
    const absl::string_view name = a.substr(2, eq - 2);
    const absl::string_view v = a.substr(eq + 1);
    bool ok = true;
    if (name == "minutes") ok = absl::SimpleAtod(v, &f->minutes);
    else if (name == "rate") ok = absl::SimpleAtoi(v, &f->rate);
    else if (name == "watchers") ok = absl::SimpleAtoi(v, &f->watchers);
    else if (name == "flap_seconds") ok = absl::SimpleAtod(v, &f->flap_seconds);
    else if (name == "sample_seconds") ok = absl::SimpleAtod(v, &f->sample_seconds);
    else if (name == "csv") f->csv = std::string(v);
    else ok = false;
    if (!ok) return false;
  }
  return f->minutes > 0 && f->rate > 0 && f->watchers >= 0;
}

struct Sample {
  double t = 0;
  int64_t rss_kib = 0;
  int64_t fds = 0;
  int64_t threads = 0;
  int64_t store_kib = 0;  // herald.db + herald.db-wal
  int64_t published = 0;
  int64_t received = 0;
  int64_t updates = 0;
};

Sample Measure(pid_t pid, const std::string& data_dir) {
  Sample s;
  for (const char* file : {"/herald.db", "/herald.db-wal"}) {
    struct stat st;
    if (stat((data_dir + file).c_str(), &st) == 0) s.store_kib += st.st_size / 1024;
  }
  std::ifstream status(absl::StrCat("/proc/", pid, "/status"));
  std::string line;
  while (std::getline(status, line)) {
    if (line.rfind("VmRSS:", 0) == 0) {
      s.rss_kib = std::stoll(line.substr(6));
    } else if (line.rfind("Threads:", 0) == 0) {
      s.threads = std::stoll(line.substr(8));
    }
  }
  if (DIR* d = opendir(absl::StrCat("/proc/", pid, "/fd").c_str())) {
    while (dirent* e = readdir(d)) {
      if (e->d_name[0] != '.') ++s.fds;
    }
    closedir(d);
  }
  return s;
}

int Main(int argc, char** argv) {
  Flags flags;
  if (!ParseFlags(argc, argv, &flags)) {
    std::cerr << "usage: soak [--minutes=M] [--rate=R] [--watchers=W] "
                 "[--flap_seconds=S] [--sample_seconds=S] [--csv=FILE]\n";
    return 2;
  }
  TestReceiver::Options receiver_options;
  receiver_options.record = false;  // counters only: the run is long
  auto receiver_or = TestReceiver::Start(receiver_options);
  if (!receiver_or.ok()) return 1;
  std::unique_ptr<TestReceiver> receiver = *std::move(receiver_or);

  HeralddProcess::Options options;
  options.extra_args = {"--delivery_backoff_scale=0.01",
                        "--webhook_job_max_retry=20", "--log_level=info",
                        "--delivery_max_in_flight=512"};
  auto started = HeralddProcess::Start(options);
  if (!started.ok()) {
    std::cerr << started.status() << "\n";
    return 1;
  }
  std::unique_ptr<HeralddProcess> server = *std::move(started);
  const std::string token = server->AdminToken();
  {
    auto policies = v1::PolicyService::NewStub(server->Channel());
    v1::CreatePolicyRequest request;
    v1::Policy* p = request.mutable_policy();
    p->set_project_id(1);
    p->set_name("soak");
    p->add_event_types("PUSH_ARTIFACT");
    v1::Target* t = p->add_targets();
    t->set_type(v1::TARGET_TYPE_HTTP);
    t->set_address(receiver->url("/flap"));
    t->set_auth_header("Bearer soak");
    v1::CreatePolicyResponse response;
    grpc::Status s = policies->CreatePolicy(
        herald::testing::AuthContext(token).get(), request, &response);
    if (!s.ok()) {
      std::cerr << s.error_message() << "\n";
      return 1;
    }
  }

  std::atomic<bool> stop{false};
  std::atomic<int64_t> published{0}, updates{0}, watch_restarts{0};
  std::vector<std::thread> threads;
  std::vector<std::unique_ptr<grpc::ClientContext>> watch_contexts(flags.watchers);
  absl::Mutex contexts_mu;

  // The flapping receiver.
  threads.emplace_back([&] {
    bool up = true;
    while (!stop) {
      receiver->SetReply("/flap", up ? Reply::Status(200) : Reply::Status(503));
      up = !up;
      for (int i = 0; i < flags.flap_seconds * 10 && !stop; ++i) {
        absl::SleepFor(absl::Milliseconds(100));
      }
    }
  });

  // Watchers: each one stream, resumed from its cursor when it ends.
  auto channel = server->Channel();
  for (int w = 0; w < flags.watchers; ++w) {
    threads.emplace_back([&, w] {
      auto stub = v1::DeliveryService::NewStub(channel);
      std::string cursor;
      while (!stop) {
        auto context = std::make_unique<grpc::ClientContext>();
        context->AddMetadata("authorization", "Bearer " + token);
        grpc::ClientContext* raw = context.get();
        {
          absl::MutexLock lock(&contexts_mu);
          watch_contexts[w] = std::move(context);
        }
        if (stop) break;
        v1::WatchTasksRequest request;
        request.set_project_id(1);
        request.set_cursor(cursor);
        auto stream = stub->WatchTasks(raw, request);
        v1::WatchTasksResponse response;
        while (stream->Read(&response)) {
          updates += response.updates_size();
          if (response.updates_size() > 0) {
            cursor = response.updates(response.updates_size() - 1).cursor();
          }
        }
        (void)stream->Finish();
        if (!stop) {
          ++watch_restarts;
          absl::SleepFor(absl::Milliseconds(100));
        }
      }
    });
  }

  // The publisher: one stream, paced at --rate.
  threads.emplace_back([&] {
    auto stub = v1::EventService::NewStub(channel);
    while (!stop) {
      grpc::ClientContext context;
      context.AddMetadata("authorization", "Bearer " + token);
      auto stream = stub->PublishEvents(&context);
      std::thread reader([&] {
        v1::PublishEventsResponse r;
        while (stream->Read(&r)) {
          if (r.has_ack()) ++published;
        }
      });
      const absl::Duration interval = absl::Seconds(1) / flags.rate;
      absl::Time next = absl::Now();
      int64_t n = 0;
      while (!stop) {
        const absl::Time now = absl::Now();
        if (now < next) {
          absl::SleepFor(std::min(next - now, absl::Milliseconds(1)));
          continue;
        }
        next = std::max(next + interval, now - absl::Milliseconds(100));
        v1::PublishEventsRequest request;
        *request.mutable_event() = testing::PushArtifactEvent(
            1, "library/soak", absl::StrCat("t", ++n));
        if (!stream->Write(request)) break;
      }
      stream->WritesDone();
      reader.join();
      (void)stream->Finish();
    }
  });

  std::ofstream csv;
  if (!flags.csv.empty()) {
    csv.open(flags.csv);
    csv << "seconds,rss_kib,fds,threads,store_kib,events_published,"
           "requests_received,watch_updates\n";
  }
  std::vector<Sample> samples;
  const absl::Time begin = absl::Now();
  const absl::Time end = begin + absl::Seconds(flags.minutes * 60);
  while (absl::Now() < end) {
    absl::SleepFor(std::min(absl::Seconds(flags.sample_seconds), end - absl::Now()));
    Sample s = Measure(server->pid(), server->data_dir());
    s.t = absl::ToDoubleSeconds(absl::Now() - begin);
    s.published = published;
    s.received = receiver->request_count();
    s.updates = updates;
    samples.push_back(s);
    std::cout << "t=" << static_cast<int>(s.t) << "s rss=" << s.rss_kib
              << "KiB fds=" << s.fds << " threads=" << s.threads
              << " store=" << s.store_kib << "KiB published=" << s.published << " received=" << s.received
              << " watch_updates=" << s.updates << std::endl;
    if (csv.is_open()) {
      csv << s.t << "," << s.rss_kib << "," << s.fds << "," << s.threads << ","
          << s.store_kib << "," << s.published << "," << s.received << "," << s.updates << "\n";
      csv.flush();
    }
  }
  stop = true;
  {
    absl::MutexLock lock(&contexts_mu);
    for (auto& c : watch_contexts) {
      if (c) c->TryCancel();
    }
  }
  const absl::Time terminating = absl::Now();
  const int exit_code = server->Terminate(absl::Seconds(30));
  const absl::Duration shutdown = absl::Now() - terminating;
  for (auto& t : threads) t.join();
  if (exit_code != 0) {
    // What heraldd said while shutting down (its log is info level: quiet
    // while it runs, one line per shutdown step).
    const std::string log = server->Log();
    std::cerr << "soak: heraldd exit status " << exit_code << " after SIGTERM ("
              << absl::FormatDuration(shutdown) << "); its log ends with:\n"
              << log.substr(log.size() > 4000 ? log.size() - 4000 : 0) << "\n";
  }
  receiver->Stop();

  if (samples.size() < 4) {
    std::cerr << "soak: too short to judge (" << samples.size() << " samples)\n";
    return exit_code == 0 ? 0 : 1;
  }
  // First half (after warm-up: skip the first sample) versus second half.
  auto max_of = [&](size_t from, size_t to, int64_t Sample::*m) {
    int64_t v = 0;
    for (size_t i = from; i < to; ++i) v = std::max(v, samples[i].*m);
    return v;
  };
  const size_t mid = samples.size() / 2;
  const int64_t rss1 = max_of(1, mid, &Sample::rss_kib);
  const int64_t rss2 = max_of(mid, samples.size(), &Sample::rss_kib);
  const int64_t fd1 = max_of(1, mid, &Sample::fds);
  const int64_t fd2 = max_of(mid, samples.size(), &Sample::fds);
  const int64_t th1 = max_of(1, mid, &Sample::threads);
  const int64_t th2 = max_of(mid, samples.size(), &Sample::threads);
  const double seconds = samples.back().t;
  const bool flat = rss2 <= rss1 * 1.2 + 8192 && fd2 <= fd1 + 16 && th2 <= th1 + 16;
  std::cout << "soak figures: {\"seconds\":" << seconds
            << ",\"events_per_second\":" << samples.back().published / seconds
            << ",\"deliveries_received\":" << samples.back().received
            << ",\"watch_updates\":" << samples.back().updates
            << ",\"watch_restarts\":" << watch_restarts
            << ",\"rss_kib_first_half_max\":" << rss1
            << ",\"rss_kib_second_half_max\":" << rss2
            << ",\"fds_first_half_max\":" << fd1 << ",\"fds_second_half_max\":" << fd2
            << ",\"threads_first_half_max\":" << th1
            << ",\"threads_second_half_max\":" << th2
            << ",\"store_kib_end\":" << samples.back().store_kib
            << ",\"final_sigterm_exit\":" << exit_code
            << ",\"shutdown_seconds\":" << absl::ToDoubleSeconds(shutdown)
            << ",\"flat\":" << (flat ? "true" : "false") << "}" << std::endl;
  return flat && exit_code == 0 ? 0 : 1;
}

}  // namespace
}  // namespace herald::soak

int main(int argc, char** argv) { return herald::soak::Main(argc, argv); }
