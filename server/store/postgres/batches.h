// What the writer thread of PostgresStore runs pipelined: the events of a
// CommitEvents call and the results of a CompleteTasks call, each prepared
// (validated, encoded, bound) on the caller's thread.
#ifndef HERALD_SERVER_STORE_POSTGRES_BATCHES_H_
#define HERALD_SERVER_STORE_POSTGRES_BATCHES_H_

#include <vector>

#include "absl/status/status.h"
#include "server/store/postgres/pg_conn.h"
#include "server/store/postgres/postgres_store.h"

namespace herald::store {

struct PostgresStore::EventBatch {
  std::vector<CommittedEvent> results;
  // One statement per event whose results[i].status is OK after
  // validation, with its index in `results`.
  std::vector<pg::Query> queries;
  std::vector<size_t> index;
};

struct PostgresStore::ResultBatch {
  pg::Query query;
  std::vector<bool> applied;
  absl::Status status;  // the item's own failure (rolled back alone)
};

}  // namespace herald::store

#endif  // HERALD_SERVER_STORE_POSTGRES_BATCHES_H_
