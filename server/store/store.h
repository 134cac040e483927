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
#include <functional>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/functional/any_invocable.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "server/core/access.h"
#include "server/core/execution.h"
#include "server/core/policy.h"
#include "server/core/settings.h"
#include "server/store/task_update.h"

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

// ---- Delivery engine ----
//
// Claiming. A task is *due* when it is Pending, or Error with a retry
// scheduled, and its next attempt time has come, or Running with an expired
// lease (its claimer died; the interrupted attempt is re-run with the same
// run_count). Claiming makes it Running under a lease (owner + expiry) so
// that no other claimer gets it until the lease expires or the claimer
// reports a result or releases it. A claimer never reclaims its own
// expired leases (it still holds those tasks in memory). Results are
// accepted only from the lease holder of that attempt: (owner, run_count)
// must match, so a late result after a reclaim or after the policy was
// deleted is ignored.
//
// Concurrency keys. Every task has an endpoint key used to share claims
// fairly among receivers: "scheme://host:port" of an HTTP target (scheme
// and host lower-cased, default port filled in), and the full address of a
// Slack target (Slack is paced per webhook URL). Tasks created by schema
// version 1 carry the key "".

// What ClaimTasks may take.
struct ClaimOptions {
  // Required. The lease owner: unique per claimer (process start).
  std::string owner;
  // Required, > 0. Lease length from the claim.
  absl::Duration lease = absl::Seconds(60);
  // Required, > 0. At most this many tasks.
  int limit = 256;
  // At most this many tasks of one endpoint key in this call, unless the
  // key is listed in endpoint_room (0 = none of that endpoint). This is
  // what stops one endpoint with a huge backlog from filling every batch.
  int default_endpoint_room = 16;
  std::vector<std::pair<std::string, int>> endpoint_room;
};

// A claimed task with everything one attempt needs.
struct ClaimedTask {
  core::Task task;            // after the claim: Running, run_count counted
  core::Execution execution;  // with payload and target snapshot
  // The policy's retry override as it is now (backoff, timeout); the
  // attempt budget is task.max_attempts, fixed when the cycle began.
  core::RetryPolicy retry_policy;
  std::string endpoint;  // the concurrency key (see above)
  absl::Time lease_expire_time = absl::InfinitePast();
};

// The outcome of one attempt, reported by the lease holder.
struct TaskResult {
  int64_t task_id = 0;
  int run_count = 0;  // the claim's run_count (the attempt number)
  enum class Outcome {
    kSuccess,  // Success, final
    kRetry,    // Error, next attempt at next_attempt_time
    kFailed,   // Error, final
  };
  Outcome outcome = Outcome::kFailed;
  absl::Time next_attempt_time = absl::InfiniteFuture();  // kRetry only
  int response_code = 0;  // 0 = no response
  std::string error;      // Harbor's status message; "" on success
  // Appended to the task's log (one line, no trailing newline; "" = none).
  std::string log_line;
};

// A claimed task handed back without counting an attempt.
struct TaskLease {
  int64_t task_id = 0;
  int run_count = 0;
};

// One task to start a new attempt cycle for (redelivery).
struct Redelivery {
  int64_t task_id = 0;
  int max_attempts = 3;  // >= 1: the cycle's attempt budget
};

// Finally failed tasks for RecoverFailed. Exactly one of policy_id > 0 or
// project_id set. Keyset-paginated by execution id (ascending): pass the
// last execution_id returned as after_execution_id for the next page.
struct FailedTaskQuery {
  int64_t policy_id = 0;
  std::optional<int64_t> project_id;  // its policies; 0 = system-wide ones
  absl::Time start_time = absl::InfinitePast();  // execution start >= this
  absl::Time end_time = absl::InfiniteFuture();  // execution start < this
  int64_t after_execution_id = 0;
  int limit = 500;  // > 0
};

struct FailedTask {
  int64_t task_id = 0;
  int64_t execution_id = 0;
  int64_t policy_id = 0;
};

// Unfinished tasks by state, for metrics.
struct QueueDepth {
  int64_t pending = 0;   // Pending (first attempt not made yet)
  int64_t retrying = 0;  // Error with a retry scheduled
  int64_t running = 0;   // Running (claimed)
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

  // ---- Delivery engine (see ClaimOptions above) ----
  // Claims up to options.limit due tasks, earliest due first, at most the
  // room of each endpoint key. Claiming sets Running, counts the attempt
  // (run_count + 1; not for a reclaimed expired lease, whose interrupted
  // attempt is re-run), sets the lease and, on the first attempt of a
  // cycle, start_time. Atomic: two concurrent claimers never get the same
  // task. Reads a bounded number of rows per endpoint key, never the whole
  // backlog. kInvalidArgument for bad options.
  virtual absl::StatusOr<std::vector<ClaimedTask>> ClaimTasks(
      const ClaimOptions& options) = 0;
  // Records attempt outcomes in one transaction and appends their log
  // lines. Returns, per result in order, whether it was applied: false when
  // the task is gone (policy deleted, swept) or not leased by `owner` at
  // that run_count (reclaimed, released). A final outcome sets end_time.
  virtual absl::StatusOr<std::vector<bool>> CompleteTasks(
      const std::string& owner, std::vector<TaskResult> results) = 0;
  // CompleteTasks for callers that must not block; `done` runs later on
  // the store's thread (must be quick) or inline (this default).
  virtual void CompleteTasksAsync(
      const std::string& owner, std::vector<TaskResult> results,
      absl::AnyInvocable<void(absl::StatusOr<std::vector<bool>>)> done) {
    done(CompleteTasks(owner, std::move(results)));
  }
  // Hands claimed tasks back without counting their attempt: due now,
  // Pending again (or Error with a retry due now if an earlier attempt of
  // the cycle failed). Leases not held by `owner` at that run_count are
  // left alone. Returns how many were released.
  virtual absl::StatusOr<int> ReleaseTasks(const std::string& owner,
                                           std::vector<TaskLease> leases) = 0;
  // Makes every lease not held by `owner` expire now, so its tasks are due
  // at once. Only for a store with a single claimer (the embedded SQLite
  // store, whose data-directory lock guarantees one heraldd): at start,
  // every Running task left behind is a dead process's. Returns the count.
  virtual absl::StatusOr<int> ExpireLeases(const std::string& owner) = 0;
  // The task's log: one line per attempt (and per redelivery request),
  // oldest first, each newline-terminated; "" before the first attempt.
  // kNotFound for a missing task.
  virtual absl::StatusOr<std::string> GetTaskLog(int64_t task_id) = 0;
  // Starts a new attempt cycle for a final task: Pending, due now,
  // run_count 0, max_attempts as given, start/end time and last result
  // cleared; same execution, payload and webhook-id. kNotFound;
  // kFailedPrecondition when the task is not final (Pending, Running, or
  // Error with a retry scheduled). Returns the task after the change.
  virtual absl::StatusOr<core::Task> RedeliverTask(
      const Redelivery& redelivery) = 0;
  // RedeliverTask for many tasks in one transaction; one status per input
  // (OK, kNotFound, kFailedPrecondition), each applied independently.
  virtual absl::StatusOr<std::vector<absl::Status>> RedeliverTasks(
      std::vector<Redelivery> redeliveries) = 0;
  // A page of finally failed tasks (Error with no retry scheduled) whose
  // execution started in [start_time, end_time). kInvalidArgument for a
  // bad query.
  virtual absl::StatusOr<std::vector<FailedTask>> ListFailedTasks(
      const FailedTaskQuery& query) = 0;
  // Retention: deletes finished executions (their task final) beyond the
  // newest `keep` finished ones of each (policy, vendor type), with their
  // tasks and logs; unfinished executions are never touched and not
  // counted. Deletes at most `max_delete` per call (small transactions, so
  // publishing is not held up); returns how many were deleted. Call again
  // while it returns max_delete.
  virtual absl::StatusOr<int64_t> SweepExecutions(int keep,
                                                  int64_t max_delete) = 0;
  virtual absl::StatusOr<QueueDepth> CountQueue() = 0;

  // ---- Task updates (WatchTasks) ----
  // The log holds one TaskUpdate per change of any task (creation, claim,
  // result, redelivery, release), appended in the change's transaction and
  // numbered in commit order.
  //
  // Up to `limit` updates with seq > after_seq, oldest first, with the
  // log's current bounds.
  virtual absl::StatusOr<TaskUpdatePage> ListTaskUpdates(int64_t after_seq,
                                                         int limit) = 0;
  // The current state of not-yet-final tasks (Pending, Running, Error with
  // a retry scheduled), as TaskUpdates with seq 0, by task id.
  virtual absl::StatusOr<std::vector<TaskUpdate>> ListUnfinishedTasks(
      const UnfinishedTaskQuery& query) = 0;
  // Deletes updates last changed before `before`; returns how many.
  virtual absl::StatusOr<int64_t> TrimTaskUpdates(absl::Time before) = 0;
  // `listener` runs after every commit that may have appended updates (on
  // the committing thread: it must be quick and must not call the store).
  // Replaces any earlier listener; an empty function removes it.
  virtual void SetTaskUpdateListener(std::function<void()> listener) = 0;

  // ---- New-work signal ----
  // The dispatcher listens here; whoever commits due work (the publish
  // path after CommitEvents, redelivery) calls NotifyWork() so that it is
  // claimed at once rather than at the next poll. The listener must be
  // quick and must not block; it may run on any thread, including the
  // store's writer. Thread-safe.
  void SetWorkListener(std::function<void()> listener) {
    absl::MutexLock lock(&work_listener_mu_);
    work_listener_ = std::move(listener);
  }
  void NotifyWork() {
    std::function<void()> listener;
    {
      absl::MutexLock lock(&work_listener_mu_);
      listener = work_listener_;
    }
    if (listener) listener();
  }

 private:
  absl::Mutex work_listener_mu_;
  std::function<void()> work_listener_ ABSL_GUARDED_BY(work_listener_mu_);
};

}  // namespace herald::store

#endif  // HERALD_SERVER_STORE_STORE_H_
