// A thin RAII layer over libpq for the PostgreSQL store: typed parameters
// (text for scalars, PostgreSQL's binary format for bytea and arrays),
// results read as text, and a Connection that runs a list of statements in
// one pipeline (one network round trip), preparing each distinct SQL text
// once per connection.
//
// Thread-safety: a Connection is used by one thread at a time (the pool and
// the store's threads guarantee it).
//
// Errors follow store.h: a lost or unusable connection, a server shutting
// down or starting up, too many connections, a deadlock or serialisation
// failure are kUnavailable (retry); a unique violation is kAlreadyExists;
// bad data (SQLSTATE class 22, e.g. invalid UTF-8) is kInvalidArgument;
// anything else kInternal. Messages carry PostgreSQL's primary message only,
// never the DETAIL (which quotes key values) and never a parameter.
#ifndef HERALD_SERVER_STORE_POSTGRES_PG_CONN_H_
#define HERALD_SERVER_STORE_POSTGRES_PG_CONN_H_

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"

struct pg_conn;
struct pg_result;

namespace herald::store::pg {

// Debian's Abseil has its own string_view: bridges std::string_view.
inline absl::string_view Sv(std::string_view v) { return {v.data(), v.size()}; }

// Unix microseconds with InfinitePast/InfiniteFuture mapped to
// INT64_MIN/INT64_MAX (the SQLite store's encoding too).
int64_t TimeToMicros(absl::Time t);
absl::Time MicrosToTime(int64_t micros);

// Statement parameters, $1, $2, ... in the order added.
class Params {
 public:
  Params& Int(int64_t v);  // text format; type from the SQL context
  Params& Text(const std::string& v);
  Params& Text(const char* v) { return Text(std::string(v)); }
  Params& Text(std::string_view v) { return Text(std::string(v)); }
  Params& Text(absl::string_view v) { return Text(std::string(v)); }
  Params& Bool(bool v);
  Params& Null();
  Params& Bytes(std::string_view v);  // bytea, binary
  // Arrays, binary; the SQL should cast the parameter ($n::int8[] ...).
  Params& Int8Array(const std::vector<int64_t>& v);
  Params& Int8ArrayNullable(const std::vector<std::optional<int64_t>>& v);
  Params& Int4Array(const std::vector<int32_t>& v);
  Params& TextArray(const std::vector<std::string>& v);
  Params& ByteaArray(const std::vector<std::string_view>& v);

  int size() const { return static_cast<int>(values_.size()); }

 private:
  friend class Connection;
  void Add(std::string value, bool null, int format, unsigned type);

  std::vector<std::string> values_;
  std::vector<char> nulls_;
  std::vector<int> formats_;
  std::vector<unsigned> types_;
};

struct Query {
  std::string sql;
  Params params;
};

// One statement's rows, in text format.
class Result {
 public:
  Result() = default;
  explicit Result(pg_result* r);
  Result(Result&&) noexcept = default;
  Result& operator=(Result&&) noexcept = default;

  int rows() const;
  bool IsNull(int row, int col) const;
  int64_t Int64(int row, int col) const;
  int Int(int row, int col) const { return static_cast<int>(Int64(row, col)); }
  bool Bool(int row, int col) const;
  std::string Text(int row, int col) const;
  std::string_view View(int row, int col) const;
  // A bytea column (hex text format) decoded.
  std::string Bytes(int row, int col) const;
  // Rows affected by INSERT/UPDATE/DELETE.
  int64_t Affected() const;
  // The command tag ("COMMIT", "ROLLBACK", "UPDATE 3", ...).
  std::string_view Tag() const;

 private:
  struct Deleter {
    void operator()(pg_result* r) const;
  };
  std::unique_ptr<pg_result, Deleter> res_;
};

// The outcome of one statement of a pipeline.
struct Outcome {
  absl::Status status;  // kAborted: skipped after an earlier failure
  std::string sqlstate;
  Result result;
};

// SQLSTATE + primary message -> status (see the file comment).
absl::Status ErrorStatus(std::string_view sqlstate, std::string_view message,
                         std::string_view context);

struct ConnectOptions {
  absl::Duration connect_timeout = absl::Seconds(5);
  std::string application_name = "heraldd";
};

class Connection {
 public:
  // Connects with `dsn` (keyword/value or URI); connect_timeout, TCP
  // keepalives and application_name default to ours unless the DSN sets
  // them; client_encoding is always UTF8. kUnavailable when the server
  // cannot be reached or refuses; kFailedPrecondition for a server older
  // than PostgreSQL 12.
  static absl::StatusOr<std::unique_ptr<Connection>> Open(
      const std::string& dsn, const ConnectOptions& options);
  ~Connection();
  Connection(const Connection&) = delete;
  Connection& operator=(const Connection&) = delete;

  // Sends every query (preparing new SQL texts first) and one sync, then
  // reads every result: one round trip. Without BEGIN among them the
  // queries form one implicit transaction (all or nothing). `out` gets one
  // outcome per query; after a failure the rest are kAborted. Returns
  // non-OK (kUnavailable) only when the connection itself failed; it is
  // then broken().
  absl::Status Pipeline(const std::vector<const Query*>& queries,
                        std::vector<Outcome>& out);

  // Pipeline() that wants every query to succeed: the results, or the
  // first failure (the connection failure, else the failing query's).
  absl::StatusOr<std::vector<Result>> Run(std::vector<Query> queries);
  absl::StatusOr<Result> Run1(std::string sql, Params params = Params());

  // Simple-protocol script without parameters (DDL, several statements).
  absl::Status Exec(const std::string& sql);

  // Reconnection needed: the socket failed or the protocol state is lost.
  bool broken() const;
  // Without blocking: notices whether the server sent anything while the
  // connection sat idle - it closes sessions that way (a restart, an
  // administrator, idle_session_timeout) - and then makes it broken().
  // Only for connections that do not LISTEN.
  void CheckAlive();
  // Not inside a transaction block.
  bool idle() const;
  // SQLSTATE of the last failed statement ("" if none).
  const std::string& last_sqlstate() const { return last_sqlstate_; }
  pg_conn* raw() { return conn_; }

 private:
  struct Stmt {
    std::string name;
    bool prepared = false;
  };
  explicit Connection(pg_conn* conn) : conn_(conn) {}
  absl::Status Fail(std::string_view what);

  pg_conn* conn_;
  bool broken_ = false;
  std::string last_sqlstate_;
  std::unordered_map<std::string, Stmt> statements_;
  int next_statement_ = 0;
};

}  // namespace herald::store::pg

#endif  // HERALD_SERVER_STORE_POSTGRES_PG_CONN_H_
