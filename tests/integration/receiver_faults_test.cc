// Receiver faults end to end: a real heraldd delivering through real
// policies to receivers that misbehave in every way the delivery engine
// must survive (tests/receivers):
//
//   hang        accepts the connection, never answers
//   drip        answers one byte per second
//   huge_body   a 64 MiB response body (read only up to 1 MiB)
//   truncated   closes the connection mid-response
//   tls_untrusted  TLS handshake fails: certificate from an unknown CA
//   tls_not_tls    TLS handshake fails: the peer answers the ClientHello
//                  with a plain HTTP 400 (a plain server on an https URL)
//   dns         the host name does not resolve
//   refused     nothing listens (the endpoint is down)
//   flap        down (TCP reset, 503) then up again: succeeds on a retry
//
// Every round publishes kEventsPerFault events to each fault's policy and
// waits until all tasks are final; then it checks each task's final status,
// its log lines, and that /metrics counted exactly the attempts and final
// outcomes the tasks show. After the rounds heraldd's open file
// descriptors, established TCP connections and RSS must be back at the
// baseline taken after the first round.
//
// CTest runs 4 rounds (a few seconds each). The long run:
//   HERALD_FAULT_ROUNDS=200 build-rel/tests/integration/receiver_faults_test
// prints a resource line every 10 rounds and a "[ figures  ]" summary.
#include <arpa/inet.h>
#include <dirent.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <cstdlib>
#include <fstream>
#include <iostream>
#include <map>
#include <set>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "absl/time/clock.h"
#include "herald/v1/delivery_service.grpc.pb.h"
#include "herald/v1/event_service.grpc.pb.h"
#include "herald/v1/policy_service.grpc.pb.h"
#include "tests/integration/grpc_test_util.h"
#include "tests/integration/heraldd_process.h"
#include "tests/receivers/test_receiver.h"

namespace herald::testing {
namespace {

using receivers::Reply;
using receivers::TestReceiver;

constexpr int kEventsPerFault = 4;
constexpr int kFaultAttempts = 2;
// Flap: 2 failures per event are queued, so 2 * kEventsPerFault + 1
// attempts always end in a success whatever the interleaving.
constexpr int kFlapAttempts = 2 * kEventsPerFault + 1;

template <typename F>
bool WaitFor(F done, absl::Duration timeout = absl::Seconds(10)) {
  const absl::Time deadline = absl::Now() + timeout;
  while (!done()) {
    if (absl::Now() > deadline) return false;
    absl::SleepFor(absl::Milliseconds(20));
  }
  return true;
}

int RoundsFromEnvironment() {
  int rounds = 4;
  if (const char* v = std::getenv("HERALD_FAULT_ROUNDS")) {
    if (!absl::SimpleAtoi(v, &rounds) || rounds < 2) rounds = 4;
  }
  return rounds;
}

// ---- heraldd's resources, from /proc ----

struct Resources {
  int64_t fds = 0;
  int64_t established = 0;  // TCP connections in ESTABLISHED
  int64_t rss_kib = 0;
  int64_t threads = 0;
};

std::string ReadFile(const std::string& path) {
  std::ifstream in(path);
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

Resources Measure(pid_t pid) {
  Resources r;
  const std::string proc = absl::StrCat("/proc/", pid);
  std::set<std::string> sockets;  // inode numbers of the process's sockets
  if (DIR* d = opendir((proc + "/fd").c_str())) {
    while (dirent* e = readdir(d)) {
      if (e->d_name[0] == '.') continue;
      ++r.fds;
      char target[256];
      const std::string link = absl::StrCat(proc, "/fd/", e->d_name);
      const ssize_t n = readlink(link.c_str(), target, sizeof(target) - 1);
      if (n <= 0) continue;
      absl::string_view t(target, static_cast<size_t>(n));
      if (absl::ConsumePrefix(&t, "socket:[") && absl::ConsumeSuffix(&t, "]")) {
        sockets.insert(std::string(t));
      }
    }
    closedir(d);
  }
  // /proc/<pid>/net/tcp lists the whole network namespace: keep the rows
  // whose inode is one of the process's sockets. Column 4 is the state
  // (01 = ESTABLISHED), column 10 the inode.
  for (const char* table : {"/net/tcp", "/net/tcp6"}) {
    std::istringstream rows(ReadFile(proc + table));
    std::string row;
    std::getline(rows, row);  // header
    while (std::getline(rows, row)) {
      std::vector<std::string> cols =
          absl::StrSplit(row, ' ', absl::SkipEmpty());
      if (cols.size() > 9 && cols[3] == "01" && sockets.count(cols[9]) > 0) {
        ++r.established;
      }
    }
  }
  std::istringstream status(ReadFile(proc + "/status"));
  std::string line;
  while (std::getline(status, line)) {
    if (absl::StartsWith(line, "VmRSS:")) r.rss_kib = std::stoll(line.substr(6));
    if (absl::StartsWith(line, "Threads:")) r.threads = std::stoll(line.substr(8));
  }
  return r;
}

std::string Describe(const Resources& r) {
  return absl::StrCat("fds=", r.fds, " established=", r.established,
                      " rss=", r.rss_kib, "KiB threads=", r.threads);
}

// ---- /metrics ----

// GET http://<address>/metrics with HTTP/1.0 (the server closes when done).
std::string Scrape(const std::string& address) {
  const size_t colon = address.rfind(':');
  int port = 0;
  if (colon == std::string::npos ||
      !absl::SimpleAtoi(address.substr(colon + 1), &port)) {
    return "";
  }
  const int fd = socket(AF_INET, SOCK_STREAM, 0);
  if (fd < 0) return "";
  sockaddr_in sa{};
  sa.sin_family = AF_INET;
  sa.sin_port = htons(static_cast<uint16_t>(port));
  inet_pton(AF_INET, "127.0.0.1", &sa.sin_addr);
  std::string response;
  if (connect(fd, reinterpret_cast<sockaddr*>(&sa), sizeof(sa)) == 0) {
    const std::string request = "GET /metrics HTTP/1.0\r\nHost: herald\r\n\r\n";
    if (send(fd, request.data(), request.size(), MSG_NOSIGNAL) ==
        static_cast<ssize_t>(request.size())) {
      char buf[16384];
      ssize_t n;
      while ((n = recv(fd, buf, sizeof(buf), 0)) > 0) response.append(buf, n);
    }
  }
  close(fd);
  const size_t body = response.find("\r\n\r\n");
  return body == std::string::npos ? "" : response.substr(body + 4);
}

// Sample "name{labels} value" lines by "name{labels}" (labels as printed).
std::map<std::string, double> ParseMetrics(const std::string& text) {
  std::map<std::string, double> out;
  for (absl::string_view line : absl::StrSplit(text, '\n')) {
    if (line.empty() || line[0] == '#') continue;
    const size_t space = line.rfind(' ');
    if (space == absl::string_view::npos) continue;
    double v = 0;
    if (absl::SimpleAtod(line.substr(space + 1), &v)) {
      out[std::string(line.substr(0, space))] = v;
    }
  }
  return out;
}

// The value of the sample of `name` carrying every label in `labels`
// (e.g. {"outcome=\"retry\"", "target_type=\"http\""}); 0 when absent.
double Value(const std::map<std::string, double>& samples,
             const std::string& name, const std::vector<std::string>& labels) {
  for (const auto& [key, v] : samples) {
    if (!absl::StartsWith(key, name + "{") && key != name) continue;
    bool all = true;
    for (const std::string& l : labels) all = all && absl::StrContains(key, l);
    if (all) return v;
  }
  return 0;
}

// The counters this test reconciles with the tasks.
struct Counters {
  double attempts_success = 0, attempts_retry = 0, attempts_failed = 0;
  double finished_success = 0, finished_failed = 0;
  double running = 0, in_flight = 0;

  bool operator==(const Counters& o) const {
    return attempts_success == o.attempts_success &&
           attempts_retry == o.attempts_retry &&
           attempts_failed == o.attempts_failed &&
           finished_success == o.finished_success &&
           finished_failed == o.finished_failed;
  }
};

Counters ReadCounters(const std::string& address) {
  const std::map<std::string, double> m = ParseMetrics(Scrape(address));
  const std::string http = "target_type=\"http\"";
  Counters c;
  c.attempts_success = Value(m, "herald_delivery_attempts_total",
                             {http, "outcome=\"success\""});
  c.attempts_retry =
      Value(m, "herald_delivery_attempts_total", {http, "outcome=\"retry\""});
  c.attempts_failed =
      Value(m, "herald_delivery_attempts_total", {http, "outcome=\"failed\""});
  c.finished_success = Value(m, "herald_deliveries_finished_total",
                             {http, "outcome=\"success\""});
  c.finished_failed = Value(m, "herald_deliveries_finished_total",
                            {http, "outcome=\"failed\""});
  c.running = Value(m, "herald_queue_tasks", {"state=\"running\""});
  for (const auto& [key, v] : m) {
    if (absl::StartsWith(key, "herald_endpoint_in_flight")) c.in_flight += v;
  }
  return c;
}

std::string Describe(const Counters& c) {
  return absl::StrCat("attempts success/retry/failed ", c.attempts_success,
                      "/", c.attempts_retry, "/", c.attempts_failed,
                      ", finished success/failed ", c.finished_success, "/",
                      c.finished_failed);
}

// ---- the faults ----

struct Fault {
  std::string name;
  std::string address;  // the target address
  int max_attempts = kFaultAttempts;
  int timeout_seconds = 0;  // the policy's http_timeout; 0 = default (3 s)
  v1::TaskStatus want = v1::TASK_STATUS_ERROR;
  // Substrings every task log must contain.
  std::vector<std::string> log_has;
  // Prefix of the final status_message ("" = not checked).
  std::string status_message_prefix;
  int64_t project = 0;
  int64_t policy = 0;
};

// A port on 127.0.0.1 where nothing listens (bound, then closed).
int ClosedPort() {
  const int fd = socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in sa{};
  sa.sin_family = AF_INET;
  inet_pton(AF_INET, "127.0.0.1", &sa.sin_addr);
  bind(fd, reinterpret_cast<sockaddr*>(&sa), sizeof(sa));
  socklen_t len = sizeof(sa);
  getsockname(fd, reinterpret_cast<sockaddr*>(&sa), &len);
  close(fd);
  return ntohs(sa.sin_port);
}

// A listener that answers whatever arrives first (a TLS ClientHello) with
// a plain-text HTTP 400 and closes, as an HTTP server does when a client
// speaks TLS to it.
class NotTlsListener {
 public:
  NotTlsListener() {
    fd_ = socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in sa{};
    sa.sin_family = AF_INET;
    inet_pton(AF_INET, "127.0.0.1", &sa.sin_addr);
    bind(fd_, reinterpret_cast<sockaddr*>(&sa), sizeof(sa));
    listen(fd_, 64);
    socklen_t len = sizeof(sa);
    getsockname(fd_, reinterpret_cast<sockaddr*>(&sa), &len);
    port_ = ntohs(sa.sin_port);
    thread_ = std::thread([this] { Serve(); });
  }
  ~NotTlsListener() {
    stop_ = true;
    shutdown(fd_, SHUT_RDWR);  // wakes accept()
    thread_.join();
    close(fd_);
  }
  int port() const { return port_; }
  int64_t accepted() const { return accepted_; }

 private:
  void Serve() {
    while (!stop_) {
      const int c = accept(fd_, nullptr, nullptr);
      if (c < 0) {
        if (errno == EINTR || errno == ECONNABORTED) continue;
        return;
      }
      ++accepted_;
      timeval tv{1, 0};
      setsockopt(c, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
      char hello[4096];
      (void)recv(c, hello, sizeof(hello), 0);  // read it: close sends FIN
      static constexpr char kReply[] =
          "HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\n"
          "Connection: close\r\n\r\n";
      (void)send(c, kReply, sizeof(kReply) - 1, MSG_NOSIGNAL);
      close(c);
    }
  }

  int fd_ = -1;
  int port_ = 0;
  std::atomic<bool> stop_{false};
  std::atomic<int64_t> accepted_{0};
  std::thread thread_;
};

v1::Event PushEvent(int64_t project, int64_t n) {
  v1::Event e;
  e.set_event_type("PUSH_ARTIFACT");
  e.set_project_id(project);
  e.set_operator_("faults");
  auto* r = e.mutable_repository();
  r->set_repo_full_name("library/faults");
  r->set_namespace_("library");
  r->set_name("faults");
  auto* res = e.add_resources();
  res->set_digest(
      "sha256:dde8e930c7b6a490f728e66292bc9bce42efc9bbb5278bae40e4f30f6e00fe8c");
  res->set_tag(absl::StrCat("r", n));
  return e;
}

class ReceiverFaultsTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto plain = TestReceiver::Start({.record = false});
    ASSERT_TRUE(plain.ok()) << plain.status();
    plain_ = *std::move(plain);
    auto tls = TestReceiver::Start({.tls = true, .record = false});
    ASSERT_TRUE(tls.ok()) << tls.status();
    tls_ = *std::move(tls);

    const std::string dir = MakeTempDir("heraldd-faults");
    metrics_file_ = dir + "/metrics.address";
    HeralddProcess::Options options;
    options.data_dir = dir;
    options.extra_args = {"--delivery_backoff_scale=0.001",
                          "--metrics_address=127.0.0.1:0",
                          "--metrics_address_file=" + metrics_file_};
    auto started = HeralddProcess::Start(options);
    ASSERT_TRUE(started.ok()) << started.status();
    server_ = *std::move(started);
    ASSERT_TRUE(WaitFor([&] { return !ReadFile(metrics_file_).empty(); }));
    metrics_ = std::string(absl::StripAsciiWhitespace(ReadFile(metrics_file_)));
    admin_ = server_->AdminToken();
    auto channel = server_->Channel();
    events_ = v1::EventService::NewStub(channel);
    policies_ = v1::PolicyService::NewStub(channel);
    deliveries_ = v1::DeliveryService::NewStub(channel);
  }

  void CreatePolicy(Fault& f) {
    v1::CreatePolicyRequest r;
    v1::Policy* p = r.mutable_policy();
    p->set_project_id(f.project);
    p->set_name("fault-" + f.name);
    p->add_event_types("PUSH_ARTIFACT");
    v1::Target* t = p->add_targets();
    t->set_type(v1::TARGET_TYPE_HTTP);
    t->set_address(f.address);
    t->set_auth_header("Bearer fault-test-credential");
    p->mutable_retry_policy()->set_max_attempts(f.max_attempts);
    if (f.timeout_seconds > 0) {
      p->mutable_retry_policy()->mutable_http_timeout()->set_seconds(
          f.timeout_seconds);
    }
    v1::CreatePolicyResponse out;
    grpc::Status s = policies_->CreatePolicy(AuthContext(admin_).get(), r, &out);
    ASSERT_TRUE(s.ok()) << f.name << ": " << s.error_message();
    f.policy = out.policy().id();
  }

  // Publishes every event of a round on one stream; all acknowledged.
  void PublishRound(const std::vector<Fault>& faults, int round) {
    grpc::ClientContext context;
    context.AddMetadata("authorization", "Bearer " + admin_);
    auto stream = events_->PublishEvents(&context);
    int sent = 0;
    for (const Fault& f : faults) {
      for (int i = 0; i < kEventsPerFault; ++i) {
        v1::PublishEventsRequest r;
        *r.mutable_event() = PushEvent(f.project, round);
        ASSERT_TRUE(stream->Write(r));
        ++sent;
      }
    }
    stream->WritesDone();
    int acks = 0;
    v1::PublishEventsResponse ack;
    while (stream->Read(&ack)) {
      EXPECT_TRUE(ack.has_ack()) << ack.error().message();
      ++acks;
    }
    ASSERT_TRUE(stream->Finish().ok());
    ASSERT_EQ(acks, sent);
  }

  // The newest kEventsPerFault executions of the fault's policy (this
  // round's), each with its single task once every one is final.
  std::vector<v1::Task> FinalTasks(const Fault& f) {
    std::vector<v1::Task> tasks;
    const bool done = WaitFor(
        [&] {
          tasks.clear();
          v1::ListExecutionsRequest r;
          r.set_policy_id(f.policy);
          r.set_page_size(kEventsPerFault);
          v1::ListExecutionsResponse page;
          if (!deliveries_->ListExecutions(AuthContext(admin_).get(), r, &page)
                   .ok()) {
            return false;
          }
          for (const v1::Execution& e : page.executions()) {
            v1::ListTasksRequest tr;
            tr.set_execution_id(e.id());
            v1::ListTasksResponse tl;
            if (!deliveries_->ListTasks(AuthContext(admin_).get(), tr, &tl).ok() ||
                tl.tasks_size() != 1 || !tl.tasks(0).final()) {
              return false;
            }
            tasks.push_back(tl.tasks(0));
          }
          return static_cast<int>(tasks.size()) == kEventsPerFault;
        },
        absl::Seconds(30));
    EXPECT_TRUE(done) << f.name << ": tasks not final after 30 s";
    return tasks;
  }

  std::string Log(int64_t task_id) {
    absl::StatusOr<std::string> log = TaskLog(*deliveries_, admin_, task_id);
    EXPECT_TRUE(log.ok()) << log.status();
    return log.value_or("");
  }

  std::unique_ptr<TestReceiver> plain_, tls_;
  NotTlsListener not_tls_;
  std::unique_ptr<HeralddProcess> server_;
  std::string metrics_file_, metrics_, admin_;
  std::unique_ptr<v1::EventService::Stub> events_;
  std::unique_ptr<v1::PolicyService::Stub> policies_;
  std::unique_ptr<v1::DeliveryService::Stub> deliveries_;
};

TEST_F(ReceiverFaultsTest, EveryFaultEndsRightIsCountedAndLeaksNothing) {
  const int rounds = RoundsFromEnvironment();
  constexpr size_t kHuge = 64u << 20;
  plain_->SetReply("/hang", Reply::Hang());
  plain_->SetReply("/drip", Reply::Drip(std::string(30, 'x')));
  plain_->SetReply("/huge", Reply::HugeBody(kHuge));
  plain_->SetReply("/truncated", Reply::Truncated("{\"ok\":", 4096));
  plain_->SetReply("/flap", Reply::Status(200));
  const std::string no_more = "no more attempts (no attempts left)";
  std::vector<Fault> faults = {
      {.name = "hang",
       .address = plain_->url("/hang"),
       .timeout_seconds = 1,
       .log_has = {"no response", "error: timeout", no_more},
       .status_message_prefix = "timeout: "},
      {.name = "drip",
       .address = plain_->url("/drip"),
       .timeout_seconds = 1,
       .log_has = {"error: timeout", no_more},
       .status_message_prefix = "timeout: "},
      {.name = "huge_body",
       .address = plain_->url("/huge"),
       .log_has = {"error: protocol: response body too large", no_more},
       .status_message_prefix = "protocol: response body too large"},
      {.name = "truncated",
       .address = plain_->url("/truncated"),
       .log_has = {"error: protocol", no_more},
       .status_message_prefix = "protocol: "},
      {.name = "tls_untrusted",
       .address = tls_->url("/untrusted"),
       .log_has = {"no response", "error: tls", no_more},
       .status_message_prefix = "tls: "},
      {.name = "tls_not_tls",
       .address = absl::StrCat("https://127.0.0.1:", not_tls_.port(), "/tls"),
       .log_has = {"no response", "error: tls", no_more},
       .status_message_prefix = "tls: "},
      {.name = "dns",
       .address = "http://herald-fault-test.invalid/hook",
       .log_has = {"no response", "error: dns", no_more},
       .status_message_prefix = "dns: "},
      {.name = "refused",
       .address = absl::StrCat("http://127.0.0.1:", ClosedPort(), "/down"),
       .log_has = {"no response", "error: connect", no_more},
       .status_message_prefix = "connect: "},
      {.name = "flap",
       .address = plain_->url("/flap"),
       .max_attempts = kFlapAttempts,
       .want = v1::TASK_STATUS_SUCCESS,
       .log_has = {"delivered"}},
  };
  for (size_t i = 0; i < faults.size(); ++i) {
    faults[i].project = static_cast<int64_t>(i) + 1;
    CreatePolicy(faults[i]);
  }
  ASSERT_FALSE(HasFatalFailure());

  Resources baseline;
  Counters before = ReadCounters(metrics_);
  std::map<std::string, int64_t> attempts_by_fault;
  int64_t tasks_checked = 0;
  int64_t flap_unavailable = 0, flap_no_response = 0;
  const absl::Time start = absl::Now();
  for (int round = 0; round < rounds; ++round) {
    // The flapping endpoint: down (reset, then 503) twice per event, then up.
    std::vector<Reply> down;
    for (int i = 0; i < kEventsPerFault; ++i) {
      down.push_back(Reply::Reset());
      down.push_back(Reply::Status(503, "maintenance"));
    }
    plain_->PushReplies("/flap", down);
    PublishRound(faults, round);
    ASSERT_FALSE(HasFatalFailure());

    Counters want = before;
    for (const Fault& f : faults) {
      std::vector<v1::Task> tasks = FinalTasks(f);
      ASSERT_EQ(static_cast<int>(tasks.size()), kEventsPerFault) << f.name;
      int64_t runs = 0;
      for (const v1::Task& t : tasks) {
        ++tasks_checked;
        runs += t.run_count();
        EXPECT_EQ(t.status(), f.want) << f.name << ": " << t.DebugString();
        const std::string log = Log(t.id());
        EXPECT_TRUE(absl::StartsWith(t.status_message(), f.status_message_prefix))
            << f.name << ": " << t.status_message() << "\n" << log;
        if (f.want == v1::TASK_STATUS_ERROR) {
          EXPECT_EQ(t.run_count(), f.max_attempts) << f.name;
          want.attempts_retry += t.run_count() - 1;
          want.attempts_failed += 1;
          want.finished_failed += 1;
        } else {
          want.attempts_retry += t.run_count() - 1;
          want.attempts_success += 1;
          want.finished_success += 1;
        }
        EXPECT_EQ(std::count(log.begin(), log.end(), '\n'), t.run_count())
            << f.name << ": one line per attempt\n" << log;
        for (const std::string& s : f.log_has) {
          EXPECT_TRUE(absl::StrContains(log, s))
              << f.name << ": log lacks \"" << s << "\"\n" << log;
        }
        EXPECT_FALSE(absl::StrContains(log, "fault-test-credential")) << log;
        if (round == 0 && &t == &tasks[0]) {
          std::cout << "[ log      ] " << f.name << ":\n" << log;
        }
      }
      if (f.name == "flap") {
        // Every queued 503 failed an attempt; a reset on a reused
        // keep-alive connection may be retried by libcurl at once on a new
        // one (nothing had been received), so not every reset is an
        // attempt of its own.
        EXPECT_GE(runs, 2 * kEventsPerFault) << "flap";
        EXPECT_LE(runs, 3 * kEventsPerFault) << "flap";
        for (const v1::Task& t : tasks) {
          const std::string log = Log(t.id());
          for (absl::string_view line : absl::StrSplit(log, '\n')) {
            if (absl::StrContains(line, "status 503")) ++flap_unavailable;
            if (absl::StrContains(line, "no response")) ++flap_no_response;
          }
        }
      }
      attempts_by_fault[f.name] += runs;
    }
    ASSERT_FALSE(HasFatalFailure());
    // The counters are recorded next to the task write: wait, then compare.
    Counters now;
    EXPECT_TRUE(WaitFor([&] {
      now = ReadCounters(metrics_);
      return now == want;
    })) << "round " << round << ": metrics " << Describe(now) << ", tasks say "
        << Describe(want);
    before = now;

    if (round == 0) {
      // Baseline once the first round's connections are gone (hung and
      // dripping exchanges are closed by heraldd at their timeout).
      absl::SleepFor(absl::Milliseconds(500));
      baseline = Measure(server_->pid());
      std::cout << "[ baseline ] " << Describe(baseline) << std::endl;
    } else if (round % 10 == 0 || round == rounds - 1) {
      std::cout << "[ round " << round << " ] "
                << Describe(Measure(server_->pid())) << " after "
                << absl::FormatDuration(absl::Trunc(absl::Now() - start,
                                                    absl::Seconds(1)))
                << std::endl;
    }
  }

  // Nothing in flight, and the resources back at the baseline. Idle
  // keep-alive connections to the flapping endpoint may stay cached (one
  // per concurrent event, for up to 118 s), so connections are allowed
  // that slack and the other descriptors are compared on their own.
  const Counters last = ReadCounters(metrics_);
  EXPECT_EQ(last.running, 0);
  EXPECT_EQ(last.in_flight, 0);
  Resources end;
  const bool settled = WaitFor(
      [&] {
        end = Measure(server_->pid());
        // (DNS lookups run on short-lived resolver threads.)
        // Other descriptors: a few may be sockets the connection cache
        // holds in another state or a resolver's socket pair.
        return end.fds - end.established <=
                   baseline.fds - baseline.established + 4 &&
               end.established <= baseline.established + kEventsPerFault &&
               end.threads <= baseline.threads;
      },
      absl::Seconds(10));
  EXPECT_TRUE(settled) << "baseline " << Describe(baseline) << ", now "
                       << Describe(end);
  // RSS: the store's page caches fill as the database grows with every
  // round (SQLite writer 32 MiB, 4 readers 2 MiB each), which is not a
  // leak; anything beyond them and 8 MiB of allocator slack is.
  EXPECT_LE(end.rss_kib, baseline.rss_kib + (32 + 4 * 2 + 8) * 1024)
      << "baseline " << Describe(baseline) << ", now " << Describe(end);
  // The receivers see no connection left open by a failed exchange.
  EXPECT_TRUE(WaitFor([&] {
    return tls_->open_connections() == 0 &&
           plain_->open_connections() <= kEventsPerFault;
  })) << "plain " << plain_->open_connections() << ", tls "
      << tls_->open_connections();

  int64_t attempts = 0;
  std::string per_fault;
  for (const auto& [name, n] : attempts_by_fault) {
    attempts += n;
    absl::StrAppend(&per_fault, per_fault.empty() ? "" : ", ", name, " ", n);
  }
  std::cout << "[ figures  ] " << rounds << " rounds, " << faults.size()
            << " fault kinds x " << kEventsPerFault << " events: "
            << tasks_checked << " tasks, " << attempts << " attempts ("
            << per_fault << "; flap attempts answered 503 " << flap_unavailable
            << ", without a response " << flap_no_response << ") in "
            << absl::FormatDuration(
                   absl::Trunc(absl::Now() - start, absl::Seconds(1)))
            << "; heraldd baseline " << Describe(baseline) << ", end "
            << Describe(end) << std::endl;
  EXPECT_EQ(flap_unavailable, rounds * kEventsPerFault);
  EXPECT_EQ(server_->Terminate(), 0);
}

}  // namespace
}  // namespace herald::testing
