// A thin RAII layer over the SQLite C API: a Connection that owns a
// sqlite3 handle and a cache of prepared statements, and a Statement handle
// that binds, steps and reads columns and resets itself when it goes out of
// scope.
//
// Thread-safety: a Connection (and every Statement it hands out) is used by
// one thread at a time; connections are opened with SQLITE_OPEN_NOMUTEX
// (SQLite's multi-thread mode), so SQLite adds no locking of its own. The
// owner of the connection guarantees exclusivity (SqliteStore gives the
// writer connection to one thread and leases reader connections).
#ifndef HERALD_SERVER_STORE_SQLITE_SQLITE_DB_H_
#define HERALD_SERVER_STORE_SQLITE_SQLITE_DB_H_

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include "absl/strings/string_view.h"

#include "absl/container/node_hash_map.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/time/time.h"

struct sqlite3;
struct sqlite3_stmt;

namespace herald::store::sqlite {

// Maps a SQLite result code to a status, following store.h's contract:
// SQLITE_BUSY, LOCKED, IOERR, CANTOPEN, FULL, PROTOCOL and NOMEM are
// kUnavailable (the caller may retry), everything else is kInternal. The
// message is "<context>: <SQLite's message>"; SQLite's messages never
// contain bound parameter values, so no secret can leak through them.
absl::Status SqliteStatus(int rc, absl::string_view context, sqlite3* db);

// True for SQLITE_CORRUPT and SQLITE_NOTADB (primary codes).
bool IsCorruptionCode(int rc);

// Unix microseconds with the infinite times mapped to INT64_MIN/INT64_MAX, so
// InfinitePast/InfiniteFuture round-trip and sort correctly in SQL.
int64_t TimeToMicros(absl::Time t);
absl::Time MicrosToTime(int64_t micros);

// Debian's Abseil has its own string_view type; this bridges the
// std::string_view values returned by server/core.
inline absl::string_view Sv(std::string_view v) { return {v.data(), v.size()}; }

class Connection;

namespace internal {
// A cache entry of Connection: the prepared statement and whether a
// Statement handle currently holds it.
struct StatementSlot {
  sqlite3_stmt* stmt = nullptr;
  bool lent = false;
};
}  // namespace internal

// A prepared statement lent by a Connection. Bind* indexes are 1-based,
// column indexes 0-based. Bind errors are remembered and reported by the
// next Step/Run. When the handle is destroyed the statement is reset and its
// bindings cleared (cached statements) or finalized (uncached ones). Text
// and blob arguments are copied (SQLITE_TRANSIENT), so temporaries are safe.
class Statement {
 public:
  Statement(Statement&& other) noexcept;
  Statement& operator=(Statement&&) = delete;
  Statement(const Statement&) = delete;
  Statement& operator=(const Statement&) = delete;
  ~Statement();

  Statement& Bind(int index, int64_t value);
  Statement& Bind(int index, int value) {
    return Bind(index, static_cast<int64_t>(value));
  }
  Statement& Bind(int index, bool value) {
    return Bind(index, static_cast<int64_t>(value ? 1 : 0));
  }
  Statement& Bind(int index, absl::string_view text);
  Statement& Bind(int index, const char* text) {
    return Bind(index, absl::string_view(text));
  }
  Statement& BindBlob(int index, absl::string_view bytes);
  // Like Bind/BindBlob without the copy (SQLITE_STATIC): `bytes` must stay
  // valid and unchanged until this Statement is destroyed. For large values
  // (payloads) whose owner outlives the statement.
  Statement& BindNoCopy(int index, absl::string_view text);
  Statement& BindBlobNoCopy(int index, absl::string_view bytes);
  Statement& BindNull(int index);

  // Advances: true when a row is available, false when done.
  absl::StatusOr<bool> Step();
  // Steps to completion, ignoring any rows.
  absl::Status Run();

  int64_t Int64(int col) const;
  int Int(int col) const { return static_cast<int>(Int64(col)); }
  bool Bool(int col) const { return Int64(col) != 0; }
  std::string Text(int col) const;
  std::string Blob(int col) const;
  bool IsNull(int col) const;

 private:
  friend class Connection;
  // `slot` is the cache entry to give back, or nullptr for an uncached
  // statement this handle finalizes.
  Statement(sqlite3* db, sqlite3_stmt* stmt, internal::StatementSlot* slot);

  sqlite3* db_;
  sqlite3_stmt* stmt_;
  internal::StatementSlot* slot_;
  int bind_rc_ = 0;  // first bind error, SQLITE_OK (0) if none
};

class Connection {
 public:
  struct OpenOptions {
    bool create = false;     // create the file if missing
    bool read_only = false;  // PRAGMA query_only on this connection
    absl::Duration busy_timeout = absl::Seconds(5);
  };

  // Opens `path` in multi-thread mode with extended result codes.
  static absl::StatusOr<std::unique_ptr<Connection>> Open(
      const std::string& path, const OpenOptions& options);

  Connection(const Connection&) = delete;
  Connection& operator=(const Connection&) = delete;
  ~Connection();  // finalizes cached statements and closes the handle

  // Runs one or more ';'-separated statements without parameters, ignoring
  // any rows they return.
  absl::Status Exec(absl::string_view sql);
  // Returns a statement for `sql`, prepared once and cached by its text. A
  // statement that is already lent out (nested use of the same SQL) is
  // prepared again, uncached, for the nested user.
  absl::StatusOr<Statement> Prepare(absl::string_view sql);
  // Reads a single integer (first column of the first row), e.g. a PRAGMA.
  absl::StatusOr<int64_t> QueryInt(absl::string_view sql);
  // Same for a text value.
  absl::StatusOr<std::string> QueryText(absl::string_view sql);

  int64_t last_insert_rowid() const;
  int64_t changes() const;
  // True while a transaction is open (SQLite may roll one back by itself on
  // some errors, e.g. SQLITE_FULL or an I/O error).
  bool in_transaction() const;
  // The extended result code of the most recent failed call.
  int extended_errcode() const;

  absl::Status Error(int rc, absl::string_view context) const;

  // The underlying handle, for hooks the wrapper does not cover
  // (sqlite3_wal_hook, sqlite3_wal_checkpoint_v2).
  sqlite3* raw() const { return db_; }

 private:
  explicit Connection(sqlite3* db) : db_(db) {}

  sqlite3* db_;
  // Node-based: slot addresses stay valid while Statements point at them.
  // Looked up by string_view without building a std::string.
  absl::node_hash_map<std::string, internal::StatementSlot> cache_;
};

}  // namespace herald::store::sqlite

#endif  // HERALD_SERVER_STORE_SQLITE_SQLITE_DB_H_
