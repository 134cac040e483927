#include "server/store/postgres/secrets.h"

#include <string>
#include <utility>
#include <vector>

#include "absl/cleanup/cleanup.h"
#include "absl/strings/str_cat.h"
#include "server/core/policy.h"
#include "server/store/postgres/migrations.h"
#include "server/store/postgres/rows.h"
#include "server/store/secret_box.h"
#include "server/store/sqlite/codec.h"

namespace herald::store::pg {
namespace {

// What secret_key_check seals: any fixed text will do, the GCM tag is what
// proves the key.
constexpr std::string_view kCheckText = "herald secret key check";
// Executions read and rewritten per statement.
constexpr int kChunkRows = 500;

absl::Status KeyMismatch() {
  return absl::FailedPreconditionError(
      "the secret key (secret_key_file or HERALD_SECRET_KEY) is not the one "
      "the secrets in this database are sealed with: every replica needs the "
      "same key (while rotating, the old one as secret_key_previous_file)");
}

// A stored secret that does not open although the key check did.
absl::Status Damaged(std::string_view what, int64_t id,
                     const absl::Status& status) {
  return absl::DataLossError(absl::StrCat(Sv(what), " ", id, ": ",
                                          status.message()));
}

std::string LockArgs() {
  return absl::StrCat(kLockClassSecrets, ", hashtext(current_schema())");
}

// Fails unless `box` opens the key check; writes it when there is none.
// Sets `rewrap` when it was sealed with a previous key.
absl::Status CheckKey(Connection& c, const SecretBox& box, bool& rewrap) {
  PG_ASSIGN_OR_RETURN(Result r,
                      c.Run1("SELECT sealed FROM secret_key_check"));
  if (r.rows() == 0) {
    PG_ASSIGN_OR_RETURN(std::string sealed, box.Seal(kCheckText));
    return c
        .Run1("INSERT INTO secret_key_check (sealed) VALUES ($1)",
              Params().Text(sealed))
        .status();
  }
  const std::string sealed = r.Text(0, 0);
  absl::StatusOr<std::string> opened = box.Open(sealed);
  if (!opened.ok() || *opened != kCheckText) return KeyMismatch();
  rewrap = box.NeedsRewrap(sealed);
  return absl::OkStatus();
}

// Policies: one transaction, rows locked (a policy updated meanwhile by a
// running replica is not overwritten with its old targets). Every row is
// decoded, which also proves the key opens what is stored.
absl::StatusOr<int64_t> SealPolicies(Connection& c, const SecretBox& box) {
  PG_RETURN_IF_ERROR(c.Exec("BEGIN"));
  auto body = [&]() -> absl::StatusOr<int64_t> {
    PG_ASSIGN_OR_RETURN(
        Result r,
        c.Run1("SELECT id, targets FROM policies ORDER BY id FOR UPDATE"));
    std::vector<int64_t> ids;
    std::vector<std::string> texts;
    for (int row = 0; row < r.rows(); ++row) {
      const absl::string_view text = Sv(r.View(row, 1));
      absl::StatusOr<std::vector<core::Target>> targets =
          sqlite::DecodeTargets(text, &box);
      if (!targets.ok()) {
        return Damaged("policy", r.Int64(row, 0), targets.status());
      }
      if (!sqlite::TargetSecretsNeedReseal(text, box)) continue;
      PG_ASSIGN_OR_RETURN(std::string sealed,
                          sqlite::EncodeTargets(*targets, &box));
      ids.push_back(r.Int64(row, 0));
      texts.push_back(std::move(sealed));
    }
    if (!ids.empty()) {
      PG_RETURN_IF_ERROR(
          c.Run1("UPDATE policies p SET targets = u.targets "
                 "FROM unnest($1::int8[], $2::text[]) AS u(id, targets) "
                 "WHERE p.id = u.id",
                 Params().Int8Array(ids).TextArray(texts))
              .status());
    }
    return static_cast<int64_t>(ids.size());
  };
  absl::StatusOr<int64_t> n = body();
  if (!n.ok()) {
    if (!c.broken() && !c.idle()) c.Exec("ROLLBACK").IgnoreError();
    return n;
  }
  PG_RETURN_IF_ERROR(c.Exec("COMMIT"));
  return n;
}

// Executions: immutable once written (retention may delete some meanwhile:
// their UPDATE then matches nothing), so chunks commit one by one.
absl::StatusOr<int64_t> SealExecutions(Connection& c, const SecretBox& box) {
  const std::string select = absl::StrCat(
      "SELECT id, target FROM executions WHERE id > $1::int8 AND ",
      sqlite::TargetHasSecretSql("target"), " ORDER BY id LIMIT ", kChunkRows);
  int64_t rewritten = 0;
  int64_t after = 0;
  while (true) {
    PG_ASSIGN_OR_RETURN(Result r, c.Run1(select, Params().Int(after)));
    std::vector<int64_t> ids;
    std::vector<std::string> texts;
    for (int row = 0; row < r.rows(); ++row) {
      after = r.Int64(row, 0);
      const absl::string_view text = Sv(r.View(row, 1));
      if (!sqlite::TargetSecretsNeedReseal(text, box)) continue;
      absl::StatusOr<std::string> sealed = sqlite::ResealTarget(text, box);
      if (!sealed.ok()) return Damaged("execution", after, sealed.status());
      ids.push_back(after);
      texts.push_back(*std::move(sealed));
    }
    if (!ids.empty()) {
      PG_RETURN_IF_ERROR(
          c.Run1("UPDATE executions e SET target = u.target "
                 "FROM unnest($1::int8[], $2::text[]) AS u(id, target) "
                 "WHERE e.id = u.id",
                 Params().Int8Array(ids).TextArray(texts))
              .status());
      rewritten += static_cast<int64_t>(ids.size());
    }
    if (r.rows() < kChunkRows) return rewritten;
  }
}

}  // namespace

absl::StatusOr<int64_t> SealStoredSecrets(Connection& c, const SecretBox& box) {
  // Another replica may be sealing a large table: wait for it however long
  // it takes (this connection serves Open() only, so the session setting
  // goes with it).
  PG_RETURN_IF_ERROR(
      c.Run1("SELECT set_config('lock_timeout', '0', false)").status());
  PG_RETURN_IF_ERROR(
      c.Run1(absl::StrCat("SELECT pg_advisory_lock(", LockArgs(), ")"))
          .status());
  absl::Cleanup unlock = [&c] {
    if (!c.broken() && c.idle()) {
      c.Run1(absl::StrCat("SELECT pg_advisory_unlock(", LockArgs(), ")"))
          .IgnoreError();
    }
  };
  bool rewrap_check = false;
  PG_RETURN_IF_ERROR(CheckKey(c, box, rewrap_check));
  PG_ASSIGN_OR_RETURN(int64_t policies, SealPolicies(c, box));
  PG_ASSIGN_OR_RETURN(int64_t executions, SealExecutions(c, box));
  if (rewrap_check) {
    PG_ASSIGN_OR_RETURN(std::string sealed, box.Seal(kCheckText));
    PG_RETURN_IF_ERROR(c.Run1("UPDATE secret_key_check SET sealed = $1",
                              Params().Text(sealed))
                           .status());
  }
  return policies + executions;
}

absl::Status CheckNoSecretsSealed(Connection& c) {
  PG_ASSIGN_OR_RETURN(
      Result r, c.Run1("SELECT EXISTS (SELECT 1 FROM secret_key_check)"));
  if (r.Bool(0, 0)) {
    return absl::FailedPreconditionError(
        "the secrets in this database are sealed: configure the secret key "
        "every replica shares (secret_key_file or HERALD_SECRET_KEY)");
  }
  return absl::OkStatus();
}

}  // namespace herald::store::pg
