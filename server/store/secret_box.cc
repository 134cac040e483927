#include "server/store/secret_box.h"

#include <openssl/evp.h>
#include <openssl/rand.h>

#include <memory>
#include <optional>

#include "absl/status/status.h"
#include "absl/strings/ascii.h"
#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"

namespace herald::store {
namespace {

constexpr size_t kNonceBytes = 12;
constexpr size_t kTagBytes = 16;
constexpr std::string_view kAad = "herald-secret-v1";

absl::string_view Sv(std::string_view s) { return {s.data(), s.size()}; }

struct CtxDeleter {
  void operator()(EVP_CIPHER_CTX* c) const { EVP_CIPHER_CTX_free(c); }
};
using Ctx = std::unique_ptr<EVP_CIPHER_CTX, CtxDeleter>;

const unsigned char* U(std::string_view s) {
  return reinterpret_cast<const unsigned char*>(s.data());
}

// Decrypts nonce || ciphertext || tag with `key`; nullopt if the tag does
// not verify.
std::optional<std::string> Decrypt(const std::string& key,
                                   std::string_view raw) {
  if (raw.size() < kNonceBytes + kTagBytes) return std::nullopt;
  const std::string_view nonce = raw.substr(0, kNonceBytes);
  const std::string_view body =
      raw.substr(kNonceBytes, raw.size() - kNonceBytes - kTagBytes);
  std::string tag(raw.substr(raw.size() - kTagBytes));
  Ctx ctx(EVP_CIPHER_CTX_new());
  if (!ctx) return std::nullopt;
  std::string out(body.size(), '\0');
  int len = 0;
  int tail = 0;
  if (EVP_DecryptInit_ex(ctx.get(), EVP_aes_256_gcm(), nullptr, nullptr,
                         nullptr) != 1 ||
      EVP_CIPHER_CTX_ctrl(ctx.get(), EVP_CTRL_GCM_SET_IVLEN, kNonceBytes,
                          nullptr) != 1 ||
      EVP_DecryptInit_ex(ctx.get(), nullptr, nullptr, U(key), U(nonce)) != 1 ||
      EVP_DecryptUpdate(ctx.get(), nullptr, &len, U(kAad),
                        static_cast<int>(kAad.size())) != 1 ||
      EVP_DecryptUpdate(ctx.get(), reinterpret_cast<unsigned char*>(out.data()),
                        &len, U(body), static_cast<int>(body.size())) != 1 ||
      EVP_CIPHER_CTX_ctrl(ctx.get(), EVP_CTRL_GCM_SET_TAG, kTagBytes,
                          tag.data()) != 1 ||
      EVP_DecryptFinal_ex(
          ctx.get(), reinterpret_cast<unsigned char*>(out.data()) + len,
          &tail) != 1) {
    return std::nullopt;
  }
  out.resize(static_cast<size_t>(len + tail));
  return out;
}

// The raw bytes of a sealed value, or nullopt if it is not valid base64.
std::optional<std::string> RawOf(std::string_view stored) {
  std::string raw;
  if (!absl::Base64Unescape(Sv(stored.substr(SecretBox::kPrefix.size())),
                            &raw)) {
    return std::nullopt;
  }
  return raw;
}

}  // namespace

absl::StatusOr<std::shared_ptr<const SecretBox>> SecretBox::Create(
    std::string key, std::vector<std::string> previous_keys) {
  if (key.size() != kKeyBytes) {
    return absl::InvalidArgumentError("the secret key must be 32 bytes");
  }
  for (const std::string& k : previous_keys) {
    if (k.size() != kKeyBytes) {
      return absl::InvalidArgumentError(
          "every previous secret key must be 32 bytes");
    }
  }
  return std::shared_ptr<const SecretBox>(
      new SecretBox(std::move(key), std::move(previous_keys)));
}

absl::StatusOr<std::string> SecretBox::ParseKey(std::string_view text,
                                                std::string_view where) {
  const absl::string_view trimmed = absl::StripAsciiWhitespace(Sv(text));
  std::string key;
  if (trimmed.empty() || !absl::Base64Unescape(trimmed, &key) ||
      key.size() != kKeyBytes) {
    return absl::InvalidArgumentError(absl::StrCat(
        "the secret key in ", Sv(where),
        " is not the base64 of 32 bytes (generate one with: "
        "openssl rand -base64 32)"));
  }
  return key;
}

std::string SecretBox::GenerateKeyText() {
  unsigned char key[kKeyBytes];
  if (RAND_bytes(key, sizeof key) != 1) std::abort();
  return absl::StrCat(
      absl::Base64Escape(absl::string_view(reinterpret_cast<char*>(key),
                                           sizeof key)),
      "\n");
}

bool SecretBox::IsSealed(std::string_view stored) {
  return stored.substr(0, kPrefix.size()) == kPrefix;
}

absl::StatusOr<std::string> SecretBox::Seal(std::string_view plaintext) const {
  if (plaintext.empty()) return std::string();
  std::string raw(kNonceBytes + plaintext.size() + kTagBytes, '\0');
  unsigned char* p = reinterpret_cast<unsigned char*>(raw.data());
  if (RAND_bytes(p, kNonceBytes) != 1) {
    return absl::InternalError("RAND_bytes failed");
  }
  Ctx ctx(EVP_CIPHER_CTX_new());
  int len = 0;
  int tail = 0;
  if (!ctx ||
      EVP_EncryptInit_ex(ctx.get(), EVP_aes_256_gcm(), nullptr, nullptr,
                         nullptr) != 1 ||
      EVP_CIPHER_CTX_ctrl(ctx.get(), EVP_CTRL_GCM_SET_IVLEN, kNonceBytes,
                          nullptr) != 1 ||
      EVP_EncryptInit_ex(ctx.get(), nullptr, nullptr, U(key_), p) != 1 ||
      EVP_EncryptUpdate(ctx.get(), nullptr, &len, U(kAad),
                        static_cast<int>(kAad.size())) != 1 ||
      EVP_EncryptUpdate(ctx.get(), p + kNonceBytes, &len, U(plaintext),
                        static_cast<int>(plaintext.size())) != 1 ||
      EVP_EncryptFinal_ex(ctx.get(), p + kNonceBytes + len, &tail) != 1 ||
      static_cast<size_t>(len + tail) != plaintext.size() ||
      EVP_CIPHER_CTX_ctrl(ctx.get(), EVP_CTRL_GCM_GET_TAG, kTagBytes,
                          p + kNonceBytes + plaintext.size()) != 1) {
    return absl::InternalError("AES-256-GCM encryption failed");
  }
  return absl::StrCat(Sv(kPrefix), absl::Base64Escape(raw));
}

absl::StatusOr<std::string> SecretBox::Open(std::string_view stored) const {
  if (!IsSealed(stored)) return std::string(stored);
  std::optional<std::string> raw = RawOf(stored);
  if (raw.has_value()) {
    if (auto plain = Decrypt(key_, *raw)) return *std::move(plain);
    for (const std::string& k : previous_keys_) {
      if (auto plain = Decrypt(k, *raw)) return *std::move(plain);
    }
  }
  return absl::DataLossError(
      "a stored secret cannot be decrypted: it is damaged or was encrypted "
      "with a secret key heraldd was not given (check secret_key_file / "
      "HERALD_SECRET_KEY, and secret_key_previous_file while rotating)");
}

bool SecretBox::NeedsRewrap(std::string_view stored) const {
  if (!IsSealed(stored)) return false;
  std::optional<std::string> raw = RawOf(stored);
  return !raw.has_value() || !Decrypt(key_, *raw).has_value();
}

}  // namespace herald::store
