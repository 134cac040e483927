// AdminService against a real heraldd: settings and tokens.
#include <gtest/gtest.h>

#include "herald/v1/admin_service.grpc.pb.h"
#include "tests/integration/grpc_test_util.h"
#include "tests/integration/heraldd_process.h"

namespace herald::testing {
namespace {

class AdminServiceTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto started = HeralddProcess::Start();
    ASSERT_TRUE(started.ok()) << started.status();
    server_ = *std::move(started);
    admin_ = server_->AdminToken();
    stub_ = v1::AdminService::NewStub(server_->Channel());
  }

  grpc::Status Update(const v1::UpdateSettingsRequest& request,
                      v1::Settings* out = nullptr) {
    v1::UpdateSettingsResponse response;
    grpc::Status status =
        stub_->UpdateSettings(AuthContext(admin_).get(), request, &response);
    if (out != nullptr) *out = response.settings();
    return status;
  }

  std::unique_ptr<HeralddProcess> server_;
  std::string admin_;
  std::unique_ptr<v1::AdminService::Stub> stub_;
};

TEST_F(AdminServiceTest, SettingsHaveHarborDefaults) {
  v1::GetSettingsRequest request;
  v1::GetSettingsResponse response;
  ASSERT_TRUE(stub_->GetSettings(AuthContext(admin_).get(), request, &response).ok());
  EXPECT_TRUE(response.settings().notification_enable());
  EXPECT_EQ(response.settings().webhook_job_max_retry(), 3);
  EXPECT_EQ(response.settings().webhook_job_http_client_timeout().seconds(), 3);
  EXPECT_EQ(response.settings().execution_retention_count(), 50);
}

TEST_F(AdminServiceTest, UpdateWithMaskChangesOnlyNamedFields) {
  v1::UpdateSettingsRequest request;
  request.mutable_settings()->set_webhook_job_max_retry(5);
  request.mutable_settings()->set_execution_retention_count(7);
  request.mutable_update_mask()->add_paths("webhook_job_max_retry");
  v1::Settings out;
  ASSERT_TRUE(Update(request, &out).ok());
  EXPECT_EQ(out.webhook_job_max_retry(), 5);
  EXPECT_EQ(out.execution_retention_count(), 50);

  v1::UpdateSettingsRequest off;
  off.mutable_settings()->set_notification_enable(false);
  ASSERT_TRUE(Update(off, &out).ok());
  EXPECT_FALSE(out.notification_enable());
  EXPECT_EQ(out.webhook_job_max_retry(), 5);
}

TEST_F(AdminServiceTest, InvalidSettingsAreRefusedNamingTheField) {
  struct Case {
    std::function<void(v1::Settings*)> set;
    std::string field;
  };
  std::vector<Case> cases = {
      {[](v1::Settings* s) { s->set_webhook_job_max_retry(-1); },
       "settings.webhook_job_max_retry"},
      {[](v1::Settings* s) { s->set_webhook_job_max_retry(101); },
       "settings.webhook_job_max_retry"},
      {[](v1::Settings* s) {
         s->mutable_webhook_job_http_client_timeout()->set_seconds(301);
       },
       "settings.webhook_job_http_client_timeout"},
      {[](v1::Settings* s) { s->set_execution_retention_count(-5); },
       "settings.execution_retention_count"},
  };
  for (const Case& c : cases) {
    v1::UpdateSettingsRequest request;
    c.set(request.mutable_settings());
    grpc::Status status = Update(request);
    EXPECT_EQ(status.error_code(), grpc::StatusCode::INVALID_ARGUMENT) << c.field;
    EXPECT_TRUE(DetailsOf(status).HasViolation(c.field))
        << c.field << ": " << status.error_message();
  }
  v1::UpdateSettingsRequest unknown;
  unknown.mutable_update_mask()->add_paths("max_job_workers");
  grpc::Status status = Update(unknown);
  EXPECT_EQ(status.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_TRUE(DetailsOf(status).HasViolation("update_mask.paths[0]"));
}

TEST_F(AdminServiceTest, TokensAreShownOnceAndListedWithoutSecrets) {
  v1::CreateTokenRequest create;
  create.mutable_token()->set_name("registry");
  create.mutable_token()->set_role(v1::ROLE_PUBLISHER);
  create.mutable_token()->add_project_ids(3);
  v1::CreateTokenResponse created;
  ASSERT_TRUE(stub_->CreateToken(AuthContext(admin_).get(), create, &created).ok());
  EXPECT_EQ(created.secret().rfind("hld_", 0), 0u);
  EXPECT_GE(created.secret().size(), 40u);
  EXPECT_EQ(created.token().creator(), "bootstrap-admin");

  v1::ListTokensRequest list;
  v1::ListTokensResponse listed;
  ASSERT_TRUE(stub_->ListTokens(AuthContext(admin_).get(), list, &listed).ok());
  EXPECT_EQ(listed.total_size(), 2);  // bootstrap-admin + registry
  EXPECT_EQ(listed.SerializeAsString().find(created.secret()), std::string::npos);
  EXPECT_EQ(server_->Log().find(created.secret()), std::string::npos);

  // Duplicate live name, bad role/project combinations.
  grpc::Status dup = stub_->CreateToken(AuthContext(admin_).get(), create, &created);
  EXPECT_EQ(dup.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_TRUE(DetailsOf(dup).HasViolation("token.name"));
  v1::CreateTokenRequest bad;
  bad.mutable_token()->set_name("maint-without-projects");
  bad.mutable_token()->set_role(v1::ROLE_MAINTAINER);
  grpc::Status no_projects =
      stub_->CreateToken(AuthContext(admin_).get(), bad, &created);
  EXPECT_TRUE(DetailsOf(no_projects).HasViolation("token.project_ids"));
  bad.mutable_token()->set_role(v1::ROLE_UNSPECIFIED);
  EXPECT_TRUE(DetailsOf(stub_->CreateToken(AuthContext(admin_).get(), bad, &created))
                  .HasViolation("token.role"));

  // Revoked tokens disappear from the default listing.
  v1::RevokeTokenRequest revoke;
  revoke.set_id(listed.tokens(1).id());
  v1::RevokeTokenResponse revoked;
  ASSERT_TRUE(stub_->RevokeToken(AuthContext(admin_).get(), revoke, &revoked).ok());
  ASSERT_TRUE(stub_->ListTokens(AuthContext(admin_).get(), list, &listed).ok());
  EXPECT_EQ(listed.total_size(), 1);
  list.set_show_revoked(true);
  ASSERT_TRUE(stub_->ListTokens(AuthContext(admin_).get(), list, &listed).ok());
  EXPECT_EQ(listed.total_size(), 2);
  revoke.set_id(424242);
  EXPECT_EQ(stub_->RevokeToken(AuthContext(admin_).get(), revoke, &revoked)
                .error_code(),
            grpc::StatusCode::NOT_FOUND);
}

TEST_F(AdminServiceTest, ExpiredTokenIsRefused) {
  v1::CreateTokenRequest create;
  create.mutable_token()->set_name("brief");
  create.mutable_token()->set_role(v1::ROLE_SYSTEM_ADMIN);
  create.mutable_token()->mutable_expire_time()->set_seconds(time(nullptr) + 1);
  v1::CreateTokenResponse created;
  ASSERT_TRUE(stub_->CreateToken(AuthContext(admin_).get(), create, &created).ok());
  absl::SleepFor(absl::Milliseconds(1500));
  v1::GetServerInfoRequest info;
  v1::GetServerInfoResponse me;
  grpc::Status status =
      stub_->GetServerInfo(AuthContext(created.secret()).get(), info, &me);
  EXPECT_EQ(status.error_code(), grpc::StatusCode::UNAUTHENTICATED);
  create.mutable_token()->set_name("past");
  create.mutable_token()->mutable_expire_time()->set_seconds(1000);
  EXPECT_TRUE(DetailsOf(stub_->CreateToken(AuthContext(admin_).get(), create,
                                           &created))
                  .HasViolation("token.expire_time"));
}

}  // namespace
}  // namespace herald::testing
