#include <stdlib.h>

#include <filesystem>
#include <utility>

#include "gtest/gtest.h"
#include "server/store/sqlite/sqlite_store.h"
#include "tests/unit/store/postgres_backend.h"
#include "tests/unit/store/store_test_env.h"

namespace herald::store::testing {
namespace {

class SqliteBackend final : public StoreBackend {
 public:
  absl::StatusOr<StoreHandle> Open(
      std::shared_ptr<core::Clock> clock) override {
    SqliteOptions options;
    options.path = dir_.File("herald.db");
    options.clock = std::move(clock);
    absl::StatusOr<std::unique_ptr<SqliteStore>> store =
        SqliteStore::Open(options);
    if (!store.ok()) return store.status();
    SqliteStore* raw = store->get();
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
  TempDir dir_;
};

}  // namespace

const std::vector<StoreFactory>& StoreFactories() {
  static const auto* const factories = new std::vector<StoreFactory>{
      {"Sqlite", [] { return std::make_unique<SqliteBackend>(); }},
      {"Postgres", [] { return MakePostgresBackend(); }},
  };
  return *factories;
}

TempDir::TempDir() {
  std::string base = ::testing::TempDir();
  if (base.empty() || base.back() != '/') base += '/';
  std::string pattern = base + "herald_store_XXXXXX";
  char* made = mkdtemp(pattern.data());
  if (made == nullptr) {
    ADD_FAILURE() << "mkdtemp failed for " << pattern;
    return;
  }
  path_ = made;
}

TempDir::~TempDir() {
  if (path_.empty()) return;
  std::error_code ignored;
  std::filesystem::remove_all(path_, ignored);
}

}  // namespace herald::store::testing
