// The PostgreSQL store's schema and its versioned migrations.
//
// Everything herald creates lives in the first schema of the connection's
// search_path (`public` unless the DSN says otherwise, e.g.
// `options=-csearch_path=herald`), so several herald deployments can share
// one database in different schemas. Their advisory-lock keys and
// LISTEN/NOTIFY channels are derived from the schema name and never clash.
//
// Migrate() runs at every start: under a transaction-scoped advisory lock
// (so replicas starting together migrate once), in one transaction (DDL is
// transactional in PostgreSQL: a failed migration leaves nothing behind),
// recording each applied version in herald_schema_migrations. A database
// migrated by a newer heraldd is refused.
#ifndef HERALD_SERVER_STORE_POSTGRES_MIGRATIONS_H_
#define HERALD_SERVER_STORE_POSTGRES_MIGRATIONS_H_

#include <string_view>
#include <vector>

#include "absl/status/status.h"
#include "server/store/postgres/pg_conn.h"

namespace herald::store::pg {

struct Migration {
  int version;
  std::string_view name;
  std::string_view sql;
};

const std::vector<Migration>& Migrations();
int LatestSchemaVersion();

// Applies every missing migration. kFailedPrecondition for a schema newer
// than ours, a search_path without a usable schema, or a schema holding
// other tables with herald's names; kUnavailable when the server fails.
absl::Status Migrate(Connection& conn);

// Advisory-lock classes (the first key; the second is the schema's hash).
inline constexpr int kLockClassTaskUpdates = 0x48524c55;  // "HRLU"
inline constexpr int kLockClassMigrations = 0x48524c4d;   // "HRLM"
inline constexpr int kLockClassSweep = 0x48524c53;        // "HRLS"
inline constexpr int kLockClassSecrets = 0x48524c4b;      // "HRLK"

}  // namespace herald::store::pg

#endif  // HERALD_SERVER_STORE_POSTGRES_MIGRATIONS_H_
