// EventService against a real heraldd: publishing, matching, rendering,
// idempotency, the global switch, validation, the stream's ordering and
// flow control, and durability across kill -9.
#include <google/protobuf/util/json_util.h>
#include <gtest/gtest.h>
#include <nlohmann/json.hpp>
#include <signal.h>

#include <atomic>
#include <fstream>
#include <iostream>
#include <set>
#include <sstream>
#include <thread>

#include "herald/v1/admin_service.grpc.pb.h"
#include "herald/v1/delivery_service.grpc.pb.h"
#include "herald/v1/event_service.grpc.pb.h"
#include "herald/v1/policy_service.grpc.pb.h"
#include "tests/integration/grpc_test_util.h"
#include "tests/integration/heraldd_process.h"

namespace herald::testing {
namespace {

std::string ReadFile(const std::string& path) {
  std::ifstream in(path);
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

std::string VectorPath(const std::string& name) {
  return std::string(HERALD_SOURCE_DIR) + "/tests/vectors/cases/" + name;
}

class EventServiceTest : public ::testing::Test {
 protected:
  void SetUp() override { Start(); }

  void Start(const std::string& data_dir = "") {
    HeralddProcess::Options options;
    options.data_dir = data_dir;
    options.extra_args = {"--registry_endpoint=https://harbor.dev"};
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
                       std::vector<std::string> types = {"PUSH_ARTIFACT"},
                       v1::Filters filters = {}) {
    v1::CreatePolicyRequest r;
    v1::Policy* p = r.mutable_policy();
    p->set_project_id(project);
    p->set_name(name);
    for (auto& t : types) p->add_event_types(t);
    for (auto& t : targets) *p->add_targets() = t;
    *p->mutable_filters() = filters;
    v1::CreatePolicyResponse out;
    grpc::Status s = policies_->CreatePolicy(AuthContext(admin_).get(), r, &out);
    EXPECT_TRUE(s.ok()) << s.error_message();
    return out.policy().id();
  }

  static v1::Target Http(const std::string& address,
                         v1::PayloadFormat format = v1::PAYLOAD_FORMAT_DEFAULT) {
    v1::Target t;
    t.set_type(v1::TARGET_TYPE_HTTP);
    t.set_address(address);
    t.set_payload_format(format);
    return t;
  }

  grpc::Status Publish(const v1::Event& event, v1::EventAck* ack = nullptr,
                       const std::string& request_id = "",
                       const std::string& token = "") {
    v1::PublishEventRequest r;
    *r.mutable_event() = event;
    r.set_request_id(request_id);
    v1::PublishEventResponse out;
    grpc::Status s = events_->PublishEvent(
        AuthContext(token.empty() ? admin_ : token).get(), r, &out);
    if (ack != nullptr) *ack = out.ack();
    return s;
  }

  std::vector<v1::Execution> Executions(int64_t policy_id) {
    std::vector<v1::Execution> out;
    v1::ListExecutionsRequest r;
    r.set_policy_id(policy_id);
    r.set_page_size(100);
    while (true) {
      v1::ListExecutionsResponse page;
      grpc::Status s = deliveries_->ListExecutions(AuthContext(admin_).get(), r, &page);
      EXPECT_TRUE(s.ok()) << s.error_message();
      out.insert(out.end(), page.executions().begin(), page.executions().end());
      if (page.next_page_token().empty()) break;
      r.set_page_token(page.next_page_token());
    }
    return out;
  }

  v1::Execution GetExecution(int64_t id) {
    v1::GetExecutionRequest r;
    r.set_id(id);
    v1::GetExecutionResponse out;
    EXPECT_TRUE(deliveries_->GetExecution(AuthContext(admin_).get(), r, &out).ok());
    return out.execution();
  }

  std::unique_ptr<HeralddProcess> server_;
  std::string admin_;
  std::unique_ptr<v1::EventService::Stub> events_;
  std::unique_ptr<v1::PolicyService::Stub> policies_;
  std::unique_ptr<v1::DeliveryService::Stub> deliveries_;
};

TEST_F(EventServiceTest, PublishCreatesOneExecutionPerPolicyTarget) {
  int64_t two_targets = CreatePolicy(
      1, "two", {Http("http://127.0.0.1:9/a"),
                 Http("http://127.0.0.1:9/b", v1::PAYLOAD_FORMAT_CLOUDEVENTS)});
  v1::Target slack;
  slack.set_type(v1::TARGET_TYPE_SLACK);
  slack.set_address("https://127.0.0.1:9/services/T/B/X");
  int64_t slack_policy = CreatePolicy(1, "slack", {slack});
  CreatePolicy(1, "other-type", {Http("http://127.0.0.1:9/c")}, {"PULL_ARTIFACT"});
  CreatePolicy(2, "other-project", {Http("http://127.0.0.1:9/d")});

  v1::EventAck ack;
  ASSERT_TRUE(Publish(PushArtifactEvent(1), &ack).ok());
  EXPECT_GT(ack.event_id(), 0);
  EXPECT_EQ(ack.deliveries_created(), 3);
  EXPECT_FALSE(ack.duplicate());

  std::vector<v1::Execution> executions = Executions(two_targets);
  ASSERT_EQ(executions.size(), 2u);
  for (const v1::Execution& listed : executions) {
    v1::Execution e = GetExecution(listed.id());
    EXPECT_EQ(e.event_id(), ack.event_id());
    EXPECT_EQ(e.vendor_type(), v1::VENDOR_TYPE_WEBHOOK);
    EXPECT_EQ(e.trigger(), "EVENT");
    // The delivery engine may already be at work on it (port 9 refuses).
    EXPECT_NE(e.status(), v1::TASK_STATUS_SUCCESS);
    EXPECT_EQ(e.metrics().task_count(), 1);
    nlohmann::json body = nlohmann::json::parse(e.payload());
    if (e.target_index() == 0) {
      EXPECT_EQ(e.content_type(), "application/json");
      EXPECT_EQ(body["type"], "PUSH_ARTIFACT");
      EXPECT_EQ(body["event_data"]["resources"][0]["resource_url"],
                "harbor.dev/library/busybox:latest");
    } else {
      EXPECT_EQ(e.content_type(), "application/cloudevents+json");
      EXPECT_EQ(body["id"], e.webhook_id());
      EXPECT_EQ(body["source"], "/projects/1/webhook/policies/" +
                                    std::to_string(two_targets));
      EXPECT_EQ(body["type"], "harbor.artifact.pushed");
    }
    v1::ListTasksRequest tr;
    tr.set_execution_id(e.id());
    v1::ListTasksResponse tasks;
    ASSERT_TRUE(deliveries_->ListTasks(AuthContext(admin_).get(), tr, &tasks).ok());
    ASSERT_EQ(tasks.tasks_size(), 1);
    EXPECT_NE(tasks.tasks(0).status(), v1::TASK_STATUS_SUCCESS);
    EXPECT_EQ(tasks.tasks(0).max_attempts(), 3);
  }
  std::vector<v1::Execution> slack_executions = Executions(slack_policy);
  ASSERT_EQ(slack_executions.size(), 1u);
  v1::Execution s = GetExecution(slack_executions[0].id());
  EXPECT_EQ(s.vendor_type(), v1::VENDOR_TYPE_SLACK);
  EXPECT_TRUE(nlohmann::json::accept(s.payload())) << s.payload();
}

TEST_F(EventServiceTest, DefaultPayloadIsHarborsBytes) {
  // The golden case from the Harbor docs, through the whole server.
  nlohmann::json c = nlohmann::json::parse(ReadFile(VectorPath("doc_pull_artifact.case.json")));
  v1::Event event;
  ASSERT_TRUE(google::protobuf::util::JsonStringToMessage(c["event"].dump(), &event).ok());
  int64_t policy = CreatePolicy(event.project_id(), "golden",
                                {Http("http://127.0.0.1:9/g")}, {event.event_type()});
  v1::EventAck ack;
  ASSERT_TRUE(Publish(event, &ack).ok());
  std::vector<v1::Execution> executions = Executions(policy);
  ASSERT_EQ(executions.size(), 1u);
  std::string expected = ReadFile(VectorPath("doc_pull_artifact.default.json"));
  while (!expected.empty() && expected.back() == '\n') expected.pop_back();
  EXPECT_EQ(GetExecution(executions[0].id()).payload(), expected);
}

TEST_F(EventServiceTest, RequestIdMakesPublishIdempotent) {
  int64_t policy = CreatePolicy(1, "idem", {Http("http://127.0.0.1:9/i")});
  v1::EventAck first, second;
  ASSERT_TRUE(Publish(PushArtifactEvent(1), &first, "build-42").ok());
  ASSERT_TRUE(Publish(PushArtifactEvent(1), &second, "build-42").ok());
  EXPECT_TRUE(second.duplicate());
  EXPECT_EQ(second.event_id(), first.event_id());
  EXPECT_EQ(second.deliveries_created(), 1);
  EXPECT_EQ(Executions(policy).size(), 1u);
}

TEST_F(EventServiceTest, FiltersAndSystemWidePolicies) {
  v1::Filters library_v;
  library_v.add_repository_patterns("library/**");
  library_v.add_tag_patterns("v*");
  int64_t filtered = CreatePolicy(1, "filtered", {Http("http://127.0.0.1:9/f")},
                                  {"PUSH_ARTIFACT"}, library_v);
  int64_t global = CreatePolicy(0, "global", {Http("http://127.0.0.1:9/s")});

  ASSERT_TRUE(Publish(PushArtifactEvent(1, "library/busybox", "v1.2")).ok());
  ASSERT_TRUE(Publish(PushArtifactEvent(1, "library/busybox", "latest")).ok());
  ASSERT_TRUE(Publish(PushArtifactEvent(1, "team/app", "v1")).ok());
  ASSERT_TRUE(Publish(PushArtifactEvent(5, "library/x", "v2")).ok());
  EXPECT_EQ(Executions(filtered).size(), 1u);
  EXPECT_EQ(Executions(global).size(), 4u);  // every project
}

TEST_F(EventServiceTest, NotificationSwitchOffDropsEvents) {
  int64_t policy = CreatePolicy(1, "switch", {Http("http://127.0.0.1:9/x")});
  auto admin = v1::AdminService::NewStub(server_->Channel());
  v1::UpdateSettingsRequest off;
  off.mutable_settings()->set_notification_enable(false);
  v1::UpdateSettingsResponse updated;
  ASSERT_TRUE(admin->UpdateSettings(AuthContext(admin_).get(), off, &updated).ok());
  v1::EventAck ack;
  ASSERT_TRUE(Publish(PushArtifactEvent(1), &ack).ok());
  EXPECT_TRUE(ack.dropped());
  EXPECT_EQ(ack.deliveries_created(), 0);
  EXPECT_TRUE(Executions(policy).empty());
}

TEST_F(EventServiceTest, InvalidEventsAreRefusedNamingTheField) {
  struct Case {
    std::function<void(v1::Event*)> mutate;
    std::string field;
  };
  std::vector<Case> cases = {
      {[](v1::Event* e) { e->set_event_type("CREATE_PROJECT"); }, "event.event_type"},
      {[](v1::Event* e) { e->mutable_resources(0)->clear_digest(); },
       "event.resources[0].digest"},
      {[](v1::Event* e) { e->clear_repository(); }, "event.repository"},
      {[](v1::Event* e) { e->set_project_id(0); }, "event.project_id"},
      {[](v1::Event* e) {
         e->set_event_type("REPLICATION");
       },
       "event.replication"},
      {[](v1::Event* e) { e->set_event_type("QUOTA_EXCEED"); },
       "event.custom_attributes"},
  };
  cases.push_back({[](v1::Event* e) {
                      (*e->mutable_custom_attributes())["big"] =
                          std::string(1100000, 'x');
                    },
                    "event"});
  for (const Case& c : cases) {
    v1::Event e = PushArtifactEvent(1);
    c.mutate(&e);
    grpc::Status s = Publish(e);
    EXPECT_EQ(s.error_code(), grpc::StatusCode::INVALID_ARGUMENT) << c.field;
    ErrorDetails d = DetailsOf(s);
    bool named = false;
    for (const auto& [field, why] : d.violations) {
      if (field.rfind(c.field, 0) == 0) named = true;
    }
    EXPECT_TRUE(named) << c.field << ": " << s.error_message();
  }
}

TEST_F(EventServiceTest, StreamAcksTenThousandEventsInOrder) {
  int64_t policy = CreatePolicy(1, "stream", {Http("http://127.0.0.1:9/s")});
  constexpr int kEvents = 10000;
  constexpr int kBad = 5000;  // this one is refused; the stream goes on
  grpc::ClientContext context;
  context.AddMetadata("authorization", "Bearer " + admin_);
  auto stream = events_->PublishEvents(&context);
  std::thread writer([&] {
    for (int i = 1; i <= kEvents; ++i) {
      v1::PublishEventsRequest r;
      *r.mutable_event() = PushArtifactEvent(1);
      if (i == kBad) r.mutable_event()->clear_repository();
      r.set_request_id("stream-" + std::to_string(i));
      if (!stream->Write(r)) break;
    }
    stream->WritesDone();
  });
  int64_t expected = 1;
  int64_t last_event_id = 0;
  int errors = 0;
  v1::PublishEventsResponse ack;
  while (stream->Read(&ack)) {
    EXPECT_EQ(ack.sequence(), expected);
    EXPECT_EQ(ack.request_id(), "stream-" + std::to_string(expected));
    if (expected == kBad) {
      EXPECT_TRUE(ack.has_error());
      EXPECT_EQ(ack.error().code(), grpc::StatusCode::INVALID_ARGUMENT);
      ++errors;
    } else {
      ASSERT_TRUE(ack.has_ack()) << ack.error().message();
      EXPECT_GT(ack.ack().event_id(), last_event_id);
      last_event_id = ack.ack().event_id();
      EXPECT_EQ(ack.ack().deliveries_created(), 1);
    }
    ++expected;
  }
  writer.join();
  ASSERT_TRUE(stream->Finish().ok());
  EXPECT_EQ(expected - 1, kEvents);
  EXPECT_EQ(errors, 1);
  v1::ListExecutionsRequest r;
  r.set_policy_id(policy);
  v1::ListExecutionsResponse page;
  ASSERT_TRUE(deliveries_->ListExecutions(AuthContext(admin_).get(), r, &page).ok());
  EXPECT_EQ(page.total_size(), kEvents - 1);
}

int64_t RssKiB(pid_t pid) {
  std::ifstream status("/proc/" + std::to_string(pid) + "/status");
  std::string line;
  while (std::getline(status, line)) {
    if (line.rfind("VmRSS:", 0) == 0) return std::stoll(line.substr(6));
  }
  return -1;
}

TEST_F(EventServiceTest, FastProducerThatNeverReadsKeepsServerMemoryBounded) {
  CreatePolicy(1, "bounded", {Http("http://127.0.0.1:9/b")});
  const int64_t rss_before = RssKiB(server_->pid());
  grpc::ClientContext context;
  context.AddMetadata("authorization", "Bearer " + admin_);
  auto stream = events_->PublishEvents(&context);
  constexpr int kEvents = 40000;
  std::atomic<int> written{0};
  std::thread writer([&] {
    v1::PublishEventsRequest r;
    *r.mutable_event() = PushArtifactEvent(1);
    // A large custom attribute makes unbounded buffering easy to see.
    (*r.mutable_event()->mutable_custom_attributes())["pad"] = std::string(4000, 'x');
    for (int i = 0; i < kEvents && stream->Write(r); ++i) ++written;
    stream->WritesDone();
  });
  absl::SleepFor(absl::Seconds(3));  // the producer pushes, nobody reads acks
  const int64_t rss_stalled = RssKiB(server_->pid());
  const int written_while_stalled = written.load();
  int acks = 0;
  v1::PublishEventsResponse ack;
  while (stream->Read(&ack)) ++acks;
  writer.join();
  EXPECT_TRUE(stream->Finish().ok());
  EXPECT_EQ(acks, kEvents);
  // Without flow control the server would hold 40,000 x 4 KB = 160 MB. What
  // it may hold: gRPC's buffers plus SQLite's writer page cache (up to
  // 32 MiB) filled by the events it did commit.
  EXPECT_LT(written_while_stalled, kEvents) << "the producer was never slowed";
  EXPECT_LT(rss_stalled - rss_before, 96 * 1024)
      << "RSS grew from " << rss_before << " KiB to " << rss_stalled << " KiB";
  std::cout << "[ figures  ] stalled producer: " << written_while_stalled
            << " events written before backpressure; heraldd RSS " << rss_before
            << " -> " << rss_stalled << " KiB\n";
}

TEST_F(EventServiceTest, AcknowledgedEventsSurviveKillNine) {
  int64_t policy = CreatePolicy(1, "durable", {Http("http://127.0.0.1:9/k")});
  grpc::ClientContext context;
  context.AddMetadata("authorization", "Bearer " + admin_);
  auto stream = events_->PublishEvents(&context);
  std::thread writer([&] {
    for (int i = 0; i < 100000; ++i) {
      v1::PublishEventsRequest r;
      *r.mutable_event() = PushArtifactEvent(1);
      if (!stream->Write(r)) break;
    }
  });
  std::vector<int64_t> acked;
  v1::PublishEventsResponse ack;
  while (acked.size() < 3000 && stream->Read(&ack)) {
    ASSERT_TRUE(ack.has_ack());
    acked.push_back(ack.ack().event_id());
  }
  kill(server_->pid(), SIGKILL);  // right after the last ack we saw
  context.TryCancel();
  writer.join();
  const std::string data_dir = server_->data_dir();
  server_->Kill();
  Start(data_dir);
  std::set<int64_t> stored;
  for (const v1::Execution& e : Executions(policy)) stored.insert(e.event_id());
  for (int64_t id : acked) {
    ASSERT_TRUE(stored.count(id)) << "acknowledged event " << id << " lost";
  }
  std::cout << "[ figures  ] " << acked.size() << " acknowledged before kill -9, "
            << stored.size() << " events with executions after restart\n";
}

TEST_F(EventServiceTest, DeletingPolicyDeletesItsExecutions) {
  int64_t policy = CreatePolicy(1, "doomed", {Http("http://127.0.0.1:9/z")});
  v1::EventAck ack;
  ASSERT_TRUE(Publish(PushArtifactEvent(1), &ack).ok());
  int64_t execution = Executions(policy).at(0).id();
  v1::DeletePolicyRequest del;
  del.set_id(policy);
  v1::DeletePolicyResponse out;
  ASSERT_TRUE(policies_->DeletePolicy(AuthContext(admin_).get(), del, &out).ok());
  v1::GetExecutionRequest get;
  get.set_id(execution);
  v1::GetExecutionResponse got;
  EXPECT_EQ(deliveries_->GetExecution(AuthContext(admin_).get(), get, &got).error_code(),
            grpc::StatusCode::NOT_FOUND);
}

TEST_F(EventServiceTest, ListExecutionsFiltersAndPaginates) {
  int64_t policy = CreatePolicy(1, "pages", {Http("http://127.0.0.1:9/p")},
                                {"PUSH_ARTIFACT", "DELETE_ARTIFACT"});
  for (int i = 0; i < 12; ++i) ASSERT_TRUE(Publish(PushArtifactEvent(1)).ok());
  v1::Event del = PushArtifactEvent(1);
  del.set_event_type("DELETE_ARTIFACT");
  ASSERT_TRUE(Publish(del).ok());
  EXPECT_EQ(Executions(policy).size(), 13u);
  v1::ListExecutionsRequest r;
  r.set_policy_id(policy);
  r.set_event_type("DELETE_ARTIFACT");
  v1::ListExecutionsResponse page;
  ASSERT_TRUE(deliveries_->ListExecutions(AuthContext(admin_).get(), r, &page).ok());
  EXPECT_EQ(page.total_size(), 1);
  r.clear_event_type();
  r.set_status(v1::TASK_STATUS_SUCCESS);
  ASSERT_TRUE(deliveries_->ListExecutions(AuthContext(admin_).get(), r, &page).ok());
  EXPECT_EQ(page.total_size(), 0);
  r.clear_status();
  r.set_page_size(5);
  ASSERT_TRUE(deliveries_->ListExecutions(AuthContext(admin_).get(), r, &page).ok());
  EXPECT_EQ(page.total_size(), 13);
  EXPECT_EQ(page.executions_size(), 5);
  EXPECT_EQ(page.executions(0).payload(), "");  // lists carry no payload
  EXPECT_GT(page.executions(0).id(), page.executions(1).id());  // newest first
}

}  // namespace
}  // namespace herald::testing
