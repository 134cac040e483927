// Throw-away PostgreSQL clusters for tests, started and stopped with
// scripts/postgres-test-cluster.sh (127.0.0.1, a free port, a fresh
// directory under $TMPDIR, run as the postgres user when the test runs as
// root).
//
//   SharedPostgresCluster(): one cluster per test process, started on first
//     use and stopped at exit - or, under ctest, the cluster the fixture
//     test postgres_cluster_start started for every test binary (its state
//     file is named by $HERALD_TEST_POSTGRES_STATE).
//   PostgresCluster::Start(): a private cluster, stopped by the destructor
//     (tests that stop and restart the server use one).
//
// When the PostgreSQL server binaries are not installed both return
// kUnimplemented with a message saying so: tests GTEST_SKIP with it. Any
// other failure is an error (the binaries exist, so the test should run).
#ifndef HERALD_TESTS_UNIT_STORE_POSTGRES_TEST_CLUSTER_H_
#define HERALD_TESTS_UNIT_STORE_POSTGRES_TEST_CLUSTER_H_

#include <memory>
#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"

namespace herald::testing {

class PostgresCluster {
 public:
  // Starts a private cluster (see the file comment).
  static absl::StatusOr<std::unique_ptr<PostgresCluster>> Start();
  // Stops it (private clusters only).
  ~PostgresCluster();

  // libpq connection string of database `dbname` ("postgres" exists).
  std::string Dsn(const std::string& dbname = "postgres") const;
  // The same with search_path set to `schema`.
  std::string SchemaDsn(const std::string& schema,
                        const std::string& dbname = "postgres") const;
  int port() const { return port_; }

  // A new empty schema with a unique name (prefix + pid + counter), or a
  // database; dropped with everything in it by the Drop calls.
  absl::StatusOr<std::string> CreateSchema(const std::string& prefix) const;
  absl::Status DropSchema(const std::string& schema) const;
  absl::StatusOr<std::string> CreateDatabase(const std::string& prefix) const;
  absl::Status DropDatabase(const std::string& name) const;
  // Runs one SQL statement on `dsn`; returns the first column of the first
  // row ("" when none).
  static absl::StatusOr<std::string> Query(const std::string& dsn,
                                           const std::string& sql);

  // Stops the server (fast shutdown: clients are disconnected) keeping its
  // data, and starts it again on the same port. Private clusters only.
  absl::Status Pause();
  absl::Status Resume();

 private:
  friend absl::StatusOr<PostgresCluster*> SharedPostgresClusterImpl();
  PostgresCluster() = default;
  static absl::StatusOr<std::unique_ptr<PostgresCluster>> FromState(
      const std::string& state_file, bool owned);

  std::string state_file_;
  bool owned_ = false;
  int port_ = 0;
};

// See the file comment. The cluster lives until the process exits.
absl::StatusOr<PostgresCluster*> SharedPostgresCluster();

}  // namespace herald::testing

#endif  // HERALD_TESTS_UNIT_STORE_POSTGRES_TEST_CLUSTER_H_
