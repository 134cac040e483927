// herald.v1.Policy <-> core::Policy. Reads never carry secrets: auth_header
// and signing secrets become has_auth_header / has_signing_secret.
#ifndef HERALD_SERVER_API_POLICY_CONVERT_H_
#define HERALD_SERVER_API_POLICY_CONVERT_H_

#include "herald/v1/policy.pb.h"
#include "server/core/policy.h"

namespace herald::api {

// Converts a request's policy. Output-only fields (id, creator, times,
// has_*) are ignored; enabled defaults to true when absent. Unknown enum
// values are kept as out-of-range values for validation to refuse.
core::Policy PolicyFromProto(const v1::Policy& proto);
core::Target TargetFromProto(const v1::Target& proto);
core::Filters FiltersFromProto(const v1::Filters& proto);
core::RetryPolicy RetryPolicyFromProto(const v1::RetryPolicy& proto);

// Converts for a response, without secrets.
v1::Policy PolicyToProto(const core::Policy& policy);
v1::Target TargetToProto(const core::Target& target);

}  // namespace herald::api

#endif  // HERALD_SERVER_API_POLICY_CONVERT_H_
