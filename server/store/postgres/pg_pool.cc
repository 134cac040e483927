#include "server/store/postgres/pg_pool.h"

#include <algorithm>
#include <utility>

#include "absl/time/clock.h"

namespace herald::store::pg {

Pool::Pool(Options options) : options_(std::move(options)) {
  conns_.resize(std::max(1, options_.size));
  absl::MutexLock lock(&mu_);
  for (int i = static_cast<int>(conns_.size()) - 1; i >= 0; --i) {
    free_.push_back(i);
  }
}

Pool::~Pool() { Close(); }

void Pool::Close() {
  absl::MutexLock lock(&mu_);
  closed_ = true;
  for (int slot : free_) conns_[slot].reset();
}

absl::StatusOr<std::unique_ptr<Connection>> Pool::Connect() {
  {
    absl::MutexLock lock(&connect_mu_);
    if (absl::Now() - last_failure_time_ < options_.reconnect_interval) {
      return last_failure_;
    }
  }
  absl::StatusOr<std::unique_ptr<Connection>> conn =
      Connection::Open(options_.dsn, options_.connect);
  absl::Status status = conn.status();
  if (status.ok() && options_.on_connect) status = options_.on_connect(**conn);
  if (!status.ok()) {
    absl::MutexLock lock(&connect_mu_);
    last_failure_time_ = absl::Now();
    last_failure_ = absl::IsUnavailable(status)
                        ? status
                        : absl::UnavailableError(status.message());
    return last_failure_;
  }
  return conn;
}

absl::StatusOr<Pool::Lease> Pool::Acquire() {
  int slot = -1;
  {
    absl::MutexLock lock(&mu_);
    auto ready = [this]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
      return closed_ || !free_.empty();
    };
    if (!mu_.AwaitWithTimeout(absl::Condition(&ready),
                              options_.acquire_timeout)) {
      return absl::UnavailableError(
          "no PostgreSQL connection became free in time (pool exhausted)");
    }
    if (closed_) return absl::UnavailableError("the store is closing");
    slot = free_.back();
    free_.pop_back();
  }
  Lease lease(this, slot);
  if (conns_[slot] != nullptr) conns_[slot]->CheckAlive();
  if (conns_[slot] == nullptr || conns_[slot]->broken()) {
    conns_[slot].reset();
    absl::StatusOr<std::unique_ptr<Connection>> conn = Connect();
    if (!conn.ok()) return conn.status();  // the lease returns the slot
    conns_[slot] = *std::move(conn);
  }
  return lease;
}

void Pool::Release(int slot) {
  std::unique_ptr<Connection>& conn = conns_[slot];
  if (conn != nullptr && !conn->broken() && !conn->idle()) {
    // Left inside a transaction by a failed call: end it.
    if (!conn->Exec("ROLLBACK").ok() || !conn->idle()) conn.reset();
  }
  if (conn != nullptr && conn->broken()) conn.reset();
  absl::MutexLock lock(&mu_);
  if (closed_) conn.reset();
  free_.push_back(slot);
}

Pool::Lease::~Lease() {
  if (pool_ != nullptr) pool_->Release(slot_);
}

Connection* Pool::Lease::conn_() { return pool_->conns_[slot_].get(); }

}  // namespace herald::store::pg
