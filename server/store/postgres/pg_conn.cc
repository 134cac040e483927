#include "server/store/postgres/pg_conn.h"

#include <libpq-fe.h>
#include <poll.h>

#include <algorithm>
#include <charconv>
#include <cstring>
#include <limits>
#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/strings/strip.h"

namespace herald::store::pg {
namespace {

// Type OIDs (pg_type.dat) of the binary parameters.
constexpr unsigned kBoolOid = 16;
constexpr unsigned kByteaOid = 17;
constexpr unsigned kInt8Oid = 20;
constexpr unsigned kInt4Oid = 23;
constexpr unsigned kTextOid = 25;
constexpr unsigned kByteaArrayOid = 1001;
constexpr unsigned kInt4ArrayOid = 1007;
constexpr unsigned kTextArrayOid = 1009;
constexpr unsigned kInt8ArrayOid = 1016;

void PutU32(std::string& out, uint32_t v) {
  char b[4] = {static_cast<char>(v >> 24), static_cast<char>(v >> 16),
               static_cast<char>(v >> 8), static_cast<char>(v)};
  out.append(b, 4);
}

void PutU64(std::string& out, uint64_t v) {
  PutU32(out, static_cast<uint32_t>(v >> 32));
  PutU32(out, static_cast<uint32_t>(v));
}

// array_recv's format: ndim, has-null flag, element type, (size, lower
// bound) per dimension, then (length, bytes) per element, -1 for NULL.
std::string ArrayHeader(size_t n, bool has_null, unsigned element_oid) {
  std::string out;
  if (n == 0) {
    PutU32(out, 0);
    PutU32(out, 0);
    PutU32(out, element_oid);
    return out;
  }
  PutU32(out, 1);
  PutU32(out, has_null ? 1 : 0);
  PutU32(out, element_oid);
  PutU32(out, static_cast<uint32_t>(n));
  PutU32(out, 1);
  return out;
}

int HexValue(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

std::string_view Trimmed(const char* s) {
  if (s == nullptr) return {};
  std::string_view v(s);
  while (!v.empty() && (v.back() == '\n' || v.back() == ' ')) v.remove_suffix(1);
  return v;
}

}  // namespace

int64_t TimeToMicros(absl::Time t) {
  if (t == absl::InfinitePast()) return std::numeric_limits<int64_t>::min();
  if (t == absl::InfiniteFuture()) return std::numeric_limits<int64_t>::max();
  return absl::ToUnixMicros(t);
}

absl::Time MicrosToTime(int64_t micros) {
  if (micros == std::numeric_limits<int64_t>::min()) return absl::InfinitePast();
  if (micros == std::numeric_limits<int64_t>::max()) return absl::InfiniteFuture();
  return absl::FromUnixMicros(micros);
}

// ---- Params ----

void Params::Add(std::string value, bool null, int format, unsigned type) {
  values_.push_back(std::move(value));
  nulls_.push_back(null ? 1 : 0);
  formats_.push_back(format);
  types_.push_back(type);
}

Params& Params::Int(int64_t v) {
  Add(std::to_string(v), false, 0, 0);
  return *this;
}

Params& Params::Text(const std::string& v) {
  // Binary text: no escaping, and the server still checks the encoding.
  Add(v, false, 1, kTextOid);
  return *this;
}

Params& Params::Bool(bool v) {
  Add(std::string(1, v ? '\1' : '\0'), false, 1, kBoolOid);
  return *this;
}

Params& Params::Null() {
  Add(std::string(), true, 0, 0);
  return *this;
}

Params& Params::Bytes(std::string_view v) {
  Add(std::string(v), false, 1, kByteaOid);
  return *this;
}

Params& Params::Int8Array(const std::vector<int64_t>& v) {
  std::string out = ArrayHeader(v.size(), false, kInt8Oid);
  for (int64_t x : v) {
    PutU32(out, 8);
    PutU64(out, static_cast<uint64_t>(x));
  }
  Add(std::move(out), false, 1, kInt8ArrayOid);
  return *this;
}

Params& Params::Int8ArrayNullable(const std::vector<std::optional<int64_t>>& v) {
  bool has_null = false;
  for (const auto& x : v) has_null = has_null || !x.has_value();
  std::string out = ArrayHeader(v.size(), has_null, kInt8Oid);
  for (const auto& x : v) {
    if (!x.has_value()) {
      PutU32(out, 0xffffffffu);
      continue;
    }
    PutU32(out, 8);
    PutU64(out, static_cast<uint64_t>(*x));
  }
  Add(std::move(out), false, 1, kInt8ArrayOid);
  return *this;
}

Params& Params::Int4Array(const std::vector<int32_t>& v) {
  std::string out = ArrayHeader(v.size(), false, kInt4Oid);
  for (int32_t x : v) {
    PutU32(out, 4);
    PutU32(out, static_cast<uint32_t>(x));
  }
  Add(std::move(out), false, 1, kInt4ArrayOid);
  return *this;
}

Params& Params::TextArray(const std::vector<std::string>& v) {
  size_t bytes = 20;
  for (const std::string& s : v) bytes += 4 + s.size();
  std::string out = ArrayHeader(v.size(), false, kTextOid);
  out.reserve(bytes);
  for (const std::string& s : v) {
    PutU32(out, static_cast<uint32_t>(s.size()));
    out.append(s);
  }
  Add(std::move(out), false, 1, kTextArrayOid);
  return *this;
}

Params& Params::ByteaArray(const std::vector<std::string_view>& v) {
  size_t bytes = 20;
  for (std::string_view s : v) bytes += 4 + s.size();
  std::string out = ArrayHeader(v.size(), false, kByteaOid);
  out.reserve(bytes);
  for (std::string_view s : v) {
    PutU32(out, static_cast<uint32_t>(s.size()));
    out.append(s.data(), s.size());
  }
  Add(std::move(out), false, 1, kByteaArrayOid);
  return *this;
}

// ---- Result ----

void Result::Deleter::operator()(pg_result* r) const { PQclear(r); }

Result::Result(pg_result* r) : res_(r) {}

int Result::rows() const { return res_ ? PQntuples(res_.get()) : 0; }

bool Result::IsNull(int row, int col) const {
  return PQgetisnull(res_.get(), row, col) != 0;
}

std::string_view Result::View(int row, int col) const {
  return std::string_view(PQgetvalue(res_.get(), row, col),
                          static_cast<size_t>(PQgetlength(res_.get(), row, col)));
}

int64_t Result::Int64(int row, int col) const {
  std::string_view v = View(row, col);
  int64_t out = 0;
  std::from_chars(v.data(), v.data() + v.size(), out);
  return out;
}

bool Result::Bool(int row, int col) const {
  std::string_view v = View(row, col);
  return !v.empty() && v[0] == 't';
}

std::string Result::Text(int row, int col) const {
  return std::string(View(row, col));
}

std::string Result::Bytes(int row, int col) const {
  std::string_view v = View(row, col);
  std::string out;
  if (v.size() < 2 || v[0] != '\\' || v[1] != 'x') return std::string(v);
  out.resize((v.size() - 2) / 2);
  for (size_t i = 0; i < out.size(); ++i) {
    out[i] = static_cast<char>((HexValue(v[2 + 2 * i]) << 4) |
                               HexValue(v[3 + 2 * i]));
  }
  return out;
}

std::string_view Result::Tag() const {
  if (!res_) return {};
  const char* tag = PQcmdStatus(res_.get());
  return tag != nullptr ? std::string_view(tag) : std::string_view();
}

int64_t Result::Affected() const {
  if (!res_) return 0;
  const char* n = PQcmdTuples(res_.get());
  int64_t out = 0;
  if (n != nullptr) std::from_chars(n, n + std::strlen(n), out);
  return out;
}

// ---- Errors ----

absl::Status ErrorStatus(std::string_view sqlstate, std::string_view message,
                         std::string_view context) {
  std::string text = absl::StrCat(Sv(context), ": ", Sv(message));
  if (sqlstate.size() != 5) return absl::UnavailableError(text);
  std::string_view cls = sqlstate.substr(0, 2);
  if (cls == "08" || cls == "53" || cls == "57" || cls == "40" ||
      sqlstate == "55P03" || sqlstate == "58000" || sqlstate == "58030") {
    // Connection exceptions, insufficient resources, operator intervention
    // (shutdown, cancel, starting up), rollbacks (deadlock, serialisation),
    // lock not available, I/O errors: retryable.
    return absl::UnavailableError(text);
  }
  if (sqlstate == "23505") return absl::AlreadyExistsError(text);
  if (cls == "22") return absl::InvalidArgumentError(text);
  return absl::InternalError(text);
}

// ---- Connection ----

absl::StatusOr<std::unique_ptr<Connection>> Connection::Open(
    const std::string& dsn, const ConnectOptions& options) {
  const std::string timeout = std::to_string(
      std::max<int64_t>(1, absl::ToInt64Seconds(options.connect_timeout)));
  // Ours first, then the DSN (which overrides them), then what must hold.
  const char* keys[] = {"connect_timeout",   "keepalives",
                        "keepalives_idle",   "keepalives_interval",
                        "keepalives_count",  "application_name",
                        "dbname",            "client_encoding",
                        nullptr};
  const char* values[] = {timeout.c_str(), "1",
                          "10",            "5",
                          "3",             options.application_name.c_str(),
                          dsn.c_str(),     "UTF8",
                          nullptr};
  PGconn* conn = PQconnectdbParams(keys, values, /*expand_dbname=*/1);
  if (conn == nullptr) return absl::ResourceExhaustedError("out of memory");
  if (PQstatus(conn) != CONNECTION_OK) {
    absl::Status s = absl::UnavailableError(absl::StrCat(
        "cannot connect to PostgreSQL: ", Sv(Trimmed(PQerrorMessage(conn)))));
    PQfinish(conn);
    return s;
  }
  // Notices (e.g. "relation already exists, skipping") are not errors and
  // must not reach stderr, which carries heraldd's structured log.
  PQsetNoticeProcessor(conn, [](void*, const char*) {}, nullptr);
  if (PQserverVersion(conn) < 120000) {
    const int version = PQserverVersion(conn);
    PQfinish(conn);
    return absl::FailedPreconditionError(absl::StrCat(
        "PostgreSQL ", version / 10000, " is too old: herald needs 12 or newer"));
  }
  return std::unique_ptr<Connection>(new Connection(conn));
}

Connection::~Connection() { PQfinish(conn_); }

bool Connection::broken() const {
  return broken_ || PQstatus(conn_) != CONNECTION_OK;
}

void Connection::CheckAlive() {
  if (broken()) return;
  pollfd fd = {PQsocket(conn_), POLLIN, 0};
  if (fd.fd < 0) {
    broken_ = true;
    return;
  }
  if (poll(&fd, 1, 0) <= 0) return;
  // Readable while idle: nearly always the server ending the session (a
  // FATAL message, then EOF, which may not have arrived yet). Reconnecting
  // for a rare harmless message costs less than failing a call.
  broken_ = true;
}

bool Connection::idle() const {
  return PQtransactionStatus(conn_) == PQTRANS_IDLE;
}

absl::Status Connection::Fail(std::string_view what) {
  broken_ = true;
  return absl::UnavailableError(absl::StrCat(
      "PostgreSQL connection lost (", Sv(what),
      "): ", Sv(Trimmed(PQerrorMessage(conn_)))));
}

absl::Status Connection::Pipeline(const std::vector<const Query*>& queries,
                                  std::vector<Outcome>& out) {
  out.clear();
  out.resize(queries.size());
  if (queries.empty()) return absl::OkStatus();
  if (broken()) return Fail("unusable");
  if (PQenterPipelineMode(conn_) != 1) return Fail("pipeline mode");

  // What was sent, in order: a Parse (prepare) or an Execute of query i.
  struct Sent {
    size_t query;
    Stmt* prepare;  // non-null for a prepare
  };
  std::vector<Sent> sent;
  sent.reserve(queries.size() * 2);
  std::vector<Stmt*> preparing;
  for (size_t i = 0; i < queries.size(); ++i) {
    const Query& q = *queries[i];
    auto [it, inserted] = statements_.try_emplace(q.sql);
    Stmt& st = it->second;
    if (inserted) st.name = absl::StrCat("h", next_statement_++);
    const Params& p = q.params;
    if (!st.prepared &&
        std::find(preparing.begin(), preparing.end(), &st) == preparing.end()) {
      if (PQsendPrepare(conn_, st.name.c_str(), q.sql.c_str(), p.size(),
                        p.types_.data()) != 1) {
        return Fail("send");
      }
      preparing.push_back(&st);
      sent.push_back({i, &st});
    }
    std::vector<const char*> values(p.size());
    std::vector<int> lengths(p.size());
    for (int k = 0; k < p.size(); ++k) {
      values[k] = p.nulls_[k] ? nullptr : p.values_[k].data();
      lengths[k] = static_cast<int>(p.values_[k].size());
    }
    if (PQsendQueryPrepared(conn_, st.name.c_str(), p.size(), values.data(),
                            lengths.data(), p.formats_.data(),
                            /*resultFormat=*/0) != 1) {
      return Fail("send");
    }
    sent.push_back({i, nullptr});
  }
  if (PQpipelineSync(conn_) != 1) return Fail("sync");
  while (true) {
    const int flushed = PQflush(conn_);
    if (flushed == 0) break;
    if (flushed < 0) return Fail("flush");
  }

  // A failed prepare fails its query too (which the server then skips).
  std::vector<absl::Status> prepare_errors(queries.size());
  std::vector<std::string> prepare_states(queries.size());
  for (const Sent& s : sent) {
    PGresult* r = PQgetResult(conn_);
    if (r == nullptr) return Fail("missing result");
    const ExecStatusType st = PQresultStatus(r);
    std::string sqlstate;
    absl::Status status;
    if (st == PGRES_FATAL_ERROR) {
      const char* state = PQresultErrorField(r, PG_DIAG_SQLSTATE);
      sqlstate = state != nullptr ? state : "";
      const char* primary = PQresultErrorField(r, PG_DIAG_MESSAGE_PRIMARY);
      status = ErrorStatus(sqlstate,
                           primary != nullptr ? primary : "statement failed",
                           "PostgreSQL");
    } else if (st == PGRES_PIPELINE_ABORTED) {
      status = absl::AbortedError("skipped after an earlier failure");
    } else if (st != PGRES_COMMAND_OK && st != PGRES_TUPLES_OK) {
      PQclear(r);
      return Fail(PQresStatus(st));
    }
    // Each command's results end with a null.
    while (PGresult* extra = PQgetResult(conn_)) PQclear(extra);
    if (s.prepare != nullptr) {
      PQclear(r);
      if (status.ok()) {
        s.prepare->prepared = true;
      } else {
        prepare_errors[s.query] = status;
        prepare_states[s.query] = sqlstate;
      }
      continue;
    }
    Outcome& o = out[s.query];
    if (!prepare_errors[s.query].ok() && !status.ok()) {
      status = prepare_errors[s.query];
      sqlstate = prepare_states[s.query];
    }
    o.status = std::move(status);
    o.sqlstate = std::move(sqlstate);
    if (!o.sqlstate.empty()) last_sqlstate_ = o.sqlstate;
    o.result = Result(r);
    if (PQstatus(conn_) != CONNECTION_OK) return Fail("read");
  }
  PGresult* sync = PQgetResult(conn_);
  if (sync == nullptr) sync = PQgetResult(conn_);
  if (sync == nullptr || PQresultStatus(sync) != PGRES_PIPELINE_SYNC) {
    if (sync != nullptr) PQclear(sync);
    return Fail("sync result");
  }
  PQclear(sync);
  if (PQexitPipelineMode(conn_) != 1) return Fail("leaving pipeline mode");
  for (const Outcome& o : out) {
    // A statement that failed for connection reasons (terminated by an
    // administrator, ...) leaves the connection unusable.
    if (absl::IsUnavailable(o.status) && !o.sqlstate.empty() &&
        (o.sqlstate.rfind("08", 0) == 0 || o.sqlstate.rfind("57P", 0) == 0)) {
      broken_ = true;
    }
  }
  return absl::OkStatus();
}

absl::StatusOr<std::vector<Result>> Connection::Run(std::vector<Query> queries) {
  std::vector<const Query*> ptrs;
  ptrs.reserve(queries.size());
  for (const Query& q : queries) ptrs.push_back(&q);
  std::vector<Outcome> out;
  absl::Status s = Pipeline(ptrs, out);
  if (!s.ok()) return s;
  std::vector<Result> results;
  results.reserve(out.size());
  for (Outcome& o : out) {
    if (!o.status.ok()) return o.status;
    results.push_back(std::move(o.result));
  }
  return results;
}

absl::StatusOr<Result> Connection::Run1(std::string sql, Params params) {
  std::vector<Query> q;
  q.push_back(Query{std::move(sql), std::move(params)});
  absl::StatusOr<std::vector<Result>> r = Run(std::move(q));
  if (!r.ok()) return r.status();
  return std::move((*r)[0]);
}

absl::Status Connection::Exec(const std::string& sql) {
  if (broken()) return Fail("unusable");
  PGresult* r = PQexec(conn_, sql.c_str());
  if (r == nullptr) return Fail("exec");
  const ExecStatusType st = PQresultStatus(r);
  absl::Status status;
  if (st == PGRES_FATAL_ERROR) {
    const char* state = PQresultErrorField(r, PG_DIAG_SQLSTATE);
    const char* primary = PQresultErrorField(r, PG_DIAG_MESSAGE_PRIMARY);
    last_sqlstate_ = state != nullptr ? state : "";
    status = ErrorStatus(last_sqlstate_,
                         primary != nullptr ? primary : "statement failed",
                         "PostgreSQL");
  } else if (st != PGRES_COMMAND_OK && st != PGRES_TUPLES_OK) {
    status = absl::InternalError(
        absl::StrCat("PostgreSQL: unexpected result ", PQresStatus(st)));
  }
  PQclear(r);
  if (PQstatus(conn_) != CONNECTION_OK) return Fail("exec");
  return status;
}

}  // namespace herald::store::pg
