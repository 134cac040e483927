// One invalid field of a request, reported as google.rpc.BadRequest
// field_violations by the API layer.
#ifndef HERALD_SERVER_CORE_FIELD_VIOLATION_H_
#define HERALD_SERVER_CORE_FIELD_VIOLATION_H_

#include <string>

namespace herald::core {

struct FieldViolation {
  // Path of the field relative to the request message, e.g.
  // "policy.targets[1].address".
  std::string field;
  // Why the value is refused, for humans.
  std::string description;
  friend bool operator==(const FieldViolation&, const FieldViolation&) = default;
};

}  // namespace herald::core

#endif  // HERALD_SERVER_CORE_FIELD_VIOLATION_H_
