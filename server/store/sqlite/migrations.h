// The SQLite schema as an ordered list of migrations, and the code that
// applies them at start-up.
//
// The schema version is SQLite's `PRAGMA user_version` (0 = empty file);
// `PRAGMA application_id` marks the file as herald's. Each migration runs in
// its own IMMEDIATE transaction together with the user_version bump, so a
// crash mid-migration leaves the previous version intact. Migrations are
// append-only: never edit a released one, add a new one.
#ifndef HERALD_SERVER_STORE_SQLITE_MIGRATIONS_H_
#define HERALD_SERVER_STORE_SQLITE_MIGRATIONS_H_

#include <string>
#include "absl/strings/string_view.h"
#include <vector>

#include "absl/status/status.h"
#include "server/store/sqlite/sqlite_db.h"

namespace herald::store::sqlite {

// 'HRLD': the value of PRAGMA application_id in every herald database.
inline constexpr int kApplicationId = 0x48524c44;

struct Migration {
  int version;            // 1, 2, 3, ... in order
  absl::string_view name;  // short description, used in error messages
  absl::string_view sql;   // one or more statements
};

// Every migration, in order; versions are consecutive from 1.
const std::vector<Migration>& Migrations();

// The version the last migration produces.
int LatestSchemaVersion();

// Brings the database on `conn` to LatestSchemaVersion(). Errors:
// kFailedPrecondition when the file was written by a newer herald (its
// version is above ours) or is some other application's SQLite database;
// kDataLoss when the file is not a SQLite database or is corrupt;
// kUnavailable on I/O errors or when the database is locked. `path` only
// appears in messages.
absl::Status Migrate(Connection& conn, absl::string_view path);

}  // namespace herald::store::sqlite

#endif  // HERALD_SERVER_STORE_SQLITE_MIGRATIONS_H_
