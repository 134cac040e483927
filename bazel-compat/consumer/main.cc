// herald_bazel_example: a program built with Bazel against herald's targets,
// @herald//client (the C++ client) and @herald//protos/herald/v1:herald_cc_grpc
// (the generated messages and stubs, used here directly as well).
//
// Environment: HERALD_ADDR (default 127.0.0.1:7070) and HERALD_TOKEN or
// HERALD_TOKEN_FILE (e.g. <data_dir>/admin.token of a heraldd).
// Exits 0 when every check passed.
#include <grpcpp/grpcpp.h>

#include <chrono>
#include <iostream>
#include <map>
#include <string>

#include "herald/client/client.h"
#include "herald/client/webhooks.h"
#include "herald/v1/admin_service.grpc.pb.h"
#include "herald/v1/policy_service.pb.h"

namespace {

int failures = 0;

void Check(bool ok, const std::string& what) {
  std::cout << (ok ? "ok   " : "FAIL ") << what << "\n";
  if (!ok) ++failures;
}

}  // namespace

int main() {
  herald::ConnectionOptions options;
  if (absl::Status env = herald::ApplyEnvironment(options); !env.ok()) {
    std::cerr << env << "\n";
    return 2;
  }

  // Through the client library.
  herald::Client client(herald::MakeConnection(options));
  absl::StatusOr<herald::v1::GetServerInfoResponse> info = client.GetServerInfo();
  if (!info.ok()) {
    std::cerr << "GetServerInfo: " << herald::DescribeError(info.status()) << "\n";
    return 1;
  }
  std::cout << "heraldd " << info->version() << " (" << info->store_kind()
            << "), caller " << info->caller().name() << "\n";
  Check(!info->version().empty(), "Client::GetServerInfo returns a version");
  Check(info->caller().role() == herald::v1::ROLE_SYSTEM_ADMIN,
        "the caller is the bootstrap system admin");

  absl::StatusOr<herald::v1::ListEventTypesResponse> types = client.ListEventTypes();
  if (!types.ok()) {
    std::cerr << "ListEventTypes: " << herald::DescribeError(types.status()) << "\n";
    return 1;
  }
  bool has_push = false;
  for (const herald::v1::EventTypeInfo& type : types->event_types()) {
    has_push = has_push || type.event_type() == "PUSH_ARTIFACT";
  }
  std::cout << types->event_types_size() << " event types\n";
  Check(has_push, "Client::ListEventTypes lists PUSH_ARTIFACT");

  absl::StatusOr<herald::ServingStatus> health = client.CheckHealth();
  Check(health.ok() && *health == herald::ServingStatus::kServing,
        "Client::CheckHealth (grpc.health.v1) says SERVING");

  absl::StatusOr<herald::v1::Policy> missing = client.GetPolicy(999999999);
  Check(herald::ErrorReason(missing.status()) == "NOT_FOUND",
        "errors carry herald's reason (google.rpc.ErrorInfo): NOT_FOUND");

  // Through the generated stub alone.
  std::shared_ptr<grpc::Channel> channel =
      grpc::CreateChannel(options.address, grpc::InsecureChannelCredentials());
  std::unique_ptr<herald::v1::AdminService::Stub> stub =
      herald::v1::AdminService::NewStub(channel);
  grpc::ClientContext context;
  context.AddMetadata("authorization", "Bearer " + options.token);
  context.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(10));
  herald::v1::GetServerInfoResponse response;
  grpc::Status status =
      stub->GetServerInfo(&context, herald::v1::GetServerInfoRequest(), &response);
  Check(status.ok() && response.version() == info->version(),
        "AdminService::Stub::GetServerInfo agrees");

  // The receiver helper (the signer, with OpenSSL): the Standard Webhooks
  // test vector.
  const std::map<std::string, std::string> headers = {
      {"webhook-id", "msg_p5jXN8AQM9LWM0D4loKWxJek"},
      {"webhook-timestamp", "1614265330"},
      {"webhook-signature", "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE="}};
  absl::Status verified = herald::webhooks::Verify(
      R"({"test": 2432232314})", headers, {"whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"},
      herald::webhooks::kDefaultTolerance, absl::FromUnixSeconds(1614265330));
  Check(verified.ok(), "webhooks::Verify accepts the Standard Webhooks test vector");

  std::cout << (failures == 0 ? "herald_bazel_example: all checks passed\n"
                              : "herald_bazel_example: some checks failed\n");
  return failures == 0 ? 0 : 1;
}
