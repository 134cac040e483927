// heraldd as a process: persistence across restarts, the data-directory
// lock, the port check, signals, health and reflection.
#include <grpcpp/grpcpp.h>
#include <gtest/gtest.h>
#include <sys/stat.h>

#include "grpc/health/v1/health.grpc.pb.h"
#include "herald/v1/admin_service.grpc.pb.h"
#include "herald/v1/policy_service.grpc.pb.h"
#include "tests/integration/grpc_test_util.h"
#include "tests/integration/heraldd_process.h"

namespace herald::testing {
namespace {

v1::Policy SomePolicy(const std::string& name) {
  v1::Policy p;
  p.set_project_id(1);
  p.set_name(name);
  p.add_event_types("PUSH_ARTIFACT");
  v1::Target* t = p.add_targets();
  t->set_type(v1::TARGET_TYPE_HTTP);
  t->set_address("https://hooks.example.com/herald");
  t->set_auth_header("Bearer persisted");
  return p;
}

TEST(DaemonTest, PoliciesSettingsAndTokensSurviveRestart) {
  auto first = HeralddProcess::Start();
  ASSERT_TRUE(first.ok()) << first.status();
  const std::string data_dir = (*first)->data_dir();
  const std::string admin = (*first)->AdminToken();
  auto channel = (*first)->Channel();
  const std::string maintainer =
      CreateToken(channel, admin, "maint", v1::ROLE_MAINTAINER, {1});

  auto policies = v1::PolicyService::NewStub(channel);
  v1::CreatePolicyRequest create;
  *create.mutable_policy() = SomePolicy("survivor");
  v1::CreatePolicyResponse created;
  ASSERT_TRUE(policies->CreatePolicy(AuthContext(admin).get(), create, &created).ok());

  auto admin_stub = v1::AdminService::NewStub(channel);
  v1::UpdateSettingsRequest settings;
  settings.mutable_settings()->set_webhook_job_max_retry(7);
  settings.mutable_settings()->set_notification_enable(false);
  v1::UpdateSettingsResponse updated;
  ASSERT_TRUE(admin_stub->UpdateSettings(AuthContext(admin).get(), settings,
                                         &updated).ok());
  EXPECT_EQ((*first)->Terminate(), 0);

  HeralddProcess::Options options;
  options.data_dir = data_dir;
  auto second = HeralddProcess::Start(options);
  ASSERT_TRUE(second.ok()) << second.status();
  EXPECT_EQ((*second)->AdminToken(), admin);  // not regenerated
  channel = (*second)->Channel();
  policies = v1::PolicyService::NewStub(channel);
  v1::GetPolicyRequest get;
  get.set_id(created.policy().id());
  v1::GetPolicyResponse got;
  ASSERT_TRUE(policies->GetPolicy(AuthContext(maintainer).get(), get, &got).ok());
  EXPECT_EQ(got.policy().name(), "survivor");
  EXPECT_TRUE(got.policy().targets(0).has_auth_header());

  admin_stub = v1::AdminService::NewStub(channel);
  v1::GetSettingsRequest read;
  v1::GetSettingsResponse current;
  ASSERT_TRUE(admin_stub->GetSettings(AuthContext(maintainer).get(), read,
                                      &current).ok());
  EXPECT_EQ(current.settings().webhook_job_max_retry(), 7);
  EXPECT_FALSE(current.settings().notification_enable());
  EXPECT_EQ(current.settings().webhook_job_http_client_timeout().seconds(), 3);
  EXPECT_EQ((*second)->Terminate(), 0);
}

TEST(DaemonTest, SecondDaemonOnSameDataDirectoryRefuses) {
  auto first = HeralddProcess::Start();
  ASSERT_TRUE(first.ok()) << first.status();
  HeralddProcess::Options options;
  options.data_dir = (*first)->data_dir();
  options.wait_until_listening = false;
  auto second = HeralddProcess::Start(options);
  ASSERT_TRUE(second.ok());
  int code = (*second)->WaitForExit(absl::Seconds(20));
  EXPECT_NE(code, 0);
  EXPECT_GT(code, 0) << "must exit, not hang or crash";
  EXPECT_NE((*second)->Log().find("in use by another heraldd"), std::string::npos)
      << (*second)->Log();
}

TEST(DaemonTest, PortInUseIsAClearError) {
  auto first = HeralddProcess::Start();
  ASSERT_TRUE(first.ok()) << first.status();
  HeralddProcess::Options options;
  options.listen_address = (*first)->address();
  options.wait_until_listening = false;
  auto second = HeralddProcess::Start(options);
  ASSERT_TRUE(second.ok());
  int code = (*second)->WaitForExit(absl::Seconds(20));
  EXPECT_GT(code, 0);
  EXPECT_NE((*second)->Log().find("cannot listen on"), std::string::npos)
      << (*second)->Log();
}

TEST(DaemonTest, SigtermReportsNotServingAndExitsZero) {
  auto server = HeralddProcess::Start();
  ASSERT_TRUE(server.ok()) << server.status();
  auto health = grpc::health::v1::Health::NewStub((*server)->Channel());
  for (std::string service : {"", "herald.v1.PolicyService",
                              "herald.v1.EventService",
                              "herald.v1.DeliveryService",
                              "herald.v1.AdminService"}) {
    grpc::health::v1::HealthCheckRequest request;
    request.set_service(service);
    grpc::health::v1::HealthCheckResponse response;
    grpc::ClientContext context;  // health needs no token
    ASSERT_TRUE(health->Check(&context, request, &response).ok()) << service;
    EXPECT_EQ(response.status(), grpc::health::v1::HealthCheckResponse::SERVING);
  }
  EXPECT_EQ((*server)->Terminate(), 0);
  EXPECT_NE((*server)->Log().find("stopped"), std::string::npos);
}

TEST(DaemonTest, AdminTokenFromEnvironment) {
  HeralddProcess::Options options;
  options.env["HERALD_ADMIN_TOKEN"] = "an-operator-chosen-secret-0123456789";
  auto server = HeralddProcess::Start(options);
  ASSERT_TRUE(server.ok()) << server.status();
  auto admin = v1::AdminService::NewStub((*server)->Channel());
  v1::GetServerInfoRequest request;
  v1::GetServerInfoResponse response;
  ASSERT_TRUE(admin->GetServerInfo(
                       AuthContext("an-operator-chosen-secret-0123456789").get(),
                       request, &response)
                  .ok());
  EXPECT_EQ(response.caller().role(), v1::ROLE_SYSTEM_ADMIN);
  EXPECT_EQ(response.store_kind(), "sqlite");
  EXPECT_EQ((*server)->Log().find("an-operator-chosen-secret"), std::string::npos);
}

TEST(DaemonTest, BadConfigurationExitsNonZeroNamingTheOption) {
  HeralddProcess::Options options;
  options.extra_args = {"--webhook_job_max_retry=lots"};
  options.wait_until_listening = false;
  auto server = HeralddProcess::Start(options);
  ASSERT_TRUE(server.ok());
  EXPECT_EQ((*server)->WaitForExit(absl::Seconds(10)), 2);
  EXPECT_NE((*server)->Log().find("webhook_job_max_retry"), std::string::npos)
      << (*server)->Log();
}

TEST(DaemonTest, BootstrapTokenFileIsPrivate) {
  auto server = HeralddProcess::Start();
  ASSERT_TRUE(server.ok()) << server.status();
  struct stat info;
  ASSERT_EQ(stat(((*server)->data_dir() + "/admin.token").c_str(), &info), 0);
  EXPECT_EQ(info.st_mode & 0777, 0600);
  EXPECT_EQ((*server)->Log().find((*server)->AdminToken()), std::string::npos)
      << "the token itself must never be logged";
}

}  // namespace
}  // namespace herald::testing
