#include "server/watch/watch_hub.h"

#include <algorithm>
#include <iterator>
#include <limits>

#include "server/common/log.h"

namespace herald::watch {

WatchHub::WatchHub(store::Store* store, Options options)
    : store_(store), options_(options) {}

WatchHub::~WatchHub() { Stop(); }

absl::Status WatchHub::Start() {
  absl::StatusOr<store::TaskUpdatePage> page = store_->ListTaskUpdates(
      std::numeric_limits<int64_t>::max(), 1);
  if (!page.ok()) return page.status();
  {
    absl::MutexLock lock(&mu_);
    latest_seq_ = page->latest_seq;
  }
  fetcher_ = std::thread([this] { FetchLoop(); });
  return absl::OkStatus();
}

void WatchHub::Stop() {
  std::vector<Waiter> waiters;
  {
    absl::MutexLock lock(&mu_);
    if (stopping_ && !fetcher_.joinable()) return;
    stopping_ = true;
    waiters.swap(waiters_);
  }
  if (fetcher_.joinable()) fetcher_.join();
  for (Waiter& w : waiters) std::move(w.wake)();
}

bool WatchHub::stopped() const {
  absl::MutexLock lock(&mu_);
  return stopping_;
}

void WatchHub::Notify() {
  absl::MutexLock lock(&mu_);
  notified_ = true;
}

int64_t WatchHub::latest_seq() const {
  absl::MutexLock lock(&mu_);
  return latest_seq_;
}

absl::StatusOr<std::vector<store::TaskUpdate>> WatchHub::Read(int64_t after,
                                                              int limit) {
  {
    absl::MutexLock lock(&mu_);
    last_use_ = absl::Now();
    if (after >= latest_seq_) return std::vector<store::TaskUpdate>{};
    if (!ring_.empty() && after >= ring_.front().seq - 1) {
      auto first = std::upper_bound(
          ring_.begin(), ring_.end(), after,
          [](int64_t seq, const store::TaskUpdate& u) { return seq < u.seq; });
      std::vector<store::TaskUpdate> out;
      for (auto it = first; it != ring_.end() && static_cast<int>(out.size()) < limit;
           ++it) {
        out.push_back(*it);
      }
      return out;
    }
  }
  // Behind the ring: catch up from the store.
  absl::StatusOr<store::TaskUpdatePage> page =
      store_->ListTaskUpdates(after, limit);
  if (!page.ok()) return page.status();
  if (page->oldest_seq > 0 && after < page->oldest_seq - 1) {
    return absl::OutOfRangeError("updates after this cursor were trimmed");
  }
  return std::move(page->updates);
}

void WatchHub::WhenAfter(int64_t after, absl::AnyInvocable<void() &&> wake) {
  {
    absl::MutexLock lock(&mu_);
    last_use_ = absl::Now();
    if (!stopping_ && latest_seq_ <= after) {
      waiters_.push_back(Waiter{after, std::move(wake)});
      return;
    }
  }
  std::move(wake)();
}

void WatchHub::FetchLoop() {
  while (true) {
    {
      absl::MutexLock lock(&mu_);
      auto ready = [this]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
        return notified_ || stopping_;
      };
      mu_.AwaitWithTimeout(absl::Condition(&ready), options_.poll_interval);
      if (stopping_) return;
      notified_ = false;
    }
    if (!FetchOnce()) absl::SleepFor(options_.poll_interval);
    if (absl::Now() >= next_trim_) {
      next_trim_ = absl::Now() + options_.trim_interval;
      absl::StatusOr<int64_t> trimmed =
          store_->TrimTaskUpdates(absl::Now() - options_.retention);
      if (!trimmed.ok()) {
        log::Warn("watch: trimming task updates failed",
                  {{"error", std::string(trimmed.status().message())}});
      }
    }
  }
}

bool WatchHub::FetchOnce() {
  while (true) {
    int64_t after;
    bool idle;
    {
      absl::MutexLock lock(&mu_);
      after = latest_seq_;
      idle = waiters_.empty() && absl::Now() - last_use_ >= options_.idle_after;
    }
    // Idle: only the bounds (after = max reads no rows).
    absl::StatusOr<store::TaskUpdatePage> page = store_->ListTaskUpdates(
        idle ? std::numeric_limits<int64_t>::max() : after,
        idle ? 1 : options_.fetch_limit);
    if (!page.ok()) {
      log::Warn("watch: reading task updates failed",
                {{"error", std::string(page.status().message())}});
      return false;
    }
    if (!idle && page->updates.empty()) return true;
    std::vector<Waiter> ready;
    {
      absl::MutexLock lock(&mu_);
      if (idle) {
        if (page->latest_seq <= latest_seq_) return true;
        // The ring must stay a gapless tail of the log: start it over.
        ring_.clear();
        latest_seq_ = page->latest_seq;
      } else {
        for (store::TaskUpdate& u : page->updates) {
          ring_.push_back(std::move(u));
          if (ring_.size() > options_.ring_capacity) ring_.pop_front();
        }
        latest_seq_ = ring_.back().seq;
      }
      auto split = std::partition(
          waiters_.begin(), waiters_.end(),
          [this](const Waiter& w) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
            return w.after >= latest_seq_;
          });
      std::move(split, waiters_.end(), std::back_inserter(ready));
      waiters_.erase(split, waiters_.end());
    }
    for (Waiter& w : ready) std::move(w.wake)();
    if (idle ||
        static_cast<int>(page->updates.size()) < options_.fetch_limit) {
      return true;
    }
  }
}

}  // namespace herald::watch
