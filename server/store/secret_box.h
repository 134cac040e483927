// SecretBox: encryption at rest of the secrets a store keeps (targets'
// auth_header values and signing secrets), with AES-256-GCM (OpenSSL EVP).
//
// Stored form of a sealed value:
//
//   "enc:v1:" + base64( nonce (12 random bytes) || ciphertext || tag (16) )
//
// The additional authenticated data is "herald-secret-v1", so a value can
// only be opened by a SecretBox holding the key that sealed it. Empty
// values are stored empty (nothing to hide, and targets without secrets
// cost nothing). Values without the "enc:v1:" prefix are plaintext written
// before encryption was enabled and are returned as they are, so old rows
// keep working and are encrypted the next time they are written.
//
// Key rotation: a SecretBox has one current key, which seals, and any
// number of previous keys, which only open. NeedsRewrap() tells which
// stored values were sealed with a previous key (the store re-seals them at
// start; see docs/configuration.md, "Secrets at rest").
//
// Keys are 32 random bytes; in files and in HERALD_SECRET_KEY they are
// written as standard base64 (44 characters, surrounding whitespace
// ignored).
//
// Thread-safety: immutable after Create; every method is const and
// thread-safe (each call uses its own EVP context).
#ifndef HERALD_SERVER_STORE_SECRET_BOX_H_
#define HERALD_SERVER_STORE_SECRET_BOX_H_

#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"

namespace herald::store {

class SecretBox {
 public:
  static constexpr std::string_view kPrefix = "enc:v1:";
  static constexpr size_t kKeyBytes = 32;

  // `key` and each of `previous_keys` must be kKeyBytes raw bytes.
  static absl::StatusOr<std::shared_ptr<const SecretBox>> Create(
      std::string key, std::vector<std::string> previous_keys = {});

  // Parses the base64 text of a key (a key file's contents or
  // HERALD_SECRET_KEY). `where` names its origin in the error message; the
  // message never contains the key.
  static absl::StatusOr<std::string> ParseKey(std::string_view text,
                                              std::string_view where);
  // A new random key as base64 text with a trailing newline, for a key file.
  static std::string GenerateKeyText();

  // True if `stored` carries the "enc:v1:" prefix.
  static bool IsSealed(std::string_view stored);

  // "" for "", else the sealed form of `plaintext`. Fails only if OpenSSL
  // does (kInternal).
  absl::StatusOr<std::string> Seal(std::string_view plaintext) const;

  // The plaintext of a sealed value (tried with the current key, then the
  // previous ones); an unsealed value is returned as is. kDataLoss when the
  // value is damaged or was sealed with a key this box does not hold; the
  // message says so without repeating the value.
  absl::StatusOr<std::string> Open(std::string_view stored) const;

  // True if `stored` is sealed and the current key cannot open it (so it
  // was sealed with a previous key, or is damaged).
  bool NeedsRewrap(std::string_view stored) const;

  bool has_previous_keys() const { return !previous_keys_.empty(); }

 private:
  SecretBox(std::string key, std::vector<std::string> previous_keys)
      : key_(std::move(key)), previous_keys_(std::move(previous_keys)) {}

  const std::string key_;
  const std::vector<std::string> previous_keys_;
};

}  // namespace herald::store

#endif  // HERALD_SERVER_STORE_SECRET_BOX_H_
