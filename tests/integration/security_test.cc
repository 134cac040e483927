// Security hardening against a real heraldd: the audit log of PolicyService
// and AdminService changes, the per-token publish rate limit, secrets
// encrypted at rest (key file, HERALD_SECRET_KEY, wrong key refused), and
// the SSRF guard (a literal forbidden address refused at policy creation, a
// name resolving to a forbidden address failing the delivery).
#include <gtest/gtest.h>
#include <nlohmann/json.hpp>
#include <sys/stat.h>

#include <dirent.h>

#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "google/rpc/error_details.pb.h"
#include "google/rpc/status.pb.h"
#include "herald/v1/admin_service.grpc.pb.h"
#include "herald/v1/delivery_service.grpc.pb.h"
#include "herald/v1/event_service.grpc.pb.h"
#include "herald/v1/policy_service.grpc.pb.h"
#include "tests/integration/grpc_test_util.h"
#include "tests/integration/heraldd_process.h"
#include "tests/receivers/test_receiver.h"

namespace herald::testing {
namespace {

using receivers::TestReceiver;

constexpr char kAuthHeader[] = "Bearer audit-me-not-0123456789abcdef";
constexpr char kSigningSecret[] = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";

std::string ReadFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

class SecurityTest : public ::testing::Test {
 protected:
  void Start(std::vector<std::string> extra = {},
             std::map<std::string, std::string> env = {},
             const std::string& data_dir = "") {
    HeralddProcess::Options options;
    options.data_dir = data_dir;
    options.extra_args = {"--delivery_backoff_scale=0.001"};
    options.extra_args.insert(options.extra_args.end(), extra.begin(),
                              extra.end());
    options.env = std::move(env);
    auto started = HeralddProcess::Start(options);
    ASSERT_TRUE(started.ok()) << started.status();
    server_ = *std::move(started);
    admin_ = server_->AdminToken();
    auto channel = server_->Channel();
    events_ = v1::EventService::NewStub(channel);
    policies_ = v1::PolicyService::NewStub(channel);
    deliveries_ = v1::DeliveryService::NewStub(channel);
    admin_service_ = v1::AdminService::NewStub(channel);
  }

  grpc::Status CreatePolicy(const std::string& address, v1::Policy* created,
                            int max_attempts = 0) {
    v1::CreatePolicyRequest r;
    v1::Policy* p = r.mutable_policy();
    p->set_project_id(1);
    p->set_name(absl::StrCat("p", ++policies_created_));
    p->add_event_types("PUSH_ARTIFACT");
    v1::Target* t = p->add_targets();
    t->set_type(v1::TARGET_TYPE_HTTP);
    t->set_address(address);
    t->set_auth_header(kAuthHeader);
    t->set_signing_secret(kSigningSecret);
    if (max_attempts > 0) p->mutable_retry_policy()->set_max_attempts(max_attempts);
    v1::CreatePolicyResponse out;
    grpc::Status s = policies_->CreatePolicy(AuthContext(admin_).get(), r, &out);
    if (created != nullptr) *created = out.policy();
    return s;
  }

  grpc::Status Publish(const std::string& token, v1::EventAck* ack = nullptr) {
    v1::PublishEventRequest r;
    *r.mutable_event() = PushArtifactEvent(1);
    v1::PublishEventResponse out;
    grpc::Status s = events_->PublishEvent(AuthContext(token).get(), r, &out);
    if (ack != nullptr) *ack = out.ack();
    return s;
  }

  v1::Task FinalTaskOf(int64_t policy_id) {
    v1::Task task;
    EXPECT_TRUE(WaitFor([&] {
      v1::ListExecutionsRequest er;
      er.set_policy_id(policy_id);
      v1::ListExecutionsResponse executions;
      if (!deliveries_->ListExecutions(AuthContext(admin_).get(), er, &executions)
               .ok() ||
          executions.executions_size() == 0) {
        return false;
      }
      v1::ListTasksRequest tr;
      tr.set_execution_id(executions.executions(0).id());
      v1::ListTasksResponse tasks;
      if (!deliveries_->ListTasks(AuthContext(admin_).get(), tr, &tasks).ok() ||
          tasks.tasks_size() == 0) {
        return false;
      }
      task = tasks.tasks(0);
      return task.final();
    })) << task.DebugString();
    return task;
  }

  // The audit records heraldd wrote so far, as JSON.
  std::vector<nlohmann::json> AuditRecords() {
    std::vector<nlohmann::json> out;
    for (absl::string_view line : absl::StrSplit(server_->Log(), '\n')) {
      if (!absl::StrContains(line, "\"audit\":true")) continue;
      out.push_back(nlohmann::json::parse(line));
    }
    return out;
  }

  std::unique_ptr<HeralddProcess> server_;
  std::string admin_;
  int policies_created_ = 0;
  std::unique_ptr<v1::EventService::Stub> events_;
  std::unique_ptr<v1::PolicyService::Stub> policies_;
  std::unique_ptr<v1::DeliveryService::Stub> deliveries_;
  std::unique_ptr<v1::AdminService::Stub> admin_service_;
};

TEST_F(SecurityTest, EveryChangeThroughPolicyAndAdminServiceIsAudited) {
  Start();
  v1::Policy policy;
  ASSERT_TRUE(CreatePolicy("https://receiver.example/hook", &policy).ok());
  {
    v1::UpdatePolicyRequest r;
    r.mutable_policy()->set_id(policy.id());
    r.mutable_policy()->set_enabled(false);
    r.mutable_update_mask()->add_paths("enabled");
    v1::UpdatePolicyResponse out;
    ASSERT_TRUE(policies_->UpdatePolicy(AuthContext(admin_).get(), r, &out).ok());
  }
  {
    v1::DeletePolicyRequest r;
    r.set_id(policy.id());
    v1::DeletePolicyResponse out;
    ASSERT_TRUE(policies_->DeletePolicy(AuthContext(admin_).get(), r, &out).ok());
  }
  {
    v1::UpdateSettingsRequest r;
    r.mutable_settings()->set_webhook_job_max_retry(5);
    r.mutable_update_mask()->add_paths("webhook_job_max_retry");
    v1::UpdateSettingsResponse out;
    grpc::Status s =
        admin_service_->UpdateSettings(AuthContext(admin_).get(), r, &out);
    ASSERT_TRUE(s.ok()) << s.error_message();
  }
  std::string token_secret;
  int64_t token_id = 0;
  {
    v1::CreateTokenRequest r;
    r.mutable_token()->set_name("ci-publisher");
    r.mutable_token()->set_role(v1::ROLE_PUBLISHER);
    v1::CreateTokenResponse out;
    ASSERT_TRUE(admin_service_->CreateToken(AuthContext(admin_).get(), r, &out).ok());
    token_secret = out.secret();
    token_id = out.token().id();
  }
  {
    v1::RevokeTokenRequest r;
    r.set_id(token_id);
    v1::RevokeTokenResponse out;
    ASSERT_TRUE(admin_service_->RevokeToken(AuthContext(admin_).get(), r, &out).ok());
  }
  // A refused change is not audited (it changed nothing).
  {
    v1::DeletePolicyRequest r;
    r.set_id(policy.id());
    v1::DeletePolicyResponse out;
    EXPECT_FALSE(policies_->DeletePolicy(AuthContext(admin_).get(), r, &out).ok());
  }
  // Reads are not audited.
  {
    v1::ListTokensRequest r;
    v1::ListTokensResponse out;
    ASSERT_TRUE(admin_service_->ListTokens(AuthContext(admin_).get(), r, &out).ok());
  }

  std::vector<nlohmann::json> audit;
  ASSERT_TRUE(WaitFor([&] { return (audit = AuditRecords()).size() >= 6; }));
  ASSERT_EQ(audit.size(), 6u) << server_->Log();
  const std::vector<std::pair<std::string, std::string>> expected = {
      {"CreatePolicy", "policy"},   {"UpdatePolicy", "policy"},
      {"DeletePolicy", "policy"},   {"UpdateSettings", "settings"},
      {"CreateToken", "token"},     {"RevokeToken", "token"}};
  for (size_t i = 0; i < expected.size(); ++i) {
    const nlohmann::json& a = audit[i];
    EXPECT_EQ(a["msg"], "audit");
    EXPECT_EQ(a["action"], expected[i].first) << a.dump();
    EXPECT_EQ(a["resource"], expected[i].second) << a.dump();
    EXPECT_EQ(a["actor"], "bootstrap-admin") << a.dump();
    EXPECT_TRUE(a["actor_token_id"].is_number()) << a.dump();
    EXPECT_TRUE(a.contains("ts")) << a.dump();
  }
  EXPECT_EQ(audit[0]["resource_id"], policy.id());
  EXPECT_EQ(audit[0]["project_id"], 1);
  EXPECT_EQ(audit[1]["update_mask"], "enabled");
  EXPECT_EQ(audit[3]["webhook_job_max_retry"], 5);
  EXPECT_EQ(audit[4]["resource_id"], token_id);
  EXPECT_EQ(audit[4]["role"], "ROLE_PUBLISHER");
  EXPECT_EQ(audit[5]["resource_id"], token_id);
  // Never a secret.
  const std::string log = server_->Log();
  EXPECT_FALSE(absl::StrContains(log, kAuthHeader));
  EXPECT_FALSE(absl::StrContains(log, "audit-me-not"));
  EXPECT_FALSE(absl::StrContains(log, kSigningSecret));
  EXPECT_FALSE(absl::StrContains(log, token_secret));
  EXPECT_FALSE(absl::StrContains(log, admin_));
}

TEST_F(SecurityTest, PublishesOverTheTokenRateLimitAreRefused) {
  Start({"--publish_rate_limit=2", "--publish_rate_burst=5"});
  const std::string other =
      CreateToken(server_->Channel(), admin_, "other", v1::ROLE_PUBLISHER);
  // The burst, then refusals.
  int accepted = 0;
  grpc::Status refused;
  for (int i = 0; i < 20; ++i) {
    grpc::Status s = Publish(admin_);
    if (s.ok()) {
      ++accepted;
    } else {
      refused = s;
      break;
    }
  }
  EXPECT_GE(accepted, 5);
  EXPECT_LE(accepted, 6);  // one more may have refilled meanwhile
  ASSERT_EQ(refused.error_code(), grpc::StatusCode::RESOURCE_EXHAUSTED)
      << refused.error_message();
  EXPECT_EQ(DetailsOf(refused).reason, "RATE_LIMITED");
  EXPECT_TRUE(absl::StrContains(refused.error_message(), "rate limit"));
  google::rpc::Status rpc;
  ASSERT_TRUE(rpc.ParseFromString(refused.error_details()));
  bool has_retry_info = false;
  absl::Duration delay;
  for (const auto& any : rpc.details()) {
    google::rpc::RetryInfo retry;
    if (any.UnpackTo(&retry)) {
      has_retry_info = true;
      delay = absl::Seconds(retry.retry_delay().seconds()) +
              absl::Nanoseconds(retry.retry_delay().nanos());
    }
  }
  ASSERT_TRUE(has_retry_info);
  EXPECT_GT(delay, absl::ZeroDuration());
  EXPECT_LE(delay, absl::Milliseconds(500));

  // Another token has its own bucket.
  EXPECT_TRUE(Publish(other).ok());

  // On a stream, the refused event gets an error ack and the stream goes on.
  {
    grpc::ClientContext context;
    context.AddMetadata("authorization", "Bearer " + admin_);
    auto stream = events_->PublishEvents(&context);
    for (int i = 0; i < 3; ++i) {
      v1::PublishEventsRequest r;
      *r.mutable_event() = PushArtifactEvent(1);
      ASSERT_TRUE(stream->Write(r));
    }
    stream->WritesDone();
    int errors = 0, acks = 0;
    v1::PublishEventsResponse response;
    while (stream->Read(&response)) {
      if (response.has_error()) {
        EXPECT_EQ(response.error().code(), grpc::StatusCode::RESOURCE_EXHAUSTED);
        ++errors;
      } else {
        ++acks;
      }
    }
    EXPECT_TRUE(stream->Finish().ok());
    EXPECT_EQ(errors + acks, 3);
    EXPECT_GE(errors, 1);
  }

  // After the advised delay, publishing works again.
  absl::SleepFor(std::max(delay, absl::Milliseconds(600)));
  EXPECT_TRUE(Publish(admin_).ok());
}

TEST_F(SecurityTest, SecretsAreEncryptedAtRestWithAGeneratedKey) {
  auto receiver_or = TestReceiver::Start();
  ASSERT_TRUE(receiver_or.ok());
  std::unique_ptr<TestReceiver> receiver = *std::move(receiver_or);
  Start();
  const std::string dir = server_->data_dir();
  const std::string key_file = dir + "/secret.key";
  struct stat st;
  ASSERT_EQ(stat(key_file.c_str(), &st), 0) << "no " << key_file;
  EXPECT_EQ(st.st_mode & 0777, 0600);
  const std::string key = std::string(
      absl::StripTrailingAsciiWhitespace(ReadFile(key_file)));
  EXPECT_EQ(key.size(), 44u);

  v1::Policy policy;
  ASSERT_TRUE(CreatePolicy(receiver->url("/hook"), &policy).ok());
  ASSERT_TRUE(Publish(admin_).ok());
  ASSERT_TRUE(receiver->WaitForRequests(1, absl::Seconds(15)));
  // Decrypted for the delivery.
  EXPECT_EQ(receiver->requests()[0].header("Authorization").value_or(""),
            kAuthHeader);
  EXPECT_TRUE(receiver->requests()[0].header("webhook-signature").has_value());
  EXPECT_EQ(FinalTaskOf(policy.id()).status(), v1::TASK_STATUS_SUCCESS);
  ASSERT_EQ(server_->Terminate(), 0);

  // No file in the data directory (database, WAL, logs) but the key file
  // holds a secret in plaintext.
  DIR* d = opendir(dir.c_str());
  ASSERT_NE(d, nullptr);
  int files = 0;
  while (dirent* e = readdir(d)) {
    const std::string name = e->d_name;
    if (name == "." || name == ".." || name == "secret.key") continue;
    const std::string bytes = ReadFile(dir + "/" + name);
    ++files;
    EXPECT_FALSE(absl::StrContains(bytes, "audit-me-not")) << name;
    EXPECT_FALSE(absl::StrContains(bytes, kSigningSecret)) << name;
  }
  closedir(d);
  EXPECT_GE(files, 2);

  // A different key is refused with a clear error...
  {
    HeralddProcess::Options options;
    options.data_dir = dir;
    options.env = {{"HERALD_SECRET_KEY",
                    "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA="}};
    auto refused = HeralddProcess::Start(options);
    ASSERT_FALSE(refused.ok());
    EXPECT_TRUE(absl::StrContains(refused.status().message(), "secret key"))
        << refused.status();
  }
  // ... a key that is not 32 bytes of base64 too ...
  {
    HeralddProcess::Options options;
    options.data_dir = dir;
    options.env = {{"HERALD_SECRET_KEY", "too-short"}};
    auto refused = HeralddProcess::Start(options);
    ASSERT_FALSE(refused.ok());
    EXPECT_TRUE(absl::StrContains(refused.status().message(), "HERALD_SECRET_KEY"))
        << refused.status();
  }
  // ... and the right one given through the environment works.
  Start({}, {{"HERALD_SECRET_KEY", key}}, dir);
  v1::GetPolicyRequest get;
  get.set_id(policy.id());
  v1::GetPolicyResponse got;
  ASSERT_TRUE(policies_->GetPolicy(AuthContext(admin_).get(), get, &got).ok());
  EXPECT_TRUE(got.policy().targets(0).has_auth_header());
  ASSERT_TRUE(Publish(admin_).ok());
  ASSERT_TRUE(receiver->WaitForRequests(2, absl::Seconds(15)));
  EXPECT_EQ(receiver->requests()[1].header("Authorization").value_or(""),
            kAuthHeader);
}

TEST_F(SecurityTest, AnExplicitKeyFileMustExist) {
  HeralddProcess::Options options;
  options.extra_args = {"--secret_key_file=/nonexistent/herald.key"};
  auto refused = HeralddProcess::Start(options);
  ASSERT_FALSE(refused.ok());
  EXPECT_TRUE(absl::StrContains(refused.status().message(), "secret_key_file"))
      << refused.status();
}

TEST_F(SecurityTest, LiteralMetadataAddressIsRefusedAtPolicyCreation) {
  Start();
  for (const char* address : {"http://169.254.169.254/latest/meta-data/",
                              "http://[fd00:ec2::254]/", "http://0.0.0.0:8080/"}) {
    grpc::Status s = CreatePolicy(address, nullptr);
    ASSERT_EQ(s.error_code(), grpc::StatusCode::INVALID_ARGUMENT) << address;
    EXPECT_TRUE(DetailsOf(s).HasViolation("policy.targets[0].address"));
    EXPECT_TRUE(absl::StrContains(s.error_message(), "SSRF")) << s.error_message();
  }
}

TEST_F(SecurityTest, LoopbackIsRefusedByDefaultAndAllowedByCidr) {
  // heraldd's own defaults: loopback targets are refused at creation.
  Start({"--allow_loopback_targets=false"});
  grpc::Status refused = CreatePolicy("http://127.0.0.1:9/hook", nullptr);
  ASSERT_EQ(refused.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_TRUE(absl::StrContains(refused.error_message(), "loopback address"))
      << refused.error_message();
  EXPECT_TRUE(absl::StrContains(refused.error_message(), "allowed_target_cidrs"))
      << refused.error_message();
  server_.reset();

  // An allowed network lets exactly that network through, at creation and
  // at delivery, with loopback otherwise still forbidden.
  auto receiver_or = TestReceiver::Start();
  ASSERT_TRUE(receiver_or.ok());
  std::unique_ptr<TestReceiver> receiver = *std::move(receiver_or);
  Start({"--allow_loopback_targets=false",
         "--allowed_target_cidrs=127.0.0.1/32, 10.99.0.0/16"});
  EXPECT_EQ(CreatePolicy("http://127.0.0.2:9/hook", nullptr).error_code(),
            grpc::StatusCode::INVALID_ARGUMENT);
  v1::Policy policy;
  ASSERT_TRUE(CreatePolicy(absl::StrCat("http://127.0.0.1:", receiver->port(), "/x"),
                           &policy)
                  .ok());
  ASSERT_TRUE(Publish(admin_).ok());
  EXPECT_EQ(FinalTaskOf(policy.id()).status(), v1::TASK_STATUS_SUCCESS);
  EXPECT_EQ(receiver->request_count(), 1);
}

TEST_F(SecurityTest, BadAllowedNetworksStopHeralddAtStart) {
  HeralddProcess::Options options;
  options.extra_args = {"--allowed_target_cidrs=10.0.0.0/33"};
  auto refused = HeralddProcess::Start(options);
  ASSERT_FALSE(refused.ok());
  EXPECT_TRUE(absl::StrContains(refused.status().message(), "allowed_target_cidrs"))
      << refused.status();
}

TEST_F(SecurityTest, NameResolvingToAForbiddenAddressFailsTheDelivery) {
  auto receiver_or = TestReceiver::Start();
  ASSERT_TRUE(receiver_or.ok());
  std::unique_ptr<TestReceiver> receiver = *std::move(receiver_or);
  Start({"--allow_loopback_targets=false"});
  // "localhost" passes policy validation (a name) and resolves to loopback,
  // which this configuration forbids.
  v1::Policy policy;
  ASSERT_TRUE(CreatePolicy(absl::StrCat("http://localhost:", receiver->port(), "/x"),
                           &policy, /*max_attempts=*/2)
                  .ok());
  ASSERT_TRUE(Publish(admin_).ok());
  v1::Task task = FinalTaskOf(policy.id());
  EXPECT_EQ(task.status(), v1::TASK_STATUS_ERROR);
  EXPECT_TRUE(absl::StrContains(task.status_message(), "forbidden by SSRF policy"))
      << task.DebugString();
  absl::StatusOr<std::string> read = TaskLog(*deliveries_, admin_, task.id());
  ASSERT_TRUE(read.ok()) << read.status();
  const std::string& log = *read;
  EXPECT_TRUE(absl::StrContains(log, "forbidden by SSRF policy")) << log;
  EXPECT_TRUE(absl::StrContains(log, "no more attempts")) << log;
  EXPECT_EQ(receiver->request_count(), 0);
}

}  // namespace
}  // namespace herald::testing
