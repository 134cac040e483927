#include "server/delivery/retention_sweeper.h"

#include <string>

#include "server/common/log.h"

namespace herald::delivery {

RetentionSweeper::RetentionSweeper(store::Store* store, Options options)
    : store_(store), options_(options) {}

RetentionSweeper::~RetentionSweeper() { Stop(); }

void RetentionSweeper::Start() {
  if (thread_.joinable()) return;
  thread_ = std::thread([this] { Loop(); });
}

void RetentionSweeper::Stop() {
  {
    absl::MutexLock lock(&mu_);
    stopping_ = true;
  }
  if (thread_.joinable()) thread_.join();
}

absl::StatusOr<int64_t> RetentionSweeper::SweepOnce() {
  absl::StatusOr<core::Settings> settings = store_->GetSettings();
  if (!settings.ok()) return settings.status();
  const int keep = std::max(settings->execution_retention_count, 1);
  int64_t total = 0;
  while (true) {
    absl::StatusOr<int64_t> deleted =
        store_->SweepExecutions(keep, options_.batch);
    if (!deleted.ok()) return deleted.status();
    total += *deleted;
    if (*deleted < options_.batch) break;
    absl::MutexLock lock(&mu_);
    if (stopping_) break;
  }
  return total;
}

void RetentionSweeper::Loop() {
  absl::Duration wait = options_.first_delay;
  while (true) {
    {
      absl::MutexLock lock(&mu_);
      mu_.AwaitWithTimeout(absl::Condition(&stopping_), wait);
      if (stopping_) return;
    }
    wait = options_.interval;
    absl::StatusOr<int64_t> deleted = SweepOnce();
    if (!deleted.ok()) {
      log::Warn("execution retention sweep failed; next try later",
                {{"error", std::string(deleted.status().message())}});
    } else if (*deleted > 0) {
      log::Info("execution retention sweep", {{"deleted", *deleted}});
    }
  }
}

}  // namespace herald::delivery
