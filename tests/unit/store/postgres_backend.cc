#include "tests/unit/store/postgres_backend.h"

#include <string>
#include <utility>

#include "gtest/gtest.h"
#include "server/store/postgres/postgres_store.h"
#include "tests/unit/store/postgres_test_cluster.h"

namespace herald::store::testing {
namespace {

using herald::testing::PostgresCluster;
using herald::testing::SharedPostgresCluster;

void Skip(const std::string& why) { GTEST_SKIP() << why; }

class PostgresBackend final : public StoreBackend {
 public:
  PostgresBackend() {
    absl::StatusOr<PostgresCluster*> cluster = SharedPostgresCluster();
    if (absl::IsUnimplemented(cluster.status())) {
      Skip(std::string(cluster.status().message()));
      return;
    }
    if (!cluster.ok()) {
      ADD_FAILURE() << "no PostgreSQL test cluster: " << cluster.status();
      return;
    }
    cluster_ = *cluster;
    absl::StatusOr<std::string> schema = cluster_->CreateSchema("herald_t");
    if (!schema.ok()) {
      ADD_FAILURE() << schema.status();
      return;
    }
    schema_ = *schema;
  }

  ~PostgresBackend() override {
    if (!schema_.empty()) cluster_->DropSchema(schema_).IgnoreError();
  }

  absl::StatusOr<StoreHandle> Open(
      std::shared_ptr<core::Clock> clock) override {
    if (schema_.empty()) {
      return absl::FailedPreconditionError("no PostgreSQL test schema");
    }
    PostgresOptions options;
    options.dsn = cluster_->SchemaDsn(schema_);
    options.pool_size = 4;
    options.clock = std::move(clock);
    absl::StatusOr<std::unique_ptr<PostgresStore>> store =
        PostgresStore::Open(options);
    if (!store.ok()) return store.status();
    PostgresStore* raw = store->get();
    StoreHandle handle;
    handle.transactions_committed = [raw] {
      return raw->transactions_committed_for_test();
    };
    handle.pause_writer = [raw] { raw->PauseWriterForTest(); };
    handle.resume_writer = [raw] { raw->ResumeWriterForTest(); };
    handle.queued_writes = [raw] { return raw->queued_writes_for_test(); };
    handle.store = *std::move(store);
    return handle;
  }

 private:
  PostgresCluster* cluster_ = nullptr;
  std::string schema_;
};

}  // namespace

std::unique_ptr<StoreBackend> MakePostgresBackend() {
  return std::make_unique<PostgresBackend>();
}

}  // namespace herald::store::testing
