// herald_example: what a program using the installed herald C++ client
// looks like. It creates a webhook policy, lists the project's policies
// page by page, publishes an event and verifies a webhook signature.
//
// Environment: HERALD_ADDR (default 127.0.0.1:7070) and HERALD_TOKEN or
// HERALD_TOKEN_FILE (a system or project admin token).
#include <cstdlib>
#include <ctime>
#include <iostream>
#include <string>

#include "herald/client/client.h"
#include "herald/client/webhooks.h"

int main() {
  herald::ConnectionOptions options;
  if (absl::Status env = herald::ApplyEnvironment(options); !env.ok()) {
    std::cerr << env << "\n";
    return 1;
  }
  herald::Client client(herald::MakeConnection(options));

  // A policy for project 1: pushes go to a (local) endpoint, signed.
  herald::v1::Policy policy;
  policy.set_project_id(1);
  policy.set_name("example-" + std::to_string(std::time(nullptr)));
  policy.add_event_types("PUSH_ARTIFACT");
  herald::v1::Target* target = policy.add_targets();
  target->set_type(herald::v1::TARGET_TYPE_HTTP);
  target->set_address("http://127.0.0.1:9/hook");
  target->set_signing_secret("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw");
  absl::StatusOr<herald::v1::Policy> created =
      client.CreatePolicy(policy, /*request_id=*/policy.name());
  if (!created.ok()) {
    std::cerr << "create: " << herald::DescribeError(created.status()) << "\n";
    return 1;
  }
  std::cout << "created policy " << created->id() << " " << created->name() << "\n";

  // Every policy of the project; pages are fetched as the loop goes.
  herald::v1::ListPoliciesRequest list;
  list.set_project_id(1);
  list.set_page_size(2);
  int count = 0;
  for (absl::StatusOr<herald::v1::Policy>& p : client.ListPolicies(list)) {
    if (!p.ok()) {
      std::cerr << "list: " << herald::DescribeError(p.status()) << "\n";
      return 1;
    }
    std::cout << "  policy " << p->id() << " " << p->name() << "\n";
    ++count;
  }
  std::cout << "listed " << count << " policies\n";

  // Publish a push event; the request_id makes a retry safe.
  herald::v1::Event event;
  event.set_event_type("PUSH_ARTIFACT");
  event.set_project_id(1);
  event.set_operator_("example");
  event.mutable_repository()->set_namespace_("library");
  event.mutable_repository()->set_name("busybox");
  herald::v1::Resource* resource = event.add_resources();
  resource->set_digest(
      "sha256:dde8e930c7b6a490f728e66292bc9bce42efc9bbb5278bae40e4f30f6e00fe8c");
  resource->set_tag("latest");
  absl::StatusOr<herald::v1::EventAck> ack =
      client.PublishEvent(event, "example-push-" + created->name());
  if (!ack.ok()) {
    std::cerr << "publish: " << herald::DescribeError(ack.status()) << "\n";
    return 1;
  }
  std::cout << "published event " << ack->event_id() << ", "
            << ack->deliveries_created() << " deliveries\n";

  // Errors carry a machine-readable reason.
  absl::StatusOr<herald::v1::Policy> missing = client.GetPolicy(999999999);
  std::cout << "missing policy: " << herald::ErrorReason(missing.status()) << "\n";

  // The receiver side: the Standard Webhooks test vector.
  const std::map<std::string, std::string> headers = {
      {"webhook-id", "msg_p5jXN8AQM9LWM0D4loKWxJek"},
      {"webhook-timestamp", "1614265330"},
      {"webhook-signature", "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE="}};
  const absl::Status verified = herald::webhooks::Verify(
      R"({"test": 2432232314})", headers, {"whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"},
      herald::webhooks::kDefaultTolerance, absl::FromUnixSeconds(1614265330));
  std::cout << "signature: " << (verified.ok() ? "valid" : verified.ToString()) << "\n";
  return verified.ok() && herald::ErrorReason(missing.status()) == "NOT_FOUND" ? 0 : 1;
}
