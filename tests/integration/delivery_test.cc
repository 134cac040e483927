// The delivery engine end to end: a real heraldd (backoff scaled down with
// --delivery_backoff_scale=0.001) delivering to real receivers on
// 127.0.0.1 (tests/receivers). Each case checks what the receiver got
// (bytes, headers, attempts) and what the API reports (status, run_count,
// final, log), and stays within seconds.
#include <gtest/gtest.h>
#include <signal.h>

#include <algorithm>
#include <atomic>
#include <fstream>
#include <iostream>
#include <map>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_split.h"
#include "absl/time/clock.h"
#include "herald/v1/delivery_service.grpc.pb.h"
#include "herald/v1/event_service.grpc.pb.h"
#include "herald/v1/policy_service.grpc.pb.h"
#include "server/delivery/signer.h"
#include "tests/integration/grpc_test_util.h"
#include "tests/integration/heraldd_process.h"
#include "tests/receivers/test_receiver.h"

namespace herald::testing {
namespace {

using receivers::ReceivedRequest;
using receivers::Reply;
using receivers::TestReceiver;

constexpr char kSecret[] = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";
constexpr char kAuth[] = "Bearer delivery-test-credential";

int64_t RssKiB(pid_t pid) {
  std::ifstream status("/proc/" + std::to_string(pid) + "/status");
  std::string line;
  while (std::getline(status, line)) {
    if (line.rfind("VmRSS:", 0) == 0) return std::stoll(line.substr(6));
  }
  return -1;
}

v1::Target Http(const std::string& address) {
  v1::Target t;
  t.set_type(v1::TARGET_TYPE_HTTP);
  t.set_address(address);
  t.set_payload_format(v1::PAYLOAD_FORMAT_DEFAULT);
  return t;
}

class DeliveryTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto receiver = TestReceiver::Start();
    ASSERT_TRUE(receiver.ok()) << receiver.status();
    receiver_ = *std::move(receiver);
    Start();
  }

  void Start(const std::string& data_dir = "",
             std::vector<std::string> extra = {}) {
    HeralddProcess::Options options;
    options.data_dir = data_dir;
    options.extra_args = {"--delivery_backoff_scale=0.001"};
    options.extra_args.insert(options.extra_args.end(), extra.begin(),
                              extra.end());
    auto started = HeralddProcess::Start(options);
    ASSERT_TRUE(started.ok()) << started.status();
    server_ = *std::move(started);
    admin_ = server_->AdminToken();
    auto channel = server_->Channel();
    events_ = v1::EventService::NewStub(channel);
    policies_ = v1::PolicyService::NewStub(channel);
    deliveries_ = v1::DeliveryService::NewStub(channel);
  }

  int64_t CreatePolicy(int64_t project, const std::string& name,
                       std::vector<v1::Target> targets,
                       int max_attempts = 0,
                       absl::Duration timeout = absl::ZeroDuration()) {
    v1::CreatePolicyRequest r;
    v1::Policy* p = r.mutable_policy();
    p->set_project_id(project);
    p->set_name(name);
    p->add_event_types("PUSH_ARTIFACT");
    for (auto& t : targets) *p->add_targets() = t;
    p->mutable_retry_policy()->set_max_attempts(max_attempts);
    if (timeout > absl::ZeroDuration()) {
      p->mutable_retry_policy()->mutable_http_timeout()->set_seconds(
          absl::ToInt64Seconds(timeout));
    }
    v1::CreatePolicyResponse out;
    grpc::Status s =
        policies_->CreatePolicy(AuthContext(admin_).get(), r, &out);
    EXPECT_TRUE(s.ok()) << s.error_message();
    return out.policy().id();
  }

  int64_t Publish(const v1::Event& event) {
    v1::PublishEventRequest r;
    *r.mutable_event() = event;
    v1::PublishEventResponse out;
    grpc::Status s =
        events_->PublishEvent(AuthContext(admin_).get(), r, &out);
    EXPECT_TRUE(s.ok()) << s.error_message();
    return out.ack().event_id();
  }

  // Publishes `n` events on one stream; returns when all are acknowledged.
  void PublishMany(int64_t project, int n) {
    grpc::ClientContext context;
    context.AddMetadata("authorization", "Bearer " + admin_);
    auto stream = events_->PublishEvents(&context);
    std::thread writer([&] {
      for (int i = 0; i < n; ++i) {
        v1::PublishEventsRequest r;
        *r.mutable_event() = PushArtifactEvent(project);
        if (!stream->Write(r)) break;
      }
      stream->WritesDone();
    });
    int acks = 0;
    v1::PublishEventsResponse ack;
    while (stream->Read(&ack)) {
      EXPECT_TRUE(ack.has_ack()) << ack.error().message();
      ++acks;
    }
    writer.join();
    EXPECT_TRUE(stream->Finish().ok());
    EXPECT_EQ(acks, n);
  }

  std::vector<v1::Execution> Executions(int64_t policy_id) {
    std::vector<v1::Execution> out;
    v1::ListExecutionsRequest r;
    r.set_policy_id(policy_id);
    r.set_page_size(100);
    while (true) {
      v1::ListExecutionsResponse page;
      grpc::Status s =
          deliveries_->ListExecutions(AuthContext(admin_).get(), r, &page);
      EXPECT_TRUE(s.ok()) << s.error_message();
      if (!s.ok()) break;
      out.insert(out.end(), page.executions().begin(), page.executions().end());
      if (page.next_page_token().empty()) break;
      r.set_page_token(page.next_page_token());
    }
    return out;
  }

  v1::Execution OnlyExecution(int64_t policy_id) {
    std::vector<v1::Execution> all = Executions(policy_id);
    EXPECT_EQ(all.size(), 1u);
    return all.empty() ? v1::Execution{} : all[0];
  }

  v1::Task TaskOf(int64_t execution_id) {
    v1::ListTasksRequest r;
    r.set_execution_id(execution_id);
    v1::ListTasksResponse out;
    grpc::Status s = deliveries_->ListTasks(AuthContext(admin_).get(), r, &out);
    EXPECT_TRUE(s.ok()) << s.error_message();
    return out.tasks_size() > 0 ? out.tasks(0) : v1::Task{};
  }

  // Waits until the execution's task is final and returns it.
  v1::Task FinalTask(int64_t execution_id,
                     absl::Duration timeout = absl::Seconds(15)) {
    v1::Task t;
    EXPECT_TRUE(WaitFor(
        [&] {
          t = TaskOf(execution_id);
          return t.final();
        },
        timeout))
        << "task of execution " << execution_id << " not final: "
        << t.DebugString();
    return t;
  }

  std::string Log(int64_t task_id) {
    absl::StatusOr<std::string> log = TaskLog(*deliveries_, admin_, task_id);
    EXPECT_TRUE(log.ok()) << log.status();
    return log.value_or("");
  }

  std::vector<ReceivedRequest> RequestsTo(const std::string& path) {
    std::vector<ReceivedRequest> out;
    for (const ReceivedRequest& r : receiver_->requests()) {
      if (r.path == path) out.push_back(r);
    }
    return out;
  }

  static int Lines(const std::string& log) {
    return static_cast<int>(std::count(log.begin(), log.end(), '\n'));
  }

  std::unique_ptr<TestReceiver> receiver_;
  std::unique_ptr<HeralddProcess> server_;
  std::string admin_;
  std::unique_ptr<v1::EventService::Stub> events_;
  std::unique_ptr<v1::PolicyService::Stub> policies_;
  std::unique_ptr<v1::DeliveryService::Stub> deliveries_;
};

TEST_F(DeliveryTest, DeliveryArrivesWithHarborsBytesAndHeaders) {
  v1::Target target = Http(receiver_->url("/hook"));
  target.set_auth_header(kAuth);
  target.set_signing_secret(kSecret);
  int64_t policy = CreatePolicy(1, "bytes", {target});
  Publish(PushArtifactEvent(1));
  ASSERT_TRUE(receiver_->WaitForRequests(1, absl::Seconds(10)));
  v1::Execution listed = OnlyExecution(policy);
  v1::Task task = FinalTask(listed.id());
  EXPECT_EQ(task.status(), v1::TASK_STATUS_SUCCESS);
  EXPECT_EQ(task.run_count(), 1);
  EXPECT_EQ(task.last_response_code(), 200);

  v1::GetExecutionRequest gr;
  gr.set_id(listed.id());
  v1::GetExecutionResponse ge;
  ASSERT_TRUE(deliveries_->GetExecution(AuthContext(admin_).get(), gr, &ge).ok());
  const v1::Execution& e = ge.execution();
  EXPECT_EQ(e.status(), v1::TASK_STATUS_SUCCESS);
  EXPECT_TRUE(e.has_end_time());

  std::vector<ReceivedRequest> got = RequestsTo("/hook");
  ASSERT_EQ(got.size(), 1u);
  const ReceivedRequest& r = got[0];
  EXPECT_EQ(r.method, "POST");
  EXPECT_EQ(r.body, e.payload());  // the rendered bytes, verbatim
  EXPECT_EQ(r.header("Content-Type"), "application/json");
  EXPECT_EQ(r.header("Authorization"), kAuth);
  EXPECT_EQ(r.header_count("Authorization"), 1);
  ASSERT_TRUE(r.header("User-Agent").has_value());
  EXPECT_TRUE(absl::StartsWith(*r.header("User-Agent"), "herald/"));
  EXPECT_EQ(r.header("webhook-id"), e.webhook_id());
  ASSERT_TRUE(r.header("webhook-timestamp").has_value());
  ASSERT_TRUE(r.header("webhook-signature").has_value());
  absl::Status verified = delivery::CheckSignature(
      *r.header("webhook-id"), *r.header("webhook-timestamp"), r.body,
      *r.header("webhook-signature"), kSecret, absl::Now());
  EXPECT_TRUE(verified.ok()) << verified;

  std::string log = Log(task.id());
  EXPECT_EQ(Lines(log), 1);
  EXPECT_TRUE(absl::StrContains(log, "attempt 1 of 3: status 200")) << log;
  EXPECT_FALSE(absl::StrContains(log, "delivery-test-credential")) << log;
}

TEST_F(DeliveryTest, ServerErrorThenSuccessIsRetriedWithTheSameWebhookId) {
  receiver_->PushReplies("/flaky", {Reply::Status(500, "try later")});
  int64_t policy = CreatePolicy(1, "flaky", {Http(receiver_->url("/flaky"))});
  Publish(PushArtifactEvent(1));
  v1::Execution e = OnlyExecution(policy);
  v1::Task task = FinalTask(e.id());
  EXPECT_EQ(task.status(), v1::TASK_STATUS_SUCCESS);
  EXPECT_EQ(task.run_count(), 2);
  std::vector<ReceivedRequest> got = RequestsTo("/flaky");
  ASSERT_EQ(got.size(), 2u);
  EXPECT_EQ(got[0].header("webhook-id"), got[1].header("webhook-id"));
  EXPECT_EQ(got[0].body, got[1].body);
  std::string log = Log(task.id());
  EXPECT_EQ(Lines(log), 2) << log;
  EXPECT_TRUE(absl::StrContains(log, "attempt 1 of 3: status 500")) << log;
  EXPECT_TRUE(absl::StrContains(log, "body: \"try later\"")) << log;
  EXPECT_TRUE(absl::StrContains(log, "attempt 2 of 3: status 200")) << log;
}

TEST_F(DeliveryTest, AlwaysFailingEndsWithAFinalErrorAfterThreeAttempts) {
  receiver_->SetReply("/broken", Reply::Status(500));
  int64_t policy = CreatePolicy(1, "broken", {Http(receiver_->url("/broken"))});
  Publish(PushArtifactEvent(1));
  v1::Execution e = OnlyExecution(policy);
  v1::Task task = FinalTask(e.id());
  EXPECT_EQ(task.status(), v1::TASK_STATUS_ERROR);
  EXPECT_TRUE(task.final());
  // No retry scheduled. (api/delivery_convert.cc currently creates the
  // submessage even for "never", so check the value rather than presence.)
  EXPECT_EQ(task.next_attempt_time().seconds(), 0);
  EXPECT_EQ(task.run_count(), 3);
  EXPECT_EQ(task.max_attempts(), 3);
  EXPECT_EQ(task.last_response_code(), 500);
  EXPECT_EQ(task.status_message(), "abnormal response code: 500");
  EXPECT_EQ(RequestsTo("/broken").size(), 3u);
  std::string log = Log(task.id());
  EXPECT_EQ(Lines(log), 3) << log;
  for (int i = 1; i <= 3; ++i) {
    EXPECT_TRUE(absl::StrContains(
        log, "attempt " + std::to_string(i) + " of 3: status 500"))
        << log;
  }
  EXPECT_TRUE(absl::StrContains(log, "no more attempts")) << log;
  absl::SleepFor(absl::Milliseconds(300));
  EXPECT_EQ(RequestsTo("/broken").size(), 3u);
}

TEST_F(DeliveryTest, GoneStopsAtOnce) {
  receiver_->SetReply("/gone", Reply::Status(410));
  int64_t policy = CreatePolicy(1, "gone", {Http(receiver_->url("/gone"))}, 5);
  Publish(PushArtifactEvent(1));
  v1::Task task = FinalTask(OnlyExecution(policy).id());
  EXPECT_EQ(task.status(), v1::TASK_STATUS_ERROR);
  EXPECT_EQ(task.run_count(), 1);
  absl::SleepFor(absl::Milliseconds(300));
  EXPECT_EQ(RequestsTo("/gone").size(), 1u);
  EXPECT_TRUE(absl::StrContains(Log(task.id()), "410 Gone"));
}

TEST_F(DeliveryTest, RedirectIsNotFollowed) {
  receiver_->SetReply("/moved", Reply::Redirect(302, receiver_->url("/new")));
  int64_t policy = CreatePolicy(1, "moved", {Http(receiver_->url("/moved"))}, 1);
  Publish(PushArtifactEvent(1));
  v1::Task task = FinalTask(OnlyExecution(policy).id());
  EXPECT_EQ(task.status(), v1::TASK_STATUS_ERROR);
  EXPECT_EQ(task.last_response_code(), 302);
  EXPECT_EQ(RequestsTo("/moved").size(), 1u);
  EXPECT_TRUE(RequestsTo("/new").empty());
  std::string log = Log(task.id());
  EXPECT_TRUE(absl::StrContains(log, "redirect not followed")) << log;
  EXPECT_TRUE(absl::StrContains(log, "location: " + receiver_->url("/new")))
      << log;
}

TEST_F(DeliveryTest, HangingReceiverTimesOutAfterThePolicyTimeout) {
  receiver_->SetReply("/slow", Reply::Hang());
  int64_t policy = CreatePolicy(1, "slow", {Http(receiver_->url("/slow"))}, 1,
                                absl::Seconds(1));
  const absl::Time start = absl::Now();
  Publish(PushArtifactEvent(1));
  v1::Task task = FinalTask(OnlyExecution(policy).id());
  EXPECT_GE(absl::Now() - start, absl::Milliseconds(900));
  EXPECT_EQ(task.status(), v1::TASK_STATUS_ERROR);
  EXPECT_EQ(task.last_response_code(), 0);
  std::string log = Log(task.id());
  EXPECT_TRUE(absl::StrContains(log, "no response")) << log;
  EXPECT_TRUE(absl::StrContains(log, "error: timeout")) << log;
}

TEST_F(DeliveryTest, TooManyRequestsRetryAfterIsHonoured) {
  receiver_->PushReplies("/limited", {Reply::TooManyRequests("1")});
  int64_t policy =
      CreatePolicy(1, "limited", {Http(receiver_->url("/limited"))});
  Publish(PushArtifactEvent(1));
  v1::Task task = FinalTask(OnlyExecution(policy).id());
  EXPECT_EQ(task.status(), v1::TASK_STATUS_SUCCESS);
  std::vector<ReceivedRequest> got = RequestsTo("/limited");
  ASSERT_EQ(got.size(), 2u);
  // The backoff scale (0.001) would retry after ~16 ms; Retry-After says 1 s.
  EXPECT_GE(got[1].arrival - got[0].arrival, absl::Milliseconds(950));
  EXPECT_TRUE(absl::StrContains(Log(task.id()), "retry in 1s (Retry-After)"));
}

TEST_F(DeliveryTest, SelfSignedHttpsFailsUnlessSkipCertVerify) {
  auto tls = TestReceiver::Start({.tls = true});
  ASSERT_TRUE(tls.ok()) << tls.status();
  v1::Target verified = Http((*tls)->url("/verified"));
  int64_t strict = CreatePolicy(1, "strict-tls", {verified}, 1);
  v1::Target skipping = Http((*tls)->url("/skipped"));
  skipping.set_skip_cert_verify(true);
  int64_t lax = CreatePolicy(2, "lax-tls", {skipping}, 1);
  Publish(PushArtifactEvent(1));
  Publish(PushArtifactEvent(2));
  v1::Task failed = FinalTask(OnlyExecution(strict).id());
  EXPECT_EQ(failed.status(), v1::TASK_STATUS_ERROR);
  std::string log = Log(failed.id());
  EXPECT_TRUE(absl::StrContains(log, "error: tls")) << log;
  v1::Task ok = FinalTask(OnlyExecution(lax).id());
  EXPECT_EQ(ok.status(), v1::TASK_STATUS_SUCCESS);
  std::vector<ReceivedRequest> got = (*tls)->requests();
  ASSERT_EQ(got.size(), 1u);
  EXPECT_EQ(got[0].path, "/skipped");
  EXPECT_TRUE(got[0].tls);
}

TEST_F(DeliveryTest, RedeliveryStartsANewCycleWithTheSameWebhookId) {
  receiver_->PushReplies("/again", {Reply::Status(410)});
  int64_t policy = CreatePolicy(1, "again", {Http(receiver_->url("/again"))});
  Publish(PushArtifactEvent(1));
  v1::Execution e = OnlyExecution(policy);
  v1::Task failed = FinalTask(e.id());
  ASSERT_EQ(failed.status(), v1::TASK_STATUS_ERROR);

  // A maintainer may read but not redeliver.
  std::string maintainer = CreateToken(server_->Channel(), admin_, "m",
                                       v1::ROLE_MAINTAINER, {1});
  v1::RedeliverTaskRequest rr;
  rr.set_task_id(failed.id());
  v1::RedeliverTaskResponse out;
  grpc::Status denied =
      deliveries_->RedeliverTask(AuthContext(maintainer).get(), rr, &out);
  EXPECT_EQ(denied.error_code(), grpc::StatusCode::PERMISSION_DENIED);

  ASSERT_TRUE(
      deliveries_->RedeliverTask(AuthContext(admin_).get(), rr, &out).ok());
  EXPECT_EQ(out.task().id(), failed.id());
  EXPECT_EQ(out.task().max_attempts(), 3);
  v1::Task again = FinalTask(e.id());
  EXPECT_EQ(again.status(), v1::TASK_STATUS_SUCCESS);
  EXPECT_EQ(again.run_count(), 1);
  std::vector<ReceivedRequest> got = RequestsTo("/again");
  ASSERT_EQ(got.size(), 2u);
  EXPECT_EQ(got[0].header("webhook-id"), got[1].header("webhook-id"));
  EXPECT_EQ(got[0].body, got[1].body);
  std::string log = Log(again.id());
  EXPECT_TRUE(absl::StrContains(log, "redelivery requested")) << log;
  EXPECT_EQ(Lines(log), 3) << log;

  // RedeliverExecution, the same.
  v1::RedeliverExecutionRequest er;
  er.set_execution_id(e.id());
  v1::RedeliverExecutionResponse eout;
  ASSERT_TRUE(
      deliveries_->RedeliverExecution(AuthContext(admin_).get(), er, &eout)
          .ok());
  EXPECT_EQ(eout.execution().id(), e.id());
  ASSERT_TRUE(receiver_->WaitForRequests(3, absl::Seconds(10)));
  FinalTask(e.id());
}

TEST_F(DeliveryTest, RedeliveringAnUnfinishedTaskIsAFailedPrecondition) {
  receiver_->SetReply("/hang", Reply::Hang());
  int64_t policy = CreatePolicy(1, "hang", {Http(receiver_->url("/hang"))}, 1,
                                absl::Seconds(5));
  Publish(PushArtifactEvent(1));
  ASSERT_TRUE(receiver_->WaitForRequests(1, absl::Seconds(10)));
  v1::Task running = TaskOf(OnlyExecution(policy).id());
  EXPECT_EQ(running.status(), v1::TASK_STATUS_RUNNING);
  v1::RedeliverTaskRequest rr;
  rr.set_task_id(running.id());
  v1::RedeliverTaskResponse out;
  grpc::Status s =
      deliveries_->RedeliverTask(AuthContext(admin_).get(), rr, &out);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::FAILED_PRECONDITION);
  EXPECT_EQ(DetailsOf(s).reason, "TASK_NOT_FINAL");
  rr.set_task_id(987654);
  EXPECT_EQ(deliveries_->RedeliverTask(AuthContext(admin_).get(), rr, &out)
                .error_code(),
            grpc::StatusCode::NOT_FOUND);
  receiver_->Stop();  // ends the hung exchange
}

TEST_F(DeliveryTest, RecoverFailedRedeliversEveryFailureInTheWindow) {
  receiver_->SetReply("/down", Reply::Status(410));
  int64_t policy = CreatePolicy(1, "down", {Http(receiver_->url("/down"))});
  const absl::Time before = absl::Now() - absl::Seconds(1);
  constexpr int kEvents = 7;
  for (int i = 0; i < kEvents; ++i) Publish(PushArtifactEvent(1));
  for (const v1::Execution& e : Executions(policy)) FinalTask(e.id());

  auto recover = [&](bool dry_run) {
    v1::RecoverFailedRequest r;
    r.set_policy_id(policy);
    r.mutable_start_time()->set_seconds(absl::ToUnixSeconds(before));
    r.set_dry_run(dry_run);
    auto context = AuthContext(admin_);
    auto reader = deliveries_->RecoverFailed(context.get(), r);
    std::vector<v1::RecoverFailedResponse> progress;
    v1::RecoverFailedResponse m;
    while (reader->Read(&m)) progress.push_back(m);
    grpc::Status s = reader->Finish();
    EXPECT_TRUE(s.ok()) << s.error_message();
    return progress;
  };
  std::vector<v1::RecoverFailedResponse> dry = recover(true);
  ASSERT_FALSE(dry.empty());
  EXPECT_TRUE(dry.back().done());
  EXPECT_EQ(dry.back().matched(), kEvents);
  EXPECT_EQ(dry.back().redelivered(), 0);

  receiver_->SetReply("/down", Reply::Status(200));
  std::vector<v1::RecoverFailedResponse> real = recover(false);
  ASSERT_FALSE(real.empty());
  EXPECT_TRUE(real.back().done());
  EXPECT_EQ(real.back().matched(), kEvents);
  EXPECT_EQ(real.back().redelivered(), kEvents);
  for (const v1::Execution& e : Executions(policy)) {
    EXPECT_EQ(FinalTask(e.id()).status(), v1::TASK_STATUS_SUCCESS);
  }
  EXPECT_EQ(RequestsTo("/down").size(), 2u * kEvents);

  // Validation.
  v1::RecoverFailedRequest bad;
  bad.set_policy_id(policy);  // no start_time
  auto context = AuthContext(admin_);
  auto reader = deliveries_->RecoverFailed(context.get(), bad);
  v1::RecoverFailedResponse m;
  while (reader->Read(&m)) {
  }
  EXPECT_EQ(reader->Finish().error_code(), grpc::StatusCode::INVALID_ARGUMENT);
}

TEST_F(DeliveryTest, KillNineWhileDeliveringLosesNothing) {
  receiver_->SetReply("/durable",
                      Reply::Status(200).After(absl::Milliseconds(30)));
  int64_t policy =
      CreatePolicy(1, "durable", {Http(receiver_->url("/durable"))});
  constexpr int kEvents = 600;
  PublishMany(1, kEvents);  // all acknowledged
  ASSERT_TRUE(receiver_->WaitForRequests(40, absl::Seconds(10)));
  kill(server_->pid(), SIGKILL);  // deliveries in flight
  const int64_t before_kill = receiver_->request_count();
  const std::string data_dir = server_->data_dir();
  server_->Kill();
  Start(data_dir);
  std::vector<v1::Execution> executions = Executions(policy);
  ASSERT_EQ(executions.size(), static_cast<size_t>(kEvents));
  std::set<std::string> expected;
  for (const v1::Execution& e : executions) expected.insert(e.webhook_id());
  auto missing = [&] {
    std::set<std::string> got;
    for (const ReceivedRequest& r : RequestsTo("/durable")) {
      if (auto id = r.header("webhook-id")) got.insert(*id);
    }
    int n = 0;
    for (const std::string& id : expected) n += got.count(id) == 0;
    return n;
  };
  EXPECT_TRUE(WaitFor([&] { return missing() == 0; }, absl::Seconds(30)))
      << missing() << " acknowledged deliveries never arrived";
  for (const v1::Execution& e : executions) {
    EXPECT_EQ(FinalTask(e.id()).status(), v1::TASK_STATUS_SUCCESS);
  }
  std::cout << "[ figures  ] kill -9 after " << before_kill << " of "
            << kEvents << " deliveries; " << receiver_->request_count()
            << " requests in total (duplicates are the attempts in flight)\n";
}

TEST_F(DeliveryTest, DeadEndpointBacklogDoesNotDelayAHealthyEndpoint) {
  auto dead = TestReceiver::Start();
  ASSERT_TRUE(dead.ok());
  (*dead)->SetDefaultReply(Reply::Hang());
  CreatePolicy(1, "dead", {Http((*dead)->url("/dead"))}, 0, absl::Seconds(30));
  int64_t healthy =
      CreatePolicy(2, "healthy", {Http(receiver_->url("/healthy"))});
  constexpr int kBacklog = 3000;
  PublishMany(1, kBacklog);
  ASSERT_TRUE((*dead)->WaitForRequests(16, absl::Seconds(10)));

  const absl::Time start = absl::Now();
  constexpr int kHealthy = 20;
  for (int i = 0; i < kHealthy; ++i) Publish(PushArtifactEvent(2));
  ASSERT_TRUE(WaitFor([&] { return RequestsTo("/healthy").size() >= kHealthy; },
                      absl::Seconds(5)))
      << RequestsTo("/healthy").size() << " of " << kHealthy << " arrived";
  const absl::Duration took = absl::Now() - start;
  EXPECT_LT(took, absl::Seconds(3));
  for (const v1::Execution& e : Executions(healthy)) {
    EXPECT_EQ(FinalTask(e.id()).status(), v1::TASK_STATUS_SUCCESS);
  }
  // The dead endpoint holds its per-endpoint share (16), no more.
  EXPECT_EQ((*dead)->open_connections(), 16);
  std::cout << "[ figures  ] " << kHealthy << " deliveries to a healthy "
            << "endpoint behind a " << kBacklog << "-task dead backlog in "
            << absl::FormatDuration(took) << "; heraldd RSS "
            << RssKiB(server_->pid()) << " KiB\n";
  (*dead)->Stop();
}

TEST_F(DeliveryTest, ThroughputToAFastLocalReceiver) {
  auto fast = TestReceiver::Start({.record = false});
  ASSERT_TRUE(fast.ok());
  CreatePolicy(1, "fast", {Http((*fast)->url("/fast"))});
  constexpr int kEvents = 5000;
  const absl::Time start = absl::Now();
  PublishMany(1, kEvents);
  const absl::Duration publish = absl::Now() - start;
  ASSERT_TRUE((*fast)->WaitForRequests(kEvents, absl::Seconds(60)));
  const absl::Duration took = absl::Now() - start;
  std::cout << "[ figures  ] " << kEvents << " events published in "
            << absl::FormatDuration(publish) << " and delivered in "
            << absl::FormatDuration(took) << ": "
            << static_cast<int64_t>(kEvents / absl::ToDoubleSeconds(took))
            << " deliveries/s end to end (publish + deliver, Debug build)\n";
}

}  // namespace
}  // namespace herald::testing
