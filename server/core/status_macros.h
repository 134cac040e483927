// Early-return helpers for absl::Status / absl::StatusOr, with the semantics
// of Abseil's later status_macros.h (absent from Debian's 20220623).
#ifndef HERALD_SERVER_CORE_STATUS_MACROS_H_
#define HERALD_SERVER_CORE_STATUS_MACROS_H_

#include "absl/status/status.h"
#include "absl/status/statusor.h"

// Returns the status from the enclosing function if `expr` is not OK.
#define HERALD_RETURN_IF_ERROR(expr)                      \
  do {                                                    \
    if (::absl::Status herald_status_ = (expr);           \
        !herald_status_.ok()) {                           \
      return herald_status_;                              \
    }                                                     \
  } while (false)

#define HERALD_STATUS_CONCAT_INNER_(a, b) a##b
#define HERALD_STATUS_CONCAT_(a, b) HERALD_STATUS_CONCAT_INNER_(a, b)

// `lhs = *expr` when `expr` (a StatusOr) is OK, else returns its status.
// `lhs` may declare a variable: HERALD_ASSIGN_OR_RETURN(auto x, F());
#define HERALD_ASSIGN_OR_RETURN(lhs, expr)                                  \
  HERALD_ASSIGN_OR_RETURN_IMPL_(                                            \
      HERALD_STATUS_CONCAT_(herald_statusor_, __LINE__), lhs, expr)

#define HERALD_ASSIGN_OR_RETURN_IMPL_(statusor, lhs, expr) \
  auto statusor = (expr);                                  \
  if (!statusor.ok()) return std::move(statusor).status(); \
  lhs = std::move(statusor).value()

#endif  // HERALD_SERVER_CORE_STATUS_MACROS_H_
