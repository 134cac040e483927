// Memory with a large backlog: 100,000 pending deliveries to a dead
// endpoint stay in the store, not in heraldd's memory.
#include <gtest/gtest.h>

#include <fstream>
#include <iostream>
#include <thread>

#include "herald/v1/event_service.grpc.pb.h"
#include "herald/v1/policy_service.grpc.pb.h"
#include "tests/integration/grpc_test_util.h"
#include "tests/integration/heraldd_process.h"

namespace herald::testing {
namespace {

// The documented bound (docs/ARCHITECTURE.md): heraldd's RSS with 100,000
// deliveries waiting for a dead endpoint.
constexpr int64_t kRssBoundKiB = 150 * 1024;

int64_t RssKiB(pid_t pid) {
  std::ifstream status("/proc/" + std::to_string(pid) + "/status");
  std::string line;
  while (std::getline(status, line)) {
    if (line.rfind("VmRSS:", 0) == 0) return std::stoll(line.substr(6));
  }
  return -1;
}

TEST(BacklogTest, HundredThousandPendingDeliveriesKeepRssBounded) {
  auto started = HeralddProcess::Start();
  ASSERT_TRUE(started.ok()) << started.status();
  auto& server = *started;
  const std::string admin = server->AdminToken();
  auto policies = v1::PolicyService::NewStub(server->Channel());
  v1::CreatePolicyRequest create;
  create.mutable_policy()->set_project_id(1);
  create.mutable_policy()->set_name("dead");
  create.mutable_policy()->add_event_types("PUSH_ARTIFACT");
  v1::Target* t = create.mutable_policy()->add_targets();
  t->set_type(v1::TARGET_TYPE_HTTP);
  t->set_address("http://127.0.0.1:9/dead");  // nothing listens: refused
  v1::CreatePolicyResponse created;
  ASSERT_TRUE(policies->CreatePolicy(AuthContext(admin).get(), create, &created).ok());

  constexpr int kEvents = 100000;
  auto events = v1::EventService::NewStub(server->Channel());
  grpc::ClientContext context;
  context.AddMetadata("authorization", "Bearer " + admin);
  auto stream = events->PublishEvents(&context);
  std::thread writer([&] {
    v1::PublishEventsRequest r;
    v1::Event* e = r.mutable_event();
    e->set_event_type("PUSH_ARTIFACT");
    e->set_project_id(1);
    e->mutable_repository()->set_namespace_("library");
    e->mutable_repository()->set_name("busybox");
    auto* res = e->add_resources();
    res->set_digest(
        "sha256:dde8e930c7b6a490f728e66292bc9bce42efc9bbb5278bae40e4f30f6e00fe8c");
    res->set_tag("latest");
    for (int i = 0; i < kEvents && stream->Write(r); ++i) {
    }
    stream->WritesDone();
  });
  int acked = 0;
  int64_t peak = 0;
  v1::PublishEventsResponse ack;
  while (stream->Read(&ack)) {
    ASSERT_TRUE(ack.has_ack()) << ack.error().message();
    if (++acked % 5000 == 0) peak = std::max(peak, RssKiB(server->pid()));
  }
  writer.join();
  ASSERT_TRUE(stream->Finish().ok());
  ASSERT_EQ(acked, kEvents);
  // Let the dispatcher work through the backlog for a while.
  for (int i = 0; i < 10; ++i) {
    absl::SleepFor(absl::Milliseconds(500));
    peak = std::max(peak, RssKiB(server->pid()));
  }
  std::cout << "[ figures  ] 100,000 pending deliveries to a dead endpoint: "
               "peak heraldd RSS "
            << peak / 1024 << " MiB (bound " << kRssBoundKiB / 1024
            << " MiB)\n";
  EXPECT_LT(peak, kRssBoundKiB);
  EXPECT_EQ(server->Terminate(), 0);
}

}  // namespace
}  // namespace herald::testing
