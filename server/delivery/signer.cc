#include "server/delivery/signer.h"

#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/params.h>

#include <array>
#include <memory>

#include "absl/strings/ascii.h"
#include "absl/strings/escaping.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/strings/string_view.h"

namespace herald::delivery {
namespace {

// Debian's Abseil has its own string_view type.
absl::string_view AV(std::string_view s) { return {s.data(), s.size()}; }

constexpr std::string_view kSecretPrefix = "whsec_";
constexpr size_t kSha256Bytes = 32;

// The HMAC algorithm, fetched once (EVP_MAC_fetch is not cheap) and shared:
// an EVP_MAC is immutable and safe to use from many threads.
EVP_MAC* HmacAlgorithm() {
  static EVP_MAC* const mac = EVP_MAC_fetch(nullptr, "HMAC", nullptr);
  return mac;
}

struct MacCtxDeleter {
  void operator()(EVP_MAC_CTX* ctx) const { EVP_MAC_CTX_free(ctx); }
};

// HMAC-SHA256(key, id "." timestamp "." body), without concatenating the
// (possibly large) body into a temporary.
std::array<unsigned char, kSha256Bytes> Hmac(std::string_view webhook_id,
                                             std::string_view timestamp,
                                             std::string_view body,
                                             std::string_view key) {
  std::array<unsigned char, kSha256Bytes> out{};
  std::unique_ptr<EVP_MAC_CTX, MacCtxDeleter> ctx(
      EVP_MAC_CTX_new(HmacAlgorithm()));
  char digest[] = "SHA256";
  OSSL_PARAM params[] = {
      OSSL_PARAM_construct_utf8_string(OSSL_MAC_PARAM_DIGEST, digest, 0),
      OSSL_PARAM_construct_end()};
  // A non-null pointer even for an empty key: EVP_MAC_init treats a null
  // key as "keep the previous key".
  static const unsigned char kNoKey = 0;
  const unsigned char* key_bytes =
      key.empty() ? &kNoKey : reinterpret_cast<const unsigned char*>(key.data());
  size_t out_len = 0;
  const auto update = [&](std::string_view part) {
    return EVP_MAC_update(ctx.get(),
                          reinterpret_cast<const unsigned char*>(part.data()),
                          part.size()) == 1;
  };
  const bool ok = ctx != nullptr &&
                  EVP_MAC_init(ctx.get(), key_bytes, key.size(), params) == 1 &&
                  update(webhook_id) && update(".") && update(timestamp) &&
                  update(".") && update(body) &&
                  EVP_MAC_final(ctx.get(), out.data(), &out_len, out.size()) == 1 &&
                  out_len == out.size();
  if (!ok) {
    // Only reachable if OpenSSL lacks HMAC/SHA-256 (a broken installation);
    // an all-zero MAC never verifies, so nothing is silently accepted.
    out.fill(0);
  }
  return out;
}

std::string Base64(const std::array<unsigned char, kSha256Bytes>& mac) {
  return absl::Base64Escape(
      absl::string_view(reinterpret_cast<const char*>(mac.data()), mac.size()));
}

}  // namespace

absl::StatusOr<std::string> DecodeSecret(std::string_view secret) {
  if (secret.substr(0, kSecretPrefix.size()) == kSecretPrefix) {
    secret.remove_prefix(kSecretPrefix.size());
  }
  // Strict alphabet (absl's decoder tolerates whitespace); padding optional.
  std::string_view b64 = secret;
  size_t padding = 0;
  while (!b64.empty() && b64.back() == '=' && padding < 2) {
    b64.remove_suffix(1);
    ++padding;
  }
  for (char c : b64) {
    if (!absl::ascii_isalnum(static_cast<unsigned char>(c)) && c != '+' &&
        c != '/') {
      return absl::InvalidArgumentError(
          "signing secret is not standard base64");
    }
  }
  std::string key;
  if (b64.empty() || !absl::Base64Unescape(AV(b64), &key) || key.empty()) {
    return absl::InvalidArgumentError("signing secret is not standard base64");
  }
  return key;
}

std::string SignWithKey(std::string_view webhook_id, int64_t timestamp,
                        std::string_view body, std::string_view key) {
  const std::string ts = absl::StrCat(timestamp);
  return absl::StrCat("v1,", Base64(Hmac(webhook_id, ts, body, key)));
}

std::string SignatureHeader(std::string_view webhook_id, int64_t timestamp,
                            std::string_view body,
                            const std::vector<std::string>& secrets) {
  const std::string ts = absl::StrCat(timestamp);
  std::string out;
  for (const std::string& secret : secrets) {
    absl::StatusOr<std::string> key = DecodeSecret(secret);
    if (!key.ok()) continue;
    if (!out.empty()) out.push_back(' ');
    absl::StrAppend(&out, "v1,", Base64(Hmac(webhook_id, ts, body, *key)));
  }
  return out;
}

absl::Status CheckSignature(std::string_view webhook_id,
                            std::string_view timestamp_header,
                            std::string_view body,
                            std::string_view signature_header,
                            std::string_view secret, absl::Time now,
                            absl::Duration tolerance) {
  if (webhook_id.empty() || timestamp_header.empty() ||
      signature_header.empty()) {
    return absl::InvalidArgumentError("missing required webhook headers");
  }
  int64_t timestamp = 0;
  if (!absl::SimpleAtoi(AV(timestamp_header), &timestamp)) {
    return absl::InvalidArgumentError("invalid webhook-timestamp");
  }
  absl::StatusOr<std::string> key = DecodeSecret(secret);
  if (!key.ok()) return key.status();

  const absl::Time sent = absl::FromUnixSeconds(timestamp);
  if (sent < now - tolerance) {
    return absl::UnauthenticatedError("webhook-timestamp too old");
  }
  if (sent > now + tolerance) {
    return absl::UnauthenticatedError("webhook-timestamp too new");
  }
  const std::array<unsigned char, kSha256Bytes> expected =
      Hmac(webhook_id, absl::StrCat(timestamp), body, *key);
  for (absl::string_view entry :
       absl::StrSplit(AV(signature_header), ' ', absl::SkipEmpty())) {
    std::pair<absl::string_view, absl::string_view> parts =
        absl::StrSplit(entry, absl::MaxSplits(',', 1));
    if (parts.first != "v1") continue;
    std::string given;
    if (!absl::Base64Unescape(parts.second, &given) ||
        given.size() != expected.size()) {
      continue;
    }
    if (CRYPTO_memcmp(given.data(), expected.data(), expected.size()) == 0) {
      return absl::OkStatus();
    }
  }
  return absl::UnauthenticatedError("no matching signature");
}

bool VerifySignature(std::string_view webhook_id,
                     std::string_view timestamp_header, std::string_view body,
                     std::string_view signature_header,
                     std::string_view secret, absl::Time now,
                     absl::Duration tolerance) {
  return CheckSignature(webhook_id, timestamp_header, body, signature_header,
                        secret, now, tolerance)
      .ok();
}

}  // namespace herald::delivery
