#include "tests/unit/store/postgres_test_cluster.h"

#include <libpq-fe.h>
#include <unistd.h>

#include <atomic>
#include <cstdlib>
#include <fstream>
#include <map>
#include <sstream>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "absl/synchronization/mutex.h"

#ifndef HERALD_PG_CLUSTER_SCRIPT
#error "HERALD_PG_CLUSTER_SCRIPT must name scripts/postgres-test-cluster.sh"
#endif

namespace herald::testing {
namespace {

std::atomic<int> counter{0};

std::string Unique(const std::string& prefix) {
  return absl::StrCat(prefix, "_", getpid(), "_", counter.fetch_add(1));
}

std::string ShellQuote(const std::string& s) {
  std::string out = "'";
  for (char c : s) {
    if (c == '\'') {
      out += "'\\''";
    } else {
      out += c;
    }
  }
  return out + "'";
}

absl::Status RunScript(const std::string& args) {
  const std::string command =
      absl::StrCat(ShellQuote(HERALD_PG_CLUSTER_SCRIPT), " ", args);
  const int rc = std::system(command.c_str());
  if (rc != 0) {
    return absl::InternalError(
        absl::StrCat("`", command, "` failed (status ", rc, ")"));
  }
  return absl::OkStatus();
}

// KEY='value' lines of a state file.
absl::StatusOr<std::map<std::string, std::string>> ReadState(
    const std::string& path) {
  std::ifstream in(path);
  if (!in) return absl::NotFoundError(absl::StrCat("no state file ", path));
  std::map<std::string, std::string> out;
  std::string line;
  while (std::getline(in, line)) {
    std::pair<std::string, std::string> kv = absl::StrSplit(line, absl::MaxSplits('=', 1));
    std::string value = kv.second;
    if (value.size() >= 2 && value.front() == '\'' && value.back() == '\'') {
      value = value.substr(1, value.size() - 2);
    }
    out[kv.first] = value;
  }
  return out;
}

}  // namespace

absl::StatusOr<std::unique_ptr<PostgresCluster>> PostgresCluster::FromState(
    const std::string& state_file, bool owned) {
  absl::StatusOr<std::map<std::string, std::string>> state =
      ReadState(state_file);
  if (!state.ok()) return state.status();
  if (auto it = state->find("MISSING"); it != state->end()) {
    if (owned) RunScript(absl::StrCat("stop ", ShellQuote(state_file))).IgnoreError();
    return absl::UnimplementedError(it->second);
  }
  int port = std::atoi((*state)["PORT"].c_str());
  if (port <= 0) {
    return absl::InternalError(
        absl::StrCat("state file ", state_file, " names no port"));
  }
  std::unique_ptr<PostgresCluster> c(new PostgresCluster());
  c->state_file_ = state_file;
  c->owned_ = owned;
  c->port_ = port;
  return c;
}

absl::StatusOr<std::unique_ptr<PostgresCluster>> PostgresCluster::Start() {
  const char* tmp = std::getenv("TMPDIR");
  const std::string state = absl::StrCat(tmp != nullptr ? tmp : "/tmp",
                                         "/herald-pg-state-", Unique("c"));
  absl::Status started = RunScript(absl::StrCat(
      "start ", ShellQuote(state), " --owner-pid ", getpid(), " >/dev/null"));
  if (!started.ok()) return started;
  return FromState(state, /*owned=*/true);
}

PostgresCluster::~PostgresCluster() {
  if (owned_) RunScript(absl::StrCat("stop ", ShellQuote(state_file_))).IgnoreError();
}

std::string PostgresCluster::Dsn(const std::string& dbname) const {
  return absl::StrCat("host=127.0.0.1 port=", port_,
                      " user=postgres dbname=", dbname);
}

std::string PostgresCluster::SchemaDsn(const std::string& schema,
                                       const std::string& dbname) const {
  return absl::StrCat(Dsn(dbname), " options='-csearch_path=", schema, "'");
}

absl::StatusOr<std::string> PostgresCluster::Query(const std::string& dsn,
                                                   const std::string& sql) {
  PGconn* conn = PQconnectdb(dsn.c_str());
  if (PQstatus(conn) != CONNECTION_OK) {
    absl::Status s = absl::UnavailableError(
        absl::StrCat("connect: ", PQerrorMessage(conn)));
    PQfinish(conn);
    return s;
  }
  PQsetNoticeProcessor(conn, [](void*, const char*) {}, nullptr);
  PGresult* r = PQexec(conn, sql.c_str());
  const ExecStatusType st = PQresultStatus(r);
  absl::StatusOr<std::string> out = std::string();
  if (st != PGRES_COMMAND_OK && st != PGRES_TUPLES_OK) {
    out = absl::InternalError(
        absl::StrCat(sql, ": ", PQresultErrorMessage(r)));
  } else if (st == PGRES_TUPLES_OK && PQntuples(r) > 0) {
    out = std::string(PQgetvalue(r, 0, 0));
  }
  PQclear(r);
  PQfinish(conn);
  return out;
}

absl::StatusOr<std::string> PostgresCluster::CreateSchema(
    const std::string& prefix) const {
  const std::string name = Unique(prefix);
  absl::StatusOr<std::string> r =
      Query(Dsn(), absl::StrCat("CREATE SCHEMA ", name));
  if (!r.ok()) return r.status();
  return name;
}

absl::Status PostgresCluster::DropSchema(const std::string& schema) const {
  return Query(Dsn(), absl::StrCat("DROP SCHEMA IF EXISTS ", schema,
                                   " CASCADE"))
      .status();
}

absl::StatusOr<std::string> PostgresCluster::CreateDatabase(
    const std::string& prefix) const {
  const std::string name = Unique(prefix);
  absl::StatusOr<std::string> r =
      Query(Dsn(), absl::StrCat("CREATE DATABASE ", name));
  if (!r.ok()) return r.status();
  return name;
}

absl::Status PostgresCluster::DropDatabase(const std::string& name) const {
  return Query(Dsn(), absl::StrCat("DROP DATABASE IF EXISTS ", name,
                                   " WITH (FORCE)"))
      .status();
}

absl::Status PostgresCluster::Pause() {
  if (!owned_) return absl::FailedPreconditionError("not a private cluster");
  return RunScript(absl::StrCat("pause ", ShellQuote(state_file_)));
}

absl::Status PostgresCluster::Resume() {
  if (!owned_) return absl::FailedPreconditionError("not a private cluster");
  return RunScript(absl::StrCat("resume ", ShellQuote(state_file_)));
}

absl::StatusOr<PostgresCluster*> SharedPostgresClusterImpl() {
  const char* fixture = std::getenv("HERALD_TEST_POSTGRES_STATE");
  if (fixture != nullptr && *fixture != '\0') {
    absl::StatusOr<std::unique_ptr<PostgresCluster>> c =
        PostgresCluster::FromState(fixture, /*owned=*/false);
    if (c.ok() || absl::IsUnimplemented(c.status())) {
      if (!c.ok()) return c.status();
      return c->release();
    }
    // The fixture's cluster is not there (the binary runs outside ctest):
    // start one of our own.
  }
  absl::StatusOr<std::unique_ptr<PostgresCluster>> c = PostgresCluster::Start();
  if (!c.ok()) return c.status();
  // Stopped at exit (and by the script's watchdog if we die).
  static std::unique_ptr<PostgresCluster>* keeper =
      new std::unique_ptr<PostgresCluster>();
  *keeper = *std::move(c);
  std::atexit([] { keeper->reset(); });
  return keeper->get();
}

absl::StatusOr<PostgresCluster*> SharedPostgresCluster() {
  static absl::Mutex mu(absl::kConstInit);
  static absl::StatusOr<PostgresCluster*>* cluster = nullptr;
  absl::MutexLock lock(&mu);
  if (cluster == nullptr) {
    cluster = new absl::StatusOr<PostgresCluster*>(SharedPostgresClusterImpl());
  }
  return *cluster;
}

}  // namespace herald::testing
