// Private early-return helpers for the SQLite store (Abseil 20220623 has no
// status_macros.h). Named STORE_* so they never clash with a project-wide
// version added later.
#ifndef HERALD_SERVER_STORE_SQLITE_STATUS_MACROS_H_
#define HERALD_SERVER_STORE_SQLITE_STATUS_MACROS_H_

#include "absl/status/status.h"
#include "absl/status/statusor.h"

#define STORE_CONCAT_INNER_(a, b) a##b
#define STORE_CONCAT_(a, b) STORE_CONCAT_INNER_(a, b)

// Returns the status of `expr` from the enclosing function if it is not OK.
#define STORE_RETURN_IF_ERROR(expr)                    \
  do {                                                 \
    ::absl::Status store_status_ = (expr);             \
    if (!store_status_.ok()) return store_status_;     \
  } while (0)

// `lhs = *expr`, or returns expr's status if it is not OK. `lhs` may be a
// declaration (`auto x`).
#define STORE_ASSIGN_OR_RETURN(lhs, expr) \
  STORE_ASSIGN_OR_RETURN_IMPL_(STORE_CONCAT_(store_statusor_, __LINE__), lhs, expr)
#define STORE_ASSIGN_OR_RETURN_IMPL_(tmp, lhs, expr) \
  auto tmp = (expr);                                 \
  if (!tmp.ok()) return std::move(tmp).status();     \
  lhs = *std::move(tmp)

#endif  // HERALD_SERVER_STORE_SQLITE_STATUS_MACROS_H_
