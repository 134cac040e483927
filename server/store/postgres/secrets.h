// Encryption at rest of targets' secrets in the PostgreSQL store, at open.
//
// Every replica must hold the same secret key (secret_box.h): what one
// replica seals, every other one opens. The database keeps one value
// sealed with that key (table secret_key_check, migration 2); a store
// whose key cannot open it is refused at open, before it writes anything
// the others could not read, even while no target has a secret yet.
//
// SealStoredSecrets runs when a store opens with a SecretBox. Under a
// session advisory lock (class kLockClassSecrets, per schema: replicas
// starting together run it one after the other, the later ones find
// nothing to do) it
//   1. checks the key against secret_key_check (writes it on first use);
//   2. seals every secret of policies.targets and executions.target still
//      in plaintext (stored before encryption was enabled), and re-seals
//      with the current key those sealed with a previous key (rotation),
//      with the same codec functions as the SQLite store (sqlite/codec.h);
//      policies in one transaction with their rows locked, executions in
//      chunks (they are immutable once written);
//   3. re-seals the key check with the current key.
// Replaced row versions stay in the table files until VACUUM reuses the
// space (docs/configuration.md, "Secrets at rest").
//
// CheckNoSecretsSealed runs when a store opens without a SecretBox: it
// refuses a database whose secrets are sealed (that store could neither
// read them nor keep new ones sealed).
#ifndef HERALD_SERVER_STORE_POSTGRES_SECRETS_H_
#define HERALD_SERVER_STORE_POSTGRES_SECRETS_H_

#include <cstdint>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "server/store/postgres/pg_conn.h"

namespace herald::store {
class SecretBox;
}  // namespace herald::store

namespace herald::store::pg {

// Returns how many rows (policies and executions) were rewritten.
// kFailedPrecondition when the key does not match the database's (the
// message names the configuration, never a key); kDataLoss when a stored
// secret does not open although the key check did (a damaged row);
// kUnavailable when the server fails.
absl::StatusOr<int64_t> SealStoredSecrets(Connection& conn,
                                          const SecretBox& box);

// kFailedPrecondition when the database holds sealed secrets.
absl::Status CheckNoSecretsSealed(Connection& conn);

}  // namespace herald::store::pg

#endif  // HERALD_SERVER_STORE_POSTGRES_SECRETS_H_
