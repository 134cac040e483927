#include "server/store/sqlite/sqlite_db.h"

#include <sqlite3.h>

#include <limits>
#include <utility>

#include "absl/strings/str_cat.h"

namespace herald::store::sqlite {

absl::Status SqliteStatus(int rc, absl::string_view context, sqlite3* db) {
  if (rc == SQLITE_OK || rc == SQLITE_DONE || rc == SQLITE_ROW) {
    return absl::OkStatus();
  }
  // sqlite3_errmsg describes the most recent failure on `db`; fall back to
  // the generic text of the code when there is no handle.
  std::string message =
      absl::StrCat(context, ": ", db ? sqlite3_errmsg(db) : sqlite3_errstr(rc),
                   " (sqlite code ", rc, ")");
  switch (rc & 0xff) {
    case SQLITE_BUSY:
    case SQLITE_LOCKED:
    case SQLITE_IOERR:
    case SQLITE_CANTOPEN:
    case SQLITE_FULL:
    case SQLITE_PROTOCOL:
    case SQLITE_NOMEM:
      return absl::UnavailableError(message);
    default:
      return absl::InternalError(message);
  }
}

bool IsCorruptionCode(int rc) {
  return (rc & 0xff) == SQLITE_CORRUPT || (rc & 0xff) == SQLITE_NOTADB;
}

int64_t TimeToMicros(absl::Time t) {
  if (t == absl::InfinitePast()) return std::numeric_limits<int64_t>::min();
  if (t == absl::InfiniteFuture()) return std::numeric_limits<int64_t>::max();
  return absl::ToUnixMicros(t);
}

absl::Time MicrosToTime(int64_t micros) {
  if (micros == std::numeric_limits<int64_t>::min()) return absl::InfinitePast();
  if (micros == std::numeric_limits<int64_t>::max()) {
    return absl::InfiniteFuture();
  }
  return absl::FromUnixMicros(micros);
}

// ---- Statement ----

Statement::Statement(sqlite3* db, sqlite3_stmt* stmt,
                     internal::StatementSlot* slot)
    : db_(db), stmt_(stmt), slot_(slot) {}

Statement::Statement(Statement&& other) noexcept
    : db_(other.db_),
      stmt_(std::exchange(other.stmt_, nullptr)),
      slot_(std::exchange(other.slot_, nullptr)),
      bind_rc_(other.bind_rc_) {}

Statement::~Statement() {
  if (stmt_ == nullptr) return;
  if (slot_ != nullptr) {
    sqlite3_reset(stmt_);
    sqlite3_clear_bindings(stmt_);
    slot_->lent = false;
  } else {
    sqlite3_finalize(stmt_);
  }
}

Statement& Statement::Bind(int index, int64_t value) {
  int rc = sqlite3_bind_int64(stmt_, index, value);
  if (rc != SQLITE_OK && bind_rc_ == SQLITE_OK) bind_rc_ = rc;
  return *this;
}

Statement& Statement::Bind(int index, absl::string_view text) {
  int rc = sqlite3_bind_text64(stmt_, index, text.data(), text.size(),
                               SQLITE_TRANSIENT, SQLITE_UTF8);
  if (rc != SQLITE_OK && bind_rc_ == SQLITE_OK) bind_rc_ = rc;
  return *this;
}

Statement& Statement::BindBlob(int index, absl::string_view bytes) {
  // A zero-length blob must not be NULL: bind_blob with a null pointer binds
  // NULL, so point at a static byte.
  static const char kEmpty = 0;
  int rc = sqlite3_bind_blob64(stmt_, index,
                               bytes.empty() ? &kEmpty : bytes.data(),
                               bytes.size(), SQLITE_TRANSIENT);
  if (rc != SQLITE_OK && bind_rc_ == SQLITE_OK) bind_rc_ = rc;
  return *this;
}

Statement& Statement::BindNoCopy(int index, absl::string_view text) {
  int rc = sqlite3_bind_text64(stmt_, index, text.data(), text.size(),
                               SQLITE_STATIC, SQLITE_UTF8);
  if (rc != SQLITE_OK && bind_rc_ == SQLITE_OK) bind_rc_ = rc;
  return *this;
}

Statement& Statement::BindBlobNoCopy(int index, absl::string_view bytes) {
  static const char kEmpty = 0;
  int rc = sqlite3_bind_blob64(stmt_, index,
                               bytes.empty() ? &kEmpty : bytes.data(),
                               bytes.size(), SQLITE_STATIC);
  if (rc != SQLITE_OK && bind_rc_ == SQLITE_OK) bind_rc_ = rc;
  return *this;
}

Statement& Statement::BindNull(int index) {
  int rc = sqlite3_bind_null(stmt_, index);
  if (rc != SQLITE_OK && bind_rc_ == SQLITE_OK) bind_rc_ = rc;
  return *this;
}

absl::StatusOr<bool> Statement::Step() {
  if (bind_rc_ != SQLITE_OK) {
    return SqliteStatus(bind_rc_, "binding a parameter", db_);
  }
  int rc = sqlite3_step(stmt_);
  if (rc == SQLITE_ROW) return true;
  if (rc == SQLITE_DONE) return false;
  return SqliteStatus(sqlite3_extended_errcode(db_), "executing a statement",
                      db_);
}

absl::Status Statement::Run() {
  while (true) {
    absl::StatusOr<bool> row = Step();
    if (!row.ok()) return row.status();
    if (!*row) return absl::OkStatus();
  }
}

int64_t Statement::Int64(int col) const {
  return sqlite3_column_int64(stmt_, col);
}

std::string Statement::Text(int col) const {
  const unsigned char* p = sqlite3_column_text(stmt_, col);
  int n = sqlite3_column_bytes(stmt_, col);
  return p ? std::string(reinterpret_cast<const char*>(p), n) : std::string();
}

std::string Statement::Blob(int col) const {
  const void* p = sqlite3_column_blob(stmt_, col);
  int n = sqlite3_column_bytes(stmt_, col);
  return p ? std::string(static_cast<const char*>(p), n) : std::string();
}

bool Statement::IsNull(int col) const {
  return sqlite3_column_type(stmt_, col) == SQLITE_NULL;
}

// ---- Connection ----

absl::StatusOr<std::unique_ptr<Connection>> Connection::Open(
    const std::string& path, const OpenOptions& options) {
  // SQLite's memory statistics take a process-wide mutex on every
  // allocation; we never read them. This only works before SQLite is
  // initialised in the process; if someone was first it fails harmlessly.
  static const bool kConfigured = [] {
    sqlite3_config(SQLITE_CONFIG_MEMSTATUS, 0);
    return true;
  }();
  (void)kConfigured;
  int flags = SQLITE_OPEN_READWRITE | SQLITE_OPEN_NOMUTEX;
  if (options.create) flags |= SQLITE_OPEN_CREATE;
  sqlite3* db = nullptr;
  int rc = sqlite3_open_v2(path.c_str(), &db, flags, nullptr);
  if (rc != SQLITE_OK) {
    absl::Status status =
        SqliteStatus(rc, absl::StrCat("opening ", path), db);
    sqlite3_close_v2(db);  // a handle is returned even on failure
    return status;
  }
  auto conn = std::unique_ptr<Connection>(new Connection(db));
  sqlite3_extended_result_codes(db, 1);
  sqlite3_busy_timeout(
      db, static_cast<int>(absl::ToInt64Milliseconds(options.busy_timeout)));
  if (options.read_only) {
    absl::Status s = conn->Exec("PRAGMA query_only=1");
    if (!s.ok()) return s;
  }
  return conn;
}

Connection::~Connection() {
  for (auto& [sql, slot] : cache_) sqlite3_finalize(slot.stmt);
  sqlite3_close_v2(db_);
}

absl::Status Connection::Exec(absl::string_view sql) {
  std::string text(sql);
  int rc = sqlite3_exec(db_, text.c_str(), nullptr, nullptr, nullptr);
  if (rc != SQLITE_OK) {
    return SqliteStatus(sqlite3_extended_errcode(db_), "executing SQL", db_);
  }
  return absl::OkStatus();
}

absl::StatusOr<Statement> Connection::Prepare(absl::string_view sql) {
  auto it = cache_.find(sql);
  if (it != cache_.end() && !it->second.lent) {
    it->second.lent = true;
    return Statement(db_, it->second.stmt, &it->second);
  }
  sqlite3_stmt* stmt = nullptr;
  const bool cache = it == cache_.end();
  int rc = sqlite3_prepare_v3(db_, sql.data(), static_cast<int>(sql.size()),
                              cache ? SQLITE_PREPARE_PERSISTENT : 0, &stmt,
                              nullptr);
  if (rc != SQLITE_OK) {
    return SqliteStatus(sqlite3_extended_errcode(db_), "preparing a statement",
                        db_);
  }
  if (!cache) return Statement(db_, stmt, nullptr);
  internal::StatementSlot& slot = cache_[sql];
  slot.stmt = stmt;
  slot.lent = true;
  return Statement(db_, stmt, &slot);
}

absl::StatusOr<int64_t> Connection::QueryInt(absl::string_view sql) {
  absl::StatusOr<Statement> stmt = Prepare(sql);
  if (!stmt.ok()) return stmt.status();
  absl::StatusOr<bool> row = stmt->Step();
  if (!row.ok()) return row.status();
  if (!*row) return absl::InternalError("query returned no row");
  return stmt->Int64(0);
}

absl::StatusOr<std::string> Connection::QueryText(absl::string_view sql) {
  absl::StatusOr<Statement> stmt = Prepare(sql);
  if (!stmt.ok()) return stmt.status();
  absl::StatusOr<bool> row = stmt->Step();
  if (!row.ok()) return row.status();
  if (!*row) return absl::InternalError("query returned no row");
  return stmt->Text(0);
}

int64_t Connection::last_insert_rowid() const {
  return sqlite3_last_insert_rowid(db_);
}

int64_t Connection::changes() const { return sqlite3_changes64(db_); }

bool Connection::in_transaction() const {
  return sqlite3_get_autocommit(db_) == 0;
}

int Connection::extended_errcode() const {
  return sqlite3_extended_errcode(db_);
}

absl::Status Connection::Error(int rc, absl::string_view context) const {
  return SqliteStatus(rc, context, db_);
}

}  // namespace herald::store::sqlite
