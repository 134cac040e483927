#include "server/delivery/dispatcher.h"

#include <pthread.h>
#include <unistd.h>

#include <algorithm>
#include <optional>
#include <utility>

#include "absl/random/distributions.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "server/common/log.h"

namespace herald::delivery {
namespace {

// Attempts started from a completion callback on this thread right now
// (guards against recursion through senders that complete inline).
thread_local int inline_depth = 0;

std::string MakeOwner() {
  char host[256] = {0};
  if (gethostname(host, sizeof(host) - 1) != 0) host[0] = '\0';
  absl::BitGen gen;
  return absl::StrFormat("%s:%d:%08x", host[0] ? host : "heraldd", getpid(),
                         absl::Uniform<uint32_t>(gen));
}

}  // namespace

Dispatcher::Dispatcher(store::Store* store, HttpSender* sender,
                       core::Clock* clock, DispatcherOptions options)
    : store_(store),
      sender_(sender),
      clock_(clock),
      options_(std::move(options)),
      owner_(options_.owner.empty() ? MakeOwner() : options_.owner) {}

Dispatcher::~Dispatcher() { Shutdown(absl::ZeroDuration()); }

absl::Status Dispatcher::Start() {
  if (options_.batch_size <= 0 || options_.max_in_flight <= 0 ||
      options_.per_endpoint_concurrency <= 0 || options_.slack_queue <= 0) {
    return absl::InvalidArgumentError(
        "dispatcher batch size, in-flight limits and Slack queue must be "
        "positive");
  }
  if (options_.lease <= absl::ZeroDuration() ||
      options_.poll_interval <= absl::ZeroDuration()) {
    return absl::InvalidArgumentError(
        "dispatcher lease and poll interval must be positive");
  }
  {
    absl::MutexLock lock(&mu_);
    if (started_ || shut_down_) {
      return absl::FailedPreconditionError("dispatcher already started");
    }
  }
  if (options_.expire_foreign_leases_at_start) {
    absl::StatusOr<int> expired = store_->ExpireLeases(owner_);
    if (!expired.ok()) return expired.status();
    if (*expired > 0) {
      log::Info("deliveries interrupted by the previous run are due again",
                {{"tasks", *expired}});
    }
  }
  {
    absl::MutexLock lock(&mu_);
    started_ = true;
  }
  store_->SetWorkListener([this] { Notify(); });
  claimer_ = std::thread([this] {
    pthread_setname_np(pthread_self(), "herald-claimer");
    ClaimLoop();
  });
  loop_ = std::thread([this] {
    pthread_setname_np(pthread_self(), "herald-dispatch");
    Loop();
  });
  return absl::OkStatus();
}

void Dispatcher::Notify() {
  absl::MutexLock lock(&mu_);
  claim_wanted_ = true;
  wake_ = true;
}

DispatcherStats Dispatcher::stats() const {
  absl::MutexLock lock(&mu_);
  DispatcherStats s = stats_;
  s.in_flight = in_flight_;
  s.queued = queued_;
  return s;
}

std::map<std::string, int> Dispatcher::EndpointInFlight() const {
  std::map<std::string, int> out;
  absl::MutexLock lock(&mu_);
  for (const auto& [key, ep] : endpoints_) {
    if (ep.in_flight == 0) continue;
    if (ep.slack) {
      absl::StatusOr<std::string> host = EndpointKey(key);
      out[host.ok() ? *host : std::string("slack")] += ep.in_flight;
    } else {
      out[key] += ep.in_flight;
    }
  }
  return out;
}

void Dispatcher::StopClaiming() {
  {
    absl::MutexLock lock(&mu_);
    if (!started_ || stopping_) return;
    stopping_ = true;
    wake_ = true;
  }
  store_->SetWorkListener(nullptr);
}

void Dispatcher::Shutdown(absl::Duration deadline) {
  absl::MutexLock serial(&shutdown_mu_);
  {
    absl::MutexLock lock(&mu_);
    if (shut_down_) return;
    if (!started_) {
      shut_down_ = true;
      return;
    }
    stopping_ = true;
    sender_stopping_ = true;
    wake_ = true;
  }
  store_->SetWorkListener(nullptr);
  // Waits for the attempts in flight up to the deadline and aborts the
  // rest; their callbacks (kOther "shutting down") become releases.
  sender_->Shutdown(deadline);
  {
    absl::MutexLock lock(&mu_);
    sender_stopped_ = true;
    wake_ = true;
  }
  loop_.join();  // returns once no claim is in progress
  {
    absl::MutexLock lock(&mu_);
    claimer_stop_ = true;
  }
  claimer_.join();
  absl::MutexLock lock(&mu_);
  shut_down_ = true;
  log::Info("dispatcher stopped",
            {{"attempts", stats_.attempts},
             {"succeeded", stats_.succeeded},
             {"released", stats_.released},
             {"unwritten_results", static_cast<int64_t>(results_.size())}});
}

double Dispatcher::Uniform() {
  if (options_.uniform) return options_.uniform();
  absl::MutexLock lock(&rng_mu_);
  return absl::Uniform<double>(rng_, 0.0, 1.0);
}

core::Settings Dispatcher::CachedSettings() {
  absl::MutexLock lock(&settings_mu_);
  return settings_;
}

core::Settings Dispatcher::CurrentSettings() {
  const absl::Time now = absl::Now();
  {
    absl::MutexLock lock(&settings_mu_);
    if (now - settings_time_ < options_.settings_max_age) return settings_;
  }
  absl::StatusOr<core::Settings> fresh = store_->GetSettings();
  absl::MutexLock lock(&settings_mu_);
  if (fresh.ok()) settings_ = *fresh;  // else keep the last known
  settings_time_ = now;
  return settings_;
}

// ---- The loop ----

void Dispatcher::Loop() {
  while (true) {
    std::vector<Work> ready;
    bool claim = false, flush = false, release = false;
    {
      absl::MutexLock lock(&mu_);
      const absl::Time now = clock_->Now();
      const absl::Time real_now = absl::Now();
      if (real_now >= next_poll_) {
        claim_wanted_ = true;
        next_poll_ = real_now + options_.poll_interval;
      }
      if (now >= next_retry_) {
        claim_wanted_ = true;
        next_retry_ = absl::InfiniteFuture();
      }
      if (stopping_) {
        // Hand back everything not started yet.
        for (auto& [key, ep] : endpoints_) {
          for (Work& w : ep.queued) {
            releases_.push_back({w.claimed.task.id, w.claimed.task.run_count});
            ++stats_.released;
          }
          queued_ -= static_cast<int>(ep.queued.size());
          ep.queued.clear();
        }
      } else {
        TakeReadyLocked(now, ready);
      }
      const bool store_ok = real_now >= store_backoff_until_;
      const int outstanding = in_flight_ + queued_;
      claim = !stopping_ && !claiming_ && claim_wanted_ && store_ok &&
              outstanding < MaxOutstanding() &&
              real_now >= last_claim_ + options_.claim_min_interval;
      if (claim) claiming_ = true;  // the claimer thread takes it
      flush = !results_.empty() && !flushing_ && store_ok;
      release = !releases_.empty() && store_ok;
      if (stopping_ && sender_stopped_ && in_flight_ == 0 && !flushing_ &&
          !claiming_) {
        const bool written = results_.empty() && releases_.empty();
        if (written || stopping_failures_ >= 3) {
          if (!written) {
            log::Error("dispatcher stopping with unwritten delivery results: "
                       "those tasks are delivered again after a restart",
                       {{"results", static_cast<int64_t>(results_.size())},
                        {"releases", static_cast<int64_t>(releases_.size())}});
          }
          return;
        }
        // While stopping, a failed write is retried without waiting for
        // the backoff, a few times.
        flush = !results_.empty();
        release = !releases_.empty();
      }
    }
    if (!ready.empty()) {
      const core::Settings settings = CurrentSettings();
      const absl::Time real_now = absl::Now();
      for (Work& w : ready) {
        if (real_now - w.claim_time > kRecheckAfter &&
            absl::IsNotFound(store_->GetTask(w.claimed.task.id).status())) {
          // Deleted with its policy while it waited: never send it.
          absl::MutexLock lock(&mu_);
          --in_flight_;
          auto ep = endpoints_.find(w.claimed.endpoint);
          if (ep != endpoints_.end()) --ep->second.in_flight;
          ++stats_.dropped;
          wake_ = true;
          continue;
        }
        StartAttempt(std::move(w), settings);
      }
    }
    if (flush) FlushResults();
    if (release) FlushReleases();
    absl::MutexLock lock(&mu_);
    if (!wake_) {
      const absl::Duration wait = NextWaitLocked(clock_->Now(), absl::Now());
      if (wait > absl::ZeroDuration()) {
        mu_.AwaitWithTimeout(absl::Condition(&wake_), wait);
      }
    }
    wake_ = false;
  }
}

absl::Duration Dispatcher::NextWaitLocked(absl::Time now,
                                          absl::Time real_now) const {
  if (stopping_) return absl::Milliseconds(50);
  absl::Duration wait = next_poll_ - real_now;
  wait = std::min(wait, next_retry_ - now);
  if (store_backoff_until_ > real_now) {
    wait = std::min(wait, store_backoff_until_ - real_now);
  } else if (claim_wanted_ && !claiming_ &&
             in_flight_ + queued_ < MaxOutstanding()) {
    wait = std::min(wait, last_claim_ + options_.claim_min_interval - real_now);
  }
  for (const auto& [key, ep] : endpoints_) {
    if (ep.slack && !ep.queued.empty() && ep.in_flight == 0) {
      wait = std::min(wait, ep.next_send - now);
    }
  }
  return std::clamp(wait, absl::ZeroDuration(), options_.poll_interval);
}

void Dispatcher::TakeReadyLocked(absl::Time now, std::vector<Work>& out) {
  if (endpoints_.empty()) return;
  // Round robin from the endpoint after the last one served, so that when
  // the global limit binds every endpoint gets its turn.
  const absl::Time real_now = absl::Now();
  auto start = endpoints_.upper_bound(rr_cursor_);
  if (start == endpoints_.end()) start = endpoints_.begin();
  auto it = start;
  std::vector<std::string> idle;
  do {
    Endpoint& ep = it->second;
    while (!ep.queued.empty() && in_flight_ < options_.max_in_flight) {
      if (ep.slack) {
        if (ep.in_flight > 0 || now < ep.next_send) break;
        ep.next_send = now + options_.slack_interval;
      } else if (ep.in_flight >= options_.per_endpoint_concurrency) {
        break;
      }
      out.push_back(std::move(ep.queued.front()));
      ep.queued.pop_front();
      --queued_;
      ++ep.in_flight;
      ++in_flight_;
      rr_cursor_ = it->first;
    }
    // Forgotten (with its completion rate) once idle for a while.
    if (ep.queued.empty() && ep.in_flight == 0 && ep.next_send <= now &&
        real_now - ep.window_start > absl::Seconds(10)) {
      idle.push_back(it->first);
    }
    if (++it == endpoints_.end()) it = endpoints_.begin();
  } while (it != start);
  for (const std::string& key : idle) endpoints_.erase(key);
}

void Dispatcher::StartAttempt(Work work, const core::Settings& settings) {
  const store::ClaimedTask& c = work.claimed;
  Attempt attempt;
  attempt.task_id = c.task.id;
  attempt.run_count = c.task.run_count;
  attempt.endpoint = c.endpoint;
  attempt.slack = c.execution.vendor_type == core::VendorType::kSlack;
  attempt.context.attempt = std::max(c.task.run_count, 1);
  attempt.context.max_attempts = std::max(c.task.max_attempts, 1);
  attempt.context.retry_policy = c.retry_policy;
  attempt.context.backoff_scale = options_.backoff_scale;
  attempt.context.uniform = Uniform();
  attempt.secrets = SecretsOf(c.execution.target);
  attempt.start = clock_->Now();
  attempt.created = c.execution.start_time;

  BuildOptions build;
  build.timeout = EffectiveTimeout(c.retry_policy, settings);
  build.user_agent = options_.user_agent;
  HttpRequest request = BuildRequest(c.execution, build, attempt.start);
  request.endpoint_key = c.endpoint;
  {
    absl::MutexLock lock(&mu_);
    ++stats_.attempts;
  }
  sender_->Send(std::move(request),
                [this, attempt = std::move(attempt)](HttpResult result) {
                  OnResult(attempt, std::move(result));
                });
}

void Dispatcher::OnResult(const Attempt& attempt, HttpResult result) {
  const int run_count = attempt.run_count;
  // Classify and format outside the lock: pure work.
  const AttemptOutcome outcome = ClassifyAttempt(result, attempt.context);
  const absl::Time now = clock_->Now();
  store::TaskResult r;
  r.task_id = attempt.task_id;
  r.run_count = run_count;
  r.response_code = result.status_code;
  switch (outcome.verdict) {
    case Verdict::kSuccess:
      r.outcome = store::TaskResult::Outcome::kSuccess;
      break;
    case Verdict::kRetry:
      r.outcome = store::TaskResult::Outcome::kRetry;
      r.next_attempt_time = now + outcome.delay;
      break;
    case Verdict::kFailed:
      r.outcome = store::TaskResult::Outcome::kFailed;
      break;
  }
  if (outcome.verdict != Verdict::kSuccess) {
    r.error = SanitizeForLog(outcome.error, attempt.secrets);
  }
  r.log_line = FormatAttemptLog(attempt.start, attempt.context, result,
                                outcome, attempt.secrets);
  bool aborted;
  {
    absl::MutexLock lock(&mu_);
    aborted = sender_stopping_ && result.error_kind == HttpErrorKind::kOther;
  }
  if (options_.on_attempt && !aborted) {
    AttemptReport report;
    report.vendor_type =
        attempt.slack ? core::VendorType::kSlack : core::VendorType::kWebhook;
    report.verdict = outcome.verdict;
    report.latency = result.latency;
    report.since_created = now - attempt.created;
    options_.on_attempt(report);
  }

  std::optional<Work> next;
  {
    absl::MutexLock lock(&mu_);
    --in_flight_;
    auto ep = endpoints_.find(attempt.endpoint);
    if (ep != endpoints_.end()) {
      --ep->second.in_flight;
      ++ep->second.completed;
      if (attempt.slack && result.status_code == 429 &&
          result.retry_after.has_value()) {
        ep->second.next_send = std::max(
            ep->second.next_send, now + ClampRetryAfter(*result.retry_after));
      }
    }
    if (saturated_) claim_wanted_ = true;
    if (sender_stopping_ && result.error_kind == HttpErrorKind::kOther) {
      // Aborted by the shutdown (or refused after it): not an attempt.
      releases_.push_back({attempt.task_id, run_count});
      ++stats_.released;
      wake_ = true;
      return;
    }
    switch (outcome.verdict) {
      case Verdict::kSuccess: ++stats_.succeeded; break;
      case Verdict::kRetry: ++stats_.retries; break;
      case Verdict::kFailed: ++stats_.failed; break;
    }
    results_.push_back(std::move(r));
    // The slot just freed goes to the endpoint's next queued attempt at
    // once, from this thread, without a round trip through the loop. Only
    // for HTTP endpoints (Slack is paced by the loop), tasks claimed
    // recently (older ones are re-checked by the loop, which may block on
    // the store) and not re-entrantly (a sender completing inline).
    if (ep != endpoints_.end() && !stopping_ && !ep->second.slack &&
        inline_depth == 0 && !ep->second.queued.empty() &&
        ep->second.in_flight < options_.per_endpoint_concurrency &&
        in_flight_ < options_.max_in_flight &&
        absl::Now() - ep->second.queued.front().claim_time <= kRecheckAfter) {
      next.emplace(std::move(ep->second.queued.front()));
      ep->second.queued.pop_front();
      --queued_;
      ++ep->second.in_flight;
      ++in_flight_;
    }
    // The loop writes results (a write in progress wakes it when done),
    // claims, and starts what could not be started here.
    if (!flushing_ || claim_wanted_ ||
        (ep != endpoints_.end() && !ep->second.queued.empty())) {
      wake_ = true;
    }
  }
  if (next.has_value()) {
    ++inline_depth;
    StartAttempt(*std::move(next), CachedSettings());
    --inline_depth;
  }
}

void Dispatcher::FlushResults() {
  std::vector<store::TaskResult> batch;
  {
    absl::MutexLock lock(&mu_);
    if (flushing_ || results_.empty()) return;
    batch.swap(results_);
    flushing_ = true;
  }
  // Kept for a retry if the write fails; the store gets a copy.
  auto kept = std::make_shared<std::vector<store::TaskResult>>(batch);
  store_->CompleteTasksAsync(
      owner_, std::move(batch),
      [this, kept](absl::StatusOr<std::vector<bool>> applied) {
        absl::MutexLock lock(&mu_);
        flushing_ = false;
        wake_ = true;
        if (!applied.ok()) {
          ++stats_.store_errors;
          if (stopping_) ++stopping_failures_;
          store_backoff_until_ = absl::Now() + options_.store_retry_delay;
          results_.insert(results_.begin(), kept->begin(), kept->end());
          log::Warn("cannot record delivery results; retrying",
                    {{"results", static_cast<int64_t>(kept->size())},
                     {"error", std::string(applied.status().message())}});
          return;
        }
        for (size_t i = 0; i < kept->size() && i < applied->size(); ++i) {
          const store::TaskResult& r = (*kept)[i];
          if (!(*applied)[i]) {
            ++stats_.stale_results;
          } else if (r.outcome == store::TaskResult::Outcome::kRetry) {
            next_retry_ = std::min(next_retry_, r.next_attempt_time);
          }
        }
      });
}

void Dispatcher::FlushReleases() {
  std::vector<store::TaskLease> batch;
  {
    absl::MutexLock lock(&mu_);
    batch.swap(releases_);
  }
  if (batch.empty()) return;
  absl::StatusOr<int> released = store_->ReleaseTasks(owner_, batch);
  if (!released.ok()) {
    absl::MutexLock lock(&mu_);
    ++stats_.store_errors;
    if (stopping_) ++stopping_failures_;
    store_backoff_until_ = absl::Now() + options_.store_retry_delay;
    releases_.insert(releases_.end(), batch.begin(), batch.end());
    log::Warn("cannot release delivery leases; retrying",
              {{"tasks", static_cast<int64_t>(batch.size())},
               {"error", std::string(released.status().message())}});
  }
}

void Dispatcher::ClaimLoop() {
  while (true) {
    {
      absl::MutexLock lock(&mu_);
      auto ready = [this]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
        return claiming_ || claimer_stop_;
      };
      mu_.Await(absl::Condition(&ready));
      if (claimer_stop_) return;
    }
    ClaimOnce();
    absl::MutexLock lock(&mu_);
    claiming_ = false;
    wake_ = true;
  }
}

int Dispatcher::RoomLocked(Endpoint& ep, absl::Time real_now) const {
  constexpr absl::Duration kWindow = absl::Milliseconds(100);
  const absl::Duration elapsed = real_now - ep.window_start;
  if (elapsed >= kWindow) {
    ep.completed_per_window =
        static_cast<int>(ep.completed * absl::FDivDuration(kWindow, elapsed));
    ep.completed = 0;
    ep.window_start = real_now;
  }
  const int occupied = ep.in_flight + static_cast<int>(ep.queued.size());
  if (ep.slack) return std::max(0, options_.slack_queue - occupied);
  // About two windows (200 ms) of completions, within [concurrency,
  // concurrency + batch].
  const int ahead = std::clamp(2 * ep.completed_per_window,
                               options_.per_endpoint_concurrency,
                               options_.batch_size);
  return std::max(0, options_.per_endpoint_concurrency + ahead - occupied);
}

void Dispatcher::ClaimOnce() {
  store::ClaimOptions claim;
  claim.owner = owner_;
  claim.lease = options_.lease;
  // Per endpoint: as many as may run at once plus as many again queued
  // here (so the next attempt starts without a store round trip); Slack
  // URLs only a few, as they are paced.
  const int http_room = 2 * options_.per_endpoint_concurrency;
  claim.default_endpoint_room = http_room;
  {
    absl::MutexLock lock(&mu_);
    if (stopping_) return;
    last_claim_ = absl::Now();
    claim_wanted_ = false;
    claim.limit = std::min(options_.batch_size,
                           MaxOutstanding() - (in_flight_ + queued_));
    for (auto& [key, ep] : endpoints_) {
      claim.endpoint_room.emplace_back(key, RoomLocked(ep, last_claim_));
    }
  }
  if (claim.limit <= 0) return;
  absl::StatusOr<std::vector<store::ClaimedTask>> claimed =
      store_->ClaimTasks(claim);
  absl::MutexLock lock(&mu_);
  if (!claimed.ok()) {
    ++stats_.store_errors;
    store_backoff_until_ = absl::Now() + options_.store_retry_delay;
    claim_wanted_ = true;
    log::Warn("cannot claim due deliveries; retrying",
              {{"error", std::string(claimed.status().message())}});
    return;
  }
  std::map<std::string, int> per_endpoint;
  const absl::Time claim_time = absl::Now();
  for (store::ClaimedTask& c : *claimed) {
    ++per_endpoint[c.endpoint];
    Endpoint& ep = endpoints_[c.endpoint];
    ep.slack = c.execution.vendor_type == core::VendorType::kSlack;
    if (ep.window_start == absl::InfinitePast()) ep.window_start = claim_time;
    ep.queued.push_back(Work{std::move(c), claim_time});
    ++queued_;
  }
  if (!claimed->empty()) {
    ++stats_.claims;
    stats_.claimed += static_cast<int64_t>(claimed->size());
  }
  // Was due work possibly left behind? A full batch, or an endpoint that
  // got all the room it was given (or had none).
  bool saturated = claimed->size() >= static_cast<size_t>(claim.limit);
  for (const auto& [key, room] : claim.endpoint_room) {
    auto n = per_endpoint.find(key);
    if (room == 0 || (n != per_endpoint.end() && n->second >= room)) {
      saturated = true;
    }
  }
  for (const auto& [key, n] : per_endpoint) {
    if (n >= http_room) saturated = true;
  }
  saturated_ = saturated;
  if (claimed->size() >= static_cast<size_t>(claim.limit)) {
    claim_wanted_ = true;
  }
  wake_ = true;
}

}  // namespace herald::delivery
