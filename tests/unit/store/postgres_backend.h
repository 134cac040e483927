// The conformance suite's PostgreSQL backend: each backend is a fresh
// schema on the shared test cluster (postgres_test_cluster.h), dropped
// with the backend. Skips (GTEST_SKIP) when PostgreSQL is not installed.
#ifndef HERALD_TESTS_UNIT_STORE_POSTGRES_BACKEND_H_
#define HERALD_TESTS_UNIT_STORE_POSTGRES_BACKEND_H_

#include <memory>

#include "tests/unit/store/store_test_env.h"

namespace herald::store::testing {

std::unique_ptr<StoreBackend> MakePostgresBackend();

}  // namespace herald::store::testing

#endif  // HERALD_TESTS_UNIT_STORE_POSTGRES_BACKEND_H_
