#include "server/auth/bootstrap.h"

#include "server/auth/token_secret.h"
#include "server/common/secret_file.h"
#include "server/core/errors.h"

namespace herald::auth {
namespace {

bool IsLiveAdmin(const core::TokenRecord& token, absl::Time now) {
  return token.role == core::Role::kSystemAdmin && !token.revoked &&
         token.expire_time > now;
}

}  // namespace

absl::StatusOr<BootstrapResult> EnsureBootstrapAdmin(
    store::Store& store, core::Clock& clock,
    const std::optional<std::string>& env_token,
    const std::string& token_file) {
  BootstrapResult result;
  if (env_token.has_value()) {
    if (env_token->size() < 16) {
      return absl::InvalidArgumentError(
          "HERALD_ADMIN_TOKEN must be at least 16 characters long");
    }
    std::string hash = HashTokenSecret(*env_token);
    absl::StatusOr<core::TokenRecord> existing = store.FindTokenByHash(hash);
    if (existing.ok()) {
      if (!IsLiveAdmin(*existing, clock.Now())) {
        return absl::FailedPreconditionError(
            "HERALD_ADMIN_TOKEN matches a token that is revoked, expired or "
            "not a system admin");
      }
      return result;
    }
    if (!absl::IsNotFound(existing.status())) return existing.status();
    core::TokenRecord token;
    token.name = "admin-from-env";
    token.role = core::Role::kSystemAdmin;
    token.secret_hash = hash;
    token.creator = "heraldd";
    absl::StatusOr<core::TokenRecord> created = store.CreateToken(token);
    if (!created.ok()) return created.status();
    result.created = true;
    return result;
  }

  absl::StatusOr<std::vector<core::TokenRecord>> tokens = store.ListTokens();
  if (!tokens.ok()) return tokens.status();
  for (const core::TokenRecord& token : *tokens) {
    if (IsLiveAdmin(token, clock.Now())) return result;
  }
  std::string secret = GenerateTokenSecret();
  core::TokenRecord token;
  token.name = "bootstrap-admin";
  token.role = core::Role::kSystemAdmin;
  token.secret_hash = HashTokenSecret(secret);
  token.creator = "heraldd";
  // Write the file first: a token whose secret nobody can read is useless.
  if (absl::Status written = common::WriteSecretFile(token_file, secret + "\n");
      !written.ok()) {
    return written;
  }
  absl::StatusOr<core::TokenRecord> created = store.CreateToken(token);
  if (!created.ok()) return created.status();
  result.created = true;
  result.token_file = token_file;
  return result;
}

}  // namespace herald::auth
