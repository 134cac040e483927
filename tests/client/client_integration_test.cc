// herald::Client against a real heraldd: every RPC, pagination across
// pages, error details, retries across a heraldd restart, the watch
// helper's automatic resume, the publish stream helper, TLS, and the
// webhook receiver helper on a real delivery.
#include <gmock/gmock.h>
#include <google/protobuf/util/message_differencer.h>
#include <gtest/gtest.h>

#include <atomic>
#include <fstream>
#include <set>
#include <thread>

#include "absl/cleanup/cleanup.h"
#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/clock.h"
#include "client/client.h"
#include "client/errors.h"
#include "client/webhooks.h"
#include "tests/client/subprocess.h"
#include "tests/integration/heraldd_process.h"
#include "tests/receivers/test_receiver.h"
#include "tests/receivers/tls_identity.h"

namespace herald::testing {
namespace {

using ::google::protobuf::util::MessageDifferencer;
using ::testing::Contains;
using ::testing::ElementsAre;
using ::testing::HasSubstr;

constexpr char kSecret[] = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";

v1::Event PushEvent(int64_t project, const std::string& tag = "latest") {
  v1::Event e;
  e.set_event_type("PUSH_ARTIFACT");
  e.set_project_id(project);
  e.set_operator_("ci-bot");
  e.mutable_repository()->set_namespace_("library");
  e.mutable_repository()->set_name("busybox");
  e.mutable_repository()->set_repo_type("public");
  v1::Resource* r = e.add_resources();
  r->set_digest("sha256:dde8e930c7b6a490f728e66292bc9bce42efc9bbb5278bae40e4f30f6e00fe8c");
  r->set_tag(tag);
  return e;
}

v1::Policy HttpPolicy(int64_t project, const std::string& name, const std::string& url,
                      int max_attempts = 1) {
  v1::Policy p;
  p.set_project_id(project);
  p.set_name(name);
  p.add_event_types("PUSH_ARTIFACT");
  v1::Target* t = p.add_targets();
  t->set_type(v1::TARGET_TYPE_HTTP);
  t->set_address(url);
  p.mutable_retry_policy()->set_max_attempts(max_attempts);
  return p;
}

// A URL nobody listens on: deliveries fail at once.
std::string DeadUrl() { return "http://127.0.0.1:1/hook"; }

class ClientIntegrationTest : public ::testing::Test {
 protected:
  void SetUp() override { StartServer(); }

  void StartServer(const std::string& data_dir = "", const std::string& address = "",
                   std::vector<std::string> extra = {}) {
    HeralddProcess::Options options;
    options.data_dir = data_dir;
    if (!address.empty()) options.listen_address = address;
    options.extra_args = {"--delivery_backoff_scale=0.001"};
    options.extra_args.insert(options.extra_args.end(), extra.begin(), extra.end());
    auto started = HeralddProcess::Start(options);
    ASSERT_TRUE(started.ok()) << started.status();
    server_ = *std::move(started);
    admin_token_ = server_->AdminToken();
  }

  ConnectionOptions Options(const std::string& token) const {
    ConnectionOptions o;
    o.address = server_->address();
    o.token = token;
    return o;
  }
  Client MakeClient(const std::string& token) const {
    return Client(MakeConnection(Options(token)));
  }
  Client Admin() const { return MakeClient(admin_token_); }

  std::string CreateTokenSecret(const std::string& name, v1::Role role,
                                std::vector<int64_t> projects = {}) {
    v1::Token t;
    t.set_name(name);
    t.set_role(role);
    for (int64_t p : projects) t.add_project_ids(p);
    absl::StatusOr<v1::CreateTokenResponse> r = Admin().CreateToken(t);
    EXPECT_TRUE(r.ok()) << r.status();
    return r.ok() ? r->secret() : "";
  }

  // Waits until the execution's task is final.
  v1::Task WaitFinal(Client& client, int64_t execution_id) {
    const absl::Time deadline = absl::Now() + absl::Seconds(30);
    while (absl::Now() < deadline) {
      absl::StatusOr<std::vector<v1::Task>> tasks = client.ListTasks(execution_id);
      if (tasks.ok() && !tasks->empty() && tasks->front().final()) return tasks->front();
      absl::SleepFor(absl::Milliseconds(20));
    }
    ADD_FAILURE() << "execution " << execution_id << " did not finish";
    return v1::Task();
  }

  std::vector<v1::Execution> Executions(Client& client, int64_t policy_id) {
    v1::ListExecutionsRequest request;
    request.set_policy_id(policy_id);
    std::vector<v1::Execution> out;
    for (auto& e : client.ListExecutions(request)) {
      EXPECT_TRUE(e.ok()) << e.status();
      if (e.ok()) out.push_back(*e);
    }
    return out;
  }

  std::unique_ptr<HeralddProcess> server_;
  std::string admin_token_;
};

TEST_F(ClientIntegrationTest, PolicyRpcs) {
  Client client = Admin();
  absl::StatusOr<v1::ListEventTypesResponse> types = client.ListEventTypes();
  ASSERT_TRUE(types.ok()) << types.status();
  EXPECT_EQ(types->event_types_size(), 10);

  absl::StatusOr<v1::Policy> created =
      client.CreatePolicy(HttpPolicy(1, "ci-notify", DeadUrl()), "create-ci-notify");
  ASSERT_TRUE(created.ok()) << created.status();
  EXPECT_GT(created->id(), 0);
  EXPECT_EQ(created->creator(), "bootstrap-admin");
  // The same request_id creates nothing new.
  absl::StatusOr<v1::Policy> again =
      client.CreatePolicy(HttpPolicy(1, "ci-notify", DeadUrl()), "create-ci-notify");
  ASSERT_TRUE(again.ok()) << again.status();
  EXPECT_EQ(again->id(), created->id());

  absl::StatusOr<v1::Policy> got = client.GetPolicy(created->id());
  ASSERT_TRUE(got.ok()) << got.status();
  EXPECT_TRUE(MessageDifferencer::Equals(*got, *created)) << got->DebugString();

  v1::Policy change;
  change.set_id(created->id());
  change.set_description("pushes go to CI");
  google::protobuf::FieldMask mask;
  mask.add_paths("description");
  absl::StatusOr<v1::Policy> updated = client.UpdatePolicy(change, mask);
  ASSERT_TRUE(updated.ok()) << updated.status();
  EXPECT_EQ(updated->description(), "pushes go to CI");
  EXPECT_EQ(updated->name(), "ci-notify");

  absl::StatusOr<v1::Policy> disabled = client.DisablePolicy(created->id());
  ASSERT_TRUE(disabled.ok()) << disabled.status();
  EXPECT_FALSE(disabled->enabled());
  v1::ListPoliciesRequest only_disabled;
  only_disabled.set_enabled(false);
  std::vector<int64_t> ids;
  for (auto& p : client.ListPolicies(only_disabled)) ids.push_back(p->id());
  EXPECT_THAT(ids, ElementsAre(created->id()));
  EXPECT_TRUE(client.EnablePolicy(created->id())->enabled());

  ASSERT_TRUE(client.DeletePolicy(created->id()).ok());
  absl::StatusOr<v1::Policy> gone = client.GetPolicy(created->id());
  EXPECT_EQ(gone.status().code(), absl::StatusCode::kNotFound);
  EXPECT_EQ(ErrorReason(gone.status()), "NOT_FOUND");
  EXPECT_EQ(ErrorMetadata(gone.status())["resource"], "policy");
}

TEST_F(ClientIntegrationTest, PaginationIteratesAcrossPages) {
  Client client = Admin();
  for (int i = 0; i < 23; ++i) {
    ASSERT_TRUE(client.CreatePolicy(HttpPolicy(3, absl::StrCat("p", i), DeadUrl())).ok());
  }
  v1::ListPoliciesRequest request;
  request.set_project_id(3);
  request.set_page_size(4);  // 6 pages
  std::vector<std::string> names;
  for (auto& p : client.ListPolicies(request)) {
    ASSERT_TRUE(p.ok()) << p.status();
    names.push_back(p->name());
  }
  ASSERT_EQ(names.size(), 23u);
  EXPECT_EQ(names.front(), "p22");  // newest first
  EXPECT_EQ(names.back(), "p0");
  EXPECT_EQ(std::set<std::string>(names.begin(), names.end()).size(), 23u);

  for (int i = 0; i < 5; ++i) {
    CreateTokenSecret(absl::StrCat("t", i), v1::ROLE_MAINTAINER, {3});
  }
  v1::ListTokensRequest tokens;
  tokens.set_page_size(2);
  int count = 0;
  for (auto& t : client.ListTokens(tokens)) {
    ASSERT_TRUE(t.ok()) << t.status();
    ++count;
  }
  EXPECT_EQ(count, 6);  // bootstrap-admin and t0..t4
}

TEST_F(ClientIntegrationTest, ErrorsCarryReasonAndFieldViolations) {
  Client client = Admin();
  v1::Policy bad = HttpPolicy(1, "bad", "ftp://example.com/hook");
  bad.clear_event_types();
  absl::StatusOr<v1::Policy> created = client.CreatePolicy(bad);
  ASSERT_EQ(created.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(ErrorReason(created.status()), "INVALID_FIELD");
  EXPECT_EQ(ErrorDomain(created.status()), "herald.dev");
  std::vector<std::string> fields;
  for (const FieldViolation& v : FieldViolations(created.status())) {
    fields.push_back(v.field);
    EXPECT_FALSE(v.description.empty());
  }
  EXPECT_THAT(fields, Contains("policy.targets[0].address"));
  EXPECT_THAT(fields, Contains("policy.event_types"));

  EXPECT_EQ(ErrorReason(MakeClient("").GetServerInfo().status()), "TOKEN_MISSING");
  absl::StatusOr<v1::GetServerInfoResponse> bad_token =
      MakeClient("hld_not-a-token").GetServerInfo();
  EXPECT_EQ(bad_token.status().code(), absl::StatusCode::kUnauthenticated);
  EXPECT_EQ(ErrorReasonCode(bad_token.status()), v1::ERROR_REASON_TOKEN_INVALID);

  Client maintainer = MakeClient(CreateTokenSecret("m", v1::ROLE_MAINTAINER, {1}));
  absl::StatusOr<v1::Policy> denied = maintainer.CreatePolicy(HttpPolicy(1, "x", DeadUrl()));
  EXPECT_EQ(denied.status().code(), absl::StatusCode::kPermissionDenied);
  EXPECT_EQ(ErrorReason(denied.status()), "ROLE_NOT_ALLOWED");

  v1::ListPoliciesRequest bad_page;
  bad_page.set_page_token("garbage");
  auto range = client.ListPolicies(bad_page);
  auto it = range.begin();
  ASSERT_NE(it, range.end());
  EXPECT_EQ(ErrorReason(it->status()), "INVALID_PAGE_TOKEN");
}

TEST_F(ClientIntegrationTest, PublishRpcsAndTheStreamHelper) {
  Client client = Admin();
  ASSERT_TRUE(client.CreatePolicy(HttpPolicy(1, "p", DeadUrl())).ok());
  absl::StatusOr<v1::EventAck> ack = client.PublishEvent(PushEvent(1), "push-1");
  ASSERT_TRUE(ack.ok()) << ack.status();
  EXPECT_EQ(ack->deliveries_created(), 1);
  absl::StatusOr<v1::EventAck> dup = client.PublishEvent(PushEvent(1), "push-1");
  ASSERT_TRUE(dup.ok()) << dup.status();
  EXPECT_TRUE(dup->duplicate());
  EXPECT_EQ(dup->event_id(), ack->event_id());

  std::vector<v1::PublishEventsRequest> events;
  for (int i = 0; i < 300; ++i) {
    v1::PublishEventsRequest r;
    *r.mutable_event() = PushEvent(1, absl::StrCat("v", i));
    r.set_request_id(absl::StrCat("stream-", i));
    events.push_back(r);
  }
  events[7].mutable_event()->clear_repository();  // refused, the stream goes on
  absl::StatusOr<std::vector<v1::PublishEventsResponse>> acks = client.PublishEvents(events);
  ASSERT_TRUE(acks.ok()) << acks.status();
  ASSERT_EQ(acks->size(), 300u);
  int64_t last_id = 0;
  for (size_t i = 0; i < acks->size(); ++i) {
    const v1::PublishEventsResponse& a = (*acks)[i];
    EXPECT_EQ(a.sequence(), static_cast<int64_t>(i + 1));
    EXPECT_EQ(a.request_id(), absl::StrCat("stream-", i));
    if (i == 7) {
      ASSERT_TRUE(a.has_error());
      const absl::Status error = FromRpcStatus(a.error());
      EXPECT_EQ(error.code(), absl::StatusCode::kInvalidArgument);
      continue;
    }
    ASSERT_FALSE(a.has_error()) << a.error().message();
    EXPECT_GT(a.ack().event_id(), last_id);  // ids increase in publish order
    last_id = a.ack().event_id();
  }
}

TEST_F(ClientIntegrationTest, DeliveryRpcs) {
  auto receiver = receivers::TestReceiver::Start();
  ASSERT_TRUE(receiver.ok()) << receiver.status();
  Client client = Admin();
  absl::StatusOr<v1::Policy> good =
      client.CreatePolicy(HttpPolicy(1, "good", (*receiver)->url("/ok")));
  absl::StatusOr<v1::Policy> bad = client.CreatePolicy(HttpPolicy(1, "bad", DeadUrl()));
  ASSERT_TRUE(good.ok() && bad.ok());
  ASSERT_TRUE(client.PublishEvent(PushEvent(1)).ok());

  std::vector<v1::Execution> ok_executions = Executions(client, good->id());
  std::vector<v1::Execution> failed_executions = Executions(client, bad->id());
  ASSERT_EQ(ok_executions.size(), 1u);
  ASSERT_EQ(failed_executions.size(), 1u);
  EXPECT_EQ(WaitFinal(client, ok_executions[0].id()).status(), v1::TASK_STATUS_SUCCESS);
  const v1::Task failed = WaitFinal(client, failed_executions[0].id());
  EXPECT_EQ(failed.status(), v1::TASK_STATUS_ERROR);

  absl::StatusOr<v1::Execution> execution = client.GetExecution(ok_executions[0].id());
  ASSERT_TRUE(execution.ok()) << execution.status();
  EXPECT_THAT(execution->payload(), HasSubstr("\"type\":\"PUSH_ARTIFACT\""));
  EXPECT_EQ(execution->metrics().success_task_count(), 1);

  absl::StatusOr<std::string> log = client.GetTaskLog(failed.id());
  ASSERT_TRUE(log.ok()) << log.status();
  EXPECT_THAT(*log, HasSubstr("attempt 1 of 1"));

  absl::StatusOr<v1::Task> redelivered = client.RedeliverTask(failed.id());
  ASSERT_TRUE(redelivered.ok()) << redelivered.status();
  EXPECT_EQ(redelivered->status(), v1::TASK_STATUS_PENDING);
  WaitFinal(client, failed_executions[0].id());
  absl::StatusOr<v1::Execution> again = client.RedeliverExecution(failed_executions[0].id());
  ASSERT_TRUE(again.ok()) << again.status();
  EXPECT_EQ(again->id(), failed_executions[0].id());
  WaitFinal(client, failed_executions[0].id());

  // A task still running cannot be redelivered; an unknown one is NOT_FOUND.
  EXPECT_EQ(client.RedeliverTask(987654).status().code(), absl::StatusCode::kNotFound);

  v1::RecoverFailedRequest recover;
  recover.set_policy_id(bad->id());
  *recover.mutable_start_time() = google::protobuf::Timestamp();
  recover.mutable_start_time()->set_seconds(absl::ToUnixSeconds(absl::Now() - absl::Hours(1)));
  recover.set_dry_run(true);
  v1::RecoverFailedResponse last;
  for (auto& p : client.RecoverFailed(recover)) {
    ASSERT_TRUE(p.ok()) << p.status();
    last = *p;
  }
  EXPECT_TRUE(last.done());
  EXPECT_EQ(last.matched(), 1);
  EXPECT_EQ(last.redelivered(), 0);
  recover.set_dry_run(false);
  for (auto& p : client.RecoverFailed(recover)) {
    ASSERT_TRUE(p.ok()) << p.status();
    last = *p;
  }
  EXPECT_TRUE(last.done());
  EXPECT_EQ(last.redelivered(), 1);
}

TEST_F(ClientIntegrationTest, AdminRpcs) {
  Client client = Admin();
  absl::StatusOr<v1::Settings> settings = client.GetSettings();
  ASSERT_TRUE(settings.ok()) << settings.status();
  EXPECT_EQ(settings->webhook_job_max_retry(), 3);
  v1::Settings change;
  change.set_webhook_job_max_retry(5);
  absl::StatusOr<v1::Settings> updated = client.UpdateSettings(change);
  ASSERT_TRUE(updated.ok()) << updated.status();
  EXPECT_EQ(updated->webhook_job_max_retry(), 5);
  EXPECT_EQ(client.GetSettings()->webhook_job_max_retry(), 5);

  v1::Token token;
  token.set_name("registry");
  token.set_role(v1::ROLE_PUBLISHER);
  token.add_project_ids(1);
  absl::StatusOr<v1::CreateTokenResponse> created = client.CreateToken(token);
  ASSERT_TRUE(created.ok()) << created.status();
  Client publisher = MakeClient(created->secret());
  absl::StatusOr<v1::GetServerInfoResponse> info = publisher.GetServerInfo();
  ASSERT_TRUE(info.ok()) << info.status();
  EXPECT_EQ(info->caller().name(), "registry");
  EXPECT_EQ(info->store_kind(), "sqlite");
  std::vector<std::string> names;
  for (auto& t : client.ListTokens()) names.push_back(t->name());
  EXPECT_THAT(names, Contains("registry"));

  ASSERT_TRUE(client.RevokeToken(created->token().id()).ok());
  EXPECT_EQ(publisher.GetServerInfo().status().code(), absl::StatusCode::kUnauthenticated);

  EXPECT_EQ(*MakeClient("").CheckHealth(), ServingStatus::kServing);
  EXPECT_EQ(*client.CheckHealth("herald.v1.EventService"), ServingStatus::kServing);
  EXPECT_EQ(client.CheckHealth("no.such.Service").status().code(),
            absl::StatusCode::kNotFound);
}

TEST_F(ClientIntegrationTest, IdempotentCallsSurviveAServerRestart) {
  Client setup = Admin();
  absl::StatusOr<v1::Policy> policy = setup.CreatePolicy(HttpPolicy(1, "keep", DeadUrl()));
  ASSERT_TRUE(policy.ok());

  std::atomic<int> retries{0};
  ConnectionOptions options = Options(admin_token_);
  options.retry.max_attempts = 12;
  options.retry.initial_backoff = absl::Milliseconds(100);
  options.retry.max_backoff = absl::Milliseconds(500);
  options.on_retry = [&](const RetryAttempt& a) {
    EXPECT_EQ(a.error.code(), absl::StatusCode::kUnavailable);
    ++retries;
  };
  Client client(MakeConnection(options));
  ASSERT_TRUE(client.GetPolicy(policy->id()).ok());  // connected

  const std::string data_dir = server_->data_dir();
  const std::string address = server_->address();
  // Down: non-idempotent calls fail at once, with one attempt.
  server_->Kill();
  const absl::Time before = absl::Now();
  absl::StatusOr<v1::Policy> update = client.DisablePolicy(policy->id());
  EXPECT_EQ(update.status().code(), absl::StatusCode::kUnavailable);
  EXPECT_EQ(retries.load(), 0);
  EXPECT_LT(absl::Now() - before, absl::Seconds(3));

  // Restart on the same data dir and port while idempotent calls wait.
  std::thread restarter([&] {
    absl::SleepFor(absl::Milliseconds(800));
    StartServer(data_dir, address);
  });
  absl::StatusOr<v1::Policy> got = client.GetPolicy(policy->id());
  restarter.join();
  ASSERT_TRUE(got.ok()) << got.status();
  EXPECT_EQ(got->name(), "keep");
  EXPECT_GE(retries.load(), 1);

  // A create with a request_id, retried across another restart, creates once.
  server_->Kill();
  retries = 0;
  restarter = std::thread([&] {
    absl::SleepFor(absl::Milliseconds(800));
    StartServer(data_dir, address);
  });
  absl::StatusOr<v1::Policy> created =
      client.CreatePolicy(HttpPolicy(1, "made-during-restart", DeadUrl()), "restart-create");
  restarter.join();
  ASSERT_TRUE(created.ok()) << created.status();
  EXPECT_GE(retries.load(), 1);
  EXPECT_EQ(client.CreatePolicy(HttpPolicy(1, "made-during-restart", DeadUrl()),
                                "restart-create")
                ->id(),
            created->id());
  v1::ListPoliciesRequest named;
  named.set_name_contains("made-during-restart");
  int matches = 0;
  for (auto& p : client.ListPolicies(named)) matches += p.ok() ? 1 : 0;
  EXPECT_EQ(matches, 1);
}

// Whether this heraldd serves WatchTasks (it answered UNIMPLEMENTED before
// the WatchTasks issue landed).
bool WatchImplemented(Client& client, std::string* why) {
  v1::WatchTasksRequest request;
  request.set_start(v1::WATCH_START_SNAPSHOT);
  request.set_execution_id(1);  // cheap; NOT_FOUND is fine
  StreamRange<v1::TaskUpdate> range = client.connection()->WatchTasks(request);
  std::thread stopper([&] {
    absl::SleepFor(absl::Milliseconds(300));
    range.Cancel();
  });
  absl::Status status;
  for (auto& u : range) {
    if (!u.ok()) status = u.status();
    break;
  }
  stopper.join();
  *why = status.ToString();
  return status.code() != absl::StatusCode::kUnimplemented;
}

TEST_F(ClientIntegrationTest, WatchHelperResumesAcrossARestartWithoutGapOrDuplicate) {
  auto receiver = receivers::TestReceiver::Start();
  ASSERT_TRUE(receiver.ok());
  Client client = Admin();
  std::string why;
  if (!WatchImplemented(client, &why)) {
    GTEST_SKIP() << "this heraldd answers WatchTasks with UNIMPLEMENTED (" << why
                 << "); the test runs once the server implements it";
  }
  absl::StatusOr<v1::Policy> policy =
      client.CreatePolicy(HttpPolicy(1, "watched", (*receiver)->url("/ok")));
  ASSERT_TRUE(policy.ok());

  struct Seen {
    std::string cursor;
    int64_t task;
    v1::TaskStatus status;
    int32_t run_count;
  };
  absl::Mutex mu;
  std::vector<Seen> seen;
  std::atomic<int> reconnects{0};
  WatchOptions options;
  options.initial_backoff = absl::Milliseconds(50);
  options.max_backoff = absl::Milliseconds(300);
  options.on_reconnect = [&](const absl::Status& why, absl::Duration) {
    // UNAVAILABLE (shutting down, or refused while down); CANCELLED for a
    // call that reached heraldd while it shut down.
    EXPECT_TRUE(why.code() == absl::StatusCode::kUnavailable ||
                why.code() == absl::StatusCode::kCancelled)
        << why;
    ++reconnects;
  };
  v1::WatchTasksRequest request;
  request.set_policy_id(policy->id());
  request.set_start(v1::WATCH_START_SNAPSHOT);
  StreamRange<v1::TaskUpdate> updates = client.WatchTasks(request, options);
  // Each event makes three updates: PENDING, RUNNING, SUCCESS.
  constexpr int kEventsPerPhase = 20;
  constexpr size_t kExpected = 3 * 2 * kEventsPerPhase;
  absl::Status watch_error;
  std::thread reader([&] {
    for (auto& u : updates) {
      if (!u.ok()) {
        watch_error = u.status();
        break;
      }
      absl::MutexLock lock(&mu);
      seen.push_back({u->cursor(), u->task().id(), u->task().status(), u->task().run_count()});
      if (seen.size() >= kExpected) break;
    }
  });
  // Whatever happens below, stop and join the reader before returning.
  absl::Cleanup join_reader = [&] {
    updates.Cancel();
    if (reader.joinable()) reader.join();
  };
  auto wait_for = [&](size_t n) {
    const absl::Time deadline = absl::Now() + absl::Seconds(60);
    while (absl::Now() < deadline) {
      {
        absl::MutexLock lock(&mu);
        if (seen.size() >= n) return true;
      }
      absl::SleepFor(absl::Milliseconds(20));
    }
    return false;
  };
  absl::SleepFor(absl::Milliseconds(200));  // let the stream start
  for (int i = 0; i < kEventsPerPhase; ++i) {
    ASSERT_TRUE(client.PublishEvent(PushEvent(1, absl::StrCat("a", i))).ok());
  }
  ASSERT_TRUE(wait_for(3 * kEventsPerPhase)) << watch_error;

  // Restart heraldd: the stream ends with UNAVAILABLE and the helper
  // resumes from its last cursor by itself.
  const std::string data_dir = server_->data_dir();
  const std::string address = server_->address();
  ASSERT_EQ(server_->Terminate(), 0);
  StartServer(data_dir, address, {});
  for (int i = 0; i < kEventsPerPhase; ++i) {
    // With a request_id the publish is retried while the client's channel
    // reconnects to the restarted server.
    absl::StatusOr<v1::EventAck> ack =
        client.PublishEvent(PushEvent(1, absl::StrCat("b", i)), absl::StrCat("after-", i));
    ASSERT_TRUE(ack.ok()) << ack.status();
  }
  ASSERT_TRUE(wait_for(kExpected)) << "saw " << seen.size() << "; " << watch_error;
  reader.join();
  EXPECT_TRUE(watch_error.ok()) << watch_error;
  EXPECT_GE(reconnects.load(), 1);

  // A watcher that never disconnected (resuming from the first cursor over
  // the durable log) sees exactly the same sequence after the first update.
  std::vector<Seen> reference;
  v1::WatchTasksRequest from_first = request;
  from_first.set_cursor(seen.front().cursor);
  StreamRange<v1::TaskUpdate> replay = client.connection()->WatchTasks(from_first);
  for (auto& u : replay) {
    ASSERT_TRUE(u.ok()) << u.status();
    reference.push_back({u->cursor(), u->task().id(), u->task().status(), u->task().run_count()});
    if (reference.size() == seen.size() - 1) break;
  }
  ASSERT_EQ(reference.size(), seen.size() - 1);
  std::set<std::string> cursors;
  for (size_t i = 0; i < reference.size(); ++i) {
    const Seen& a = seen[i + 1];
    const Seen& b = reference[i];
    EXPECT_EQ(a.cursor, b.cursor) << i;
    EXPECT_EQ(a.task, b.task) << i;
    EXPECT_EQ(a.status, b.status) << i;
    EXPECT_EQ(a.run_count, b.run_count) << i;
    cursors.insert(a.cursor);
  }
  EXPECT_EQ(cursors.size(), reference.size());  // no duplicate
  int successes = 0;
  for (const Seen& s : seen) successes += s.status == v1::TASK_STATUS_SUCCESS ? 1 : 0;
  EXPECT_EQ(successes, 2 * kEventsPerPhase);
}

TEST_F(ClientIntegrationTest, TlsWithRootCertificates) {
  absl::StatusOr<receivers::TlsIdentity> identity = receivers::GenerateTlsIdentity();
  ASSERT_TRUE(identity.ok()) << identity.status();
  const std::string dir = MakeTempDir("herald-tls");
  const std::string cert = dir + "/server.pem", key = dir + "/server.key";
  std::ofstream(cert) << identity->cert_pem;
  std::ofstream(key) << identity->key_pem;
  StartServer("", "127.0.0.1:0",
              {absl::StrCat("--tls_cert_file=", cert), absl::StrCat("--tls_key_file=", key)});

  ConnectionOptions options = Options(admin_token_);
  options.tls.enabled = true;
  options.tls.root_certs_pem = identity->ca_pem;
  absl::StatusOr<v1::GetServerInfoResponse> info =
      Client(MakeConnection(options)).GetServerInfo();
  ASSERT_TRUE(info.ok()) << info.status();
  EXPECT_EQ(info->caller().name(), "bootstrap-admin");

  ConnectionOptions plaintext = Options(admin_token_);
  plaintext.retry.max_attempts = 1;
  EXPECT_EQ(Client(MakeConnection(plaintext)).GetServerInfo().status().code(),
            absl::StatusCode::kUnavailable);
  ConnectionOptions untrusted = options;
  untrusted.tls.root_certs_pem = receivers::GenerateTlsIdentity()->ca_pem;
  untrusted.retry.max_attempts = 1;
  EXPECT_EQ(Client(MakeConnection(untrusted)).GetServerInfo().status().code(),
            absl::StatusCode::kUnavailable);
}

TEST_F(ClientIntegrationTest, MutualTls) {
  if (RunProgram({"openssl", "version"}).exit_code != 0) GTEST_SKIP() << "no openssl CLI";
  const std::string dir = MakeTempDir("herald-mtls");
  auto openssl = [&](std::vector<std::string> args) {
    args.insert(args.begin(), "openssl");
    RunOptions o;
    o.working_dir = dir;
    RunResult r = RunProgram(args, o);
    ASSERT_EQ(r.exit_code, 0) << r.err;
  };
  openssl({"req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1", "-subj",
           "/CN=herald test CA", "-keyout", "ca.key", "-out", "ca.pem"});
  for (const auto& [name, ext] :
       std::vector<std::pair<std::string, std::string>>{
           {"server", "subjectAltName=IP:127.0.0.1,DNS:localhost"},
           {"client", "extendedKeyUsage=clientAuth"}}) {
    openssl({"req", "-newkey", "rsa:2048", "-nodes", "-subj", "/CN=" + name, "-keyout",
             name + ".key", "-out", name + ".csr"});
    std::ofstream(dir + "/" + name + ".ext") << ext << "\n";
    openssl({"x509", "-req", "-in", name + ".csr", "-CA", "ca.pem", "-CAkey", "ca.key",
             "-CAcreateserial", "-days", "1", "-extfile", name + ".ext", "-out",
             name + ".pem"});
  }
  StartServer("", "127.0.0.1:0",
              {"--tls_cert_file=" + dir + "/server.pem", "--tls_key_file=" + dir + "/server.key",
               "--tls_client_ca_file=" + dir + "/ca.pem"});
  auto read = [&](const std::string& name) {
    std::ifstream in(dir + "/" + name);
    return std::string(std::istreambuf_iterator<char>(in), {});
  };
  ConnectionOptions options = Options(admin_token_);
  options.tls.enabled = true;
  options.tls.root_certs_pem = read("ca.pem");
  ConnectionOptions without_cert = options;
  without_cert.retry.max_attempts = 1;
  EXPECT_FALSE(Client(MakeConnection(without_cert)).GetServerInfo().ok());
  options.tls.client_cert_pem = read("client.pem");
  options.tls.client_key_pem = read("client.key");
  absl::StatusOr<v1::GetServerInfoResponse> info =
      Client(MakeConnection(options)).GetServerInfo();
  ASSERT_TRUE(info.ok()) << info.status();
}

TEST_F(ClientIntegrationTest, ReceiverHelperVerifiesAndParsesARealDelivery) {
  auto receiver = receivers::TestReceiver::Start();
  ASSERT_TRUE(receiver.ok());
  Client client = Admin();
  v1::Policy policy = HttpPolicy(7, "signed", (*receiver)->url("/ce"));
  policy.mutable_targets(0)->set_payload_format(v1::PAYLOAD_FORMAT_CLOUDEVENTS);
  policy.mutable_targets(0)->set_signing_secret(kSecret);
  v1::Target* plain = policy.add_targets();
  plain->set_type(v1::TARGET_TYPE_HTTP);
  plain->set_address((*receiver)->url("/default"));
  plain->set_signing_secret(kSecret);
  absl::StatusOr<v1::Policy> created = client.CreatePolicy(policy);
  ASSERT_TRUE(created.ok()) << created.status();
  v1::Event event = PushEvent(7, "v9.9");
  event.set_request_id("req-42");
  ASSERT_TRUE(client.PublishEvent(event).ok());
  ASSERT_TRUE((*receiver)->WaitForRequests(2, absl::Seconds(30)));

  for (const receivers::ReceivedRequest& r : (*receiver)->requests()) {
    SCOPED_TRACE(r.path);
    // The helper takes the headers as any (name, value) collection.
    ASSERT_TRUE(webhooks::Verify(r.body, r.headers, {kSecret}).ok());
    EXPECT_EQ(webhooks::Verify(r.body, r.headers,
                               {"whsec_" + std::string("c2lnbmluZ3NlY3JldA==")})
                  .code(),
              absl::StatusCode::kUnauthenticated);
    EXPECT_FALSE(webhooks::Verify(r.body + " ", r.headers, {kSecret}).ok());
    // Rotation: the right secret anywhere in the list is enough.
    EXPECT_TRUE(webhooks::Verify(r.body, r.headers, {"whsec_c2lnbmluZ3NlY3JldA==", kSecret})
                    .ok());

    absl::StatusOr<webhooks::WebhookEvent> parsed =
        webhooks::ParseEvent(r.body, r.header("content-type").value_or(""));
    ASSERT_TRUE(parsed.ok()) << parsed.status() << "\n" << r.body;
    EXPECT_EQ(parsed->event_type, "PUSH_ARTIFACT");
    EXPECT_EQ(parsed->operator_name, "ci-bot");
    ASSERT_EQ(parsed->event.resources_size(), 1);
    EXPECT_EQ(parsed->event.resources(0).tag(), "v9.9");
    EXPECT_EQ(parsed->event.resources(0).digest(), event.resources(0).digest());
    EXPECT_EQ(parsed->event.repository().repo_full_name(), "library/busybox");
    if (r.path == "/ce") {
      ASSERT_EQ(parsed->format, webhooks::PayloadFormat::kCloudEvents);
      ASSERT_TRUE(parsed->cloudevent.has_value());
      EXPECT_EQ(parsed->cloudevent->id, r.header("webhook-id").value_or("?"));
      EXPECT_EQ(parsed->cloudevent->type, "harbor.artifact.pushed");
      EXPECT_EQ(parsed->cloudevent->project_id, 7);
      EXPECT_EQ(parsed->cloudevent->policy_id, created->id());
      EXPECT_EQ(parsed->event.request_id(), "req-42");
      EXPECT_EQ(parsed->event.project_id(), 7);
    } else {
      EXPECT_EQ(parsed->format, webhooks::PayloadFormat::kDefault);
      EXPECT_FALSE(parsed->cloudevent.has_value());
    }
  }
}

}  // namespace
}  // namespace herald::testing
