// Standard Webhooks (v1.0.0) symmetric signatures: HMAC-SHA256 over
// "<webhook-id>.<webhook-timestamp>.<body>", sent as
//
//   webhook-signature: v1,<base64(HMAC)> [v1,<base64(HMAC)> ...]
//
// A secret is "whsec_" followed by the standard base64 of the key bytes
// (padding optional); the HMAC key is the decoded bytes, not the string.
// Several signatures, one per secret, are space-separated so that a
// receiver keeps verifying while a secret is being rotated.
//
// Reference: standard-webhooks/standard-webhooks spec/standard-webhooks.md
// and its reference libraries (5 minute timestamp tolerance).
//
// Thread-safety: all functions are pure and may be called concurrently.
// No function here logs, and no returned message contains a secret.
#ifndef HERALD_SERVER_DELIVERY_SIGNER_H_
#define HERALD_SERVER_DELIVERY_SIGNER_H_

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/time/time.h"

namespace herald::delivery {

// The header names of the Standard Webhooks scheme, as herald sends them.
inline constexpr std::string_view kWebhookIdHeader = "webhook-id";
inline constexpr std::string_view kWebhookTimestampHeader = "webhook-timestamp";
inline constexpr std::string_view kWebhookSignatureHeader = "webhook-signature";

// The tolerance of the reference libraries for webhook-timestamp, in both
// directions.
inline constexpr absl::Duration kDefaultSignatureTolerance = absl::Minutes(5);

// Decodes a secret into its HMAC key bytes. Accepts "whsec_<base64>" and,
// like the reference libraries, bare base64. Fails (InvalidArgument, without
// echoing the secret) on invalid base64 or an empty key.
absl::StatusOr<std::string> DecodeSecret(std::string_view secret);

// "v1,<base64>" for one key (decoded bytes).
std::string SignWithKey(std::string_view webhook_id, int64_t timestamp,
                        std::string_view body, std::string_view key);

// The webhook-signature header value: one "v1,<base64>" per secret, in the
// order given, separated by single spaces. Secrets that do not decode are
// skipped (policy validation rejects them up front); the result is "" when
// no secret is usable, and the caller must then omit the header.
std::string SignatureHeader(std::string_view webhook_id, int64_t timestamp,
                            std::string_view body,
                            const std::vector<std::string>& secrets);

// Verifies a delivery as a receiver would: `timestamp_header` must be an
// integer within `tolerance` of `now`, and at least one "v1," entry of
// `signature_header` must match the HMAC under `secret` (constant-time
// comparison). Entries of other versions (e.g. "v1a,") are ignored.
// Returns OK, or InvalidArgument / Unauthenticated with a reason that never
// contains the secret or a signature:
//   InvalidArgument  missing/invalid headers or secret;
//   Unauthenticated  timestamp outside the tolerance, or no matching
//                    signature.
absl::Status CheckSignature(std::string_view webhook_id,
                            std::string_view timestamp_header,
                            std::string_view body,
                            std::string_view signature_header,
                            std::string_view secret, absl::Time now,
                            absl::Duration tolerance = kDefaultSignatureTolerance);

// CheckSignature(...).ok().
bool VerifySignature(std::string_view webhook_id,
                     std::string_view timestamp_header, std::string_view body,
                     std::string_view signature_header,
                     std::string_view secret, absl::Time now,
                     absl::Duration tolerance = kDefaultSignatureTolerance);

}  // namespace herald::delivery

#endif  // HERALD_SERVER_DELIVERY_SIGNER_H_
