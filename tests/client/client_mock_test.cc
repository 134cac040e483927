// herald::Client over the shipped mock Connection (client/mocks), and the
// gRPC Connection over the generated gMock stubs: forwarding, pagination,
// the watch and publish helpers' reconnection logic, retries, deadlines
// and error details - all without a server.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <atomic>
#include <deque>
#include <thread>

#include "absl/synchronization/mutex.h"
#include "absl/time/clock.h"
#include "client/client.h"
#include "client/errors.h"
#include "client/internal/grpc_connection.h"
#include "client/mocks/mock_connection.h"
#include "google/rpc/error_details.pb.h"
#include "grpc/health/v1/health_mock.grpc.pb.h"
#include "herald/v1/admin_service_mock.grpc.pb.h"
#include "herald/v1/delivery_service_mock.grpc.pb.h"
#include "herald/v1/event_service_mock.grpc.pb.h"
#include "herald/v1/policy_service_mock.grpc.pb.h"

namespace herald {
namespace {

using ::testing::_;
using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::Invoke;
using ::testing::Return;

v1::Policy PolicyNamed(int64_t id, std::string name) {
  v1::Policy p;
  p.set_id(id);
  p.set_name(std::move(name));
  return p;
}

v1::TaskUpdate Update(int64_t task, std::string cursor, bool snapshot = false) {
  v1::TaskUpdate u;
  u.set_cursor(std::move(cursor));
  u.mutable_task()->set_id(task);
  u.set_snapshot(snapshot);
  return u;
}

WatchOptions FastWatch() {
  WatchOptions o;
  o.initial_backoff = absl::Milliseconds(1);
  o.max_backoff = absl::Milliseconds(5);
  return o;
}

// --- Client over MockConnection ----------------------------------------------

TEST(ClientWithMockConnection, ForwardsRequestsAndResults) {
  auto mock = std::make_shared<mocks::MockConnection>();
  EXPECT_CALL(*mock, GetPolicy).WillOnce([](const v1::GetPolicyRequest& r) {
    EXPECT_EQ(r.id(), 7);
    return PolicyNamed(7, "ci-notify");
  });
  EXPECT_CALL(*mock, DeletePolicy).WillOnce([](const v1::DeletePolicyRequest& r) {
    EXPECT_EQ(r.id(), 7);
    return absl::OkStatus();
  });
  EXPECT_CALL(*mock, GetTaskLog).WillOnce([](const v1::GetTaskLogRequest& r) {
    EXPECT_EQ(r.task_id(), 3);
    return std::string("attempt 1 of 3: 200\n");
  });
  EXPECT_CALL(*mock, CheckHealth("herald.v1.EventService"))
      .WillOnce(Return(ServingStatus::kServing));

  Client client(mock);
  Client copy = client;  // a value type sharing the connection
  EXPECT_EQ(copy, client);
  absl::StatusOr<v1::Policy> p = copy.GetPolicy(7);
  ASSERT_TRUE(p.ok()) << p.status();
  EXPECT_EQ(p->name(), "ci-notify");
  EXPECT_TRUE(client.DeletePolicy(7).ok());
  EXPECT_EQ(*client.GetTaskLog(3), "attempt 1 of 3: 200\n");
  EXPECT_EQ(*client.CheckHealth("herald.v1.EventService"), ServingStatus::kServing);
}

TEST(ClientWithMockConnection, EnableAndDisableUpdateOnlyTheEnabledField) {
  auto mock = std::make_shared<mocks::MockConnection>();
  std::vector<v1::UpdatePolicyRequest> seen;
  EXPECT_CALL(*mock, UpdatePolicy)
      .Times(2)
      .WillRepeatedly([&](const v1::UpdatePolicyRequest& r) {
        seen.push_back(r);
        return r.policy();
      });
  Client client(mock);
  ASSERT_TRUE(client.DisablePolicy(5).ok());
  ASSERT_TRUE(client.EnablePolicy(5).ok());
  ASSERT_EQ(seen.size(), 2u);
  EXPECT_EQ(seen[0].policy().id(), 5);
  EXPECT_TRUE(seen[0].policy().has_enabled());
  EXPECT_FALSE(seen[0].policy().enabled());
  EXPECT_THAT(seen[0].update_mask().paths(), ElementsAre("enabled"));
  EXPECT_TRUE(seen[1].policy().enabled());
}

TEST(ClientWithMockConnection, ErrorsCarryReasonAndFieldViolations) {
  auto mock = std::make_shared<mocks::MockConnection>();
  EXPECT_CALL(*mock, CreatePolicy).WillOnce([](const v1::CreatePolicyRequest&) {
    return MakeError(absl::StatusCode::kInvalidArgument, "invalid policy.name: required",
                     "INVALID_FIELD",
                     {{"policy.name", "required"},
                      {"policy.targets[0].address", "must be an absolute URL"}});
  });
  EXPECT_CALL(*mock, GetPolicy).WillOnce([](const v1::GetPolicyRequest&) {
    return MakeError(absl::StatusCode::kNotFound, "policy 9 not found", "NOT_FOUND", {},
                     {{"resource", "policy"}, {"id", "9"}});
  });
  Client client(mock);
  absl::StatusOr<v1::Policy> created = client.CreatePolicy(v1::Policy());
  ASSERT_FALSE(created.ok());
  EXPECT_EQ(created.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(ErrorReason(created.status()), "INVALID_FIELD");
  EXPECT_EQ(ErrorReasonCode(created.status()), v1::ERROR_REASON_INVALID_FIELD);
  EXPECT_EQ(ErrorDomain(created.status()), "herald.dev");
  EXPECT_THAT(FieldViolations(created.status()),
              ElementsAre(FieldViolation{"policy.name", "required"},
                          FieldViolation{"policy.targets[0].address",
                                         "must be an absolute URL"}));
  EXPECT_THAT(DescribeError(created.status()),
              HasSubstr("\n  policy.targets[0].address: must be an absolute URL"));

  absl::StatusOr<v1::Policy> missing = client.GetPolicy(9);
  EXPECT_EQ(ErrorReasonCode(missing.status()), v1::ERROR_REASON_NOT_FOUND);
  EXPECT_EQ(ErrorMetadata(missing.status()).at("resource"), "policy");
  EXPECT_TRUE(FieldViolations(missing.status()).empty());
  // A status made by anyone else carries no details.
  EXPECT_EQ(ErrorReason(absl::UnavailableError("down")), "");
}

TEST(ClientWithMockConnection, ListsAreRanges) {
  auto mock = std::make_shared<mocks::MockConnection>();
  EXPECT_CALL(*mock, ListPolicies).WillOnce([](v1::ListPoliciesRequest r) {
    EXPECT_EQ(r.project_id(), 1);
    return MakeStreamRange<v1::Policy>({PolicyNamed(2, "b"), PolicyNamed(1, "a")});
  });
  EXPECT_CALL(*mock, ListTokens).WillOnce([](v1::ListTokensRequest) {
    return MakeErrorRange<v1::Token>(absl::PermissionDeniedError("no"));
  });
  Client client(mock);
  v1::ListPoliciesRequest request;
  request.set_project_id(1);
  std::vector<std::string> names;
  for (auto& p : client.ListPolicies(request)) {
    ASSERT_TRUE(p.ok());
    names.push_back(p->name());
  }
  EXPECT_THAT(names, ElementsAre("b", "a"));

  int elements = 0;
  for (auto& t : client.ListTokens()) {
    ++elements;
    EXPECT_EQ(t.status().code(), absl::StatusCode::kPermissionDenied);
  }
  EXPECT_EQ(elements, 1);  // the error is the only (and last) element
}

TEST(PaginatedRange, FetchesPagesLazily) {
  std::vector<std::string> tokens_asked;
  auto fetch = [&](const std::string& token) -> absl::StatusOr<Page<int>> {
    tokens_asked.push_back(token);
    if (token.empty()) return Page<int>{{1, 2}, "p2"};
    if (token == "p2") return Page<int>{{3}, "p3"};
    return Page<int>{{4, 5}, ""};
  };
  {
    PaginatedRange<int> range = MakePaginatedRange<int>(fetch);
    EXPECT_TRUE(tokens_asked.empty());  // nothing before begin()
    auto it = range.begin();
    EXPECT_EQ(**it, 1);
    EXPECT_THAT(tokens_asked, ElementsAre(""));
    ++it;
    EXPECT_EQ(**it, 2);
    EXPECT_THAT(tokens_asked, ElementsAre(""));  // page 2 not yet needed
  }
  tokens_asked.clear();
  std::vector<int> all;
  for (auto& v : MakePaginatedRange<int>(fetch)) all.push_back(*v);
  EXPECT_THAT(all, ElementsAre(1, 2, 3, 4, 5));
  EXPECT_THAT(tokens_asked, ElementsAre("", "p2", "p3"));
}

TEST(PaginatedRange, AnErrorIsTheLastElement) {
  auto fetch = [](const std::string& token) -> absl::StatusOr<Page<int>> {
    if (token.empty()) return Page<int>{{1}, "next"};
    return absl::UnavailableError("gone");
  };
  std::vector<absl::StatusOr<int>> seen;
  for (auto& v : MakePaginatedRange<int>(fetch)) seen.push_back(v);
  ASSERT_EQ(seen.size(), 2u);
  EXPECT_EQ(*seen[0], 1);
  EXPECT_EQ(seen[1].status().code(), absl::StatusCode::kUnavailable);
}

TEST(PaginatedRange, EmptyPagesAreSkipped) {
  auto fetch = [](const std::string& token) -> absl::StatusOr<Page<int>> {
    if (token.empty()) return Page<int>{{}, "a"};
    if (token == "a") return Page<int>{{}, "b"};
    return Page<int>{{9}, ""};
  };
  std::vector<int> all;
  for (auto& v : MakePaginatedRange<int>(fetch)) all.push_back(*v);
  EXPECT_THAT(all, ElementsAre(9));
}

// --- The watch helper ---------------------------------------------------------

TEST(WatchHelper, ReconnectsAndResumesFromTheLastCursor) {
  auto mock = std::make_shared<mocks::MockConnection>();
  std::vector<std::string> cursors;
  EXPECT_CALL(*mock, WatchTasks)
      .Times(3)
      .WillRepeatedly([&](const v1::WatchTasksRequest& r) {
        cursors.push_back(r.cursor());
        EXPECT_EQ(r.project_id(), 4);  // the filters are kept
        if (cursors.size() == 1) {
          return MakeStreamRange<v1::TaskUpdate>({Update(1, "c1"), Update(2, "c2")},
                                                 absl::UnavailableError("restart"));
        }
        if (cursors.size() == 2) {
          return MakeStreamRange<v1::TaskUpdate>({Update(3, "c3")},
                                                 absl::UnavailableError("too slow"));
        }
        return MakeErrorRange<v1::TaskUpdate>(absl::PermissionDeniedError("revoked"));
      });
  Client client(mock);
  WatchOptions options = FastWatch();
  int reconnects = 0;
  options.on_reconnect = [&](const absl::Status& why, absl::Duration) {
    EXPECT_EQ(why.code(), absl::StatusCode::kUnavailable);
    ++reconnects;
  };
  v1::WatchTasksRequest request;
  request.set_project_id(4);
  std::vector<int64_t> tasks;
  absl::Status end;
  for (auto& u : client.WatchTasks(request, options)) {
    if (!u.ok()) {
      end = u.status();
      break;
    }
    tasks.push_back(u->task().id());
  }
  EXPECT_THAT(tasks, ElementsAre(1, 2, 3));  // no gap, no duplicate
  EXPECT_THAT(cursors, ElementsAre("", "c2", "c3"));
  EXPECT_EQ(reconnects, 2);
  EXPECT_EQ(end.code(), absl::StatusCode::kPermissionDenied);
}

TEST(WatchHelper, StartsFromTheRequestCursor) {
  auto mock = std::make_shared<mocks::MockConnection>();
  EXPECT_CALL(*mock, WatchTasks).WillOnce([](const v1::WatchTasksRequest& r) {
    EXPECT_EQ(r.cursor(), "c7");
    return MakeStreamRange<v1::TaskUpdate>({Update(8, "c8")});
  });
  Client client(mock);
  v1::WatchTasksRequest request;
  request.set_cursor("c7");
  std::vector<int64_t> tasks;
  for (auto& u : client.WatchTasks(request, FastWatch())) tasks.push_back(u->task().id());
  EXPECT_THAT(tasks, ElementsAre(8));  // and a stream ending OK ends the watch
}

TEST(WatchHelper, UnimplementedAndInvalidArgumentEndTheWatchAtOnce) {
  for (absl::Status error : {absl::UnimplementedError("later"),
                             absl::InvalidArgumentError("bad cursor"),
                             absl::OutOfRangeError("expired")}) {
    auto mock = std::make_shared<mocks::MockConnection>();
    EXPECT_CALL(*mock, WatchTasks).WillOnce([&](const v1::WatchTasksRequest&) {
      return MakeErrorRange<v1::TaskUpdate>(error);
    });
    Client client(mock);
    EXPECT_EQ(client.WatchTasks(v1::WatchTasksRequest(), [](auto&) { return true; },
                                FastWatch())
                  .code(),
              error.code());
  }
}

TEST(WatchHelper, ResyncsWithASnapshotWhenTheCursorExpired) {
  auto mock = std::make_shared<mocks::MockConnection>();
  std::vector<v1::WatchTasksRequest> requests;
  EXPECT_CALL(*mock, WatchTasks).Times(2).WillRepeatedly([&](const v1::WatchTasksRequest& r) {
    requests.push_back(r);
    if (requests.size() == 1) {
      return MakeErrorRange<v1::TaskUpdate>(MakeError(
          absl::StatusCode::kOutOfRange, "cursor expired", "CURSOR_EXPIRED"));
    }
    return MakeStreamRange<v1::TaskUpdate>({Update(5, "c9", /*snapshot=*/true)});
  });
  Client client(mock);
  WatchOptions options = FastWatch();
  options.resync_on_cursor_expired = true;
  v1::WatchTasksRequest request;
  request.set_cursor("ancient");
  std::vector<bool> snapshots;
  for (auto& u : client.WatchTasks(request, options)) snapshots.push_back(u->snapshot());
  ASSERT_EQ(requests.size(), 2u);
  EXPECT_EQ(requests[1].cursor(), "");
  EXPECT_EQ(requests[1].start(), v1::WATCH_START_SNAPSHOT);
  EXPECT_THAT(snapshots, ElementsAre(true));
}

TEST(WatchHelper, GivesUpAfterMaxReconnectTime) {
  auto mock = std::make_shared<mocks::MockConnection>();
  EXPECT_CALL(*mock, WatchTasks).WillRepeatedly([](const v1::WatchTasksRequest&) {
    return MakeErrorRange<v1::TaskUpdate>(absl::UnavailableError("down"));
  });
  Client client(mock);
  WatchOptions options = FastWatch();
  options.max_reconnect_time = absl::Milliseconds(100);
  const absl::Time start = absl::Now();
  absl::Status s = client.WatchTasks(v1::WatchTasksRequest(),
                                     [](const v1::TaskUpdate&) { return true; }, options);
  EXPECT_EQ(s.code(), absl::StatusCode::kUnavailable);
  EXPECT_LT(absl::Now() - start, absl::Seconds(5));
}

TEST(WatchHelper, CancelFromAnotherThreadEndsABackoffAtOnce) {
  auto mock = std::make_shared<mocks::MockConnection>();
  EXPECT_CALL(*mock, WatchTasks).WillRepeatedly([](const v1::WatchTasksRequest&) {
    return MakeErrorRange<v1::TaskUpdate>(absl::UnavailableError("down"));
  });
  Client client(mock);
  WatchOptions options;
  options.initial_backoff = absl::Seconds(30);
  options.max_backoff = absl::Seconds(30);
  StreamRange<v1::TaskUpdate> updates = client.WatchTasks(v1::WatchTasksRequest(), options);
  std::thread canceller([&] {
    absl::SleepFor(absl::Milliseconds(100));
    updates.Cancel();
  });
  const absl::Time start = absl::Now();
  int elements = 0;
  for (auto& u : updates) {
    (void)u;
    ++elements;
  }
  canceller.join();
  EXPECT_EQ(elements, 0);  // a cancelled watch ends normally
  EXPECT_LT(absl::Now() - start, absl::Seconds(5));
}

TEST(WatchHelper, CallbackFormStopsWhenTheCallbackSaysSo) {
  auto mock = std::make_shared<mocks::MockConnection>();
  EXPECT_CALL(*mock, WatchTasks).WillOnce([](const v1::WatchTasksRequest&) {
    return MakeStreamRange<v1::TaskUpdate>(
        {Update(1, "a"), Update(2, "b"), Update(3, "c")});
  });
  Client client(mock);
  std::vector<int64_t> seen;
  absl::Status s = client.WatchTasks(
      v1::WatchTasksRequest(),
      [&](const v1::TaskUpdate& u) {
        seen.push_back(u.task().id());
        return seen.size() < 2;
      },
      FastWatch());
  EXPECT_TRUE(s.ok()) << s;
  EXPECT_THAT(seen, ElementsAre(1, 2));
}

// --- The publish helper --------------------------------------------------------

// A PublishEvents stream that acknowledges what is written, in order, and
// breaks with `fail_with` after `acks_before_failure` acknowledgements.
class FakePublishStream final : public PublishStream {
 public:
  FakePublishStream(int acks_before_failure, absl::Status fail_with,
                    std::vector<std::string>* written)
      : acks_left_(acks_before_failure), fail_with_(std::move(fail_with)), written_(written) {}

  bool Write(const v1::PublishEventsRequest& r) override {
    absl::MutexLock lock(&mu_);
    if (broken_) return false;
    written_->push_back(r.request_id());
    pending_.push_back(r);
    return true;
  }
  bool WritesDone() override {
    absl::MutexLock lock(&mu_);
    writes_done_ = true;
    return true;
  }
  std::optional<v1::PublishEventsResponse> Read() override {
    absl::MutexLock lock(&mu_);
    mu_.Await(absl::Condition(
        +[](FakePublishStream* s) ABSL_EXCLUSIVE_LOCKS_REQUIRED(s->mu_) {
          return !s->pending_.empty() || s->writes_done_ || s->acks_left_ == 0;
        },
        this));
    if (acks_left_ == 0 && !fail_with_.ok()) {
      broken_ = true;
      return std::nullopt;
    }
    if (pending_.empty()) return std::nullopt;  // writes done, all acked
    v1::PublishEventsRequest r = pending_.front();
    pending_.pop_front();
    if (acks_left_ > 0) --acks_left_;
    v1::PublishEventsResponse response;
    response.set_request_id(r.request_id());
    if (r.event().project_id() < 0) {
      response.mutable_error()->set_code(3);
      response.mutable_error()->set_message("invalid event.project_id");
    } else {
      response.mutable_ack()->set_event_id(++event_id_);
      response.mutable_ack()->set_deliveries_created(1);
    }
    return response;
  }
  absl::Status Finish() override {
    absl::MutexLock lock(&mu_);
    return broken_ ? fail_with_ : absl::OkStatus();
  }
  void Cancel() override {}

 private:
  absl::Mutex mu_;
  std::deque<v1::PublishEventsRequest> pending_ ABSL_GUARDED_BY(mu_);
  bool writes_done_ ABSL_GUARDED_BY(mu_) = false;
  bool broken_ ABSL_GUARDED_BY(mu_) = false;
  int acks_left_ ABSL_GUARDED_BY(mu_);
  absl::Status fail_with_;
  std::vector<std::string>* written_;
  int64_t event_id_ = 0;
};

std::vector<v1::PublishEventsRequest> Events(int n, bool with_ids) {
  std::vector<v1::PublishEventsRequest> out;
  for (int i = 1; i <= n; ++i) {
    v1::PublishEventsRequest r;
    r.mutable_event()->set_event_type("PUSH_ARTIFACT");
    r.mutable_event()->set_project_id(1);
    if (with_ids) r.set_request_id(absl::StrCat("e", i));
    out.push_back(r);
  }
  return out;
}

class FastRetryMock : public mocks::MockConnection {
 public:
  ConnectionOptions options() const override {
    ConnectionOptions o;
    o.retry.initial_backoff = absl::Milliseconds(1);
    o.retry.max_backoff = absl::Milliseconds(2);
    return o;
  }
};

TEST(PublishHelper, ResendsUnacknowledgedEventsOnANewStream) {
  auto mock = std::make_shared<FastRetryMock>();
  std::vector<std::string> first, second;
  EXPECT_CALL(*mock, PublishEvents)
      .WillOnce([&] {
        return std::make_unique<FakePublishStream>(2, absl::UnavailableError("restart"), &first);
      })
      .WillOnce([&] {
        return std::make_unique<FakePublishStream>(100, absl::OkStatus(), &second);
      });
  Client client(mock);
  std::vector<std::string> acked;
  std::vector<int64_t> sequences;
  size_t index = 0;
  std::vector<v1::PublishEventsRequest> events = Events(5, /*with_ids=*/true);
  absl::StatusOr<PublishSummary> summary = client.PublishEvents(
      [&]() -> std::optional<v1::PublishEventsRequest> {
        if (index == events.size()) return std::nullopt;
        return events[index++];
      },
      [&](const v1::PublishEventsRequest& req, const v1::PublishEventsResponse& resp) {
        EXPECT_EQ(req.request_id(), resp.request_id());
        acked.push_back(req.request_id());
        sequences.push_back(resp.sequence());
      });
  ASSERT_TRUE(summary.ok()) << summary.status();
  EXPECT_THAT(acked, ElementsAre("e1", "e2", "e3", "e4", "e5"));
  EXPECT_THAT(sequences, ElementsAre(1, 2, 3, 4, 5));
  EXPECT_EQ(summary->acknowledged, 5);
  EXPECT_EQ(summary->sent, 5);
  EXPECT_EQ(summary->reconnects, 1);
  EXPECT_EQ(summary->deliveries_created, 5);
  // The second stream starts with what the first did not acknowledge.
  ASSERT_GE(second.size(), 1u);
  EXPECT_EQ(second.front(), "e3");
  EXPECT_EQ(second.back(), "e5");
}

TEST(PublishHelper, DoesNotResendEventsWithoutRequestIds) {
  auto mock = std::make_shared<FastRetryMock>();
  std::vector<std::string> written;
  EXPECT_CALL(*mock, PublishEvents).WillOnce([&] {
    return std::make_unique<FakePublishStream>(1, absl::UnavailableError("restart"), &written);
  });
  Client client(mock);
  absl::StatusOr<std::vector<v1::PublishEventsResponse>> acks =
      client.PublishEvents(Events(3, /*with_ids=*/false));
  ASSERT_FALSE(acks.ok());
  EXPECT_EQ(acks.status().code(), absl::StatusCode::kUnavailable);
  EXPECT_THAT(acks.status().message(), HasSubstr("no request_id"));
}

TEST(PublishHelper, AssignedRequestIdsMakeEveryStreamResumable) {
  auto mock = std::make_shared<FastRetryMock>();
  std::vector<std::string> first, second;
  EXPECT_CALL(*mock, PublishEvents)
      .WillOnce([&] {
        return std::make_unique<FakePublishStream>(1, absl::UnavailableError("restart"), &first);
      })
      .WillOnce([&] {
        return std::make_unique<FakePublishStream>(100, absl::OkStatus(), &second);
      });
  Client client(mock);
  PublishOptions options;
  options.assign_request_ids = true;
  absl::StatusOr<std::vector<v1::PublishEventsResponse>> acks =
      client.PublishEvents(Events(4, /*with_ids=*/false), options);
  ASSERT_TRUE(acks.ok()) << acks.status();
  ASSERT_EQ(acks->size(), 4u);
  std::set<std::string> ids;
  for (const auto& a : *acks) ids.insert(a.request_id());
  EXPECT_EQ(ids.size(), 4u);  // distinct, generated ids
  EXPECT_FALSE(acks->front().request_id().empty());
}

TEST(PublishHelper, RefusedEventsAreReportedAndTheStreamGoesOn) {
  auto mock = std::make_shared<FastRetryMock>();
  std::vector<std::string> written;
  EXPECT_CALL(*mock, PublishEvents).WillOnce([&] {
    return std::make_unique<FakePublishStream>(100, absl::OkStatus(), &written);
  });
  Client client(mock);
  std::vector<v1::PublishEventsRequest> events = Events(3, true);
  events[1].mutable_event()->set_project_id(-1);
  std::vector<v1::PublishEventsResponse> acks;
  size_t i = 0;
  absl::StatusOr<PublishSummary> summary = client.PublishEvents(
      [&]() -> std::optional<v1::PublishEventsRequest> {
        if (i == events.size()) return std::nullopt;
        return events[i++];
      },
      [&](const auto&, const v1::PublishEventsResponse& r) { acks.push_back(r); });
  ASSERT_TRUE(summary.ok());
  EXPECT_EQ(summary->acknowledged, 2);
  EXPECT_EQ(summary->refused, 1);
  ASSERT_EQ(acks.size(), 3u);
  EXPECT_TRUE(acks[1].has_error());
  EXPECT_EQ(FromRpcStatus(acks[1].error()).code(), absl::StatusCode::kInvalidArgument);
}

TEST(PublishHelper, StopsAfterTheRetryBudget) {
  auto mock = std::make_shared<FastRetryMock>();
  std::vector<std::string> written;
  EXPECT_CALL(*mock, PublishEvents).Times(5).WillRepeatedly([&] {
    return std::make_unique<FakePublishStream>(0, absl::UnavailableError("down"), &written);
  });
  Client client(mock);
  absl::StatusOr<std::vector<v1::PublishEventsResponse>> acks =
      client.PublishEvents(Events(2, true));
  EXPECT_EQ(acks.status().code(), absl::StatusCode::kUnavailable);
}

// --- GrpcConnection over the generated gMock stubs -----------------------------

struct StubSet {
  v1::MockPolicyServiceStub* policy;
  v1::MockEventServiceStub* event;
  v1::MockDeliveryServiceStub* delivery;
  v1::MockAdminServiceStub* admin;
  std::shared_ptr<Connection> connection;
};

StubSet MakeMockedConnection(ConnectionOptions options) {
  auto policy = std::make_unique<::testing::StrictMock<v1::MockPolicyServiceStub>>();
  auto event = std::make_unique<::testing::StrictMock<v1::MockEventServiceStub>>();
  auto delivery = std::make_unique<::testing::StrictMock<v1::MockDeliveryServiceStub>>();
  auto admin = std::make_unique<::testing::StrictMock<v1::MockAdminServiceStub>>();
  StubSet set{policy.get(), event.get(), delivery.get(), admin.get(), nullptr};
  internal::Stubs stubs;
  stubs.policy = std::move(policy);
  stubs.event = std::move(event);
  stubs.delivery = std::move(delivery);
  stubs.admin = std::move(admin);
  stubs.health = std::make_unique<grpc::health::v1::MockHealthStub>();
  set.connection = internal::MakeGrpcConnection(std::move(options), std::move(stubs));
  return set;
}

ConnectionOptions FastRetries(std::atomic<int>* retries = nullptr) {
  ConnectionOptions o;
  o.retry.initial_backoff = absl::Milliseconds(1);
  o.retry.max_backoff = absl::Milliseconds(4);
  o.default_deadline = absl::Seconds(7);
  if (retries != nullptr) {
    o.on_retry = [retries](const RetryAttempt& a) {
      EXPECT_EQ(a.error.code(), absl::StatusCode::kUnavailable);
      ++*retries;
    };
  }
  return o;
}

const grpc::Status kUnavailable(grpc::StatusCode::UNAVAILABLE, "connection refused");

TEST(GrpcConnection, RetriesReadsOnUnavailableWithAPerAttemptDeadline) {
  std::atomic<int> retries{0};
  StubSet s = MakeMockedConnection(FastRetries(&retries));
  int calls = 0;
  EXPECT_CALL(*s.policy, GetPolicy)
      .Times(3)
      .WillRepeatedly([&](grpc::ClientContext* ctx, const v1::GetPolicyRequest& r,
                          v1::GetPolicyResponse* out) {
        const auto remaining = ctx->deadline() - std::chrono::system_clock::now();
        EXPECT_GT(remaining, std::chrono::seconds(6));
        EXPECT_LE(remaining, std::chrono::seconds(7));
        if (++calls < 3) return kUnavailable;
        out->mutable_policy()->set_id(r.id());
        return grpc::Status::OK;
      });
  Client client(s.connection);
  absl::StatusOr<v1::Policy> p = client.GetPolicy(4);
  ASSERT_TRUE(p.ok()) << p.status();
  EXPECT_EQ(p->id(), 4);
  EXPECT_EQ(retries.load(), 2);
}

TEST(GrpcConnection, GivesUpAfterMaxAttempts) {
  ConnectionOptions options = FastRetries();
  options.retry.max_attempts = 4;
  StubSet s = MakeMockedConnection(options);
  EXPECT_CALL(*s.admin, GetSettings).Times(4).WillRepeatedly(Return(kUnavailable));
  Client client(s.connection);
  EXPECT_EQ(client.GetSettings().status().code(), absl::StatusCode::kUnavailable);
}

TEST(GrpcConnection, NonIdempotentCallsAreTriedOnce) {
  StubSet s = MakeMockedConnection(FastRetries());
  EXPECT_CALL(*s.policy, UpdatePolicy).WillOnce(Return(kUnavailable));
  EXPECT_CALL(*s.policy, CreatePolicy).WillOnce(Return(kUnavailable));
  EXPECT_CALL(*s.event, PublishEvent).WillOnce(Return(kUnavailable));
  EXPECT_CALL(*s.delivery, RedeliverTask).WillOnce(Return(kUnavailable));
  EXPECT_CALL(*s.admin, CreateToken).WillOnce(Return(kUnavailable));
  Client client(s.connection);
  EXPECT_FALSE(client.UpdatePolicy(PolicyNamed(1, "x")).ok());
  EXPECT_FALSE(client.CreatePolicy(PolicyNamed(0, "x")).ok());  // no request_id
  EXPECT_FALSE(client.PublishEvent(v1::Event()).ok());          // no request_id
  EXPECT_FALSE(client.RedeliverTask(3).ok());
  EXPECT_FALSE(client.CreateToken(v1::Token()).ok());
}

TEST(GrpcConnection, CallsWithARequestIdAreRetried) {
  StubSet s = MakeMockedConnection(FastRetries());
  EXPECT_CALL(*s.policy, CreatePolicy)
      .WillOnce(Return(kUnavailable))
      .WillOnce([](grpc::ClientContext*, const v1::CreatePolicyRequest& r,
                   v1::CreatePolicyResponse* out) {
        EXPECT_EQ(r.request_id(), "create-1");
        out->mutable_policy()->set_id(11);
        return grpc::Status::OK;
      });
  EXPECT_CALL(*s.event, PublishEvent)
      .WillOnce(Return(kUnavailable))
      .WillOnce(Return(kUnavailable))
      .WillOnce([](grpc::ClientContext*, const v1::PublishEventRequest&,
                   v1::PublishEventResponse* out) {
        out->mutable_ack()->set_event_id(99);
        return grpc::Status::OK;
      });
  Client client(s.connection);
  EXPECT_EQ(client.CreatePolicy(PolicyNamed(0, "x"), "create-1")->id(), 11);
  EXPECT_EQ(client.PublishEvent(v1::Event(), "pub-1")->event_id(), 99);
}

TEST(GrpcConnection, OtherErrorsAreNotRetriedAndKeepTheirDetails) {
  StubSet s = MakeMockedConnection(FastRetries());
  google::rpc::Status rpc;
  rpc.set_code(grpc::StatusCode::INVALID_ARGUMENT);
  rpc.set_message("invalid page_size");
  google::rpc::ErrorInfo info;
  info.set_reason("INVALID_FIELD");
  info.set_domain("herald.dev");
  rpc.add_details()->PackFrom(info);
  google::rpc::BadRequest bad;
  auto* v = bad.add_field_violations();
  v->set_field("page_size");
  v->set_description("must not be negative");
  rpc.add_details()->PackFrom(bad);
  EXPECT_CALL(*s.policy, ListPolicies)
      .WillOnce(Return(grpc::Status(grpc::StatusCode::INVALID_ARGUMENT, "invalid page_size",
                                    rpc.SerializeAsString())));
  Client client(s.connection);
  v1::ListPoliciesRequest request;
  request.set_page_size(-1);
  auto range = client.ListPolicies(request);
  auto it = range.begin();
  ASSERT_NE(it, range.end());
  const absl::Status status = it->status();
  EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(status.message(), "invalid page_size");
  EXPECT_EQ(ErrorReason(status), "INVALID_FIELD");
  EXPECT_THAT(FieldViolations(status),
              ElementsAre(FieldViolation{"page_size", "must not be negative"}));
  ++it;
  EXPECT_EQ(it, range.end());
}

TEST(GrpcConnection, PaginationPassesTheNextPageToken) {
  StubSet s = MakeMockedConnection(FastRetries());
  std::vector<std::string> tokens;
  EXPECT_CALL(*s.admin, ListTokens)
      .Times(3)
      .WillRepeatedly([&](grpc::ClientContext*, const v1::ListTokensRequest& r,
                          v1::ListTokensResponse* out) {
        EXPECT_TRUE(r.show_revoked());
        tokens.push_back(r.page_token());
        const int page = static_cast<int>(tokens.size());
        out->add_tokens()->set_id(page);
        if (page < 3) out->set_next_page_token(absl::StrCat("t", page));
        return grpc::Status::OK;
      });
  Client client(s.connection);
  v1::ListTokensRequest request;
  request.set_show_revoked(true);
  std::vector<int64_t> ids;
  for (auto& t : client.ListTokens(request)) ids.push_back(t->id());
  EXPECT_THAT(ids, ElementsAre(1, 2, 3));
  EXPECT_THAT(tokens, ElementsAre("", "t1", "t2"));
}

}  // namespace
}  // namespace herald
