// Applying an UpdatePolicyRequest to a stored policy: field masks and the
// rules that keep secrets a client cannot read back.
#ifndef HERALD_SERVER_API_POLICY_UPDATE_H_
#define HERALD_SERVER_API_POLICY_UPDATE_H_

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "herald/v1/policy_service.pb.h"
#include "server/core/field_violation.h"
#include "server/core/policy.h"

namespace herald::api {

// Returns `stored` with the fields of request.policy named by
// request.update_mask replaced (see UpdatePolicyRequest for the rules).
// Targets that leave auth_header or signing_secret empty while the has_
// flag is true keep the stored secret of the target at the same index; a
// replaced signing secret keeps signing until now + the target's
// secret_rotation_grace_period. INVALID_ARGUMENT for unknown mask paths.
absl::StatusOr<core::Policy> ApplyPolicyUpdate(
    const core::Policy& stored, const v1::UpdatePolicyRequest& request,
    absl::Time now);

// Checks the enum fields of a request policy, which the proto-free
// validation cannot see once cast. Appends violations.
void CheckPolicyEnums(const v1::Policy& policy,
                      std::vector<core::FieldViolation>* violations);

}  // namespace herald::api

#endif  // HERALD_SERVER_API_POLICY_UPDATE_H_
