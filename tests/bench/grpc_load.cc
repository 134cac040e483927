#include "tests/bench/grpc_load.h"

#include <signal.h>
#include <sys/wait.h>

#include <cstdio>
#include <limits>
#include <thread>

#include "grpc/health/v1/health.grpc.pb.h"

namespace herald::bench {
namespace {

constexpr char kDigest[] =
    "sha256:954b378c375d852eb3c63ab88978f640b4348b01c1b3456a024a81536dafbbf4";

std::string Trimmed(std::string s) {
  while (!s.empty() && (s.back() == '\n' || s.back() == ' ')) s.pop_back();
  return s;
}

}  // namespace

// ---------------------------------------------------------------- Herald

std::unique_ptr<Herald> Herald::Start(const Options& options) {
  std::unique_ptr<Herald> h(new Herald());
  h->options_ = options;
  h->dir_ = MakeTempDir("herald-bench-");
  if (h->dir_.empty()) return nullptr;
  std::vector<std::string> argv = {
      options.binary,
      "--data_dir=" + h->dir_,
      "--allow_loopback_targets=true",
      "--listen_address=127.0.0.1:0",
      "--address_file=" + h->dir_ + "/address",
      "--log_level=warn",
      "--metrics_address=" + std::string(options.metrics ? "127.0.0.1:0" : ""),
      "--metrics_address_file=" + h->dir_ + "/metrics_address",
  };
  argv.insert(argv.end(), options.extra_args.begin(), options.extra_args.end());
  auto child = Spawn(argv, h->dir_ + "/heraldd.log");
  if (!child) return nullptr;
  h->child_ = *child;
  const int64_t deadline = NowNs() + int64_t{30} * 1000000000;
  while (NowNs() < deadline) {
    h->address_ = Trimmed(ReadFile(h->dir_ + "/address"));
    h->metrics_address_ = Trimmed(ReadFile(h->dir_ + "/metrics_address"));
    h->token_ = Trimmed(ReadFile(h->dir_ + "/admin.token"));
    if (!h->address_.empty() && !h->token_.empty() &&
        (!options.metrics || !h->metrics_address_.empty())) {
      break;
    }
    if (!h->Alive()) break;
    SleepMs(20);
  }
  if (h->address_.empty() || h->token_.empty()) {
    std::fprintf(stderr, "heraldd did not start:\n%s\n", h->LogTail().c_str());
    return nullptr;
  }
  h->channel_ = h->NewChannel(0);
  h->policies_ = v1::PolicyService::NewStub(h->channel_);
  h->events_ = v1::EventService::NewStub(h->channel_);
  h->deliveries_ = v1::DeliveryService::NewStub(h->channel_);
  if (!h->channel_->WaitForConnected(std::chrono::system_clock::now() +
                                     std::chrono::seconds(10))) {
    std::fprintf(stderr, "cannot connect to heraldd at %s\n", h->address_.c_str());
    return nullptr;
  }
  return h;
}

Herald::~Herald() {
  StopChild(child_.pid, 20000);
  if (!options_.keep_data) RemoveTree(dir_);
}

bool Herald::Alive() const {
  return waitpid(child_.pid, nullptr, WNOHANG) == 0;
}

std::string Herald::LogTail(size_t bytes) const {
  std::string log = ReadFile(child_.log_path);
  return log.size() > bytes ? log.substr(log.size() - bytes) : log;
}

std::shared_ptr<grpc::Channel> Herald::NewChannel(int index) const {
  grpc::ChannelArguments args;
  // Distinct arguments and a local subchannel pool: one connection each.
  args.SetInt(GRPC_ARG_USE_LOCAL_SUBCHANNEL_POOL, 1);
  args.SetInt("herald.bench.channel", index);
  args.SetMaxReceiveMessageSize(64 << 20);
  return grpc::CreateCustomChannel(address_, grpc::InsecureChannelCredentials(),
                                   args);
}

void Herald::Authorize(grpc::ClientContext& context) const {
  context.AddMetadata("authorization", "Bearer " + token_);
}

int64_t Herald::CreatePolicy(int64_t project, const std::string& name,
                             const std::vector<std::string>& urls,
                             const v1::RetryPolicy* retry) {
  v1::CreatePolicyRequest request;
  v1::Policy* p = request.mutable_policy();
  p->set_project_id(project);
  p->set_name(name);
  p->set_enabled(true);
  p->add_event_types("PUSH_ARTIFACT");
  for (const std::string& url : urls) {
    v1::Target* t = p->add_targets();
    t->set_type(v1::TARGET_TYPE_HTTP);
    t->set_address(url);
    t->set_payload_format(v1::PAYLOAD_FORMAT_DEFAULT);
  }
  if (retry) *p->mutable_retry_policy() = *retry;
  v1::CreatePolicyResponse response;
  grpc::ClientContext context;
  Authorize(context);
  grpc::Status s = policies_->CreatePolicy(&context, request, &response);
  if (!s.ok()) {
    std::fprintf(stderr, "CreatePolicy %s: %s\n", name.c_str(),
                 s.error_message().c_str());
    return -1;
  }
  return response.policy().id();
}

std::string Herald::SomePayload(int64_t policy_id) {
  v1::ListExecutionsRequest request;
  request.set_policy_id(policy_id);
  request.set_page_size(1);
  v1::ListExecutionsResponse response;
  grpc::ClientContext context;
  Authorize(context);
  if (!deliveries_->ListExecutions(&context, request, &response).ok() ||
      response.executions().empty()) {
    return "";
  }
  if (!response.executions(0).payload().empty()) {
    return response.executions(0).payload();
  }
  v1::GetExecutionRequest get;
  get.set_id(response.executions(0).id());
  v1::GetExecutionResponse got;
  grpc::ClientContext context2;
  Authorize(context2);
  if (!deliveries_->GetExecution(&context2, get, &got).ok()) return "";
  return got.execution().payload();
}

// ---------------------------------------------------------------- publish

void FillEvent(v1::Event* event, int64_t seq, int64_t project_id) {
  if (event->event_type().empty()) {
    event->set_event_type("PUSH_ARTIFACT");
    v1::Resource* r = event->add_resources();
    r->set_digest(kDigest);
    r->set_tag("latest");
    v1::Repository* repo = event->mutable_repository();
    repo->set_name("alpine");
    repo->set_namespace_("harbor");
    repo->set_repo_full_name("harbor/alpine");
    repo->set_repo_type("private");
  }
  event->set_project_id(project_id);
  event->set_operator_("bench-" + std::to_string(seq));
}

PublishStream::PublishStream(Herald& herald, v1::EventService::Stub* stub,
                             PublishLog* log,
                             std::function<int64_t(int64_t)> project_of)
    : log_(log), project_of_(std::move(project_of)) {
  herald.Authorize(context_);
  stub->async()->PublishEvents(&context_, this);
  StartRead(&response_);
  StartCall();
}

void PublishStream::Push(int64_t seq, int64_t intended_ns) {
  std::unique_lock<std::mutex> lock(mu_);
  if (writing_) {
    queue_.push_back({seq, intended_ns});
    return;
  }
  writing_ = true;
  lock.unlock();
  Write({seq, intended_ns});
}

void PublishStream::Write(Item item) {
  FillEvent(request_.mutable_event(), item.seq, project_of_(item.seq));
  log_->sent[static_cast<size_t>(item.seq - log_->first)] =
      item.intended ? item.intended : NowNs();
  {
    std::lock_guard<std::mutex> lock(mu_);
    order_.push_back(item.seq);
  }
  StartWrite(&request_);
}

void PublishStream::MaybeWritesDoneLocked(std::unique_lock<std::mutex>& lock) {
  if (closing_ && !writing_ && queue_.empty() && !writes_done_) {
    writes_done_ = true;
    lock.unlock();
    StartWritesDone();
  }
}

void PublishStream::Close() {
  std::unique_lock<std::mutex> lock(mu_);
  closing_ = true;
  MaybeWritesDoneLocked(lock);
}

void PublishStream::OnWriteDone(bool ok) {
  std::unique_lock<std::mutex> lock(mu_);
  if (!ok || queue_.empty()) {
    writing_ = false;
    if (!ok) queue_.clear();
    MaybeWritesDoneLocked(lock);
    return;
  }
  Item next = queue_.front();
  queue_.pop_front();
  lock.unlock();
  Write(next);
}

void PublishStream::OnReadDone(bool ok) {
  if (!ok) return;  // OnDone follows
  const int64_t now = NowNs();
  int64_t seq;
  {
    std::lock_guard<std::mutex> lock(mu_);
    const int64_t k = response_.sequence();
    seq = k >= 1 && k <= static_cast<int64_t>(order_.size())
              ? order_[static_cast<size_t>(k - 1)]
              : -1;
  }
  if (seq >= 0) log_->acked[static_cast<size_t>(seq - log_->first)] = now;
  if (response_.has_error()) {
    if (log_->errors++ == 0) {
      std::lock_guard<std::mutex> lock(log_->mu);
      log_->first_error = response_.error().message();
    }
  } else {
    log_->deliveries += response_.ack().deliveries_created();
  }
  ++log_->acks;
  StartRead(&response_);
}

void PublishStream::OnDone(const grpc::Status& status) {
  std::lock_guard<std::mutex> lock(mu_);
  status_ = status;
  done_ = true;
  cv_.notify_all();
}

grpc::Status PublishStream::Wait() {
  std::unique_lock<std::mutex> lock(mu_);
  cv_.wait(lock, [this] { return done_; });
  return status_;
}

grpc::Status PublishStream::WaitUntil(int64_t deadline_ns) {
  {
    std::unique_lock<std::mutex> lock(mu_);
    const auto wait = std::chrono::nanoseconds(std::max<int64_t>(0, deadline_ns - NowNs()));
    if (cv_.wait_for(lock, wait, [this] { return done_; })) return status_;
  }
  context_.TryCancel();
  return Wait();
}

namespace {
bool Report(const grpc::Status& status, PublishLog& log) {
  if (!status.ok()) {
    std::fprintf(stderr, "PublishEvents ended: %d %s\n", status.error_code(),
                 status.error_message().c_str());
    return false;
  }
  if (log.errors > 0) {
    std::fprintf(stderr, "%lld events refused, first: %s\n",
                 static_cast<long long>(log.errors.load()),
                 log.first_error.c_str());
    return false;
  }
  return true;
}
}  // namespace

bool PublishClosedLoop(Herald& herald, PublishLog& log, int streams,
                       const std::function<int64_t(int64_t)>& project_of) {
  const int64_t n = static_cast<int64_t>(log.sent.size());
  std::vector<std::shared_ptr<grpc::Channel>> channels;
  std::vector<std::unique_ptr<v1::EventService::Stub>> stubs;
  std::vector<std::unique_ptr<PublishStream>> all;
  for (int s = 0; s < streams; ++s) {
    channels.push_back(herald.NewChannel(100 + s));
    stubs.push_back(v1::EventService::NewStub(channels.back()));
    all.push_back(std::make_unique<PublishStream>(herald, stubs.back().get(),
                                                  &log, project_of));
  }
  // Interleaved, so every stream starts at once.
  for (int64_t i = 0; i < n; ++i) {
    all[static_cast<size_t>(i % streams)]->Push(log.first + i);
  }
  for (auto& s : all) s->Close();
  bool ok = true;
  for (auto& s : all) ok = Report(s->Wait(), log) && ok;
  return ok;
}

bool PublishPaced(Herald& herald, PublishLog& log, double rate, int streams,
                  const std::function<int64_t(int64_t)>& project_of,
                  double deadline_s) {
  const int64_t n = static_cast<int64_t>(log.sent.size());
  std::vector<std::shared_ptr<grpc::Channel>> channels;
  std::vector<std::unique_ptr<v1::EventService::Stub>> stubs;
  std::vector<std::unique_ptr<PublishStream>> all;
  for (int s = 0; s < streams; ++s) {
    channels.push_back(herald.NewChannel(200 + s));
    stubs.push_back(v1::EventService::NewStub(channels.back()));
    all.push_back(std::make_unique<PublishStream>(herald, stubs.back().get(),
                                                  &log, project_of));
  }
  const int64_t start = NowNs() + 1000000;
  const int64_t deadline =
      deadline_s > 0 ? start + static_cast<int64_t>(deadline_s * 1e9)
                     : std::numeric_limits<int64_t>::max();
  const double period = 1e9 / rate;
  for (int64_t i = 0; i < n; ++i) {
    const int64_t at = start + static_cast<int64_t>(static_cast<double>(i) * period);
    if (at > deadline) break;
    if (NowNs() < at) SleepUntilNs(at);
    all[static_cast<size_t>(i % streams)]->Push(log.first + i, at);
  }
  for (auto& s : all) s->Close();
  bool ok = true;
  for (auto& s : all) ok = Report(s->WaitUntil(deadline), log) && ok;
  return ok && log.acks.load() == n;
}

// ---------------------------------------------------------------- watch

Watcher::Watcher(Herald& herald, v1::DeliveryService::Stub* stub,
                 v1::WatchTasksRequest request, std::atomic<int>* ready,
                 std::atomic<int64_t>* measure_from_ns)
    : request_(std::move(request)), ready_(ready),
      measure_from_(measure_from_ns) {
  herald.Authorize(context_);
  stub->async()->WatchTasks(&context_, &request_, this);
  StartRead(&response_);
  StartCall();
}

void Watcher::OnReadDone(bool ok) {
  if (!ok) return;
  const int64_t now = NowNs();
  const int64_t from = measure_from_->load(std::memory_order_relaxed);
  for (const v1::TaskUpdate& u : response_.updates()) {
    const auto& t = u.task().update_time();
    const int64_t update_ns = t.seconds() * 1000000000 + t.nanos();
    if (from > 0 && update_ns >= from) lags_.push_back((now - update_ns) / 1000);
  }
  updates_ += response_.updates_size();
  if (!counted_ready_ && response_.updates_size() > 0) {
    counted_ready_ = true;
    ++*ready_;
  }
  StartRead(&response_);
}

void Watcher::OnDone(const grpc::Status& status) {
  std::lock_guard<std::mutex> lock(mu_);
  status_ = status;
  done_ = true;
  cv_.notify_all();
}

grpc::Status Watcher::Wait() {
  std::unique_lock<std::mutex> lock(mu_);
  cv_.wait(lock, [this] { return done_; });
  return status_;
}

// ---------------------------------------------------------------- health

std::vector<int64_t> HealthChecksPaced(
    const std::vector<std::shared_ptr<grpc::Channel>>& channels, double rate,
    int64_t n) {
  struct Call {
    grpc::ClientContext context;
    grpc::health::v1::HealthCheckRequest request;
    grpc::health::v1::HealthCheckResponse response;
    int64_t intended = 0;
  };
  std::vector<std::unique_ptr<grpc::health::v1::Health::Stub>> stubs;
  for (const auto& c : channels) stubs.push_back(grpc::health::v1::Health::NewStub(c));
  std::mutex mu;
  std::condition_variable cv;
  std::vector<int64_t> latencies;
  latencies.reserve(static_cast<size_t>(n));
  int64_t finished = 0;
  const int64_t start = NowNs() + 1000000;
  const double period = 1e9 / rate;
  for (int64_t i = 0; i < n; ++i) {
    const int64_t at = start + static_cast<int64_t>(static_cast<double>(i) * period);
    if (NowNs() < at) SleepUntilNs(at);
    auto* call = new Call();
    call->intended = at;
    stubs[static_cast<size_t>(i) % stubs.size()]->async()->Check(
        &call->context, &call->request, &call->response,
                         [call, &mu, &cv, &latencies, &finished](grpc::Status s) {
                           const int64_t now = NowNs();
                           std::lock_guard<std::mutex> lock(mu);
                           if (s.ok()) latencies.push_back((now - call->intended) / 1000);
                           ++finished;
                           cv.notify_all();
                           delete call;
                         });
  }
  std::unique_lock<std::mutex> lock(mu);
  cv.wait(lock, [&] { return finished == n; });
  return latencies;
}

}  // namespace herald::bench
