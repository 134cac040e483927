// herald_bench: the benchmark driver behind tests/bench/run.sh.
//
//   herald_bench --heraldd=PATH --out=FILE [--quick] [--workloads=a,b,...]
//                [--wrk=PATH] [--keep_data] [--<size>=N ...]
//   herald_bench receiver [--ports=N]      a bench receiver for manual use
//
// Runs each workload against a fresh heraldd (SQLite, temporary data
// directory, 127.0.0.1) and the in-process BenchReceiver, each next to a
// reference measured in the same run, and appends one JSON object per
// workload to --out (JSON lines; run.sh assembles them). Progress goes to
// stderr. Workloads: throughput, fanout, latency, watchers, backlog (cost
// and memory figures come out of throughput and backlog). See
// docs/benchmarks.md for what each one means.
#include <signal.h>
#include <sys/resource.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <functional>
#include <iostream>
#include <map>
#include <memory>
#include <regex>
#include <set>
#include <string>
#include <thread>
#include <unordered_map>
#include <unordered_set>
#include <vector>

#include <nlohmann/json.hpp>

#include "tests/bench/bench_util.h"
#include "tests/bench/grpc_load.h"
#include "tests/bench/receiver.h"

namespace herald::bench {
namespace {

using json = nlohmann::ordered_json;

struct Options {
  std::string heraldd;
  std::string out;
  std::string wrk = "wrk";
  bool quick = false;
  bool keep_data = false;
  std::set<std::string> workloads;
  // Sizes (full defaults; --quick scales them down unless given).
  int64_t throughput_events = 200000;
  int64_t fanout_events = 1000;
  int fanout_policies = 100;
  int fanout_receivers = 10;
  double latency_seconds = 10;
  int watchers = 1000;
  int watch_projects = 100;
  double watch_updates_per_s = 10000;
  double watch_seconds = 10;
  int64_t backlog_tasks = 1000000;
  double wrk_seconds = 5;
  int wrk_connections = 16;
  int publish_streams = 4;
  // Streams (and gRPC connections) the fixed-rate publishers spread over.
  int paced_streams = 4;
  // Profile heraldd during the measured throughput phase:
  // perf record -e cpu-clock --call-graph dwarf into this file.
  std::string perf;
};

// The design targets (design.md section 8).
constexpr double kTargetDeliveriesPerS = 50000;
constexpr double kTargetWrkRatio = 0.3;
constexpr double kTargetAckP99Us = 2000;
constexpr double kTargetAckToArrivalP50Us = 1000;
constexpr double kTargetAckToArrivalP99Us = 5000;
constexpr double kTargetWatchLagP99Us = 50000;
constexpr double kTargetIdleRssMb = 50;
constexpr double kTargetRetriesRssMb = 300;

void Log(const std::string& s) {
  std::fprintf(stderr, "[bench %s] %s\n", "", s.c_str());
  std::fflush(stderr);
}

std::string Fmt(const char* f, double v) {
  char buf[64];
  std::snprintf(buf, sizeof buf, f, v);
  return buf;
}

// One line of the results table.
json Row(const std::string& workload, const std::string& measure, double value,
         const std::string& unit, const std::string& reference,
         double reference_value, const std::string& target = "",
         int met = -1) {
  json r;
  r["workload"] = workload;
  r["measure"] = measure;
  r["value"] = value;
  r["unit"] = unit;
  r["reference"] = reference;
  r["reference_value"] = reference_value;
  r["target"] = target;
  r["met"] = met < 0 ? json(nullptr) : json(met == 1);
  return r;
}

json Percentiles(std::vector<int64_t> v) {
  json j;
  j["count"] = v.size();
  j["p50"] = Percentile(v, 0.50);
  j["p90"] = Percentile(v, 0.90);
  j["p99"] = Percentile(v, 0.99);
  j["p999"] = Percentile(v, 0.999);
  j["max"] = v.empty() ? -1 : v.back();
  return j;
}

double Mb(int64_t kb) { return static_cast<double>(kb) / 1024.0; }

// ------------------------------------------------------------------ wrk

struct WrkResult {
  bool ok = false;
  double rps = 0;
  int64_t requests = 0;
  double cpu_seconds = 0;
  std::string error;
};

// wrk -t1 -c<connections> POSTing `body` with headers of the sizes heraldd
// sends, against `url`, for `seconds`.
WrkResult RunWrk(const Options& o, const std::string& url,
                 const std::string& body, double seconds,
                 const std::string& tmp_dir) {
  WrkResult r;
  const std::string script = tmp_dir + "/post.lua";
  WriteFile(script,
            "wrk.method = \"POST\"\n"
            "wrk.body = [==[" + body + "]==]\n"
            "wrk.headers[\"Content-Type\"] = \"application/json\"\n"
            "wrk.headers[\"User-Agent\"] = \"herald/0.1.0\"\n"
            "wrk.headers[\"Accept\"] = \"*/*\"\n"
            "wrk.headers[\"x-bench-id\"] = \"00000000-0000-4000-8000-000000000000\"\n"
            "wrk.headers[\"x-bench-timestamp\"] = \"1700000000\"\n");
  const std::string log = tmp_dir + "/wrk.out";
  auto child = Spawn({o.wrk, "-t1", "-c" + std::to_string(o.wrk_connections),
                      "-d" + std::to_string(std::max(1, static_cast<int>(seconds))) + "s",
                      "-s", script, url},
                     log);
  if (!child) {
    r.error = "cannot start " + o.wrk;
    return r;
  }
  struct rusage usage {};
  int status = WaitChild(child->pid, &usage);
  r.cpu_seconds = static_cast<double>(usage.ru_utime.tv_sec + usage.ru_stime.tv_sec) +
                  static_cast<double>(usage.ru_utime.tv_usec + usage.ru_stime.tv_usec) / 1e6;
  std::string out = ReadFile(log);
  std::smatch m;
  if (std::regex_search(out, m, std::regex(R"(Requests/sec:\s+([0-9.]+))"))) {
    r.rps = std::stod(m[1]);
  }
  if (std::regex_search(out, m, std::regex(R"((\d+) requests in)"))) {
    r.requests = std::stoll(m[1]);
  }
  r.ok = status == 0 && r.rps > 0;
  if (!r.ok) r.error = "wrk: " + out;
  return r;
}

json WrkJson(const WrkResult& w) {
  json j;
  j["requests_per_s"] = w.rps;
  j["requests"] = w.requests;
  j["cpu_seconds"] = w.cpu_seconds;
  j["cpu_s_per_1k"] = w.requests > 0 ? w.cpu_seconds * 1000.0 / static_cast<double>(w.requests) : 0;
  if (!w.ok) j["error"] = w.error;
  return j;
}

// ------------------------------------------------------------------ helpers

// A workload's failure: its JSON carries "error".
struct Failure {
  std::string message;
};

std::unique_ptr<Herald> StartHerald(const Options& o, bool metrics,
                                    std::vector<std::string> extra = {}) {
  Herald::Options ho;
  ho.binary = o.heraldd;
  ho.metrics = metrics;
  ho.extra_args = std::move(extra);
  ho.keep_data = o.keep_data;
  auto h = Herald::Start(ho);
  if (!h) throw Failure{"heraldd did not start"};
  return h;
}

// Waits until the receiver recorded `n` requests; false after `timeout_s`
// (or if heraldd died).
bool WaitRecorded(BenchReceiver& rx, int64_t n, double timeout_s, Herald& h) {
  const int64_t deadline = NowNs() + static_cast<int64_t>(timeout_s * 1e9);
  int64_t last_log = NowNs();
  while (rx.recorded() < n) {
    if (NowNs() > deadline || !h.Alive()) return false;
    if (NowNs() - last_log > int64_t{10} * 1000000000) {
      last_log = NowNs();
      Log("  ... " + std::to_string(rx.recorded()) + " / " + std::to_string(n) + " delivered");
    }
    SleepMs(2);
  }
  return true;
}

// What the receiver saw of a run: deliveries per seq.
struct Arrivals {
  int64_t records = 0;
  int64_t distinct_ids = 0;
  int64_t first_ns = 0;
  int64_t last_ns = 0;
  std::unordered_map<int64_t, int64_t> first_arrival_by_seq;
};

Arrivals Summarize(const std::vector<Record>& records) {
  Arrivals a;
  a.records = static_cast<int64_t>(records.size());
  std::unordered_set<std::string> ids;
  ids.reserve(records.size());
  for (const Record& r : records) {
    ids.insert(r.webhook_id);
    if (a.first_ns == 0 || r.arrival_ns < a.first_ns) a.first_ns = r.arrival_ns;
    a.last_ns = std::max(a.last_ns, r.arrival_ns);
    auto [it, inserted] = a.first_arrival_by_seq.emplace(r.seq, r.arrival_ns);
    if (!inserted) it->second = std::min(it->second, r.arrival_ns);
  }
  a.distinct_ids = static_cast<int64_t>(ids.size());
  return a;
}

int64_t MinNonZero(const std::vector<int64_t>& v) {
  int64_t m = 0;
  for (int64_t x : v) {
    if (x && (!m || x < m)) m = x;
  }
  return m;
}
int64_t Max(const std::vector<int64_t>& v) {
  return v.empty() ? 0 : *std::max_element(v.begin(), v.end());
}

// The JSON object every workload starts with.
json Header(const std::string& name, Herald& h) {
  json j;
  j["workload"] = name;
  auto s = h.Stat();
  if (s) j["heraldd_idle_rss_mb"] = Mb(s->rss_kb);
  return j;
}

std::atomic<int64_t> next_seq{1};

// Publishes `n` events as fast as possible (warm-up or backlog).
std::unique_ptr<PublishLog> PublishBurst(const Options& o, Herald& h, int64_t n,
                                         const std::function<int64_t(int64_t)>& project_of) {
  auto log = std::make_unique<PublishLog>(next_seq.fetch_add(n), n);
  if (!PublishClosedLoop(h, *log, o.publish_streams, project_of)) {
    throw Failure{"publishing failed: " + h.LogTail(600)};
  }
  return log;
}

std::string TmpDir() {
  static std::string dir = MakeTempDir("herald-bench-tmp-");
  return dir;
}

// ------------------------------------------------------------------ workloads

// End-to-end throughput: N events, one matching policy, one receiver;
// also the cost (CPU s per 1,000 deliveries) and memory figures.
json Throughput(const Options& o) {
  const int64_t n = o.throughput_events;
  auto rx = BenchReceiver::Start(1);
  auto h = StartHerald(o, true);
  json j = Header("throughput", *h);
  const int64_t policy = h->CreatePolicy(1, "bench", {rx->url()});
  if (policy < 0) throw Failure{"CreatePolicy failed"};
  auto one_project = [](int64_t) { return int64_t{1}; };

  const int64_t warm = std::max<int64_t>(200, std::min<int64_t>(2000, n / 10));
  PublishBurst(o, *h, warm, one_project);
  if (!WaitRecorded(*rx, warm, 60, *h)) throw Failure{"warm-up not delivered"};
  rx->TakeRecords();
  const std::string body = h->SomePayload(policy);
  j["body_bytes"] = body.size();

  Log("throughput: wrk reference (" + Fmt("%.0f", o.wrk_seconds) + " s)");
  WrkResult wrk = RunWrk(o, rx->url(), body, o.wrk_seconds, TmpDir());
  if (!wrk.ok) throw Failure{wrk.error};
  j["wrk"] = WrkJson(wrk);

  Log("throughput: " + std::to_string(n) + " events");
  const auto before = h->Stat();
  const double self_before = SelfCpuSeconds();
  const int64_t rx_cpu_before = rx->ThreadCpuNanos();
  auto log = std::make_unique<PublishLog>(next_seq.fetch_add(n), n);
  std::optional<Child> perf;
  if (!o.perf.empty()) {
    perf = Spawn({"perf", "record", "-e", "cpu-clock", "-F", "499", "--call-graph",
                  "dwarf,16384", "-p", std::to_string(h->pid()), "-o", o.perf},
                 o.perf + ".log");
    SleepMs(500);
  }
  std::thread publisher([&] {
    if (!PublishClosedLoop(*h, *log, o.publish_streams, one_project)) {
      Log("publish failed");
    }
  });
  const bool all = WaitRecorded(*rx, n, std::max(120.0, static_cast<double>(n) / 1000), *h);
  publisher.join();
  const auto after = h->Stat();
  if (perf) {
    kill(perf->pid, SIGINT);
    WaitChild(perf->pid, nullptr);
  }
  const double self_cpu = SelfCpuSeconds() - self_before;
  const double rx_cpu = static_cast<double>(rx->ThreadCpuNanos() - rx_cpu_before) / 1e9;
  Arrivals a = Summarize(rx->TakeRecords());
  const int64_t t0 = MinNonZero(log->sent);
  const double seconds = static_cast<double>(a.last_ns - t0) / 1e9;
  const double rate = static_cast<double>(a.first_arrival_by_seq.size()) / seconds;
  const double publish_rate =
      static_cast<double>(log->acks.load()) / (static_cast<double>(Max(log->acked) - t0) / 1e9);
  std::vector<int64_t> e2e;
  for (int64_t i = 0; i < n; ++i) {
    auto it = a.first_arrival_by_seq.find(log->first + i);
    if (it != a.first_arrival_by_seq.end()) {
      e2e.push_back((it->second - log->sent[static_cast<size_t>(i)]) / 1000);
    }
  }
  const double cpu = after && before ? after->cpu_seconds - before->cpu_seconds : 0;
  const double delivered = static_cast<double>(a.first_arrival_by_seq.size());
  j["events"] = n;
  j["all_delivered"] = all;
  j["delivered"] = a.first_arrival_by_seq.size();
  j["duplicates"] = a.records - a.distinct_ids;
  j["seconds"] = seconds;
  j["deliveries_per_s"] = rate;
  j["publish_acks_per_s"] = publish_rate;
  j["wrk_ratio"] = rate / wrk.rps;
  j["publish_to_arrival_us"] = Percentiles(e2e);
  j["heraldd_cpu_seconds"] = cpu;
  j["heraldd_cpu_s_per_1k"] = cpu * 1000 / delivered;
  j["heraldd_cores_used"] = cpu / seconds;
  j["heraldd_peak_rss_mb"] = after ? Mb(after->hwm_kb) : 0;
  j["heraldd_threads"] = after ? after->threads : 0;
  j["bench_process_cpu_seconds"] = self_cpu;
  j["receiver_cpu_s_per_1k"] = rx_cpu * 1000 / delivered;
  const bool met = rate >= kTargetDeliveriesPerS && rate / wrk.rps >= kTargetWrkRatio;
  j["rows"] = {
      Row("throughput", "deliveries/s, 1 policy", rate, "/s", "wrk req/s", wrk.rps,
          ">= 50,000/s and >= 0.3 x wrk", met ? 1 : 0),
      Row("throughput", "ratio to wrk", rate / wrk.rps, "x", "", 0, ">= 0.3",
          rate / wrk.rps >= kTargetWrkRatio ? 1 : 0),
      Row("cost", "heraldd CPU s per 1,000 deliveries", cpu * 1000 / delivered, "s",
          "wrk CPU s per 1,000 requests", wrk.cpu_seconds * 1000 / static_cast<double>(wrk.requests)),
      Row("memory", "heraldd peak RSS (throughput run)", j["heraldd_peak_rss_mb"], "MB",
          "idle RSS", j.value("heraldd_idle_rss_mb", 0.0)),
      Row("memory", "heraldd idle RSS", j.value("heraldd_idle_rss_mb", 0.0), "MB", "", 0,
          "<= 50 MB", j.value("heraldd_idle_rss_mb", 0.0) <= kTargetIdleRssMb ? 1 : 0),
  };
  if (!all) j["error"] = "not every event was delivered in time";
  return j;
}

// Fan-out: events each matching P policies spread over R receivers.
json Fanout(const Options& o) {
  const int64_t n = o.fanout_events;
  auto rx = BenchReceiver::Start(o.fanout_receivers);
  auto h = StartHerald(o, true);
  json j = Header("fanout", *h);
  int64_t first_policy = -1;
  for (int i = 0; i < o.fanout_policies; ++i) {
    int64_t id = h->CreatePolicy(1, "fan-" + std::to_string(i), {rx->url(i % o.fanout_receivers)});
    if (id < 0) throw Failure{"CreatePolicy failed"};
    if (first_policy < 0) first_policy = id;
  }
  auto one_project = [](int64_t) { return int64_t{1}; };
  PublishBurst(o, *h, 5, one_project);
  if (!WaitRecorded(*rx, 5 * o.fanout_policies, 60, *h)) throw Failure{"warm-up not delivered"};
  rx->TakeRecords();
  const std::string body = h->SomePayload(first_policy);

  Log("fanout: wrk reference");
  WrkResult wrk = RunWrk(o, rx->url(0), body, o.wrk_seconds, TmpDir());
  if (!wrk.ok) throw Failure{wrk.error};
  j["wrk"] = WrkJson(wrk);

  const int64_t expected = n * o.fanout_policies;
  Log("fanout: " + std::to_string(n) + " events x " + std::to_string(o.fanout_policies) + " policies");
  const auto before = h->Stat();
  auto log = std::make_unique<PublishLog>(next_seq.fetch_add(n), n);
  std::thread publisher([&] { PublishClosedLoop(*h, *log, 1, one_project); });
  const bool all = WaitRecorded(*rx, expected, std::max(120.0, static_cast<double>(expected) / 1000), *h);
  publisher.join();
  const auto after = h->Stat();
  std::vector<Record> records = rx->TakeRecords();
  Arrivals a = Summarize(records);
  std::vector<int64_t> per_receiver(static_cast<size_t>(o.fanout_receivers), 0);
  for (const Record& r : records) ++per_receiver[static_cast<size_t>(r.port_index)];
  const int64_t t0 = MinNonZero(log->sent);
  const double seconds = static_cast<double>(a.last_ns - t0) / 1e9;
  const double rate = static_cast<double>(a.distinct_ids) / seconds;
  const double cpu = after && before ? after->cpu_seconds - before->cpu_seconds : 0;
  j["events"] = n;
  j["policies"] = o.fanout_policies;
  j["receivers"] = o.fanout_receivers;
  j["expected_deliveries"] = expected;
  j["deliveries_created"] = log->deliveries.load();
  j["delivered"] = a.distinct_ids;
  j["duplicates"] = a.records - a.distinct_ids;
  j["per_receiver"] = per_receiver;
  j["seconds"] = seconds;
  j["deliveries_per_s"] = rate;
  j["publish_acks_per_s"] =
      static_cast<double>(n) / (static_cast<double>(Max(log->acked) - t0) / 1e9);
  j["wrk_ratio"] = rate / wrk.rps;
  j["heraldd_cpu_s_per_1k"] = cpu * 1000 / std::max<double>(1, static_cast<double>(a.distinct_ids));
  j["heraldd_peak_rss_mb"] = after ? Mb(after->hwm_kb) : 0;
  j["rows"] = {
      Row("fanout", "deliveries/s, " + std::to_string(o.fanout_policies) + " policies x " +
                        std::to_string(o.fanout_receivers) + " receivers",
          rate, "/s", "wrk req/s (one receiver)", wrk.rps),
  };
  if (!all) j["error"] = "not every delivery arrived in time";
  return j;
}

// Publish ack latency at fixed rates, and ack -> arrival at 1k/s.
json Latency(const Options& o) {
  auto rx = BenchReceiver::Start(1);
  auto h = StartHerald(o, true);
  json j = Header("latency", *h);
  if (h->CreatePolicy(1, "bench", {rx->url()}) < 0) throw Failure{"CreatePolicy failed"};
  auto one_project = [](int64_t) { return int64_t{1}; };
  PublishBurst(o, *h, 1000, one_project);
  if (!WaitRecorded(*rx, 1000, 60, *h)) throw Failure{"warm-up not delivered"};
  rx->TakeRecords();
  std::string body(520, 'x');
  json rows = json::array();
  // The last phase publishes while the receiver holds every request, so the
  // deliveries wait in the store: ingest alone, not sharing the CPU with
  // delivering.
  struct Phase {
    double rate;
    bool held;
  };
  for (const Phase phase : {Phase{1000, false}, Phase{10000, false}, Phase{10000, true}}) {
    const double rate = phase.rate;
    const std::string key = Fmt("%.0f", rate) + (phase.held ? "_held" : "");
    const std::string at = "at " + Fmt("%.0f", rate) + "/s" +
                           (phase.held ? ", deliveries held" : "");
    const int64_t n = static_cast<int64_t>(rate * o.latency_seconds);
    if (phase.held) rx->SetMode(BenchReceiver::Mode::kHang);
    Log("latency: gRPC health-check reference " + at);
    std::vector<std::shared_ptr<grpc::Channel>> channels;
    for (int c = 0; c < o.paced_streams; ++c) channels.push_back(h->NewChannel(400 + c));
    std::vector<int64_t> health = HealthChecksPaced(
        channels, rate, static_cast<int64_t>(rate * std::min(o.latency_seconds, 5.0)));
    Log("latency: publishing " + std::to_string(n) + " events " + at);
    auto log = std::make_unique<PublishLog>(next_seq.fetch_add(n), n);
    const auto cpu_before = h->Stat();
    const int64_t phase_start = NowNs();
    const bool acked = PublishPaced(*h, *log, rate, o.paced_streams, one_project,
                                    3 * o.latency_seconds + 30);
    const auto cpu_after = h->Stat();
    const double phase_seconds = static_cast<double>(NowNs() - phase_start) / 1e9;
    const bool all = acked && !phase.held && WaitRecorded(*rx, n, 60, *h);
    Arrivals a = Summarize(rx->TakeRecords());
    std::vector<int64_t> ack, ack_to_arrival, publish_to_arrival;
    for (int64_t i = 0; i < n; ++i) {
      const size_t k = static_cast<size_t>(i);
      if (!log->acked[k]) continue;
      ack.push_back((log->acked[k] - log->sent[k]) / 1000);
      auto it = a.first_arrival_by_seq.find(log->first + i);
      if (it == a.first_arrival_by_seq.end()) continue;
      ack_to_arrival.push_back((it->second - log->acked[k]) / 1000);
      publish_to_arrival.push_back((it->second - log->sent[k]) / 1000);
    }
    json r;
    r["events"] = n;
    r["streams"] = o.paced_streams;
    r["acked"] = log->acks.load();
    r["all_delivered"] = all;
    r["ack_us"] = Percentiles(ack);
    r["health_check_us"] = Percentiles(health);
    r["ack_to_arrival_us"] = Percentiles(ack_to_arrival);
    r["publish_to_arrival_us"] = Percentiles(publish_to_arrival);
    r["duplicates"] = a.records - a.distinct_ids;
    const double p99 = r["ack_us"]["p99"];
    if (cpu_before && cpu_after) {
      const double cpu = cpu_after->cpu_seconds - cpu_before->cpu_seconds;
      // While publishing: with deliveries flowing this includes delivering.
      r["heraldd_cores_used"] = cpu / phase_seconds;
      r["heraldd_cpu_us_per_event"] = cpu * 1e6 / static_cast<double>(n);
    }
    r["acks_per_s"] = static_cast<double>(log->acks.load()) /
                      (static_cast<double>(Max(log->acked) - MinNonZero(log->sent)) / 1e9);
    rows.push_back(Row("latency", "ack p50 " + at, r["ack_us"]["p50"], "us",
                       "gRPC health check p50", r["health_check_us"]["p50"]));
    rows.push_back(Row("latency", "ack p99 " + at, p99, "us",
                       "gRPC health check p99", r["health_check_us"]["p99"],
                       rate == 10000 ? "<= 2 ms" : "",
                       rate == 10000 ? (p99 <= kTargetAckP99Us ? 1 : 0) : -1));
    rows.push_back(Row("latency", "ack p99.9 " + at, r["ack_us"]["p999"], "us",
                       "gRPC health check p99.9", r["health_check_us"]["p999"]));
    if (rate == 1000 && !phase.held) {
      Log("latency: HTTP round-trip reference at 1000/s");
      HttpConnection conn(rx->port());
      const std::string request =
          "POST /hook HTTP/1.1\r\nHost: 127.0.0.1:" + std::to_string(rx->port()) +
          "\r\nContent-Type: application/json\r\nUser-Agent: herald/0.1.0\r\n"
          "Accept: */*\r\nContent-Length: " + std::to_string(body.size()) +
          "\r\n\r\n" + body;
      std::vector<int64_t> http;
      const int64_t m = static_cast<int64_t>(1000 * std::min(o.latency_seconds, 5.0));
      const int64_t start = NowNs();
      for (int64_t i = 0; i < m && conn.ok(); ++i) {
        SleepUntilNs(start + i * 1000000);
        const int64_t t = NowNs();
        if (conn.RoundTrip(request) != 200) break;
        http.push_back((NowNs() - t) / 1000);
      }
      r["http_round_trip_us"] = Percentiles(http);
      const double a50 = r["ack_to_arrival_us"]["p50"], a99 = r["ack_to_arrival_us"]["p99"];
      rows.push_back(Row("latency", "ack->arrival p50 at 1000/s", a50, "us",
                         "HTTP round trip p50", r["http_round_trip_us"]["p50"], "<= 1 ms",
                         a50 <= kTargetAckToArrivalP50Us ? 1 : 0));
      rows.push_back(Row("latency", "ack->arrival p99 at 1000/s", a99, "us",
                         "HTTP round trip p99", r["http_round_trip_us"]["p99"], "<= 5 ms",
                         a99 <= kTargetAckToArrivalP99Us ? 1 : 0));
    }
    j["rate_" + key] = r;
  }
  j["rows"] = rows;
  return j;
}

// Watchers: W WatchTasks streams (each filtered to one of P projects)
// during a delivery load of U task updates/s; reference: one stream.
json Watchers(const Options& o) {
  const int projects = o.watch_projects;
  auto rx = BenchReceiver::Start(1);
  auto h = StartHerald(o, true);
  json j = Header("watchers", *h);
  for (int p = 1; p <= projects; ++p) {
    if (h->CreatePolicy(p, "watch-" + std::to_string(p), {rx->url()}) < 0) {
      throw Failure{"CreatePolicy failed"};
    }
  }
  auto round_robin = [projects](int64_t seq) { return seq % projects + 1; };
  // Pending, Running, Success: three updates per delivery.
  const double events_per_s = o.watch_updates_per_s / 3;
  std::vector<std::shared_ptr<grpc::Channel>> channels;
  std::vector<std::unique_ptr<v1::DeliveryService::Stub>> stubs;
  for (int c = 0; c < 4; ++c) {
    channels.push_back(h->NewChannel(300 + c));
    stubs.push_back(v1::DeliveryService::NewStub(channels.back()));
  }

  auto phase = [&](int watchers) -> json {
    std::atomic<int> ready{0};
    std::atomic<int64_t> measure_from{0};
    std::vector<std::unique_ptr<Watcher>> all;
    for (int w = 0; w < watchers; ++w) {
      v1::WatchTasksRequest req;
      req.set_project_id(w % projects + 1);
      all.push_back(std::make_unique<Watcher>(*h, stubs[static_cast<size_t>(w % 4)].get(),
                                              req, &ready, &measure_from));
    }
    // Every stream is live once it has seen an update.
    Log("  " + std::to_string(watchers) + " streams open; warming up");
    const int64_t deadline = NowNs() + int64_t{60} * 1000000000;
    while (ready.load() < watchers && NowNs() < deadline) {
      auto warm = std::make_unique<PublishLog>(next_seq.fetch_add(projects), projects);
      PublishClosedLoop(*h, *warm, 1, round_robin);
      SleepMs(200);
    }
    json r;
    r["watchers"] = watchers;
    r["ready"] = ready.load();
    WaitRecorded(*rx, rx->recorded(), 1, *h);
    SleepMs(500);
    rx->TakeRecords();
    const int64_t n = static_cast<int64_t>(events_per_s * o.watch_seconds);
    const int64_t updates_before = [&] {
      int64_t s = 0;
      for (auto& w : all) s += w->updates();
      return s;
    }();
    const auto before = h->Stat();
    measure_from = NowNs();
    auto log = std::make_unique<PublishLog>(next_seq.fetch_add(n), n);
    Log("  " + std::to_string(ready.load()) + " streams live; publishing " +
        std::to_string(n) + " events at " + Fmt("%.0f", events_per_s) + "/s");
    const int64_t t0 = NowNs();
    // A server that cannot keep up is given up on after 3x the planned time.
    const bool acked = PublishPaced(*h, *log, events_per_s, o.paced_streams, round_robin,
                                    3 * o.watch_seconds + 30);
    const double publish_seconds = static_cast<double>(NowNs() - t0) / 1e9;
    Log("  published (" + std::to_string(log->acks.load()) + " acks) in " +
        Fmt("%.1f", publish_seconds) + " s");
    const bool all_delivered = acked && WaitRecorded(*rx, n, 60, *h);
    SleepMs(1000);  // the last updates reach the watchers
    const auto after = h->Stat();
    const double window_seconds = static_cast<double>(NowNs() - t0) / 1e9;
    rx->TakeRecords();
    int64_t updates = -updates_before;
    for (auto& w : all) updates += w->updates();
    for (auto& w : all) w->Cancel();
    std::vector<int64_t> lags;
    for (auto& w : all) {
      w->Wait();
      lags.insert(lags.end(), w->lags_us().begin(), w->lags_us().end());
    }
    Log("  streams closed");
    // Each update reaches watchers/projects streams (at least one).
    const double fan = std::max(1.0, static_cast<double>(watchers) / projects);
    const double coverage = std::min(1.0, static_cast<double>(watchers) / projects);
    r["events"] = n;
    r["acked"] = log->acks.load();
    r["kept_up"] = acked;
    r["all_delivered"] = all_delivered;
    r["events_per_s"] = events_per_s;
    r["updates_received"] = updates;
    // 3 updates per delivery (Pending, Running, Success), each to `fan`
    // streams (all of them when every project has one).
    r["updates_expected"] = static_cast<int64_t>(3.0 * static_cast<double>(n) * fan * coverage);
    // Updates are made while publishing (and while the last deliveries
    // finish, which is close enough).
    r["task_updates_per_s"] =
        static_cast<double>(updates) / fan / coverage / publish_seconds;
    r["updates_per_delivery"] = static_cast<double>(updates) / fan / coverage /
                                static_cast<double>(std::max<int64_t>(1, n));
    r["lag_us"] = Percentiles(lags);
    r["heraldd_cores_used"] =
        after && before ? (after->cpu_seconds - before->cpu_seconds) / window_seconds : 0;
    r["heraldd_peak_rss_mb"] = after ? Mb(after->hwm_kb) : 0;
    return r;
  };
  Log("watchers: reference, 1 stream at " + Fmt("%.0f", o.watch_updates_per_s) + " updates/s");
  json one = phase(1);
  Log("watchers: " + std::to_string(o.watchers) + " streams");
  json many = phase(o.watchers);
  j["one_watcher"] = one;
  j["many_watchers"] = many;
  const std::string label = std::to_string(o.watchers) + " streams";
  const double p99 = many["lag_us"]["p99"];
  j["rows"] = {
      Row("watchers", "lag p50, " + label, many["lag_us"]["p50"], "us",
          "1 stream p50", one["lag_us"]["p50"]),
      Row("watchers", "lag p99, " + label, p99, "us", "1 stream p99", one["lag_us"]["p99"],
          "<= 50 ms", p99 <= kTargetWatchLagP99Us ? 1 : 0),
      Row("watchers", "task updates/s during the run", many["task_updates_per_s"], "/s",
          "asked for", o.watch_updates_per_s),
  };
  return j;
}

// Backlog: N tasks queued while the receiver does not answer, then it
// answers: drain rate and memory; then N tasks failing against a refusing
// receiver: memory with N pending retries.
json Backlog(const Options& o) {
  const int64_t n = o.backlog_tasks;
  json j;
  j["workload"] = "backlog";
  j["tasks"] = n;
  auto one_project = [](int64_t) { return int64_t{1}; };
  json rows = json::array();
  {
    auto rx = BenchReceiver::Start(1);
    rx->SetMode(BenchReceiver::Mode::kHang);
    auto h = StartHerald(o, true);
    j["heraldd_idle_rss_mb"] = Mb(h->Stat()->rss_kb);
    v1::RetryPolicy retry;
    retry.set_max_attempts(100);
    retry.set_backoff(v1::BACKOFF_KIND_EXPONENTIAL);
    retry.mutable_initial_backoff()->set_seconds(1);
    retry.mutable_max_backoff()->set_seconds(1);
    retry.mutable_http_timeout()->set_seconds(300);
    const int64_t policy = h->CreatePolicy(1, "backlog", {rx->url()}, &retry);
    if (policy < 0) throw Failure{"CreatePolicy failed"};
    Log("backlog: publishing " + std::to_string(n) + " events, receiver not answering");
    auto log = PublishBurst(o, *h, n, one_project);
    const int64_t t0 = MinNonZero(log->sent);
    const double publish_s = static_cast<double>(Max(log->acked) - t0) / 1e9;
    const auto queued = h->Stat();
    const double cpu_before = queued ? queued->cpu_seconds : 0;
    Log("backlog: receiver back");
    const int64_t up = NowNs();
    rx->SetMode(BenchReceiver::Mode::kOk);
    const bool all = WaitRecorded(*rx, n, std::max(300.0, static_cast<double>(n) / 500), *h);
    const auto drained = h->Stat();
    Arrivals a = Summarize(rx->TakeRecords());
    const double drain_s = static_cast<double>(a.last_ns - up) / 1e9;
    const double drain_rate = static_cast<double>(a.first_arrival_by_seq.size()) / drain_s;
    const std::string body = h->SomePayload(policy);
    Log("backlog: wrk reference");
    WrkResult wrk = RunWrk(o, rx->url(), body, o.wrk_seconds, TmpDir());
    json d;
    d["publish_events_per_s"] = static_cast<double>(n) / publish_s;
    d["rss_mb_with_backlog"] = queued ? Mb(queued->rss_kb) : 0;
    d["all_delivered"] = all;
    d["delivered"] = a.first_arrival_by_seq.size();
    d["duplicates"] = a.records - a.distinct_ids;
    d["drain_seconds"] = drain_s;
    d["drain_per_s"] = drain_rate;
    d["heraldd_peak_rss_mb"] = drained ? Mb(drained->hwm_kb) : 0;
    d["heraldd_cpu_s_per_1k"] =
        drained ? (drained->cpu_seconds - cpu_before) * 1000 / static_cast<double>(n) : 0;
    d["wrk"] = WrkJson(wrk);
    j["drain"] = d;
    rows.push_back(Row("backlog", "drain rate, " + std::to_string(n) + " queued tasks",
                       drain_rate, "/s", "wrk req/s", wrk.rps));
    rows.push_back(Row("backlog", "publish rate while the receiver is down",
                       d["publish_events_per_s"], "/s", "", 0));
    rows.push_back(Row("memory", "heraldd peak RSS, backlog + drain", d["heraldd_peak_rss_mb"],
                       "MB", "idle RSS", j["heraldd_idle_rss_mb"]));
    if (!all) j["error"] = "backlog not drained in time";
  }
  {
    auto rx = BenchReceiver::Start(1);
    rx->SetMode(BenchReceiver::Mode::kRefuse);
    auto h = StartHerald(o, true);
    const double idle = Mb(h->Stat()->rss_kb);
    v1::RetryPolicy retry;
    retry.set_max_attempts(100);
    retry.set_backoff(v1::BACKOFF_KIND_EXPONENTIAL);
    retry.mutable_initial_backoff()->set_seconds(3600);
    retry.mutable_max_backoff()->set_seconds(3600);
    if (h->CreatePolicy(1, "retries", {rx->url()}, &retry) < 0) {
      throw Failure{"CreatePolicy failed"};
    }
    Log("backlog: publishing " + std::to_string(n) + " events, receiver refusing connections");
    const auto before = h->Stat();
    auto log = PublishBurst(o, *h, n, one_project);
    const int64_t t0 = MinNonZero(log->sent);
    // Until every task has failed once (pending 0, running 0).
    int64_t retrying = 0;
    const int64_t deadline = NowNs() + static_cast<int64_t>(std::max(300.0, n / 500.0) * 1e9);
    int64_t peak_rss_kb = 0;
    while (NowNs() < deadline) {
      if (auto s = h->Stat()) peak_rss_kb = std::max(peak_rss_kb, s->rss_kb);
      auto metrics = HttpGet(h->metrics_address(), "/metrics");
      if (metrics) {
        std::smatch m;
        int64_t pending = -1, running = -1;
        if (std::regex_search(*metrics, m, std::regex(R"(herald_queue_tasks\{state="pending"\} ([0-9.e+]+))"))) pending = static_cast<int64_t>(std::stod(m[1]));
        if (std::regex_search(*metrics, m, std::regex(R"(herald_queue_tasks\{state="running"\} ([0-9.e+]+))"))) running = static_cast<int64_t>(std::stod(m[1]));
        if (std::regex_search(*metrics, m, std::regex(R"(herald_queue_tasks\{state="retrying"\} ([0-9.e+]+))"))) retrying = static_cast<int64_t>(std::stod(m[1]));
        if (pending == 0 && running == 0 && retrying >= n * 99 / 100) break;
      }
      SleepMs(1000);
    }
    const int64_t failed_all = NowNs();
    const auto after = h->Stat();
    json r;
    r["retrying"] = retrying;
    r["seconds_until_all_failed_once"] = static_cast<double>(failed_all - t0) / 1e9;
    r["failed_attempts_per_s"] = static_cast<double>(retrying) / (static_cast<double>(failed_all - t0) / 1e9);
    r["rss_mb"] = after ? Mb(after->rss_kb) : 0;
    r["peak_rss_mb"] = after ? Mb(std::max(after->hwm_kb, peak_rss_kb)) : 0;
    r["idle_rss_mb"] = idle;
    r["heraldd_cpu_s_per_1k"] = after && before ? (after->cpu_seconds - before->cpu_seconds) * 1000 / static_cast<double>(n) : 0;
    j["pending_retries"] = r;
    const double peak = r["peak_rss_mb"];
    rows.push_back(Row("memory", "heraldd peak RSS, " + std::to_string(retrying) + " pending retries",
                       peak, "MB", "idle RSS", idle, "<= 300 MB with 1M",
                       n >= 1000000 ? (peak <= kTargetRetriesRssMb ? 1 : 0) : -1));
    rows.push_back(Row("backlog", "failed attempts/s, receiver refusing", r["failed_attempts_per_s"],
                       "/s", "", 0));
  }
  j["rows"] = rows;
  return j;
}

int ReceiverMain(int argc, char** argv) {
  int ports = 1;
  for (int i = 2; i < argc; ++i) {
    if (std::strncmp(argv[i], "--ports=", 8) == 0) ports = std::atoi(argv[i] + 8);
  }
  auto rx = BenchReceiver::Start(ports);
  if (!rx) return 1;
  for (int i = 0; i < ports; ++i) std::printf("%s\n", rx->url(i).c_str());
  std::fflush(stdout);
  std::string line;
  while (std::getline(std::cin, line)) {
    std::printf("answered %lld\n", static_cast<long long>(rx->answered()));
    std::fflush(stdout);
  }
  return 0;
}

int Main(int argc, char** argv) {
  if (argc > 1 && std::strcmp(argv[1], "receiver") == 0) return ReceiverMain(argc, argv);
  Options o;
  std::map<std::string, std::string> given;
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    if (a.rfind("--", 0) != 0) {
      std::fprintf(stderr, "unexpected argument %s\n", a.c_str());
      return 2;
    }
    size_t eq = a.find('=');
    given[a.substr(2, eq == std::string::npos ? std::string::npos : eq - 2)] =
        eq == std::string::npos ? "true" : a.substr(eq + 1);
  }
  o.quick = given.count("quick") > 0;
  if (o.quick) {
    o.throughput_events = 20000;
    o.fanout_events = 100;
    o.latency_seconds = 2;
    o.watchers = 100;
    o.watch_updates_per_s = 3000;
    o.watch_seconds = 2;
    o.backlog_tasks = 10000;
    o.wrk_seconds = 1;
  }
  for (const auto& [k, v] : given) {
    if (k == "quick") continue;
    if (k == "heraldd") o.heraldd = v;
    else if (k == "out") o.out = v;
    else if (k == "wrk") o.wrk = v;
    else if (k == "keep_data") o.keep_data = true;
    else if (k == "workloads") {
      size_t start = 0;
      while (start <= v.size()) {
        size_t comma = v.find(',', start);
        std::string w = v.substr(start, comma == std::string::npos ? std::string::npos : comma - start);
        if (!w.empty()) o.workloads.insert(w);
        if (comma == std::string::npos) break;
        start = comma + 1;
      }
    }
    else if (k == "throughput_events") o.throughput_events = std::stoll(v);
    else if (k == "fanout_events") o.fanout_events = std::stoll(v);
    else if (k == "fanout_policies") o.fanout_policies = std::stoi(v);
    else if (k == "fanout_receivers") o.fanout_receivers = std::stoi(v);
    else if (k == "latency_seconds") o.latency_seconds = std::stod(v);
    else if (k == "watchers") o.watchers = std::stoi(v);
    else if (k == "watch_projects") o.watch_projects = std::stoi(v);
    else if (k == "watch_updates_per_s") o.watch_updates_per_s = std::stod(v);
    else if (k == "watch_seconds") o.watch_seconds = std::stod(v);
    else if (k == "backlog_tasks") o.backlog_tasks = std::stoll(v);
    else if (k == "wrk_seconds") o.wrk_seconds = std::stod(v);
    else if (k == "wrk_connections") o.wrk_connections = std::stoi(v);
    else if (k == "publish_streams") o.publish_streams = std::stoi(v);
    else if (k == "perf") o.perf = v;
    else if (k == "paced_streams") o.paced_streams = std::stoi(v);
    else {
      std::fprintf(stderr, "unknown flag --%s\n", k.c_str());
      return 2;
    }
  }
  if (o.heraldd.empty() || o.out.empty()) {
    std::fprintf(stderr, "usage: herald_bench --heraldd=PATH --out=FILE [--quick] [--workloads=...]\n");
    return 2;
  }
  signal(SIGPIPE, SIG_IGN);
  const std::vector<std::pair<std::string, std::function<json(const Options&)>>> all = {
      {"throughput", Throughput}, {"fanout", Fanout}, {"latency", Latency},
      {"watchers", Watchers},     {"backlog", Backlog},
  };
  std::ofstream out(o.out, std::ios::app);
  int failures = 0;
  for (const auto& [name, run] : all) {
    if (!o.workloads.empty() && !o.workloads.count(name)) continue;
    const int64_t start = NowNs();
    json j;
    try {
      j = run(o);
    } catch (const Failure& f) {
      j["workload"] = name;
      j["error"] = f.message;
    }
    j["wall_seconds"] = static_cast<double>(NowNs() - start) / 1e9;
    if (j.contains("error")) {
      ++failures;
      Log(name + " FAILED: " + j["error"].get<std::string>());
    }
    out << j.dump() << "\n";
    out.flush();
    Log(name + " done in " + Fmt("%.1f", j["wall_seconds"]) + " s");
  }
  RemoveTree(TmpDir());
  return failures == 0 ? 0 : 1;
}

}  // namespace
}  // namespace herald::bench

int main(int argc, char** argv) { return herald::bench::Main(argc, argv); }
