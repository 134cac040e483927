// Validation, defaults and normalisation of webhook policies.
//
// The rules are Harbor's (reference/harbor-behaviour.md §1.3) with its
// quirks fixed, plus the rules of herald's additions (filters, signing,
// custom headers, retry overrides):
//
//  * name is required (Harbor has no check): 1..256 bytes of UTF-8 without
//    control characters, not only whitespace. Uniqueness per project is the
//    store's job.
//  * description: at most 4096 bytes of UTF-8.
//  * event_types: at least one, each a known type, no duplicates (Harbor
//    accepts duplicates and then delivers twice).
//  * targets: 1..10. type HTTP or SLACK. address: see NormalizeAddress;
//    a literal IP host must be one the address rules allow
//    (common::AddressRules: never link-local such as 169.254.169.254,
//    cloud metadata, multicast, unspecified or reserved; loopback and
//    private ranges as configured; allowed networks always). Host names
//    are judged after DNS by the connect guard at delivery.
//    SLACK targets: no payload_format and no auth_header. Their address
//    must be http or https like any other: Slack itself only serves https,
//    but Harbor accepts http and Slack-compatible receivers (Mattermost,
//    Rocket.Chat) are often plain http inside a cluster, so both are kept.
//    auth_header: at most 4096 bytes, no CR, LF or other control
//    characters. headers: at most 20; names are RFC 7230 tokens and not
//    one herald sets itself (IsReservedHeaderName); values at most 4096
//    bytes without CR, LF or other control characters. signing_secret: see
//    CheckSigningSecret. ca_bundle_pem: at most 64 KiB and contains a PEM
//    certificate.
//  * filters: at most 50 patterns per list, each a valid Glob.
//    scan_statuses from kScanStatuses and only with a SCANNING_* event
//    type; replication_statuses from kReplicationStatuses and only with
//    REPLICATION.
//  * retry_policy: max_attempts 0 (server default) or 1..100; backoff a
//    known kind; initial_backoff and max_backoff finite and >= 0, and
//    max_backoff >= initial_backoff when both are set; http_timeout 0
//    (server default) or 1 s..300 s.
//
// Typical use in a create/update handler:
//   violations = ValidatePolicy(policy, known_types);   // reject if any
//   ApplyPolicyDefaults(policy);                         // then store
#ifndef HERALD_SERVER_CORE_POLICY_VALIDATION_H_
#define HERALD_SERVER_CORE_POLICY_VALIDATION_H_

#include <array>
#include <cstddef>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "server/common/address_rules.h"
#include "server/core/field_violation.h"
#include "server/core/policy.h"

namespace herald::core {

inline constexpr size_t kMaxPolicyNameBytes = 256;
inline constexpr size_t kMaxPolicyDescriptionBytes = 4096;
inline constexpr size_t kMaxTargetsPerPolicy = 10;
inline constexpr size_t kMaxAuthHeaderBytes = 4096;
inline constexpr size_t kMaxHeadersPerTarget = 20;
inline constexpr size_t kMaxHeaderValueBytes = 4096;
inline constexpr size_t kMaxCaBundleBytes = 64 * 1024;
inline constexpr size_t kMaxPatternsPerFilter = 50;
inline constexpr size_t kMinSigningSecretBytes = 24;
inline constexpr size_t kMaxSigningSecretBytes = 64;
inline constexpr int kMaxRetryAttempts = 100;
inline constexpr absl::Duration kMinHttpTimeout = absl::Seconds(1);
inline constexpr absl::Duration kMaxHttpTimeout = absl::Seconds(300);

// The scan_status values a SCANNING_* event carries: the final statuses of
// Harbor's scan task (SCANNING_COMPLETED = Success, SCANNING_FAILED =
// Error, SCANNING_STOPPED = Stopped).
inline constexpr std::array<std::string_view, 3> kScanStatuses = {
    "Success", "Error", "Stopped"};

// The job_status values a REPLICATION event carries: every status of
// Harbor's replication task (it fires on each change).
inline constexpr std::array<std::string_view, 6> kReplicationStatuses = {
    "Pending", "Scheduled", "Running", "Success", "Error", "Stopped"};

inline constexpr std::string_view kReplicationEventType = "REPLICATION";

// Whether `event_type` is one of the SCANNING_* types (their events carry
// a scan_status).
bool IsScanningEventType(std::string_view event_type);

// Returns every rule `policy` breaks (empty when valid), each with the
// path of the offending field relative to the request message
// ("policy.targets[1].address", "policy.event_types[2]", ...) and a
// description that never repeats a secret. `known_event_types` are the
// event types the server supports; `address_rules` the SSRF rules of the
// configuration.
std::vector<FieldViolation> ValidatePolicy(
    const Policy& policy, const std::vector<std::string>& known_event_types,
    const common::AddressRules& address_rules = {});

// Fills defaults and canonical forms of a policy that passed
// ValidatePolicy: HTTP targets without a payload format get
// PayloadFormat::kDefault (Harbor's behaviour), and addresses are replaced
// by their NormalizeAddress form. Idempotent. Addresses that do not
// normalise are left untouched.
void ApplyPolicyDefaults(Policy& policy);

// Checks and canonicalises a target address. Surrounding whitespace is
// trimmed; the result must be an absolute http or https URL with a host.
// Refused (kInvalidArgument, message says why): no scheme
// ("example.com/hook", which Harbor stores and then fails to deliver to),
// other schemes, user info ("user:pass@", since URLs end up in logs),
// whitespace or control characters inside, non-ASCII characters (send the
// punycode host and a percent-encoded path), a fragment, an empty host, a
// port outside 1..65535, and characters RFC 3986 does not allow unencoded.
// Canonical form: lowercase scheme and host, port without leading zeros, a
// path of just "/" dropped ("https://h/" -> "https://h"), any other path
// and the query kept as given (Harbor would strip every trailing '/').
absl::StatusOr<std::string> NormalizeAddress(std::string_view address);

// Whether a custom header may not be set because herald sets it (Host,
// Content-Length, Content-Type, Authorization, webhook-id,
// webhook-timestamp, webhook-signature) or because it is hop-by-hop and
// would corrupt the exchange (Connection, Transfer-Encoding, Keep-Alive,
// TE, Trailer, Upgrade, Expect, Proxy-Connection, Proxy-Authorization).
// Case-insensitive.
bool IsReservedHeaderName(std::string_view name);

// Checks a Standard Webhooks signing secret: "whsec_" followed by the
// standard base64 (padding optional) of 24 to 64 bytes. The message never
// contains the secret.
absl::Status CheckSigningSecret(std::string_view secret);

}  // namespace herald::core

#endif  // HERALD_SERVER_CORE_POLICY_VALIDATION_H_
