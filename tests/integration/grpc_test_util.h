// Helpers for calling a real heraldd from tests: authenticated contexts,
// error-detail decoding, token creation, a standard event, polling.
#ifndef HERALD_TESTS_INTEGRATION_GRPC_TEST_UTIL_H_
#define HERALD_TESTS_INTEGRATION_GRPC_TEST_UTIL_H_

#include <grpcpp/grpcpp.h>

#include <map>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "herald/v1/admin_service.grpc.pb.h"
#include "herald/v1/delivery_service.grpc.pb.h"
#include "herald/v1/event.pb.h"

namespace herald::testing {

// A context with "authorization: Bearer <token>" (none when token is "")
// and a 10 s deadline.
std::unique_ptr<grpc::ClientContext> AuthContext(const std::string& token);

// google.rpc details decoded from a grpc::Status.
struct ErrorDetails {
  bool has_error_info = false;
  std::string reason;
  std::string domain;
  std::map<std::string, std::string> metadata;
  // (field, description) of google.rpc.BadRequest.
  std::vector<std::pair<std::string, std::string>> violations;
  bool HasViolation(const std::string& field) const;
};
ErrorDetails DetailsOf(const grpc::Status& status);

// Creates a token with the admin token; returns its secret (aborts the test
// binary on failure, which only a broken server causes).
std::string CreateToken(const std::shared_ptr<grpc::Channel>& channel,
                        const std::string& admin_token,
                        const std::string& name, v1::Role role,
                        std::vector<int64_t> project_ids = {});

// A PUSH_ARTIFACT event of `repo` ("namespace/name", public) in `project`
// by "admin", with one resource: a fixed digest and `tag` (none if empty).
v1::Event PushArtifactEvent(int64_t project,
                            const std::string& repo = "library/busybox",
                            const std::string& tag = "latest");

// The task log of `task_id` read with `token`, or the call's error.
absl::StatusOr<std::string> TaskLog(v1::DeliveryService::Stub& deliveries,
                                    const std::string& token, int64_t task_id);

// Calls `done` every 10 ms until it returns true or `timeout` has passed;
// returns its last answer.
template <typename F>
bool WaitFor(F done, absl::Duration timeout = absl::Seconds(10)) {
  const absl::Time deadline = absl::Now() + timeout;
  while (!done()) {
    if (absl::Now() > deadline) return done();
    absl::SleepFor(absl::Milliseconds(10));
  }
  return true;
}

}  // namespace herald::testing

#endif  // HERALD_TESTS_INTEGRATION_GRPC_TEST_UTIL_H_
