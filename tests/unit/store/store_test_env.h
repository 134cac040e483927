// What the Store conformance suite needs from an implementation: a way to
// open a store on a fresh, private database and to reopen it on the same
// data. Each implementation contributes one StoreFactory to StoreFactories()
// (store_factories.cc); the suite runs every test against each of them.
#ifndef HERALD_TESTS_UNIT_STORE_STORE_TEST_ENV_H_
#define HERALD_TESTS_UNIT_STORE_STORE_TEST_ENV_H_

#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <ostream>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "server/core/clock.h"
#include "server/store/store.h"

namespace herald::store::testing {

// An open store plus the optional test hooks of its implementation. A null
// hook means "not supported"; tests that need it are skipped.
struct StoreHandle {
  std::unique_ptr<Store> store;
  // Write transactions committed since this store was opened.
  std::function<int64_t()> transactions_committed;
  // Hold / release the group-commit writer; queued writes while held.
  std::function<void()> pause_writer;
  std::function<void()> resume_writer;
  std::function<size_t()> queued_writes;
};

// One private, initially empty database for one test.
class StoreBackend {
 public:
  virtual ~StoreBackend() = default;
  // Opens a store on this database. Every Open sees what earlier stores of
  // this backend committed. At most one store is open at a time.
  virtual absl::StatusOr<StoreHandle> Open(
      std::shared_ptr<core::Clock> clock) = 0;
};

struct StoreFactory {
  std::string name;  // a valid gtest parameter name, e.g. "Sqlite"
  std::function<std::unique_ptr<StoreBackend>()> make;
};

// How gtest (and the ctest test names it lists) shows a factory.
inline void PrintTo(const StoreFactory& factory, std::ostream* os) {
  *os << factory.name;
}

// Every implementation under test.
const std::vector<StoreFactory>& StoreFactories();

// A fresh directory under the test temp dir, removed with its contents when
// destroyed.
class TempDir {
 public:
  TempDir();
  ~TempDir();
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;
  const std::string& path() const { return path_; }
  std::string File(const std::string& name) const { return path_ + "/" + name; }

 private:
  std::string path_;
};

}  // namespace herald::store::testing

#endif  // HERALD_TESTS_UNIT_STORE_STORE_TEST_ENV_H_
