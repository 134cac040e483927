// Row decoding and small helpers shared by the PostgresStore .cc files.
#ifndef HERALD_SERVER_STORE_POSTGRES_ROWS_H_
#define HERALD_SERVER_STORE_POSTGRES_ROWS_H_

#include <cstdint>
#include <limits>
#include <string>
#include <string_view>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "server/core/access.h"
#include "server/core/execution.h"
#include "server/core/policy.h"
#include "server/store/postgres/pg_conn.h"
#include "server/store/task_update.h"

namespace herald::store {
class SecretBox;
}  // namespace herald::store

namespace herald::store::pg {

inline constexpr int64_t kNever = std::numeric_limits<int64_t>::min();
inline constexpr int64_t kNotScheduled = std::numeric_limits<int64_t>::max();

// Private early returns (Abseil 20220623 has no status macros).
#define PG_CONCAT_INNER_(a, b) a##b
#define PG_CONCAT_(a, b) PG_CONCAT_INNER_(a, b)
#define PG_RETURN_IF_ERROR(expr)                 \
  do {                                           \
    ::absl::Status pg_status_ = (expr);          \
    if (!pg_status_.ok()) return pg_status_;     \
  } while (0)
#define PG_ASSIGN_OR_RETURN(lhs, expr) \
  PG_ASSIGN_OR_RETURN_IMPL_(PG_CONCAT_(pg_statusor_, __LINE__), lhs, expr)
#define PG_ASSIGN_OR_RETURN_IMPL_(tmp, lhs, expr) \
  auto tmp = (expr);                              \
  if (!tmp.ok()) return std::move(tmp).status();  \
  lhs = *std::move(tmp)

absl::StatusOr<core::TaskStatus> ParseStatus(std::string_view text);
std::string StatusText(core::TaskStatus status);
std::string VendorText(core::VendorType type);
core::VendorType ParseVendor(std::string_view text);

// "p.id, p.project_id, ..." (12 columns). `secrets` opens the targets'
// sealed secrets (nullptr: the store has no SecretBox).
extern const char* const kPolicyColumns;
absl::StatusOr<core::Policy> PolicyAt(const Result& r, int row,
                                      const SecretBox* secrets);

// id, name, role, ... (9 columns).
extern const char* const kTokenColumns;
absl::StatusOr<core::TokenRecord> TokenAt(const Result& r, int row);

// "t.id, t.execution_id, t.status, ..." (12 columns).
extern const char* const kTaskColumns;
absl::StatusOr<core::Task> TaskAt(const Result& r, int row, int first_col);

// The execution with its task's status and end time (14 columns):
// "SELECT ... FROM executions e JOIN tasks t ON t.execution_id = e.id".
extern const char* const kExecutionSelect;
absl::StatusOr<core::Execution> ExecutionAt(const Result& r, int row,
                                            const SecretBox* secrets);

// The 19 columns of a TaskUpdate after seq (task_updates, or the live join).
extern const char* const kUpdateColumns;
absl::StatusOr<TaskUpdate> UpdateAt(const Result& r, int row, int first_col);

absl::Status NotFound(std::string_view what, int64_t id);

}  // namespace herald::store::pg

#endif  // HERALD_SERVER_STORE_POSTGRES_ROWS_H_
