// Throw-away TLS identities for test servers, generated with OpenSSL at
// test time (nothing is checked in, nothing expires between runs).
#ifndef HERALD_TESTS_RECEIVERS_TLS_IDENTITY_H_
#define HERALD_TESTS_RECEIVERS_TLS_IDENTITY_H_

#include <string>
#include <vector>

#include "absl/status/statusor.h"

namespace herald::receivers {

// A CA certificate and a server certificate it signed, all PEM.
struct TlsIdentity {
  std::string ca_pem;    // trust this (HttpRequest::ca_bundle_pem)
  std::string cert_pem;  // the server's certificate
  std::string key_pem;   // the server's private key (PKCS#8)
};

// A fresh P-256 CA ("herald test CA") and server certificate valid from an
// hour ago for one day, with subjectAltNames for each of `hosts` (IP
// addresses become iPAddress entries, names dNSName entries).
absl::StatusOr<TlsIdentity> GenerateTlsIdentity(
    const std::vector<std::string>& hosts = {"127.0.0.1", "localhost"});

}  // namespace herald::receivers

#endif  // HERALD_TESTS_RECEIVERS_TLS_IDENTITY_H_
