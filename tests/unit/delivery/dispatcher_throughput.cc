// Throughput probe for the delivery engine (not a timed assertion): N
// Pending tasks are committed to a fresh SQLite store, then a Dispatcher
// with the real CurlSender delivers them to a fast local receiver; prints
// deliveries/s from start to the last result written, and, when wrk is
// installed, what wrk reaches against the same receiver in the same run.
//
//   dispatcher_throughput [--tasks=20000] [--per_endpoint=16]
//       [--in_flight=256] [--batch=256] [--no_nginx] [--no_wrk] [--fake]
//
// --fake answers every request at once from a FakeHttpSender: the
// store-and-dispatcher pipeline alone, without HTTP.
//
// Receiver: nginx ("return 204") when /usr/sbin/nginx exists, else the
// in-process TestReceiver (which then competes for the probe's CPU).
#include <stdio.h>
#include <sys/resource.h>

#include <cstdlib>
#include <memory>
#include <string>
#include <vector>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/string_view.h"
#include "absl/strings/strip.h"
#include "absl/time/clock.h"
#include "server/core/clock.h"
#include "server/delivery/curl_sender.h"
#include "server/delivery/dispatcher.h"
#include "server/delivery/fake_http_sender.h"
#include "server/store/sqlite/sqlite_store.h"
#include "tests/receivers/nginx_receiver.h"
#include "tests/receivers/test_receiver.h"
#include "tests/unit/common/temp_dir.h"

namespace herald::delivery {
namespace {

struct Config {
  int tasks = 20000;
  int per_endpoint = 16;
  int in_flight = 256;
  int batch = 256;
  bool nginx = true;
  bool wrk = true;
  bool fake = false;
};

// CPU seconds (user + system) this process used so far, over all threads.
double ProcessCpuSeconds() {
  rusage u{};
  getrusage(RUSAGE_SELF, &u);
  return u.ru_utime.tv_sec + u.ru_stime.tv_sec +
         (u.ru_utime.tv_usec + u.ru_stime.tv_usec) / 1e6;
}

bool Flag(absl::string_view arg, absl::string_view name, int* out) {
  absl::string_view rest = arg;
  if (!absl::ConsumePrefix(&rest, absl::StrCat("--", name, "="))) return false;
  return absl::SimpleAtoi(rest, out);
}

std::string Wrk(const std::string& url, int connections) {
  if (std::system("command -v wrk > /dev/null 2>&1") != 0) return "";
  std::string cmd = absl::StrCat("wrk -t1 -c", connections, " -d3s ", url,
                                 " 2>&1 | grep Requests/sec");
  FILE* p = popen(cmd.c_str(), "r");
  if (p == nullptr) return "";
  char buf[256] = {0};
  std::string out;
  while (fgets(buf, sizeof(buf), p) != nullptr) out += buf;
  pclose(p);
  absl::string_view v = absl::StripAsciiWhitespace(out);
  absl::ConsumePrefix(&v, "Requests/sec:");
  return std::string(absl::StripAsciiWhitespace(v));
}

int Run(const Config& config) {
  std::unique_ptr<receivers::NginxReceiver> nginx;
  std::unique_ptr<receivers::TestReceiver> own;
  std::string base;
  if (config.nginx && receivers::NginxReceiver::Available()) {
    auto started = receivers::NginxReceiver::Start({.location = "return 204;"});
    if (!started.ok()) {
      fprintf(stderr, "nginx: %s\n", started.status().ToString().c_str());
      return 1;
    }
    nginx = *std::move(started);
    base = nginx->base_url();
  } else {
    auto started = receivers::TestReceiver::Start({.record = false});
    if (!started.ok()) return 1;
    own = *std::move(started);
    base = own->base_url();
  }

  herald::testing::TempDir dir;
  store::SqliteOptions options;
  options.path = dir.Join("herald.db");
  auto store = *store::SqliteStore::Open(options);
  core::Policy policy;
  policy.project_id = 1;
  policy.name = "probe";
  policy.targets.resize(1);
  policy.targets[0].address = base + "/hook";
  policy.event_types = {"PUSH_ARTIFACT"};
  const int64_t policy_id = store->CreatePolicy(policy, "", "")->id;

  const absl::Time setup = absl::Now();
  const std::string payload(400, 'x');
  for (int done = 0; done < config.tasks;) {
    std::vector<store::NewEvent> events;
    for (int i = 0; i < 1000 && done < config.tasks; ++i, ++done) {
      store::NewEvent e;
      e.event.event_type = "PUSH_ARTIFACT";
      store::NewDelivery d;
      d.policy_id = policy_id;
      d.target.address = base + "/hook";
      d.payload = payload;
      d.content_type = "application/json";
      d.webhook_id = absl::StrCat("msg_", done);
      d.due_time = absl::Now();
      e.deliveries.push_back(std::move(d));
      events.push_back(std::move(e));
    }
    if (!store->CommitEvents(std::move(events)).ok()) return 1;
  }

  fprintf(stderr, "setup: %d tasks committed in %s\n", config.tasks,
          absl::FormatDuration(absl::Now() - setup).c_str());
  CurlSender::Options sender_options;
  sender_options.max_connections = 2 * config.in_flight;
  std::unique_ptr<HttpSender> sender;
  if (config.fake) {
    sender = std::make_unique<FakeHttpSender>();
  } else {
    sender = *CurlSender::Create(sender_options);
  }
  DispatcherOptions d;
  d.batch_size = config.batch;
  d.max_in_flight = config.in_flight;
  d.per_endpoint_concurrency = config.per_endpoint;
  d.poll_interval = absl::Milliseconds(100);
  Dispatcher dispatcher(store.get(), sender.get(), core::RealClock::Default(),
                        d);
  const absl::Time start = absl::Now();
  const double cpu_start = ProcessCpuSeconds();
  if (!dispatcher.Start().ok()) return 1;
  while (true) {
    absl::SleepFor(absl::Milliseconds(5));
    // Results are written asynchronously; count them from the stats, and
    // let Shutdown below write the last batch.
    const DispatcherStats now = dispatcher.stats();
    if (now.succeeded + now.failed >= config.tasks) break;
    if (absl::Now() - start > absl::Minutes(5)) {
      fprintf(stderr, "timed out\n");
      return 1;
    }
  }
  dispatcher.Shutdown(absl::Seconds(5));  // writes the last results
  const absl::Duration took = absl::Now() - start;
  // The probe's own process: store, dispatcher and sender (and, without
  // nginx, the in-process receiver); the waiting main thread adds ~nothing.
  const double cpu = ProcessCpuSeconds() - cpu_start;
  DispatcherStats stats = dispatcher.stats();
  absl::StatusOr<store::QueueDepth> left = store->CountQueue();
  if (!left.ok() || left->pending + left->retrying + left->running != 0) {
    fprintf(stderr, "tasks left unfinished\n");
    return 1;
  }
  printf("dispatcher: %d tasks to %s (%s) in %s: %.0f deliveries/s; "
         "%lld succeeded, %lld failed, %lld claims, %lld connections\n",
         config.tasks, base.c_str(), nginx ? "nginx" : "TestReceiver",
         absl::FormatDuration(took).c_str(),
         config.tasks / absl::ToDoubleSeconds(took),
         static_cast<long long>(stats.succeeded),
         static_cast<long long>(stats.failed + stats.retries),
         static_cast<long long>(stats.claims),
         config.fake ? 0LL
                     : static_cast<long long>(
                           static_cast<CurlSender*>(sender.get())
                               ->connections_opened()));
  printf("cpu: %.3f s for %d deliveries: %.1f us per delivery (%.2f cores)\n",
         cpu, config.tasks, 1e6 * cpu / config.tasks,
         cpu / absl::ToDoubleSeconds(took));
  std::string wrk = config.wrk ? Wrk(base + "/hook", config.per_endpoint) : "";
  if (!wrk.empty()) {
    printf("wrk -c%d against the same receiver: %s requests/s\n",
           config.per_endpoint, wrk.c_str());
  }
  return stats.succeeded == config.tasks ? 0 : 1;
}

}  // namespace
}  // namespace herald::delivery

int main(int argc, char** argv) {
  herald::delivery::Config config;
  for (int i = 1; i < argc; ++i) {
    absl::string_view arg = argv[i];
    if (arg == "--no_nginx") {
      config.nginx = false;
    } else if (arg == "--fake") {
      config.fake = true;
      config.wrk = false;
    } else if (arg == "--no_wrk") {
      config.wrk = false;
    } else if (!herald::delivery::Flag(arg, "tasks", &config.tasks) &&
               !herald::delivery::Flag(arg, "per_endpoint",
                                       &config.per_endpoint) &&
               !herald::delivery::Flag(arg, "in_flight", &config.in_flight) &&
               !herald::delivery::Flag(arg, "batch", &config.batch)) {
      fprintf(stderr, "unknown flag %s\n", argv[i]);
      return 2;
    }
  }
  return herald::delivery::Run(config);
}
