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
