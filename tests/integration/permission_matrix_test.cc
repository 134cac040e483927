// The permission matrix: every RPC x {no token, bad token, each role, a
// project admin of another project}, against a real heraldd.
#include <gtest/gtest.h>

#include <functional>
#include <map>

#include "herald/v1/admin_service.grpc.pb.h"
#include "herald/v1/delivery_service.grpc.pb.h"
#include "herald/v1/event_service.grpc.pb.h"
#include "herald/v1/policy_service.grpc.pb.h"
#include "tests/integration/grpc_test_util.h"
#include "tests/integration/heraldd_process.h"

namespace herald::testing {
namespace {

using Code = grpc::StatusCode;
constexpr int64_t kProjectA = 100;
constexpr int64_t kProjectB = 200;

enum Who { kNone, kBad, kSysAdmin, kAdminA, kMaintainerA, kPublisherA, kAdminB };
const char* WhoName(Who w) {
  static const char* names[] = {"no token", "bad token", "system admin",
                                "project admin A", "maintainer A",
                                "publisher A", "project admin B"};
  return names[w];
}

v1::Policy PolicyIn(int64_t project, const std::string& name) {
  v1::Policy p;
  p.set_project_id(project);
  p.set_name(name);
  p.add_event_types("PUSH_ARTIFACT");
  v1::Target* t = p.add_targets();
  t->set_type(v1::TARGET_TYPE_HTTP);
  t->set_address("http://127.0.0.1:9/hook");
  return p;
}

class PermissionMatrixTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    HeralddProcess::Options options;
    options.extra_args = {"--delivery_backoff_scale=0.0001"};
    auto started = HeralddProcess::Start(options);
    ASSERT_TRUE(started.ok()) << started.status();
    server_ = started->release();
    auto channel = server_->Channel();
    const std::string admin = server_->AdminToken();
    tokens_[kNone] = "";
    tokens_[kBad] = "hld_not-a-real-token";
    tokens_[kSysAdmin] = admin;
    tokens_[kAdminA] =
        CreateToken(channel, admin, "admin-a", v1::ROLE_PROJECT_ADMIN, {kProjectA});
    tokens_[kMaintainerA] =
        CreateToken(channel, admin, "maint-a", v1::ROLE_MAINTAINER, {kProjectA});
    tokens_[kPublisherA] =
        CreateToken(channel, admin, "pub-a", v1::ROLE_PUBLISHER, {kProjectA});
    tokens_[kAdminB] =
        CreateToken(channel, admin, "admin-b", v1::ROLE_PROJECT_ADMIN, {kProjectB});

    auto policies = v1::PolicyService::NewStub(channel);
    v1::CreatePolicyRequest create;
    *create.mutable_policy() = PolicyIn(kProjectA, "shared-a");
    v1::CreatePolicyResponse created;
    ASSERT_TRUE(policies->CreatePolicy(AuthContext(admin).get(), create, &created).ok());
    policy_a_ = created.policy().id();
  }
  static void TearDownTestSuite() {
    delete server_;
    server_ = nullptr;
  }

  // A fresh policy in project A (for delete).
  int64_t NewPolicyA() {
    auto policies = v1::PolicyService::NewStub(server_->Channel());
    v1::CreatePolicyRequest create;
    *create.mutable_policy() =
        PolicyIn(kProjectA, "victim-" + std::to_string(++counter_));
    v1::CreatePolicyResponse created;
    EXPECT_TRUE(policies->CreatePolicy(AuthContext(tokens_[kSysAdmin]).get(),
                                       create, &created)
                    .ok());
    return created.policy().id();
  }

  using Call = std::function<grpc::Status(const std::string& token)>;

  void Check(const std::string& rpc, const Call& call,
             const std::map<Who, Code>& expected) {
    for (Who who : {kNone, kBad, kSysAdmin, kAdminA, kMaintainerA, kPublisherA,
                    kAdminB}) {
      Code want = who == kNone || who == kBad ? Code::UNAUTHENTICATED
                                              : expected.at(who);
      grpc::Status status = call(tokens_[who]);
      EXPECT_EQ(status.error_code(), want)
          << rpc << " as " << WhoName(who) << ": " << status.error_message();
      if (!status.ok()) {
        ErrorDetails details = DetailsOf(status);
        EXPECT_TRUE(details.has_error_info) << rpc << " as " << WhoName(who);
        EXPECT_EQ(details.domain, "herald.dev");
        if (who == kNone) EXPECT_EQ(details.reason, "TOKEN_MISSING");
        if (who == kBad) EXPECT_EQ(details.reason, "TOKEN_INVALID");
      }
    }
  }

  static std::map<Who, Code> Only(std::initializer_list<Who> allowed,
                                  Code otherwise = Code::PERMISSION_DENIED) {
    std::map<Who, Code> out;
    for (Who w : {kSysAdmin, kAdminA, kMaintainerA, kPublisherA, kAdminB}) {
      out[w] = otherwise;
    }
    for (Who w : allowed) out[w] = Code::OK;
    return out;
  }

  static HeralddProcess* server_;
  static std::map<Who, std::string> tokens_;
  static int64_t policy_a_;
  int counter_ = 0;
};

HeralddProcess* PermissionMatrixTest::server_ = nullptr;
std::map<Who, std::string> PermissionMatrixTest::tokens_;
int64_t PermissionMatrixTest::policy_a_ = 0;

TEST_F(PermissionMatrixTest, PolicyService) {
  auto stub = v1::PolicyService::NewStub(server_->Channel());
  Check("CreatePolicy(A)", [&](const std::string& token) {
    v1::CreatePolicyRequest r;
    *r.mutable_policy() = PolicyIn(kProjectA, "c-" + std::to_string(++counter_));
    v1::CreatePolicyResponse out;
    return stub->CreatePolicy(AuthContext(token).get(), r, &out);
  }, Only({kSysAdmin, kAdminA}));
  Check("CreatePolicy(system-wide)", [&](const std::string& token) {
    v1::CreatePolicyRequest r;
    *r.mutable_policy() = PolicyIn(0, "sys-" + std::to_string(++counter_));
    v1::CreatePolicyResponse out;
    return stub->CreatePolicy(AuthContext(token).get(), r, &out);
  }, Only({kSysAdmin}));
  Check("GetPolicy", [&](const std::string& token) {
    v1::GetPolicyRequest r;
    r.set_id(policy_a_);
    v1::GetPolicyResponse out;
    return stub->GetPolicy(AuthContext(token).get(), r, &out);
  }, Only({kSysAdmin, kAdminA, kMaintainerA}));
  Check("ListPolicies(A)", [&](const std::string& token) {
    v1::ListPoliciesRequest r;
    r.set_project_id(kProjectA);
    v1::ListPoliciesResponse out;
    return stub->ListPolicies(AuthContext(token).get(), r, &out);
  }, Only({kSysAdmin, kAdminA, kMaintainerA}));
  Check("UpdatePolicy", [&](const std::string& token) {
    v1::UpdatePolicyRequest r;
    r.mutable_policy()->set_id(policy_a_);
    r.mutable_policy()->set_description("touched");
    v1::UpdatePolicyResponse out;
    return stub->UpdatePolicy(AuthContext(token).get(), r, &out);
  }, Only({kSysAdmin, kAdminA}));
  Check("DeletePolicy", [&](const std::string& token) {
    v1::DeletePolicyRequest r;
    r.set_id(NewPolicyA());
    v1::DeletePolicyResponse out;
    return stub->DeletePolicy(AuthContext(token).get(), r, &out);
  }, Only({kSysAdmin, kAdminA}));
  Check("ListEventTypes", [&](const std::string& token) {
    v1::ListEventTypesRequest r;
    v1::ListEventTypesResponse out;
    return stub->ListEventTypes(AuthContext(token).get(), r, &out);
  }, Only({kSysAdmin, kAdminA, kMaintainerA, kPublisherA, kAdminB}));
}

TEST_F(PermissionMatrixTest, EventService) {
  auto stub = v1::EventService::NewStub(server_->Channel());
  Check("PublishEvent(A)", [&](const std::string& token) {
    v1::PublishEventRequest r;
    *r.mutable_event() = PushArtifactEvent(kProjectA);
    v1::PublishEventResponse out;
    return stub->PublishEvent(AuthContext(token).get(), r, &out);
  }, Only({kSysAdmin, kPublisherA}));
  Check("PublishEvents(A)", [&](const std::string& token) {
    auto context = AuthContext(token);
    auto stream = stub->PublishEvents(context.get());
    v1::PublishEventsRequest r;
    *r.mutable_event() = PushArtifactEvent(kProjectA);
    stream->Write(r);
    stream->WritesDone();
    v1::PublishEventsResponse ack;
    grpc::Status per_event = grpc::Status::OK;
    while (stream->Read(&ack)) {
      if (ack.has_error()) {
        per_event = grpc::Status(static_cast<Code>(ack.error().code()),
                                 ack.error().message(),
                                 ack.error().SerializeAsString());
      }
    }
    grpc::Status status = stream->Finish();
    return status.ok() ? per_event : status;
  }, Only({kSysAdmin, kPublisherA}));
}

TEST_F(PermissionMatrixTest, DeliveryService) {
  auto stub = v1::DeliveryService::NewStub(server_->Channel());
  const std::string admin = tokens_[kSysAdmin];
  // One delivery of project A to a closed port: it fails fast (the server
  // runs with a tiny backoff) and becomes final.
  auto events = v1::EventService::NewStub(server_->Channel());
  v1::PublishEventRequest publish;
  *publish.mutable_event() = PushArtifactEvent(kProjectA);
  v1::PublishEventResponse published;
  ASSERT_TRUE(events->PublishEvent(AuthContext(admin).get(), publish, &published).ok());
  v1::ListExecutionsRequest list;
  list.set_policy_id(policy_a_);
  v1::ListExecutionsResponse listed;
  ASSERT_TRUE(stub->ListExecutions(AuthContext(admin).get(), list, &listed).ok());
  ASSERT_GT(listed.executions_size(), 0);
  const int64_t execution = listed.executions(0).id();
  v1::ListTasksRequest tasks_request;
  tasks_request.set_execution_id(execution);
  v1::ListTasksResponse tasks;
  ASSERT_TRUE(stub->ListTasks(AuthContext(admin).get(), tasks_request, &tasks).ok());
  const int64_t task = tasks.tasks(0).id();
  auto wait_final = [&] {
    for (int i = 0; i < 500; ++i) {
      v1::ListTasksResponse now;
      EXPECT_TRUE(stub->ListTasks(AuthContext(admin).get(), tasks_request, &now).ok());
      if (now.tasks(0).final()) return;
      absl::SleepFor(absl::Milliseconds(20));
    }
    ADD_FAILURE() << "the task never became final";
  };

  Check("ListExecutions", [&](const std::string& token) {
    v1::ListExecutionsResponse out;
    return stub->ListExecutions(AuthContext(token).get(), list, &out);
  }, Only({kSysAdmin, kAdminA, kMaintainerA}));
  Check("GetExecution", [&](const std::string& token) {
    v1::GetExecutionRequest r;
    r.set_id(execution);
    v1::GetExecutionResponse out;
    return stub->GetExecution(AuthContext(token).get(), r, &out);
  }, Only({kSysAdmin, kAdminA, kMaintainerA}));
  Check("ListTasks", [&](const std::string& token) {
    v1::ListTasksResponse out;
    return stub->ListTasks(AuthContext(token).get(), tasks_request, &out);
  }, Only({kSysAdmin, kAdminA, kMaintainerA}));
  Check("GetTaskLog", [&](const std::string& token) {
    v1::GetTaskLogRequest r;
    r.set_task_id(task);
    v1::GetTaskLogResponse out;
    return stub->GetTaskLog(AuthContext(token).get(), r, &out);
  }, Only({kSysAdmin, kAdminA, kMaintainerA}));
  Check("RedeliverTask", [&](const std::string& token) {
    wait_final();
    v1::RedeliverTaskRequest r;
    r.set_task_id(task);
    v1::RedeliverTaskResponse out;
    return stub->RedeliverTask(AuthContext(token).get(), r, &out);
  }, Only({kSysAdmin, kAdminA}));
  Check("RedeliverExecution", [&](const std::string& token) {
    wait_final();
    v1::RedeliverExecutionRequest r;
    r.set_execution_id(execution);
    v1::RedeliverExecutionResponse out;
    return stub->RedeliverExecution(AuthContext(token).get(), r, &out);
  }, Only({kSysAdmin, kAdminA}));
  Check("RecoverFailed", [&](const std::string& token) {
    v1::RecoverFailedRequest r;
    r.set_policy_id(policy_a_);
    r.mutable_start_time()->set_seconds(0);
    r.set_dry_run(true);
    auto context = AuthContext(token);
    auto stream = stub->RecoverFailed(context.get(), r);
    v1::RecoverFailedResponse progress;
    while (stream->Read(&progress)) {
    }
    return stream->Finish();
  }, Only({kSysAdmin, kAdminA}));
  Check("WatchTasks(A)", [&](const std::string& token) {
    v1::WatchTasksRequest r;
    r.set_project_id(kProjectA);
    grpc::ClientContext context;
    if (!token.empty()) context.AddMetadata("authorization", "Bearer " + token);
    context.set_deadline(std::chrono::system_clock::now() +
                         std::chrono::milliseconds(500));
    auto stream = stub->WatchTasks(&context, r);
    v1::WatchTasksResponse update;
    while (stream->Read(&update)) {
    }
    grpc::Status status = stream->Finish();
    // An allowed watch stays open until the deadline.
    return status.error_code() == Code::DEADLINE_EXCEEDED ? grpc::Status::OK
                                                          : status;
  }, Only({kSysAdmin, kAdminA, kMaintainerA}));
}

TEST_F(PermissionMatrixTest, AdminService) {
  auto stub = v1::AdminService::NewStub(server_->Channel());
  Check("GetSettings", [&](const std::string& token) {
    v1::GetSettingsRequest r;
    v1::GetSettingsResponse out;
    return stub->GetSettings(AuthContext(token).get(), r, &out);
  }, Only({kSysAdmin, kAdminA, kMaintainerA, kPublisherA, kAdminB}));
  Check("UpdateSettings", [&](const std::string& token) {
    v1::UpdateSettingsRequest r;
    r.mutable_settings()->set_webhook_job_max_retry(3);
    v1::UpdateSettingsResponse out;
    return stub->UpdateSettings(AuthContext(token).get(), r, &out);
  }, Only({kSysAdmin}));
  Check("CreateToken", [&](const std::string& token) {
    v1::CreateTokenRequest r;
    r.mutable_token()->set_name("t-" + std::to_string(++counter_));
    r.mutable_token()->set_role(v1::ROLE_PUBLISHER);
    v1::CreateTokenResponse out;
    return stub->CreateToken(AuthContext(token).get(), r, &out);
  }, Only({kSysAdmin}));
  Check("ListTokens", [&](const std::string& token) {
    v1::ListTokensRequest r;
    v1::ListTokensResponse out;
    return stub->ListTokens(AuthContext(token).get(), r, &out);
  }, Only({kSysAdmin}));
  Check("RevokeToken", [&](const std::string& token) {
    v1::CreateTokenRequest c;
    c.mutable_token()->set_name("revoke-" + std::to_string(++counter_));
    c.mutable_token()->set_role(v1::ROLE_PUBLISHER);
    v1::CreateTokenResponse created;
    EXPECT_TRUE(stub->CreateToken(AuthContext(tokens_[kSysAdmin]).get(), c,
                                  &created).ok());
    v1::RevokeTokenRequest r;
    r.set_id(created.token().id());
    v1::RevokeTokenResponse out;
    return stub->RevokeToken(AuthContext(token).get(), r, &out);
  }, Only({kSysAdmin}));
  Check("GetServerInfo", [&](const std::string& token) {
    v1::GetServerInfoRequest r;
    v1::GetServerInfoResponse out;
    return stub->GetServerInfo(AuthContext(token).get(), r, &out);
  }, Only({kSysAdmin, kAdminA, kMaintainerA, kPublisherA, kAdminB}));
}

TEST_F(PermissionMatrixTest, RevokedTokenIsRefusedAtOnce) {
  auto channel = server_->Channel();
  std::string token = CreateToken(channel, tokens_[kSysAdmin], "short-lived",
                                  v1::ROLE_MAINTAINER, {kProjectA});
  auto admin = v1::AdminService::NewStub(channel);
  v1::GetServerInfoRequest info;
  v1::GetServerInfoResponse me;
  ASSERT_TRUE(admin->GetServerInfo(AuthContext(token).get(), info, &me).ok());
  EXPECT_EQ(me.caller().name(), "short-lived");
  v1::RevokeTokenRequest revoke;
  revoke.set_id(me.caller().id());
  v1::RevokeTokenResponse revoked;
  ASSERT_TRUE(admin->RevokeToken(AuthContext(tokens_[kSysAdmin]).get(), revoke,
                                 &revoked).ok());
  grpc::Status status = admin->GetServerInfo(AuthContext(token).get(), info, &me);
  EXPECT_EQ(status.error_code(), Code::UNAUTHENTICATED);
  EXPECT_EQ(DetailsOf(status).reason, "TOKEN_INVALID");
}

}  // namespace
}  // namespace herald::testing
