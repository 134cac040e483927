// The Store: every durable thing herald keeps (policies, tokens, settings,
// events, executions, tasks, idempotency keys) behind one interface, so the
// embedded SQLite store and the PostgreSQL store are interchangeable.
//
// Contract shared by every implementation (tests/unit/store is the
// conformance suite that proves it):
//  * Every method is thread-safe and may block on I/O: call it from worker
//    threads, never from a gRPC reactor.
//  * Errors: kNotFound for a missing id, kAlreadyExists for a policy name
//    taken in its project, kInvalidArgument for bad arguments,
//    kUnavailable when the database cannot be reached (retryable),
//    kInternal for anything else. Messages never contain secrets.
//  * Ids are positive and increase with creation order.
//  * Returned values are copies: callers own them.
#ifndef HERALD_SERVER_STORE_STORE_H_
#define HERALD_SERVER_STORE_STORE_H_

#include <cstdint>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "absl/functional/any_invocable.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "server/core/access.h"
#include "server/core/execution.h"
#include "server/core/policy.h"
#include "server/core/settings.h"

namespace herald::store {

// Offset pagination shared by every List method. The API layer turns the
// offset into an opaque page token.
struct Page {
  int64_t offset = 0;
  int limit = 10;  // > 0
};

struct PolicyQuery {
  // Policies of these projects; empty = all projects. Project 0 holds the
  // system-wide policies.
  std::vector<int64_t> project_ids;
  std::string name_contains;         // case-sensitive substring; "" = any
  std::optional<bool> enabled;       // nullopt = any
  std::string event_type;            // policies listing it; "" = any
  Page page;
};

struct PolicyList {
  std::vector<core::Policy> policies;  // newest first (create_time desc, id desc)
  int64_t total_size = 0;              // matches ignoring the page
};

struct ExecutionQuery {
  int64_t policy_id = 0;  // required
  std::optional<core::TaskStatus> status;
  std::string event_type;  // "" = any
  Page page;
};

struct ExecutionList {
  std::vector<core::Execution> executions;  // newest first (id desc)
  int64_t total_size = 0;
};

// Task counts of one execution by status (Harbor's execution metrics).
struct TaskCounts {
  int64_t total = 0, pending = 0, running = 0, success = 0, error = 0,
          stopped = 0;
};

// One execution to create with its single Pending task.
struct NewDelivery {
  int64_t policy_id = 0;
  int target_index = 0;
  core::Target target;
  core::VendorType vendor_type = core::VendorType::kWebhook;
  std::string payload;
  std::string content_type;
  std::string webhook_id;
  int max_attempts = 3;
  absl::Time due_time = absl::UnixEpoch();  // first attempt due
};

// One accepted event with the deliveries it created.
struct NewEvent {
  core::EventRecord event;  // id and create_time are assigned by the store
  std::vector<NewDelivery> deliveries;
  // Producer idempotency key ("" = none). Scoped per publishing token id.
  std::string idempotency_scope;
  std::string request_id;
};

// What CommitEvents returns per event, in input order.
struct CommittedEvent {
  int64_t event_id = 0;
  int deliveries_created = 0;
  // True when request_id was already committed within the idempotency
  // window: nothing new was created and event_id/deliveries_created are the
  // original acknowledgement's.
  bool duplicate = false;
  // This event's own outcome. Events are committed independently: when one
  // fails (kInvalidArgument for a malformed event, kInternal for anything
  // else) it leaves nothing behind, event_id is 0, and the other events of
  // the call are unaffected.
  absl::Status status;
};

class Store {
 public:
  virtual ~Store() = default;

  // ---- Policies ----
  // Creates `policy` (its id, create_time and update_time are assigned).
  // If request_id is non-empty and a policy was already created with the same
  // (idempotency_scope, request_id) in the last 24 h, returns that policy and
  // creates nothing. kAlreadyExists if (project_id, name) is taken.
  virtual absl::StatusOr<core::Policy> CreatePolicy(
      const core::Policy& policy, const std::string& idempotency_scope,
      const std::string& request_id) = 0;
  virtual absl::StatusOr<core::Policy> GetPolicy(int64_t id) = 0;
  virtual absl::StatusOr<PolicyList> ListPolicies(const PolicyQuery& query) = 0;
  // Replaces every field of the stored policy with id policy.id except
  // project_id, creator and create_time; sets update_time. kNotFound,
  // kAlreadyExists as for create.
  virtual absl::StatusOr<core::Policy> UpdatePolicy(
      const core::Policy& policy) = 0;
  // Deletes the policy, its executions and their tasks and logs. Pending or
  // retrying tasks are gone with it, so they are never sent.
  virtual absl::Status DeletePolicy(int64_t id) = 0;

  // ---- Tokens ----
  virtual absl::StatusOr<core::TokenRecord> CreateToken(
      const core::TokenRecord& token) = 0;
  // kNotFound when no token has this hash (revoked ones are returned with
  // revoked = true; the caller decides).
  virtual absl::StatusOr<core::TokenRecord> FindTokenByHash(
      const std::string& secret_hash) = 0;
  virtual absl::StatusOr<std::vector<core::TokenRecord>> ListTokens() = 0;
  virtual absl::Status RevokeToken(int64_t id) = 0;

  // ---- Settings ----
  // Returns the defaults of core::Settings until PutSettings is called.
  virtual absl::StatusOr<core::Settings> GetSettings() = 0;
  virtual absl::Status PutSettings(const core::Settings& settings) = 0;
  // Stores `settings` only if no settings were ever stored (first start),
  // so configured initial values never override values set through the
  // API. Atomic.
  virtual absl::Status SeedSettings(const core::Settings& settings) = 0;

  // ---- Events, executions, tasks ----
  // Commits the events with their executions and Pending tasks, each event
  // atomically and the whole batch in as few transactions as possible
  // (group commit). Returns one result per input, in order. When it returns
  // OK every non-duplicate event whose CommittedEvent::status is OK is
  // durable. A non-OK return (e.g. kUnavailable) means none of them was
  // committed. A delivery whose policy no longer exists (deleted since the
  // event was matched) is skipped and not counted in deliveries_created.
  virtual absl::StatusOr<std::vector<CommittedEvent>> CommitEvents(
      std::vector<NewEvent> events) = 0;
  // CommitEvents for callers that must not block (gRPC reactors): `done`
  // receives what CommitEvents would return. Implementations that can,
  // return at once and call `done` later from their own thread; `done` must
  // then be quick. The default runs CommitEvents and calls `done` inline.
  virtual void CommitEventsAsync(
      std::vector<NewEvent> events,
      absl::AnyInvocable<void(absl::StatusOr<std::vector<CommittedEvent>>)>
          done) {
    done(CommitEvents(std::move(events)));
  }
  virtual absl::StatusOr<core::EventRecord> GetEvent(int64_t id) = 0;
  virtual absl::StatusOr<ExecutionList> ListExecutions(
      const ExecutionQuery& query) = 0;
  virtual absl::StatusOr<core::Execution> GetExecution(int64_t id) = 0;
  virtual absl::StatusOr<TaskCounts> CountTasks(int64_t execution_id) = 0;
  virtual absl::StatusOr<std::vector<core::Task>> ListTasks(
      int64_t execution_id) = 0;
  virtual absl::StatusOr<core::Task> GetTask(int64_t id) = 0;
};

}  // namespace herald::store

#endif  // HERALD_SERVER_STORE_STORE_H_
