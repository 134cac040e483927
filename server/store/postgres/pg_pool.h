// A fixed-size pool of PostgreSQL connections, opened lazily and reopened
// after a failure, so the store rides out a database restart without a
// restart of its own.
//
//   absl::StatusOr<Pool::Lease> lease = pool.Acquire();
//   if (!lease.ok()) return lease.status();  // kUnavailable
//   ... (*lease)->Run(...) ...
//
// A lease whose connection broke (or was left inside a transaction) drops
// it when returned; the next Acquire of that slot connects again. While the
// server cannot be reached, connection attempts are at most one per
// `reconnect_interval`: in between, Acquire fails at once with the last
// error instead of hammering the server.
//
// Thread-safety: every method may be called from any thread.
#ifndef HERALD_SERVER_STORE_POSTGRES_PG_POOL_H_
#define HERALD_SERVER_STORE_POSTGRES_PG_POOL_H_

#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "server/store/postgres/pg_conn.h"

namespace herald::store::pg {

class Pool {
 public:
  struct Options {
    std::string dsn;
    int size = 8;
    ConnectOptions connect;
    // How long Acquire waits for a free connection.
    absl::Duration acquire_timeout = absl::Seconds(10);
    absl::Duration reconnect_interval = absl::Milliseconds(250);
    // Runs on every new connection before first use (session settings).
    std::function<absl::Status(Connection&)> on_connect;
  };

  explicit Pool(Options options);
  ~Pool();
  Pool(const Pool&) = delete;
  Pool& operator=(const Pool&) = delete;

  class Lease {
   public:
    Lease(Lease&& other) noexcept : pool_(other.pool_), slot_(other.slot_) {
      other.pool_ = nullptr;
    }
    Lease& operator=(Lease&&) = delete;
    ~Lease();
    Connection* operator->() { return conn_(); }
    Connection& operator*() { return *conn_(); }

   private:
    friend class Pool;
    Lease(Pool* pool, int slot) : pool_(pool), slot_(slot) {}
    Connection* conn_();
    Pool* pool_;
    int slot_;
  };

  // A connection for the caller's exclusive use until the lease ends.
  // kUnavailable when none is free within acquire_timeout, when the pool is
  // closed, or when the server cannot be reached.
  absl::StatusOr<Lease> Acquire();

  // A connection of its own (same settings), outside the pool, for a
  // thread that keeps one (the writer, the listener).
  absl::StatusOr<std::unique_ptr<Connection>> Connect();

  // Fails every later Acquire; connections are closed when returned.
  void Close();

 private:
  void Release(int slot);

  const Options options_;
  absl::Mutex mu_;
  // One per slot; slot i is touched only by the holder of its lease (or
  // under mu_ while it is free).
  std::vector<std::unique_ptr<Connection>> conns_;
  std::vector<int> free_ ABSL_GUARDED_BY(mu_);
  bool closed_ ABSL_GUARDED_BY(mu_) = false;

  absl::Mutex connect_mu_;
  absl::Time last_failure_time_ ABSL_GUARDED_BY(connect_mu_) =
      absl::InfinitePast();
  absl::Status last_failure_ ABSL_GUARDED_BY(connect_mu_);
};

}  // namespace herald::store::pg

#endif  // HERALD_SERVER_STORE_POSTGRES_PG_POOL_H_
