// Token secrets: generation and hashing. A secret is shown to its owner
// once; the store keeps only its SHA-256.
#ifndef HERALD_SERVER_AUTH_TOKEN_SECRET_H_
#define HERALD_SERVER_AUTH_TOKEN_SECRET_H_

#include <string>
#include <string_view>

namespace herald::auth {

// Every herald token starts with this prefix (easy to spot in leaked text).
inline constexpr std::string_view kTokenPrefix = "hld_";

// A new random secret: kTokenPrefix + base64url of 32 bytes from the OS
// CSPRNG. Thread-safe.
std::string GenerateTokenSecret();

// Lower-case hex SHA-256 of `secret`. Thread-safe.
std::string HashTokenSecret(std::string_view secret);

}  // namespace herald::auth

#endif  // HERALD_SERVER_AUTH_TOKEN_SECRET_H_
