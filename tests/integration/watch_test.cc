// WatchTasks against a real heraldd delivering to real receivers: resume
// without gap or duplicate, many watchers, a watcher that stops reading,
// filters and permissions, cursors, shutdown.
#include <gtest/gtest.h>
#include <signal.h>

#include <atomic>
#include <fstream>
#include <map>
#include <thread>

#include "herald/v1/delivery_service.grpc.pb.h"
#include "herald/v1/event_service.grpc.pb.h"
#include "herald/v1/policy_service.grpc.pb.h"
#include "tests/integration/grpc_test_util.h"
#include "tests/integration/heraldd_process.h"
#include "tests/receivers/test_receiver.h"

namespace herald::testing {
namespace {

using receivers::Reply;
using receivers::TestReceiver;

// A key identifying one update: (task, status, run_count).
std::string Key(const v1::TaskUpdate& u) {
  return std::to_string(u.task().id()) + "/" +
         std::to_string(u.task().status()) + "/" +
         std::to_string(u.task().run_count());
}

class WatchTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto receiver = TestReceiver::Start();
    ASSERT_TRUE(receiver.ok()) << receiver.status();
    receiver_ = *std::move(receiver);
    HeralddProcess::Options options;
    options.extra_args = {"--delivery_backoff_scale=0.0005"};
    auto started = HeralddProcess::Start(options);
    ASSERT_TRUE(started.ok()) << started.status();
    server_ = *std::move(started);
    admin_ = server_->AdminToken();
    channel_ = server_->Channel();
    deliveries_ = v1::DeliveryService::NewStub(channel_);
  }

  int64_t CreatePolicy(int64_t project, const std::string& name,
                       const std::string& path) {
    auto stub = v1::PolicyService::NewStub(channel_);
    v1::CreatePolicyRequest r;
    r.mutable_policy()->set_project_id(project);
    r.mutable_policy()->set_name(name);
    r.mutable_policy()->add_event_types("PUSH_ARTIFACT");
    v1::Target* t = r.mutable_policy()->add_targets();
    t->set_type(v1::TARGET_TYPE_HTTP);
    t->set_address(receiver_->url(path));
    v1::CreatePolicyResponse out;
    grpc::Status s = stub->CreatePolicy(AuthContext(admin_).get(), r, &out);
    EXPECT_TRUE(s.ok()) << s.error_message();
    return out.policy().id();
  }

  void Publish(int64_t project, int count) {
    auto stub = v1::EventService::NewStub(channel_);
    for (int i = 0; i < count; ++i) {
      v1::PublishEventRequest r;
      *r.mutable_event() = PushArtifactEvent(project);
      v1::PublishEventResponse out;
      ASSERT_TRUE(stub->PublishEvent(AuthContext(admin_).get(), r, &out).ok());
    }
  }

  // Reads updates from a stream until `done` says stop or the stream ends.
  struct Watched {
    std::vector<v1::TaskUpdate> updates;
    grpc::Status status;
  };
  Watched Watch(v1::WatchTasksRequest request, const std::string& token,
                const std::function<bool(const std::vector<v1::TaskUpdate>&)>& done,
                absl::Duration timeout = absl::Seconds(30)) {
    Watched out;
    grpc::ClientContext context;
    context.AddMetadata("authorization", "Bearer " + token);
    context.set_deadline(absl::ToChronoTime(absl::Now() + timeout));
    auto stream = deliveries_->WatchTasks(&context, request);
    v1::WatchTasksResponse response;
    while (stream->Read(&response)) {
      for (const auto& u : response.updates()) out.updates.push_back(u);
      if (done(out.updates)) {
        context.TryCancel();
        break;
      }
    }
    out.status = stream->Finish();
    return out;
  }

  std::unique_ptr<TestReceiver> receiver_;
  std::unique_ptr<HeralddProcess> server_;
  std::string admin_;
  std::shared_ptr<grpc::Channel> channel_;
  std::unique_ptr<v1::DeliveryService::Stub> deliveries_;
};

bool AllFinal(const std::vector<v1::TaskUpdate>& updates, int tasks) {
  std::map<int64_t, bool> final;
  for (const auto& u : updates) final[u.task().id()] = u.task().final();
  int n = 0;
  for (const auto& [id, f] : final) n += f;
  return n >= tasks;
}

TEST_F(WatchTest, ResumedWatcherSeesExactlyWhatAContinuousOneSees) {
  // Each delivery fails once (500) then succeeds: Pending, Running, Error,
  // Running, Success per task.
  receiver_->SetDefaultReply(Reply::Status(200));
  CreatePolicy(1, "resume", "/resume");
  constexpr int kEvents = 60;
  std::vector<Reply> replies;
  for (int i = 0; i < kEvents; ++i) replies.push_back(Reply::Status(500));
  receiver_->PushReplies("/resume", replies);

  v1::WatchTasksRequest request;
  request.set_start(v1::WATCH_START_NOW);
  std::atomic<bool> ready{false};
  Watched continuous;
  std::thread reference([&] {
    grpc::ClientContext context;
    context.AddMetadata("authorization", "Bearer " + admin_);
    context.set_deadline(absl::ToChronoTime(absl::Now() + absl::Seconds(60)));
    auto stream = deliveries_->WatchTasks(&context, request);
    ready = true;
    v1::WatchTasksResponse response;
    while (stream->Read(&response)) {
      for (const auto& u : response.updates()) continuous.updates.push_back(u);
      if (AllFinal(continuous.updates, kEvents)) {
        context.TryCancel();
        break;
      }
    }
    stream->Finish();
  });
  while (!ready) absl::SleepFor(absl::Milliseconds(5));
  absl::SleepFor(absl::Milliseconds(300));  // the stream is established

  // The resuming watcher: reads a few updates, disconnects, resumes from
  // its last cursor, several times, while deliveries go on.
  std::vector<v1::TaskUpdate> resumed;
  std::thread publisher([&] { Publish(1, kEvents); });
  std::string cursor;
  int reconnects = 0;
  while (!AllFinal(resumed, kEvents) && reconnects < 200) {
    v1::WatchTasksRequest r;
    if (cursor.empty()) {
      r.set_start(v1::WATCH_START_NOW);  // the first connection
    } else {
      r.set_cursor(cursor);
    }
    Watched part = Watch(r, admin_, [&](const std::vector<v1::TaskUpdate>& got) {
      return got.size() >= 7;  // disconnect after a few
    });
    for (const auto& u : part.updates) {
      resumed.push_back(u);
      cursor = u.cursor();
    }
    ++reconnects;
  }
  publisher.join();
  reference.join();
  ASSERT_GT(reconnects, 3);
  // The continuous watcher started first, so its sequence begins earlier:
  // align on the resumed watcher's first update.
  ASSERT_FALSE(resumed.empty());
  size_t start = 0;
  while (start < continuous.updates.size() &&
         continuous.updates[start].cursor() != resumed.front().cursor()) {
    ++start;
  }
  ASSERT_LT(start, continuous.updates.size());
  std::vector<std::string> expected, got;
  for (size_t i = start; i < continuous.updates.size(); ++i) {
    expected.push_back(continuous.updates[i].cursor() + " " +
                       Key(continuous.updates[i]));
  }
  for (const auto& u : resumed) got.push_back(u.cursor() + " " + Key(u));
  got.resize(std::min(got.size(), expected.size()));
  EXPECT_EQ(got, std::vector<std::string>(expected.begin(),
                                          expected.begin() + got.size()));
  EXPECT_GE(got.size(), expected.size() * 9 / 10);
}

TEST_F(WatchTest, ManyConcurrentWatchersReceiveEveryUpdate) {
  CreatePolicy(1, "many", "/many");
  constexpr int kWatchers = 500;
  constexpr int kEvents = 20;
  // Pending, Running, Success per task.
  constexpr int kUpdatesEach = kEvents * 3;
  std::vector<std::unique_ptr<grpc::ClientContext>> contexts;
  std::vector<std::unique_ptr<grpc::ClientReader<v1::WatchTasksResponse>>> streams;
  v1::WatchTasksRequest request;
  request.set_start(v1::WATCH_START_NOW);
  for (int i = 0; i < kWatchers; ++i) {
    contexts.push_back(std::make_unique<grpc::ClientContext>());
    contexts.back()->AddMetadata("authorization", "Bearer " + admin_);
    contexts.back()->set_deadline(
        absl::ToChronoTime(absl::Now() + absl::Seconds(60)));
    streams.push_back(deliveries_->WatchTasks(contexts.back().get(), request));
  }
  absl::SleepFor(absl::Seconds(1));  // every stream established
  Publish(1, kEvents);
  std::atomic<int> complete{0};
  std::vector<std::thread> readers;
  for (int t = 0; t < 4; ++t) {
    readers.emplace_back([&, t] {
      for (int i = t; i < kWatchers; i += 4) {
        int seen = 0;
        v1::WatchTasksResponse response;
        while (seen < kUpdatesEach && streams[i]->Read(&response)) {
          seen += response.updates_size();
        }
        if (seen == kUpdatesEach) ++complete;
        contexts[i]->TryCancel();
        streams[i]->Finish();
      }
    });
  }
  for (auto& r : readers) r.join();
  EXPECT_EQ(complete.load(), kWatchers);
}

int64_t RssKiB(pid_t pid) {
  std::ifstream status("/proc/" + std::to_string(pid) + "/status");
  std::string line;
  while (std::getline(status, line)) {
    if (line.rfind("VmRSS:", 0) == 0) return std::stoll(line.substr(6));
  }
  return -1;
}

TEST_F(WatchTest, WatcherThatStopsReadingCostsNoMemoryAndCatchesUp) {
  CreatePolicy(1, "slow", "/slow");
  grpc::ClientContext context;
  context.AddMetadata("authorization", "Bearer " + admin_);
  v1::WatchTasksRequest request;
  request.set_start(v1::WATCH_START_NOW);
  auto stream = deliveries_->WatchTasks(&context, request);
  absl::SleepFor(absl::Milliseconds(300));
  const int64_t before = RssKiB(server_->pid());
  constexpr int kEvents = 3000;  // 9,000 updates the watcher does not read
  Publish(1, kEvents);
  ASSERT_TRUE(receiver_->WaitForRequests(kEvents, absl::Seconds(60)));
  const int64_t after = RssKiB(server_->pid());
  int seen = 0;
  v1::WatchTasksResponse response;
  while (seen < kEvents * 3 && stream->Read(&response)) {
    seen += response.updates_size();
  }
  context.TryCancel();
  stream->Finish();
  EXPECT_EQ(seen, kEvents * 3);
  std::cout << "[ figures  ] idle watcher during " << kEvents
            << " deliveries: heraldd RSS " << before << " -> " << after
            << " KiB\n";
  EXPECT_LT(after - before, 64 * 1024);
}

TEST_F(WatchTest, FiltersAndPermissions) {
  int64_t a = CreatePolicy(1, "a", "/a");
  CreatePolicy(2, "b", "/b");
  std::string maintainer_a =
      CreateToken(channel_, admin_, "maint-a", v1::ROLE_MAINTAINER, {1});
  std::string publisher =
      CreateToken(channel_, admin_, "pub", v1::ROLE_PUBLISHER, {});

  v1::WatchTasksRequest all;
  all.set_start(v1::WATCH_START_NOW);
  std::thread pub([&] {
    absl::SleepFor(absl::Milliseconds(400));
    Publish(2, 3);
    Publish(1, 2);
  });
  // The maintainer of project 1 sees project 1's tasks only.
  Watched m = Watch(all, maintainer_a, [](const auto& got) {
    return AllFinal(got, 2);
  });
  pub.join();
  ASSERT_FALSE(m.updates.empty());
  for (const auto& u : m.updates) EXPECT_EQ(u.execution().policy_id(), a);

  // Status filter: only final successes.
  v1::WatchTasksRequest snapshot;
  snapshot.set_start(v1::WATCH_START_SNAPSHOT);
  snapshot.add_statuses(v1::TASK_STATUS_SUCCESS);
  snapshot.set_policy_id(a);
  std::thread pub2([&] {
    absl::SleepFor(absl::Milliseconds(400));
    Publish(1, 1);
  });
  Watched s = Watch(snapshot, admin_, [](const auto& got) {
    return !got.empty();
  });
  pub2.join();
  ASSERT_EQ(s.updates.size(), 1u);
  EXPECT_EQ(s.updates[0].task().status(), v1::TASK_STATUS_SUCCESS);

  // Another project, a publisher, a bad cursor, an unknown policy.
  v1::WatchTasksRequest other;
  other.set_project_id(2);
  Watched denied = Watch(other, maintainer_a, [](const auto&) { return true; });
  EXPECT_EQ(denied.status.error_code(), grpc::StatusCode::PERMISSION_DENIED);
  Watched pub_denied = Watch(all, publisher, [](const auto&) { return true; });
  EXPECT_EQ(pub_denied.status.error_code(), grpc::StatusCode::PERMISSION_DENIED);
  v1::WatchTasksRequest bad;
  bad.set_cursor("not-a-cursor");
  Watched invalid = Watch(bad, admin_, [](const auto&) { return true; });
  EXPECT_EQ(invalid.status.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_TRUE(DetailsOf(invalid.status).HasViolation("cursor"));
  v1::WatchTasksRequest missing;
  missing.set_policy_id(987654);
  EXPECT_EQ(Watch(missing, admin_, [](const auto&) { return true; })
                .status.error_code(),
            grpc::StatusCode::NOT_FOUND);
  Watched anonymous = Watch(all, "", [](const auto&) { return true; });
  EXPECT_EQ(anonymous.status.error_code(), grpc::StatusCode::UNAUTHENTICATED);
}

TEST_F(WatchTest, SnapshotShowsUnfinishedTasksFirst) {
  receiver_->SetReply("/down", Reply::Status(503));
  int64_t policy = CreatePolicy(1, "down", "/down");
  Publish(1, 5);
  ASSERT_TRUE(receiver_->WaitForRequests(5, absl::Seconds(20)));
  v1::WatchTasksRequest request;
  request.set_start(v1::WATCH_START_SNAPSHOT);
  request.set_policy_id(policy);
  Watched w = Watch(request, admin_, [](const auto& got) {
    return got.size() >= 5;
  });
  ASSERT_GE(w.updates.size(), 5u);
  for (int i = 0; i < 5; ++i) {
    EXPECT_TRUE(w.updates[i].snapshot());
    EXPECT_FALSE(w.updates[i].task().final());
  }
}

TEST_F(WatchTest, ShutdownEndsStreamsWithUnavailable) {
  grpc::ClientContext context;
  context.AddMetadata("authorization", "Bearer " + admin_);
  v1::WatchTasksRequest request;
  auto stream = deliveries_->WatchTasks(&context, request);
  absl::SleepFor(absl::Milliseconds(300));
  const absl::Time start = absl::Now();
  std::thread stopper([&] { EXPECT_EQ(server_->Terminate(), 0); });
  v1::WatchTasksResponse response;
  while (stream->Read(&response)) {
  }
  grpc::Status status = stream->Finish();
  stopper.join();
  EXPECT_EQ(status.error_code(), grpc::StatusCode::UNAVAILABLE);
  EXPECT_LT(absl::Now() - start, absl::Seconds(4))
      << "an idle watch must not hold shutdown for the grace period";
}

}  // namespace
}  // namespace herald::testing
