// JSON encodings of the policy parts the SQLite store keeps in text columns
// (targets, event types, filters, retry policy, token project ids).
//
// Encoders fail with kInvalidArgument when a string is not valid UTF-8 (JSON
// cannot carry it); the message names the field, never its value. Decoders
// fail with kInternal (the stored row is damaged, or holds an encrypted
// secret the SecretBox cannot open) and accept missing keys as their
// defaults, so columns written by an older herald still decode.
//
// Targets: with a SecretBox, auth_header, signing_secret and
// previous_signing_secret are stored sealed ("enc:v1:...", see
// server/store/secret_box.h); plaintext values written without one still
// decode. Without a SecretBox they are stored as given.
#ifndef HERALD_SERVER_STORE_SQLITE_CODEC_H_
#define HERALD_SERVER_STORE_SQLITE_CODEC_H_

#include <cstdint>
#include <string>
#include "absl/strings/string_view.h"
#include <vector>

#include "absl/status/statusor.h"
#include "server/core/policy.h"

namespace herald::store {
class SecretBox;
}  // namespace herald::store

namespace herald::store::sqlite {

absl::StatusOr<std::string> EncodeTarget(const core::Target& target,
                                         const SecretBox* secrets = nullptr);
absl::StatusOr<core::Target> DecodeTarget(absl::string_view json,
                                          const SecretBox* secrets = nullptr);

absl::StatusOr<std::string> EncodeTargets(
    const std::vector<core::Target>& targets,
    const SecretBox* secrets = nullptr);
absl::StatusOr<std::vector<core::Target>> DecodeTargets(
    absl::string_view json, const SecretBox* secrets = nullptr);

// Re-sealing of stored targets when encryption is enabled or the key
// rotates (each store runs it over its rows at open).
//
// True if `stored` (what EncodeTarget or EncodeTargets wrote) holds a
// secret that is in plaintext or, when `box` has previous keys, one the
// current key cannot open. Reads the text only (no decryption unless keys
// rotate), so scanning many rows is cheap.
bool TargetSecretsNeedReseal(absl::string_view stored, const SecretBox& box);
// A stored target decoded with `box` and encoded again: every secret
// sealed with its current key. Fails like DecodeTarget (a secret the box
// cannot open). (Stored policies are decoded anyway, to prove the key, and
// then encoded with EncodeTargets.)
absl::StatusOr<std::string> ResealTarget(absl::string_view stored,
                                         const SecretBox& box);
// The SQL condition (on a text column named `column`) that holds for the
// rows whose target has a non-empty secret: the only rows that can need
// re-sealing. Valid in SQLite and PostgreSQL (plain LIKE).
std::string TargetHasSecretSql(absl::string_view column);

absl::StatusOr<std::string> EncodeStrings(const std::vector<std::string>& v);
absl::StatusOr<std::vector<std::string>> DecodeStrings(absl::string_view json);

std::string EncodeIds(const std::vector<int64_t>& ids);
absl::StatusOr<std::vector<int64_t>> DecodeIds(absl::string_view json);

absl::StatusOr<std::string> EncodeFilters(const core::Filters& filters);
absl::StatusOr<core::Filters> DecodeFilters(absl::string_view json);

std::string EncodeRetryPolicy(const core::RetryPolicy& retry);
absl::StatusOr<core::RetryPolicy> DecodeRetryPolicy(absl::string_view json);

}  // namespace herald::store::sqlite

#endif  // HERALD_SERVER_STORE_SQLITE_CODEC_H_
