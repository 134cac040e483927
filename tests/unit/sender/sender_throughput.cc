// Throughput probe for CurlSender (not a timed assertion): sends N requests
// with a fixed number in flight to a fast local receiver and prints
// requests/s. The next request is sent from the completion callback, the
// way the dispatcher refills its window.
//
//   sender_throughput [--requests=20000] [--in_flight=64] [--body_bytes=400]
//                     [--no_nginx] [--url=http://host:port/path]
//
// Receivers: the in-process TestReceiver (one thread per connection) and,
// when /usr/sbin/nginx exists (Debian's nginx-light), an nginx worker
// answering "return 204" - closer to a real receiver and not competing
// for the probe's own locks. Exits non-zero if any request failed.

#include <atomic>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <string>

#include "absl/strings/numbers.h"
#include "absl/strings/strip.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/string_view.h"
#include "absl/synchronization/notification.h"
#include "absl/time/clock.h"
#include "server/delivery/curl_sender.h"
#include "tests/receivers/nginx_receiver.h"
#include "tests/receivers/test_receiver.h"

namespace herald::delivery {
namespace {

struct Config {
  int requests = 20000;
  int in_flight = 64;
  int body_bytes = 400;
  bool nginx = true;
  std::string url;  // probe only this receiver
};

struct Outcome {
  int ok = 0;
  int failed = 0;
  absl::Duration took;
  int64_t connections = 0;
  int64_t sender_cpu_ns = 0;  // CPU time of the sender thread, -1 unknown
  std::string first_error;
};

// CPU time (ns) the live "herald-sender" thread has used, from
// /proc/self/task/*/schedstat; -1 if not found. Load-independent, unlike
// requests/s on a shared machine. Kernel time spent delivering loopback
// packets to the receiver is charged to the sending thread, so this is an
// upper bound of the sender's own cost.
int64_t SenderThreadCpuNanos() {
  for (const auto& task : std::filesystem::directory_iterator("/proc/self/task")) {
    std::ifstream comm(task.path() / "comm");
    std::string name;
    std::getline(comm, name);
    if (name != "herald-sender") continue;
    std::ifstream stat(task.path() / "schedstat");
    int64_t ns = -1;
    if (stat >> ns) return ns;
  }
  return -1;
}

class Driver {
 public:
  Driver(HttpSender& sender, std::string url, const Config& config)
      : sender_(sender), url_(std::move(url)), config_(config),
        body_(static_cast<size_t>(config.body_bytes), 'x') {}

  Outcome Run() {
    const int64_t cpu_before = SenderThreadCpuNanos();
    const absl::Time start = absl::Now();
    const int window = std::min(config_.in_flight, config_.requests);
    sent_ = window;
    for (int i = 0; i < window; ++i) SendOne();
    all_done_.WaitForNotification();
    Outcome out;
    out.took = absl::Now() - start;
    const int64_t cpu_after = SenderThreadCpuNanos();
    out.sender_cpu_ns =
        cpu_before >= 0 && cpu_after >= 0 ? cpu_after - cpu_before : -1;
    out.ok = ok_.load();
    out.failed = failed_.load();
    out.first_error = first_error_;
    return out;
  }

 private:
  void SendOne() {
    HttpRequest r;
    r.url = url_;
    r.body = body_;
    r.headers = {{"Content-Type", "application/json"},
                 {"User-Agent", "herald/probe"},
                 {"webhook-id", "probe"}};
    r.timeout = absl::Seconds(10);
    sender_.Send(std::move(r), [this](HttpResult result) {
      if (result.error_kind == HttpErrorKind::kNone &&
          result.status_code >= 200 && result.status_code < 300) {
        ++ok_;
      } else if (failed_++ == 0) {
        first_error_ = absl::StrCat(result.status_code, " ", result.error);
      }
      // Runs on the sender thread only: no lock needed for sent_.
      if (sent_ < config_.requests) {
        ++sent_;
        SendOne();
      }
      if (ok_ + failed_ == config_.requests) all_done_.Notify();
    });
  }

  HttpSender& sender_;
  const std::string url_;
  const Config& config_;
  const std::string body_;
  int sent_ = 0;
  std::atomic<int> ok_{0};
  std::atomic<int> failed_{0};
  std::string first_error_;
  absl::Notification all_done_;
};

void Report(const char* receiver, const Config& c, const Outcome& o,
            int64_t connections) {
  std::printf(
      "%-14s %6d requests, %3d in flight, %4d-byte body: %8.0f requests/s "
      "(%.2f s), %d failed, %lld connections, sender thread %.1f us CPU "
      "per request\n",
      receiver, c.requests, c.in_flight, c.body_bytes,
      o.ok / absl::ToDoubleSeconds(o.took), absl::ToDoubleSeconds(o.took),
      o.failed, static_cast<long long>(connections),
      o.sender_cpu_ns < 0 ? -1.0 : o.sender_cpu_ns / 1000.0 / c.requests);
  if (o.failed > 0) std::printf("  first failure: %s\n", o.first_error.c_str());
  std::fflush(stdout);
}

int Main(int argc, char** argv) {
  Config config;
  for (int i = 1; i < argc; ++i) {
    absl::string_view arg(argv[i]);
    auto value = [&](absl::string_view flag, int* out) {
      if (!absl::ConsumePrefix(&arg, flag)) return false;
      return absl::SimpleAtoi(arg, out);
    };
    if (value("--requests=", &config.requests) ||
        value("--in_flight=", &config.in_flight) ||
        value("--body_bytes=", &config.body_bytes)) {
      continue;
    }
    if (absl::ConsumePrefix(&arg, "--url=")) {
      config.url = std::string(arg);
      continue;
    }
    if (arg == "--no_nginx") {
      config.nginx = false;
      continue;
    }
    std::fprintf(stderr, "unknown flag %s\n", argv[i]);
    return 2;
  }
  int failures = 0;

  if (!config.url.empty()) {
    auto sender = CurlSender::Create({});
    if (!sender.ok()) return 1;
    Driver driver(**sender, config.url, config);
    const Outcome o = driver.Run();
    (*sender)->Shutdown(absl::Seconds(5));
    Report("--url", config, o, (*sender)->connections_opened());
    return o.failed == 0 ? 0 : 1;
  }

  {
    receivers::TestReceiver::Options options;
    options.record = false;
    auto receiver = receivers::TestReceiver::Start(options);
    auto sender = CurlSender::Create({});
    if (!receiver.ok() || !sender.ok()) {
      std::fprintf(stderr, "setup failed\n");
      return 1;
    }
    Driver driver(**sender, (*receiver)->url("/probe"), config);
    const Outcome o = driver.Run();
    (*sender)->Shutdown(absl::Seconds(5));  // before `driver` goes away
    Report("TestReceiver", config, o, (*sender)->connections_opened());
    failures += o.failed;
  }

  if (config.nginx && receivers::NginxReceiver::Available()) {
    auto nginx = receivers::NginxReceiver::Start({.location = "return 204;"});
    if (!nginx.ok()) {
      std::printf("nginx: %s, skipped\n", nginx.status().ToString().c_str());
    } else {
      auto sender = CurlSender::Create({});
      Driver driver(**sender, (*nginx)->url("/probe"), config);
      const Outcome o = driver.Run();
      (*sender)->Shutdown(absl::Seconds(5));
      Report("nginx 204", config, o, (*sender)->connections_opened());
      failures += o.failed;
    }
  } else if (config.nginx) {
    std::printf("nginx: /usr/sbin/nginx not installed, skipped\n");
  }
  return failures == 0 ? 0 : 1;
}

}  // namespace
}  // namespace herald::delivery

int main(int argc, char** argv) { return herald::delivery::Main(argc, argv); }
