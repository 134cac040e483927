#include "tests/receivers/tls_identity.h"

#include <arpa/inet.h>
#include <openssl/bio.h>
#include <openssl/bn.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/rand.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include <memory>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"

namespace herald::receivers {
namespace {

struct Free {
  void operator()(EVP_PKEY* p) const { EVP_PKEY_free(p); }
  void operator()(X509* p) const { X509_free(p); }
  void operator()(BIO* p) const { BIO_free(p); }
  void operator()(X509_EXTENSION* p) const { X509_EXTENSION_free(p); }
};
template <typename T>
using Ptr = std::unique_ptr<T, Free>;

absl::Status OpenSslError(std::string_view what) {
  char buf[256] = {};
  ERR_error_string_n(ERR_get_error(), buf, sizeof(buf));
  return absl::InternalError(absl::StrCat(std::string(what), ": ", buf));
}

bool AddExtension(X509* cert, X509* issuer, int nid, const std::string& value) {
  X509V3_CTX ctx;
  X509V3_set_ctx_nodb(&ctx);
  X509V3_set_ctx(&ctx, issuer, cert, nullptr, nullptr, 0);
  Ptr<X509_EXTENSION> ext(X509V3_EXT_conf_nid(nullptr, &ctx, nid, value.c_str()));
  return ext != nullptr && X509_add_ext(cert, ext.get(), -1) == 1;
}

absl::StatusOr<Ptr<X509>> NewCert(EVP_PKEY* key, const std::string& cn) {
  Ptr<X509> cert(X509_new());
  if (cert == nullptr) return OpenSslError("X509_new");
  unsigned char serial[16];
  RAND_bytes(serial, sizeof(serial));
  serial[0] &= 0x7f;  // positive
  BIGNUM* bn = BN_bin2bn(serial, sizeof(serial), nullptr);
  BN_to_ASN1_INTEGER(bn, X509_get_serialNumber(cert.get()));
  BN_free(bn);
  X509_set_version(cert.get(), 2);
  X509_gmtime_adj(X509_getm_notBefore(cert.get()), -3600);
  X509_gmtime_adj(X509_getm_notAfter(cert.get()), 24 * 3600);
  X509_set_pubkey(cert.get(), key);
  X509_NAME* name = X509_get_subject_name(cert.get());
  X509_NAME_add_entry_by_txt(name, "O", MBSTRING_ASC,
                             reinterpret_cast<const unsigned char*>("herald tests"),
                             -1, -1, 0);
  X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC,
                             reinterpret_cast<const unsigned char*>(cn.c_str()),
                             -1, -1, 0);
  return cert;
}

absl::StatusOr<std::string> ToPem(X509* cert) {
  Ptr<BIO> bio(BIO_new(BIO_s_mem()));
  if (PEM_write_bio_X509(bio.get(), cert) != 1) return OpenSslError("PEM cert");
  char* data = nullptr;
  long len = BIO_get_mem_data(bio.get(), &data);
  return std::string(data, static_cast<size_t>(len));
}

absl::StatusOr<std::string> ToPem(EVP_PKEY* key) {
  Ptr<BIO> bio(BIO_new(BIO_s_mem()));
  if (PEM_write_bio_PrivateKey(bio.get(), key, nullptr, nullptr, 0, nullptr,
                               nullptr) != 1) {
    return OpenSslError("PEM key");
  }
  char* data = nullptr;
  long len = BIO_get_mem_data(bio.get(), &data);
  return std::string(data, static_cast<size_t>(len));
}

}  // namespace

absl::StatusOr<TlsIdentity> GenerateTlsIdentity(
    const std::vector<std::string>& hosts) {
  Ptr<EVP_PKEY> ca_key(EVP_EC_gen("P-256"));
  Ptr<EVP_PKEY> key(EVP_EC_gen("P-256"));
  if (ca_key == nullptr || key == nullptr) return OpenSslError("EC keygen");

  absl::StatusOr<Ptr<X509>> ca = NewCert(ca_key.get(), "herald test CA");
  if (!ca.ok()) return ca.status();
  X509_set_issuer_name(ca->get(), X509_get_subject_name(ca->get()));
  if (!AddExtension(ca->get(), ca->get(), NID_basic_constraints,
                    "critical,CA:TRUE") ||
      !AddExtension(ca->get(), ca->get(), NID_key_usage,
                    "critical,keyCertSign,cRLSign") ||
      !AddExtension(ca->get(), ca->get(), NID_subject_key_identifier, "hash")) {
    return OpenSslError("CA extensions");
  }
  if (X509_sign(ca->get(), ca_key.get(), EVP_sha256()) == 0) {
    return OpenSslError("CA sign");
  }

  const std::string cn = hosts.empty() ? "127.0.0.1" : hosts.front();
  absl::StatusOr<Ptr<X509>> cert = NewCert(key.get(), cn);
  if (!cert.ok()) return cert.status();
  X509_set_issuer_name(cert->get(), X509_get_subject_name(ca->get()));
  std::vector<std::string> sans;
  for (const std::string& h : hosts) {
    unsigned char buf[16];
    const bool ip = inet_pton(AF_INET, h.c_str(), buf) == 1 ||
                    inet_pton(AF_INET6, h.c_str(), buf) == 1;
    sans.push_back(absl::StrCat(ip ? "IP:" : "DNS:", h));
  }
  if (!AddExtension(cert->get(), ca->get(), NID_basic_constraints,
                    "critical,CA:FALSE") ||
      !AddExtension(cert->get(), ca->get(), NID_key_usage,
                    "critical,digitalSignature") ||
      !AddExtension(cert->get(), ca->get(), NID_ext_key_usage, "serverAuth") ||
      !AddExtension(cert->get(), ca->get(), NID_authority_key_identifier,
                    "keyid:always") ||
      (!sans.empty() &&
       !AddExtension(cert->get(), ca->get(), NID_subject_alt_name,
                     absl::StrJoin(sans, ",")))) {
    return OpenSslError("certificate extensions");
  }
  if (X509_sign(cert->get(), ca_key.get(), EVP_sha256()) == 0) {
    return OpenSslError("certificate sign");
  }

  TlsIdentity id;
  absl::StatusOr<std::string> pem = ToPem(ca->get());
  if (!pem.ok()) return pem.status();
  id.ca_pem = *std::move(pem);
  pem = ToPem(cert->get());
  if (!pem.ok()) return pem.status();
  id.cert_pem = *std::move(pem);
  pem = ToPem(key.get());
  if (!pem.ok()) return pem.status();
  id.key_pem = *std::move(pem);
  return id;
}

}  // namespace herald::receivers
