#include "server/auth/authenticator.h"

#include <cctype>

#include "server/auth/token_secret.h"
#include "server/core/errors.h"

namespace herald::auth {
namespace {

std::string_view Trim(std::string_view s) {
  while (!s.empty() && std::isspace(static_cast<unsigned char>(s.front()))) {
    s.remove_prefix(1);
  }
  while (!s.empty() && std::isspace(static_cast<unsigned char>(s.back()))) {
    s.remove_suffix(1);
  }
  return s;
}

// Case-insensitive "Bearer " prefix.
bool HasBearerScheme(std::string_view value) {
  constexpr std::string_view kScheme = "bearer ";
  if (value.size() <= kScheme.size()) return false;
  for (size_t i = 0; i < kScheme.size(); ++i) {
    if (std::tolower(static_cast<unsigned char>(value[i])) != kScheme[i]) {
      return false;
    }
  }
  return true;
}

absl::Status Invalid(std::string_view why) {
  return core::MakeError(absl::StatusCode::kUnauthenticated,
                         core::reason::kTokenInvalid, why);
}

}  // namespace

absl::StatusOr<Caller> Authenticator::Authenticate(
    std::optional<std::string_view> authorization) const {
  if (!authorization.has_value() || Trim(*authorization).empty()) {
    return core::MakeError(
        absl::StatusCode::kUnauthenticated, core::reason::kTokenMissing,
        "missing \"authorization: Bearer <token>\" metadata");
  }
  std::string_view value = Trim(*authorization);
  if (!HasBearerScheme(value)) {
    return Invalid("authorization metadata must be \"Bearer <token>\"");
  }
  std::string_view secret = Trim(value.substr(7));
  absl::StatusOr<core::TokenRecord> token =
      store_->FindTokenByHash(HashTokenSecret(secret));
  if (absl::IsNotFound(token.status())) return Invalid("unknown token");
  if (!token.ok()) return token.status();
  if (token->revoked) return Invalid("token revoked");
  if (token->expire_time <= clock_->Now()) return Invalid("token expired");
  return Caller{token->id, token->name, token->role, token->project_ids};
}

}  // namespace herald::auth
