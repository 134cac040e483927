// PolicyService against a real heraldd: every RPC, validation, secrets,
// pagination, idempotency.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "herald/v1/policy_service.grpc.pb.h"
#include "tests/integration/grpc_test_util.h"
#include "tests/integration/heraldd_process.h"

namespace herald::testing {
namespace {

using ::testing::ElementsAre;
using ::testing::SizeIs;

v1::Policy ValidPolicy(int64_t project_id, const std::string& name) {
  v1::Policy p;
  p.set_project_id(project_id);
  p.set_name(name);
  p.add_event_types("PUSH_ARTIFACT");
  v1::Target* t = p.add_targets();
  t->set_type(v1::TARGET_TYPE_HTTP);
  t->set_address("http://127.0.0.1:9/hook");
  return p;
}

class PolicyServiceTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    auto started = HeralddProcess::Start();
    ASSERT_TRUE(started.ok()) << started.status();
    server_ = started->release();
    admin_ = server_->AdminToken();
    ASSERT_FALSE(admin_.empty());
  }
  static void TearDownTestSuite() {
    delete server_;
    server_ = nullptr;
  }

  std::unique_ptr<v1::PolicyService::Stub> Stub() {
    return v1::PolicyService::NewStub(server_->Channel());
  }

  grpc::Status Create(const v1::Policy& policy, v1::Policy* out = nullptr,
                      const std::string& request_id = "") {
    v1::CreatePolicyRequest request;
    *request.mutable_policy() = policy;
    request.set_request_id(request_id);
    v1::CreatePolicyResponse response;
    grpc::Status status =
        Stub()->CreatePolicy(AuthContext(admin_).get(), request, &response);
    if (out != nullptr) *out = response.policy();
    return status;
  }

  // Asserts that `policy` is refused with INVALID_ARGUMENT naming `field`.
  void ExpectInvalid(const v1::Policy& policy, const std::string& field) {
    grpc::Status status = Create(policy);
    EXPECT_EQ(status.error_code(), grpc::StatusCode::INVALID_ARGUMENT)
        << field << ": " << status.error_message();
    ErrorDetails details = DetailsOf(status);
    EXPECT_EQ(details.reason, "INVALID_FIELD");
    EXPECT_EQ(details.domain, "herald.dev");
    EXPECT_TRUE(details.HasViolation(field))
        << "no violation for " << field << " in: " << status.error_message();
    EXPECT_NE(status.error_message().find(field), std::string::npos)
        << status.error_message();
  }

  static HeralddProcess* server_;
  static std::string admin_;
};

HeralddProcess* PolicyServiceTest::server_ = nullptr;
std::string PolicyServiceTest::admin_;

TEST_F(PolicyServiceTest, CreateSetsServerFieldsAndDefaults) {
  v1::Policy in = ValidPolicy(1, "defaults");
  in.mutable_targets(0)->set_address("  HTTP://Example.COM:8080/Hook?x=1 ");
  in.mutable_targets(0)->set_auth_header("Bearer s3cret");
  in.set_creator("mallory");  // must be ignored
  v1::Policy out;
  ASSERT_TRUE(Create(in, &out).ok());
  EXPECT_GT(out.id(), 0);
  EXPECT_EQ(out.creator(), "bootstrap-admin");
  EXPECT_TRUE(out.has_enabled());
  EXPECT_TRUE(out.enabled());
  EXPECT_EQ(out.targets(0).payload_format(), v1::PAYLOAD_FORMAT_DEFAULT);
  EXPECT_EQ(out.targets(0).address(), "http://example.com:8080/Hook?x=1");
  EXPECT_TRUE(out.targets(0).has_auth_header());
  EXPECT_EQ(out.targets(0).auth_header(), "");
  EXPECT_GT(out.create_time().seconds(), 0);
}

TEST_F(PolicyServiceTest, ReadsNeverReturnSecrets) {
  v1::Policy in = ValidPolicy(1, "secrets");
  in.mutable_targets(0)->set_auth_header("Basic dXNlcjpwYXNz");
  in.mutable_targets(0)->set_signing_secret(
      "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw");
  v1::Policy created;
  ASSERT_TRUE(Create(in, &created).ok());

  v1::GetPolicyRequest get;
  get.set_id(created.id());
  v1::GetPolicyResponse got;
  ASSERT_TRUE(Stub()->GetPolicy(AuthContext(admin_).get(), get, &got).ok());
  std::string wire = got.SerializeAsString();
  EXPECT_EQ(wire.find("dXNlcjpwYXNz"), std::string::npos);
  EXPECT_EQ(wire.find("MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"), std::string::npos);
  EXPECT_TRUE(got.policy().targets(0).has_auth_header());
  EXPECT_TRUE(got.policy().targets(0).has_signing_secret());

  v1::ListPoliciesRequest list;
  list.set_project_id(1);
  list.set_page_size(100);
  v1::ListPoliciesResponse listed;
  ASSERT_TRUE(Stub()->ListPolicies(AuthContext(admin_).get(), list, &listed).ok());
  EXPECT_EQ(listed.SerializeAsString().find("dXNlcjpwYXNz"), std::string::npos);
  EXPECT_EQ(server_->Log().find("dXNlcjpwYXNz"), std::string::npos);
}

TEST_F(PolicyServiceTest, GetUpdateDeleteRoundTrip) {
  v1::Policy created;
  ASSERT_TRUE(Create(ValidPolicy(2, "roundtrip"), &created).ok());

  v1::UpdatePolicyRequest update;
  update.mutable_policy()->set_id(created.id());
  update.mutable_policy()->set_description("new description");
  update.mutable_policy()->set_enabled(false);
  update.mutable_update_mask()->add_paths("description");
  update.mutable_update_mask()->add_paths("enabled");
  v1::UpdatePolicyResponse updated;
  ASSERT_TRUE(
      Stub()->UpdatePolicy(AuthContext(admin_).get(), update, &updated).ok());
  EXPECT_EQ(updated.policy().description(), "new description");
  EXPECT_FALSE(updated.policy().enabled());
  EXPECT_EQ(updated.policy().name(), "roundtrip");  // not in the mask
  EXPECT_EQ(updated.policy().targets_size(), 1);

  v1::GetPolicyRequest get;
  get.set_id(created.id());
  v1::GetPolicyResponse got;
  ASSERT_TRUE(Stub()->GetPolicy(AuthContext(admin_).get(), get, &got).ok());
  EXPECT_EQ(got.policy().description(), "new description");

  v1::DeletePolicyRequest del;
  del.set_id(created.id());
  v1::DeletePolicyResponse deleted;
  ASSERT_TRUE(Stub()->DeletePolicy(AuthContext(admin_).get(), del, &deleted).ok());
  grpc::Status missing = Stub()->GetPolicy(AuthContext(admin_).get(), get, &got);
  EXPECT_EQ(missing.error_code(), grpc::StatusCode::NOT_FOUND);
  ErrorDetails details = DetailsOf(missing);
  EXPECT_EQ(details.reason, "NOT_FOUND");
  EXPECT_EQ(details.metadata["resource"], "policy");
}

TEST_F(PolicyServiceTest, UpdateKeepsSecretsOnReadModifyWrite) {
  v1::Policy in = ValidPolicy(2, "rmw");
  in.mutable_targets(0)->set_auth_header("Bearer keep-me");
  v1::Policy created;
  ASSERT_TRUE(Create(in, &created).ok());

  // A client that read the policy sends it back with has_auth_header set.
  v1::UpdatePolicyRequest update;
  *update.mutable_policy() = created;
  update.mutable_policy()->set_description("edited");
  update.mutable_update_mask()->add_paths("*");
  v1::UpdatePolicyResponse updated;
  ASSERT_TRUE(
      Stub()->UpdatePolicy(AuthContext(admin_).get(), update, &updated).ok());
  EXPECT_TRUE(updated.policy().targets(0).has_auth_header());

  // Clearing has_auth_header with an empty value removes the secret.
  update.mutable_policy()->mutable_targets(0)->set_has_auth_header(false);
  ASSERT_TRUE(
      Stub()->UpdatePolicy(AuthContext(admin_).get(), update, &updated).ok());
  EXPECT_FALSE(updated.policy().targets(0).has_auth_header());
}

TEST_F(PolicyServiceTest, UpdateRefusesUnknownMaskPathAndTakenName) {
  v1::Policy a, b;
  ASSERT_TRUE(Create(ValidPolicy(3, "name-a"), &a).ok());
  ASSERT_TRUE(Create(ValidPolicy(3, "name-b"), &b).ok());
  v1::UpdatePolicyRequest update;
  update.mutable_policy()->set_id(b.id());
  update.mutable_policy()->set_name("name-a");
  v1::UpdatePolicyResponse updated;
  EXPECT_EQ(Stub()->UpdatePolicy(AuthContext(admin_).get(), update, &updated)
                .error_code(),
            grpc::StatusCode::ALREADY_EXISTS);
  update.mutable_update_mask()->add_paths("creator");
  grpc::Status status =
      Stub()->UpdatePolicy(AuthContext(admin_).get(), update, &updated);
  EXPECT_EQ(status.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_TRUE(DetailsOf(status).HasViolation("update_mask.paths[0]"));
  update.mutable_policy()->set_id(999999);
  update.clear_update_mask();
  EXPECT_EQ(Stub()->UpdatePolicy(AuthContext(admin_).get(), update, &updated)
                .error_code(),
            grpc::StatusCode::NOT_FOUND);
}

TEST_F(PolicyServiceTest, NameUniquePerProject) {
  ASSERT_TRUE(Create(ValidPolicy(4, "same")).ok());
  grpc::Status dup = Create(ValidPolicy(4, "same"));
  EXPECT_EQ(dup.error_code(), grpc::StatusCode::ALREADY_EXISTS);
  EXPECT_EQ(DetailsOf(dup).reason, "NAME_TAKEN");
  EXPECT_TRUE(Create(ValidPolicy(5, "same")).ok());  // other project
}

TEST_F(PolicyServiceTest, CreateIsIdempotentOnRequestId) {
  v1::Policy first, second;
  ASSERT_TRUE(Create(ValidPolicy(6, "idem"), &first, "req-1").ok());
  ASSERT_TRUE(Create(ValidPolicy(6, "idem"), &second, "req-1").ok());
  EXPECT_EQ(first.id(), second.id());
}

TEST_F(PolicyServiceTest, EveryHarborValidationRuleIsEnforced) {
  v1::Policy p;
  p = ValidPolicy(8, "");
  ExpectInvalid(p, "policy.name");
  p = ValidPolicy(8, "x");
  p.clear_event_types();
  ExpectInvalid(p, "policy.event_types");
  p = ValidPolicy(8, "x");
  p.add_event_types("NOT_AN_EVENT");
  ExpectInvalid(p, "policy.event_types[1]");
  p = ValidPolicy(8, "x");
  p.add_event_types("PUSH_ARTIFACT");  // duplicate: Harbor delivers twice
  ExpectInvalid(p, "policy.event_types[1]");
  p = ValidPolicy(8, "x");
  p.clear_targets();
  ExpectInvalid(p, "policy.targets");
  p = ValidPolicy(8, "x");
  p.mutable_targets(0)->set_address("");
  ExpectInvalid(p, "policy.targets[0].address");
  p = ValidPolicy(8, "x");
  p.mutable_targets(0)->set_address("example.com/hook");  // no scheme
  ExpectInvalid(p, "policy.targets[0].address");
  p = ValidPolicy(8, "x");
  p.mutable_targets(0)->set_address("ftp://example.com/hook");
  ExpectInvalid(p, "policy.targets[0].address");
  p = ValidPolicy(8, "x");
  p.mutable_targets(0)->set_address("http:///nohost");
  ExpectInvalid(p, "policy.targets[0].address");
  p = ValidPolicy(8, "x");
  p.mutable_targets(0)->set_type(v1::TARGET_TYPE_UNSPECIFIED);
  ExpectInvalid(p, "policy.targets[0].type");
  p = ValidPolicy(8, "x");
  p.mutable_targets(0)->set_type(v1::TARGET_TYPE_SLACK);
  p.mutable_targets(0)->set_payload_format(v1::PAYLOAD_FORMAT_CLOUDEVENTS);
  ExpectInvalid(p, "policy.targets[0].payload_format");
  p = ValidPolicy(8, "x");
  p.mutable_targets(0)->set_type(v1::TARGET_TYPE_SLACK);
  p.mutable_targets(0)->set_auth_header("Bearer x");
  ExpectInvalid(p, "policy.targets[0].auth_header");
  p = ValidPolicy(8, "x");
  p.mutable_filters()->add_repository_patterns("library/{a,b");
  ExpectInvalid(p, "policy.filters.repository_patterns[0]");
  p = ValidPolicy(8, "x");
  p.mutable_filters()->add_scan_statuses("Success");  // no SCANNING_* type
  ExpectInvalid(p, "policy.filters.scan_statuses");
  p = ValidPolicy(8, "x");
  p.mutable_retry_policy()->set_max_attempts(1000);
  ExpectInvalid(p, "policy.retry_policy.max_attempts");
}

TEST_F(PolicyServiceTest, ListPaginatesAndFilters) {
  for (int i = 0; i < 25; ++i) {
    v1::Policy p = ValidPolicy(20, "page-" + std::to_string(i));
    if (i % 5 == 0) {
      p.set_enabled(false);
      p.clear_event_types();
      p.add_event_types("DELETE_ARTIFACT");
    }
    ASSERT_TRUE(Create(p).ok());
  }
  v1::ListPoliciesRequest request;
  request.set_project_id(20);
  request.set_page_size(10);
  std::vector<std::string> names;
  int pages = 0;
  while (true) {
    v1::ListPoliciesResponse response;
    ASSERT_TRUE(
        Stub()->ListPolicies(AuthContext(admin_).get(), request, &response).ok());
    EXPECT_EQ(response.total_size(), 25);
    for (const auto& p : response.policies()) names.push_back(p.name());
    ++pages;
    if (response.next_page_token().empty()) break;
    request.set_page_token(response.next_page_token());
  }
  EXPECT_EQ(pages, 3);
  ASSERT_THAT(names, SizeIs(25));
  EXPECT_EQ(names.front(), "page-24");  // newest first
  EXPECT_EQ(names.back(), "page-0");

  // A token from another query is refused.
  v1::ListPoliciesRequest other;
  other.set_project_id(21);
  other.set_page_token(request.page_token());
  v1::ListPoliciesResponse response;
  grpc::Status status =
      Stub()->ListPolicies(AuthContext(admin_).get(), other, &response);
  EXPECT_EQ(status.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_EQ(DetailsOf(status).reason, "INVALID_PAGE_TOKEN");
  EXPECT_TRUE(DetailsOf(status).HasViolation("page_token"));

  v1::ListPoliciesRequest negative;
  negative.set_page_size(-1);
  EXPECT_EQ(Stub()->ListPolicies(AuthContext(admin_).get(), negative, &response)
                .error_code(),
            grpc::StatusCode::INVALID_ARGUMENT);

  v1::ListPoliciesRequest filtered;
  filtered.set_project_id(20);
  filtered.set_enabled(false);
  filtered.set_page_size(1000);  // coerced to 100
  ASSERT_TRUE(
      Stub()->ListPolicies(AuthContext(admin_).get(), filtered, &response).ok());
  EXPECT_EQ(response.total_size(), 5);

  filtered.clear_enabled();
  filtered.set_event_type("PUSH_ARTIFACT");
  filtered.set_name_contains("page-1");
  ASSERT_TRUE(
      Stub()->ListPolicies(AuthContext(admin_).get(), filtered, &response).ok());
  // page-1, page-11..14, page-16..19 (page-10 and page-15 are DELETE only)
  EXPECT_EQ(response.total_size(), 9);
}

TEST_F(PolicyServiceTest, ListEventTypesMatchesHarbor) {
  v1::ListEventTypesRequest request;
  v1::ListEventTypesResponse response;
  ASSERT_TRUE(
      Stub()->ListEventTypes(AuthContext(admin_).get(), request, &response).ok());
  std::vector<std::string> types;
  for (const auto& t : response.event_types()) types.push_back(t.event_type());
  EXPECT_THAT(types,
              ElementsAre("PUSH_ARTIFACT", "PULL_ARTIFACT", "DELETE_ARTIFACT",
                          "QUOTA_EXCEED", "QUOTA_WARNING", "SCANNING_FAILED",
                          "SCANNING_STOPPED", "SCANNING_COMPLETED",
                          "REPLICATION", "TAG_RETENTION"));
  EXPECT_EQ(response.event_types(0).cloudevents_type(), "harbor.artifact.pushed");
  EXPECT_THAT(response.target_types(),
              ElementsAre(v1::TARGET_TYPE_HTTP, v1::TARGET_TYPE_SLACK));
  ASSERT_EQ(response.payload_formats_size(), 2);
  EXPECT_THAT(response.payload_formats(0).formats(),
              ElementsAre(v1::PAYLOAD_FORMAT_DEFAULT,
                          v1::PAYLOAD_FORMAT_CLOUDEVENTS));
}

}  // namespace
}  // namespace herald::testing
