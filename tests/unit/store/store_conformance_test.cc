// The Store conformance suite: every implementation listed in
// StoreFactories() must pass every test here. It reads as the specification
// of store.h: each method, each error code, idempotency, atomicity, group
// commit and persistence across reopen.
#include <algorithm>
#include <atomic>
#include <memory>
#include <set>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/synchronization/notification.h"
#include "absl/time/time.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "server/core/clock.h"
#include "server/store/store.h"
#include "tests/unit/store/store_test_env.h"

namespace herald::store::testing {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::IsEmpty;
using ::testing::Not;

constexpr absl::StatusCode kNotFound = absl::StatusCode::kNotFound;
constexpr absl::StatusCode kAlreadyExists = absl::StatusCode::kAlreadyExists;
constexpr absl::StatusCode kInvalidArgument =
    absl::StatusCode::kInvalidArgument;

const absl::Time kStart = absl::FromUnixSeconds(1'700'000'000);

core::Target HttpTarget(const std::string& address) {
  core::Target t;
  t.type = core::TargetType::kHttp;
  t.address = address;
  t.auth_header = "Bearer s3cr3t-auth";
  t.skip_cert_verify = true;
  t.payload_format = core::PayloadFormat::kCloudEvents;
  t.signing_secret = "whsec_c2lnbmluZw==";
  t.previous_signing_secret = "whsec_b2xk";
  t.previous_secret_expire_time = kStart + absl::Hours(1);
  t.headers = {{"X-One", "1"}, {"X-Two", "two"}};
  t.follow_redirects = true;
  t.ca_bundle_pem = "-----BEGIN CERTIFICATE-----\n...\n";
  return t;
}

core::Policy MakePolicy(int64_t project_id, const std::string& name,
                        std::vector<std::string> event_types = {
                            "PUSH_ARTIFACT"}) {
  core::Policy p;
  p.project_id = project_id;
  p.name = name;
  p.description = "description of " + name;
  p.targets = {HttpTarget("https://example.com/hook")};
  core::Target slack;
  slack.type = core::TargetType::kSlack;
  slack.address = "https://hooks.slack.com/services/x";
  p.targets.push_back(slack);
  p.event_types = std::move(event_types);
  p.filters.repository_patterns = {"library/**"};
  p.filters.tag_patterns = {"v*", "latest"};
  p.filters.scan_statuses = {"Success"};
  p.filters.replication_statuses = {"Error"};
  p.retry_policy.max_attempts = 5;
  p.retry_policy.backoff = core::BackoffKind::kExponential;
  p.retry_policy.initial_backoff = absl::Seconds(2);
  p.retry_policy.max_backoff = absl::Minutes(10);
  p.retry_policy.http_timeout = absl::Milliseconds(1500);
  p.enabled = true;
  p.creator = "alice";
  return p;
}

NewDelivery MakeDelivery(int64_t policy_id, int target_index = 0) {
  NewDelivery d;
  d.policy_id = policy_id;
  d.target_index = target_index;
  d.target = HttpTarget("https://example.com/hook");
  d.vendor_type = core::VendorType::kWebhook;
  d.payload = std::string("{\"type\":\"PUSH_ARTIFACT\"}\0\x01binary", 31);
  d.content_type = "application/json";
  d.webhook_id = "msg_" + std::to_string(policy_id) + "_" +
                 std::to_string(target_index);
  d.max_attempts = 3;
  d.due_time = kStart + absl::Seconds(1);
  return d;
}

NewEvent MakeEvent(int64_t project_id, const std::string& type,
                   const std::vector<int64_t>& policy_ids,
                   const std::string& request_id = "",
                   const std::string& scope = "token-1") {
  NewEvent e;
  e.event.project_id = project_id;
  e.event.event_type = type;
  e.event.operator_name = "bob";
  e.event.occur_time = kStart - absl::Seconds(5);
  e.event.data = std::string("{\"event\":1}\0tail", 16);
  e.event.request_id = request_id;
  for (int64_t id : policy_ids) e.deliveries.push_back(MakeDelivery(id));
  e.request_id = request_id;
  e.idempotency_scope = scope;
  return e;
}

std::vector<int64_t> Ids(const PolicyList& list) {
  std::vector<int64_t> ids;
  for (const core::Policy& p : list.policies) ids.push_back(p.id);
  return ids;
}

std::vector<int64_t> Ids(const ExecutionList& list) {
  std::vector<int64_t> ids;
  for (const core::Execution& e : list.executions) ids.push_back(e.id);
  return ids;
}

class StoreConformanceTest : public ::testing::TestWithParam<StoreFactory> {
 protected:
  void SetUp() override {
    clock_ = std::make_shared<core::FakeClock>(kStart);
    backend_ = GetParam().make();
    if (IsSkipped()) return;  // the backend is not available here (it said why)
    Reopen();
  }

  void TearDown() override { handle_ = StoreHandle{}; }

  // Closes the store and opens a new one on the same data.
  void Reopen() {
    handle_ = StoreHandle{};
    absl::StatusOr<StoreHandle> handle = backend_->Open(clock_);
    ASSERT_TRUE(handle.ok()) << handle.status();
    handle_ = *std::move(handle);
  }

  Store& store() { return *handle_.store; }

  core::Policy Create(const core::Policy& p) {
    absl::StatusOr<core::Policy> created = store().CreatePolicy(p, "", "");
    EXPECT_TRUE(created.ok()) << created.status();
    return created.ok() ? *created : core::Policy{};
  }

  CommittedEvent CommitOne(NewEvent event) {
    std::vector<NewEvent> events;
    events.push_back(std::move(event));
    absl::StatusOr<std::vector<CommittedEvent>> r =
        store().CommitEvents(std::move(events));
    EXPECT_TRUE(r.ok()) << r.status();
    if (!r.ok() || r->size() != 1) return CommittedEvent{};
    EXPECT_TRUE((*r)[0].status.ok()) << (*r)[0].status;
    return (*r)[0];
  }

  ExecutionList Executions(int64_t policy_id, int limit = 100) {
    ExecutionQuery q;
    q.policy_id = policy_id;
    q.page.limit = limit;
    absl::StatusOr<ExecutionList> list = store().ListExecutions(q);
    EXPECT_TRUE(list.ok()) << list.status();
    return list.ok() ? *list : ExecutionList{};
  }

  std::shared_ptr<core::FakeClock> clock_;
  std::unique_ptr<StoreBackend> backend_;
  StoreHandle handle_;
};

// ---------------------------------------------------------------- Policies

TEST_P(StoreConformanceTest, CreatePolicyAssignsIdAndTimesAndRoundTrips) {
  core::Policy in = MakePolicy(7, "hook");
  in.id = 999;  // ignored
  core::Policy created = Create(in);
  EXPECT_GT(created.id, 0);
  EXPECT_EQ(created.create_time, kStart);
  EXPECT_EQ(created.update_time, kStart);

  core::Policy expected = in;
  expected.id = created.id;
  expected.create_time = expected.update_time = kStart;
  EXPECT_EQ(created, expected);

  absl::StatusOr<core::Policy> got = store().GetPolicy(created.id);
  ASSERT_TRUE(got.ok()) << got.status();
  EXPECT_EQ(*got, expected);
}

TEST_P(StoreConformanceTest, PolicyIdsIncreaseWithCreationOrder) {
  int64_t last = 0;
  for (int i = 0; i < 5; ++i) {
    core::Policy p = Create(MakePolicy(1, "p" + std::to_string(i)));
    EXPECT_GT(p.id, last);
    last = p.id;
  }
  // Not reused after the newest is deleted.
  ASSERT_TRUE(store().DeletePolicy(last).ok());
  EXPECT_GT(Create(MakePolicy(1, "after-delete")).id, last);
}

TEST_P(StoreConformanceTest, CreatePolicyNameIsUniquePerProject) {
  Create(MakePolicy(1, "dup"));
  absl::StatusOr<core::Policy> again =
      store().CreatePolicy(MakePolicy(1, "dup"), "", "");
  EXPECT_EQ(again.status().code(), kAlreadyExists);
  EXPECT_THAT(std::string(again.status().message()), HasSubstr("dup"));
  // Never a secret in an error message.
  EXPECT_THAT(std::string(again.status().message()),
              Not(HasSubstr("s3cr3t")));
  EXPECT_THAT(std::string(again.status().message()),
              Not(HasSubstr("whsec_")));

  // The same name is free in another project and among system policies.
  Create(MakePolicy(2, "dup"));
  Create(MakePolicy(0, "dup"));
  // Names are case-sensitive.
  Create(MakePolicy(1, "DUP"));
}

TEST_P(StoreConformanceTest, CreatePolicyValidatesArguments) {
  EXPECT_EQ(store().CreatePolicy(MakePolicy(1, ""), "", "").status().code(),
            kInvalidArgument);
  EXPECT_EQ(store().CreatePolicy(MakePolicy(-1, "x"), "", "").status().code(),
            kInvalidArgument);
}

TEST_P(StoreConformanceTest, CreatePolicyIsIdempotentPerScopeAndRequestId) {
  absl::StatusOr<core::Policy> first =
      store().CreatePolicy(MakePolicy(1, "a"), "token-1", "req-1");
  ASSERT_TRUE(first.ok()) << first.status();

  // A retry returns the original, even though the name is now taken.
  clock_->Advance(absl::Hours(23));
  absl::StatusOr<core::Policy> retry =
      store().CreatePolicy(MakePolicy(1, "a"), "token-1", "req-1");
  ASSERT_TRUE(retry.ok()) << retry.status();
  EXPECT_EQ(*retry, *first);
  // ... whatever the retry carries.
  retry = store().CreatePolicy(MakePolicy(1, "other"), "token-1", "req-1");
  ASSERT_TRUE(retry.ok()) << retry.status();
  EXPECT_EQ(retry->id, first->id);

  // Another scope with the same request id is a different request.
  absl::StatusOr<core::Policy> other_scope =
      store().CreatePolicy(MakePolicy(1, "b"), "token-2", "req-1");
  ASSERT_TRUE(other_scope.ok()) << other_scope.status();
  EXPECT_NE(other_scope->id, first->id);

  PolicyQuery all;
  EXPECT_EQ(store().ListPolicies(all)->total_size, 2);

  // Keys survive a restart.
  Reopen();
  retry = store().CreatePolicy(MakePolicy(1, "a"), "token-1", "req-1");
  ASSERT_TRUE(retry.ok()) << retry.status();
  EXPECT_EQ(retry->id, first->id);

  // After 24 h the key is forgotten: the request creates again.
  clock_->Advance(absl::Hours(1) + absl::Seconds(1));
  absl::StatusOr<core::Policy> late =
      store().CreatePolicy(MakePolicy(1, "c"), "token-1", "req-1");
  ASSERT_TRUE(late.ok()) << late.status();
  EXPECT_NE(late->id, first->id);
  // ... and the new creation is the one remembered now.
  retry = store().CreatePolicy(MakePolicy(1, "d"), "token-1", "req-1");
  ASSERT_TRUE(retry.ok()) << retry.status();
  EXPECT_EQ(retry->id, late->id);
}

TEST_P(StoreConformanceTest, IdempotencyKeyOfDeletedPolicyIsForgotten) {
  absl::StatusOr<core::Policy> first =
      store().CreatePolicy(MakePolicy(1, "a"), "s", "r");
  ASSERT_TRUE(first.ok());
  ASSERT_TRUE(store().DeletePolicy(first->id).ok());
  absl::StatusOr<core::Policy> again =
      store().CreatePolicy(MakePolicy(1, "a"), "s", "r");
  ASSERT_TRUE(again.ok()) << again.status();
  EXPECT_NE(again->id, first->id);
}

TEST_P(StoreConformanceTest, FailedCreateLeavesNoIdempotencyKey) {
  Create(MakePolicy(1, "taken"));
  EXPECT_EQ(
      store().CreatePolicy(MakePolicy(1, "taken"), "s", "r").status().code(),
      kAlreadyExists);
  absl::StatusOr<core::Policy> fixed =
      store().CreatePolicy(MakePolicy(1, "free"), "s", "r");
  ASSERT_TRUE(fixed.ok()) << fixed.status();
  EXPECT_EQ(fixed->name, "free");
}

TEST_P(StoreConformanceTest, GetPolicyNotFound) {
  EXPECT_EQ(store().GetPolicy(12345).status().code(), kNotFound);
  EXPECT_EQ(store().GetPolicy(0).status().code(), kNotFound);
  EXPECT_EQ(store().GetPolicy(-1).status().code(), kNotFound);
}

TEST_P(StoreConformanceTest, UpdatePolicyReplacesEverythingButIdentity) {
  core::Policy created = Create(MakePolicy(3, "orig", {"PUSH_ARTIFACT"}));
  clock_->Advance(absl::Minutes(5));

  core::Policy change;
  change.id = created.id;
  change.project_id = 99;       // ignored
  change.creator = "mallory";   // ignored
  change.create_time = kStart + absl::Hours(100);  // ignored
  change.name = "renamed";
  change.description = "new";
  change.targets = {HttpTarget("https://other.example/h")};
  change.targets[0].headers.clear();
  change.event_types = {"DELETE_ARTIFACT", "SCANNING_FAILED"};
  change.filters = {};
  change.retry_policy = {};
  change.enabled = false;

  absl::StatusOr<core::Policy> updated = store().UpdatePolicy(change);
  ASSERT_TRUE(updated.ok()) << updated.status();
  core::Policy expected = change;
  expected.project_id = 3;
  expected.creator = "alice";
  expected.create_time = kStart;
  expected.update_time = kStart + absl::Minutes(5);
  EXPECT_EQ(*updated, expected);
  EXPECT_EQ(*store().GetPolicy(created.id), expected);

  // The event-type filter follows the update.
  PolicyQuery q;
  q.event_type = "PUSH_ARTIFACT";
  EXPECT_EQ(store().ListPolicies(q)->total_size, 0);
  q.event_type = "SCANNING_FAILED";
  EXPECT_THAT(Ids(*store().ListPolicies(q)), ElementsAre(created.id));
}

TEST_P(StoreConformanceTest, UpdatePolicyErrors) {
  core::Policy a = Create(MakePolicy(1, "a"));
  core::Policy b = Create(MakePolicy(1, "b"));
  Create(MakePolicy(2, "c"));

  core::Policy missing = MakePolicy(1, "zzz");
  missing.id = b.id + 1000;
  EXPECT_EQ(store().UpdatePolicy(missing).status().code(), kNotFound);
  missing.id = 0;
  EXPECT_EQ(store().UpdatePolicy(missing).status().code(), kNotFound);

  core::Policy rename = b;
  rename.name = "a";
  absl::Status s = store().UpdatePolicy(rename).status();
  EXPECT_EQ(s.code(), kAlreadyExists);
  EXPECT_THAT(std::string(s.message()), HasSubstr("\"a\""));
  EXPECT_THAT(std::string(s.message()), Not(HasSubstr("s3cr3t")));

  // "c" lives in project 2: free for a policy of project 1.
  rename.name = "c";
  EXPECT_TRUE(store().UpdatePolicy(rename).ok());

  core::Policy empty_name = a;
  empty_name.name = "";
  EXPECT_EQ(store().UpdatePolicy(empty_name).status().code(),
            kInvalidArgument);
  // A failed update changed nothing.
  EXPECT_EQ(store().GetPolicy(a.id)->name, "a");
}

TEST_P(StoreConformanceTest, DeletePolicy) {
  core::Policy p = Create(MakePolicy(1, "p"));
  ASSERT_TRUE(store().DeletePolicy(p.id).ok());
  EXPECT_EQ(store().GetPolicy(p.id).status().code(), kNotFound);
  EXPECT_EQ(store().DeletePolicy(p.id).code(), kNotFound);
  EXPECT_EQ(store().DeletePolicy(0).code(), kNotFound);
  // The name is free again.
  Create(MakePolicy(1, "p"));
}

TEST_P(StoreConformanceTest, ListPoliciesNewestFirstWithPagination) {
  std::vector<int64_t> ids;
  for (int i = 0; i < 7; ++i) {
    ids.push_back(Create(MakePolicy(1, "p" + std::to_string(i))).id);
    clock_->Advance(absl::Seconds(1));
  }
  std::reverse(ids.begin(), ids.end());

  PolicyQuery q;
  q.page.limit = 3;
  absl::StatusOr<PolicyList> page = store().ListPolicies(q);
  ASSERT_TRUE(page.ok()) << page.status();
  EXPECT_EQ(page->total_size, 7);
  EXPECT_THAT(Ids(*page), ElementsAre(ids[0], ids[1], ids[2]));

  q.page.offset = 3;
  EXPECT_THAT(Ids(*store().ListPolicies(q)),
              ElementsAre(ids[3], ids[4], ids[5]));
  q.page.offset = 6;
  page = store().ListPolicies(q);
  EXPECT_THAT(Ids(*page), ElementsAre(ids[6]));
  EXPECT_EQ(page->total_size, 7);
  q.page.offset = 50;
  page = store().ListPolicies(q);
  EXPECT_THAT(Ids(*page), IsEmpty());
  EXPECT_EQ(page->total_size, 7);

  // Full policies are returned.
  q.page = {0, 1};
  EXPECT_EQ(store().ListPolicies(q)->policies[0],
            *store().GetPolicy(ids[0]));
}

TEST_P(StoreConformanceTest, ListPoliciesTiesOnCreateTimeGoByIdDescending) {
  int64_t a = Create(MakePolicy(1, "a")).id;
  int64_t b = Create(MakePolicy(1, "b")).id;  // same fake time
  EXPECT_THAT(Ids(*store().ListPolicies({})), ElementsAre(b, a));
}

TEST_P(StoreConformanceTest, ListPoliciesFilters) {
  auto make = [&](int64_t project, const std::string& name, bool enabled,
                  std::vector<std::string> types) {
    core::Policy p = MakePolicy(project, name, std::move(types));
    p.enabled = enabled;
    core::Policy created = Create(p);
    clock_->Advance(absl::Seconds(1));
    return created.id;
  };
  int64_t sys = make(0, "system-wide", true, {"PUSH_ARTIFACT"});
  int64_t p1 = make(1, "Deploy-hook", true, {"PUSH_ARTIFACT", "PULL_ARTIFACT"});
  int64_t p1b = make(1, "audit", false, {"DELETE_ARTIFACT"});
  int64_t p2 = make(2, "deploy", true, {"SCANNING_COMPLETED"});
  int64_t p3 = make(3, "x-deploy-y", false, {"PUSH_ARTIFACT"});

  auto list = [&](PolicyQuery q) {
    q.page.limit = 100;
    absl::StatusOr<PolicyList> r = store().ListPolicies(q);
    EXPECT_TRUE(r.ok()) << r.status();
    EXPECT_EQ(r->total_size, static_cast<int64_t>(r->policies.size()));
    return Ids(*r);
  };

  EXPECT_THAT(list({}), ElementsAre(p3, p2, p1b, p1, sys));

  PolicyQuery q;
  q.project_ids = {1};
  EXPECT_THAT(list(q), ElementsAre(p1b, p1));
  q.project_ids = {0, 2};
  EXPECT_THAT(list(q), ElementsAre(p2, sys));
  q.project_ids = {42};
  EXPECT_THAT(list(q), IsEmpty());

  q = {};
  q.name_contains = "deploy";  // case-sensitive substring
  EXPECT_THAT(list(q), ElementsAre(p3, p2));
  q.name_contains = "Deploy";
  EXPECT_THAT(list(q), ElementsAre(p1));
  q.name_contains = "%";  // no pattern syntax
  EXPECT_THAT(list(q), IsEmpty());

  q = {};
  q.enabled = true;
  EXPECT_THAT(list(q), ElementsAre(p2, p1, sys));
  q.enabled = false;
  EXPECT_THAT(list(q), ElementsAre(p3, p1b));

  q = {};
  q.event_type = "PUSH_ARTIFACT";
  EXPECT_THAT(list(q), ElementsAre(p3, p1, sys));
  q.event_type = "PULL_ARTIFACT";
  EXPECT_THAT(list(q), ElementsAre(p1));
  q.event_type = "PUSH";  // exact match, not substring
  EXPECT_THAT(list(q), IsEmpty());

  // Everything at once: how the publisher finds matching policies.
  q = {};
  q.project_ids = {1, 0};
  q.enabled = true;
  q.event_type = "PUSH_ARTIFACT";
  EXPECT_THAT(list(q), ElementsAre(p1, sys));
  q.name_contains = "Deploy";
  EXPECT_THAT(list(q), ElementsAre(p1));

  // total_size counts matches beyond the page.
  q = {};
  q.enabled = true;
  q.page.limit = 1;
  absl::StatusOr<PolicyList> page = store().ListPolicies(q);
  EXPECT_EQ(page->policies.size(), 1u);
  EXPECT_EQ(page->total_size, 3);
}

TEST_P(StoreConformanceTest, DuplicateEventTypesInAPolicyMatchOnce) {
  int64_t id = Create(MakePolicy(1, "p", {"PUSH_ARTIFACT", "PUSH_ARTIFACT"})).id;
  PolicyQuery q;
  q.event_type = "PUSH_ARTIFACT";
  EXPECT_THAT(Ids(*store().ListPolicies(q)), ElementsAre(id));
  // Stored as given.
  EXPECT_EQ(store().GetPolicy(id)->event_types.size(), 2u);
}

TEST_P(StoreConformanceTest, ListPoliciesRejectsBadPages) {
  PolicyQuery q;
  q.page.limit = 0;
  EXPECT_EQ(store().ListPolicies(q).status().code(), kInvalidArgument);
  q.page.limit = 10;
  q.page.offset = -1;
  EXPECT_EQ(store().ListPolicies(q).status().code(), kInvalidArgument);
}

// ------------------------------------------------------------------ Tokens

core::TokenRecord MakeToken(const std::string& name, const std::string& hash) {
  core::TokenRecord t;
  t.name = name;
  t.role = core::Role::kPublisher;
  t.project_ids = {3, 1, 2};
  t.secret_hash = hash;
  t.creator = "admin";
  t.expire_time = kStart + absl::Hours(24 * 30);
  return t;
}

TEST_P(StoreConformanceTest, CreateAndFindToken) {
  absl::StatusOr<core::TokenRecord> created =
      store().CreateToken(MakeToken("ci", "aa11"));
  ASSERT_TRUE(created.ok()) << created.status();
  EXPECT_GT(created->id, 0);
  EXPECT_EQ(created->create_time, kStart);
  core::TokenRecord expected = MakeToken("ci", "aa11");
  expected.id = created->id;
  expected.create_time = kStart;
  EXPECT_EQ(*created, expected);

  absl::StatusOr<core::TokenRecord> found = store().FindTokenByHash("aa11");
  ASSERT_TRUE(found.ok()) << found.status();
  EXPECT_EQ(*found, expected);
  EXPECT_EQ(store().FindTokenByHash("bb22").status().code(), kNotFound);

  // A token that never expires round-trips too.
  core::TokenRecord forever = MakeToken("forever", "cc33");
  forever.expire_time = absl::InfiniteFuture();
  forever.project_ids = {};
  forever.role = core::Role::kSystemAdmin;
  ASSERT_TRUE(store().CreateToken(forever).ok());
  EXPECT_EQ(store().FindTokenByHash("cc33")->expire_time,
            absl::InfiniteFuture());
  EXPECT_EQ(store().FindTokenByHash("cc33")->role, core::Role::kSystemAdmin);
}

TEST_P(StoreConformanceTest, TokenHashIsUnique) {
  ASSERT_TRUE(store().CreateToken(MakeToken("a", "deadbeef")).ok());
  absl::Status s = store().CreateToken(MakeToken("b", "deadbeef")).status();
  EXPECT_EQ(s.code(), kAlreadyExists);
  EXPECT_THAT(std::string(s.message()), Not(HasSubstr("deadbeef")));
  EXPECT_EQ(store().CreateToken(MakeToken("c", "")).status().code(),
            kInvalidArgument);
}

TEST_P(StoreConformanceTest, ListAndRevokeTokens) {
  EXPECT_THAT(*store().ListTokens(), IsEmpty());
  int64_t a = store().CreateToken(MakeToken("a", "h1"))->id;
  int64_t b = store().CreateToken(MakeToken("b", "h2"))->id;
  EXPECT_GT(b, a);

  ASSERT_TRUE(store().RevokeToken(a).ok());
  EXPECT_TRUE(store().RevokeToken(a).ok());  // idempotent
  EXPECT_EQ(store().RevokeToken(b + 100).code(), kNotFound);
  EXPECT_EQ(store().RevokeToken(0).code(), kNotFound);

  // Revoked tokens are still found; the caller decides.
  EXPECT_TRUE(store().FindTokenByHash("h1")->revoked);
  EXPECT_FALSE(store().FindTokenByHash("h2")->revoked);

  absl::StatusOr<std::vector<core::TokenRecord>> tokens = store().ListTokens();
  ASSERT_TRUE(tokens.ok());
  ASSERT_EQ(tokens->size(), 2u);
  EXPECT_EQ((*tokens)[0].id, a);
  EXPECT_TRUE((*tokens)[0].revoked);
  EXPECT_EQ((*tokens)[1].id, b);

  Reopen();
  EXPECT_TRUE(store().FindTokenByHash("h1")->revoked);
  EXPECT_EQ(store().ListTokens()->size(), 2u);
}

// ---------------------------------------------------------------- Settings

TEST_P(StoreConformanceTest, SettingsDefaultUntilPut) {
  absl::StatusOr<core::Settings> s = store().GetSettings();
  ASSERT_TRUE(s.ok()) << s.status();
  EXPECT_EQ(*s, core::Settings{});
}

TEST_P(StoreConformanceTest, PutSettingsPersistsAcrossReopen) {
  core::Settings s;
  s.notification_enable = false;
  s.webhook_job_max_retry = 10;
  s.webhook_job_http_client_timeout = absl::Milliseconds(2500);
  s.execution_retention_count = 7;
  ASSERT_TRUE(store().PutSettings(s).ok());
  EXPECT_EQ(*store().GetSettings(), s);
  Reopen();
  EXPECT_EQ(*store().GetSettings(), s);

  s.notification_enable = true;
  ASSERT_TRUE(store().PutSettings(s).ok());
  EXPECT_EQ(*store().GetSettings(), s);
}

TEST_P(StoreConformanceTest, PutSettingsValidatesRanges) {
  core::Settings ok;
  auto expect_invalid = [&](core::Settings bad) {
    EXPECT_EQ(store().PutSettings(bad).code(), kInvalidArgument);
  };
  core::Settings bad = ok;
  bad.webhook_job_max_retry = 0;
  expect_invalid(bad);
  bad = ok;
  bad.webhook_job_max_retry = 101;
  expect_invalid(bad);
  bad = ok;
  bad.webhook_job_http_client_timeout = absl::Milliseconds(999);
  expect_invalid(bad);
  bad = ok;
  bad.webhook_job_http_client_timeout = absl::Seconds(301);
  expect_invalid(bad);
  bad = ok;
  bad.execution_retention_count = 0;
  expect_invalid(bad);
  bad = ok;
  bad.execution_retention_count = 100001;
  expect_invalid(bad);
  EXPECT_EQ(*store().GetSettings(), core::Settings{});

  core::Settings edges;
  edges.webhook_job_max_retry = 100;
  edges.webhook_job_http_client_timeout = absl::Seconds(300);
  edges.execution_retention_count = 100000;
  EXPECT_TRUE(store().PutSettings(edges).ok());
  edges.webhook_job_max_retry = 1;
  edges.webhook_job_http_client_timeout = absl::Seconds(1);
  edges.execution_retention_count = 1;
  EXPECT_TRUE(store().PutSettings(edges).ok());
  EXPECT_EQ(*store().GetSettings(), edges);
}

TEST_P(StoreConformanceTest, SeedSettingsOnlyOnFirstStart) {
  core::Settings seed;
  seed.webhook_job_max_retry = 9;
  ASSERT_TRUE(store().SeedSettings(seed).ok());
  EXPECT_EQ(*store().GetSettings(), seed);

  core::Settings later;
  later.webhook_job_max_retry = 4;
  ASSERT_TRUE(store().SeedSettings(later).ok());
  EXPECT_EQ(*store().GetSettings(), seed);

  // Settings changed through the API are never overridden by a seed.
  core::Settings api;
  api.execution_retention_count = 11;
  ASSERT_TRUE(store().PutSettings(api).ok());
  Reopen();
  ASSERT_TRUE(store().SeedSettings(later).ok());
  EXPECT_EQ(*store().GetSettings(), api);

  core::Settings bad;
  bad.webhook_job_max_retry = 0;
  EXPECT_EQ(store().SeedSettings(bad).code(), kInvalidArgument);
}

// ------------------------------------------------------------------ Events

TEST_P(StoreConformanceTest, CommitEventCreatesExecutionsAndPendingTasks) {
  core::Policy p1 = Create(MakePolicy(1, "p1"));
  core::Policy p2 = Create(MakePolicy(0, "p2"));
  clock_->Advance(absl::Seconds(10));
  const absl::Time commit_time = kStart + absl::Seconds(10);

  NewEvent ev = MakeEvent(1, "PUSH_ARTIFACT", {p1.id, p2.id}, "req-1");
  ev.deliveries[1].target_index = 1;
  ev.deliveries[1].vendor_type = core::VendorType::kSlack;
  ev.deliveries[1].target.type = core::TargetType::kSlack;
  ev.deliveries[1].content_type = "application/json; charset=utf-8";
  ev.deliveries[1].max_attempts = 7;
  const NewEvent original = ev;

  CommittedEvent c = CommitOne(ev);
  EXPECT_GT(c.event_id, 0);
  EXPECT_EQ(c.deliveries_created, 2);
  EXPECT_FALSE(c.duplicate);

  absl::StatusOr<core::EventRecord> event = store().GetEvent(c.event_id);
  ASSERT_TRUE(event.ok()) << event.status();
  EXPECT_EQ(event->id, c.event_id);
  EXPECT_EQ(event->project_id, 1);
  EXPECT_EQ(event->event_type, "PUSH_ARTIFACT");
  EXPECT_EQ(event->request_id, "req-1");
  EXPECT_EQ(event->operator_name, "bob");
  EXPECT_EQ(event->occur_time, original.event.occur_time);
  EXPECT_EQ(event->create_time, commit_time);
  EXPECT_EQ(event->data, original.event.data);

  for (int i = 0; i < 2; ++i) {
    const NewDelivery& d = original.deliveries[i];
    ExecutionList list = Executions(d.policy_id);
    ASSERT_EQ(list.executions.size(), 1u);
    EXPECT_EQ(list.total_size, 1);
    const core::Execution& e = list.executions[0];
    EXPECT_GT(e.id, 0);
    EXPECT_EQ(e.event_id, c.event_id);
    EXPECT_EQ(e.policy_id, d.policy_id);
    EXPECT_EQ(e.project_id, 1);  // the event's project
    EXPECT_EQ(e.vendor_type, d.vendor_type);
    EXPECT_EQ(e.event_type, "PUSH_ARTIFACT");
    EXPECT_EQ(e.target_index, d.target_index);
    EXPECT_EQ(e.target, d.target);  // snapshot, secrets included
    EXPECT_EQ(e.payload, d.payload);
    EXPECT_EQ(e.content_type, d.content_type);
    EXPECT_EQ(e.webhook_id, d.webhook_id);
    EXPECT_EQ(e.status, core::TaskStatus::kPending);
    EXPECT_EQ(e.start_time, commit_time);
    EXPECT_EQ(e.end_time, absl::InfinitePast());

    absl::StatusOr<core::Execution> got = store().GetExecution(e.id);
    ASSERT_TRUE(got.ok()) << got.status();
    EXPECT_EQ(got->payload, e.payload);
    EXPECT_EQ(got->target, e.target);
    EXPECT_EQ(got->webhook_id, e.webhook_id);

    absl::StatusOr<std::vector<core::Task>> tasks = store().ListTasks(e.id);
    ASSERT_TRUE(tasks.ok()) << tasks.status();
    ASSERT_EQ(tasks->size(), 1u);
    const core::Task& t = (*tasks)[0];
    EXPECT_GT(t.id, 0);
    EXPECT_EQ(t.execution_id, e.id);
    EXPECT_EQ(t.status, core::TaskStatus::kPending);
    EXPECT_EQ(t.run_count, 0);
    EXPECT_EQ(t.max_attempts, d.max_attempts);
    EXPECT_EQ(t.next_attempt_time, d.due_time);
    EXPECT_EQ(t.last_response_code, 0);
    EXPECT_EQ(t.last_error, "");
    EXPECT_EQ(t.create_time, commit_time);
    EXPECT_EQ(t.update_time, commit_time);
    EXPECT_EQ(t.start_time, absl::InfinitePast());
    EXPECT_EQ(t.end_time, absl::InfinitePast());
    EXPECT_FALSE(t.final());

    absl::StatusOr<core::Task> task = store().GetTask(t.id);
    ASSERT_TRUE(task.ok()) << task.status();
    EXPECT_EQ(task->id, t.id);
    EXPECT_EQ(task->next_attempt_time, d.due_time);

    absl::StatusOr<TaskCounts> counts = store().CountTasks(e.id);
    ASSERT_TRUE(counts.ok()) << counts.status();
    EXPECT_EQ(counts->total, 1);
    EXPECT_EQ(counts->pending, 1);
    EXPECT_EQ(counts->running + counts->success + counts->error +
                  counts->stopped,
              0);
  }
}

TEST_P(StoreConformanceTest, CommitEventsReturnsOneResultPerInputInOrder) {
  core::Policy p = Create(MakePolicy(1, "p"));
  std::vector<NewEvent> events;
  for (int i = 0; i < 5; ++i) {
    std::vector<int64_t> targets(i % 3, p.id);  // 0, 1, 2, 0, 1 deliveries
    events.push_back(MakeEvent(1, "PUSH_ARTIFACT", targets));
  }
  absl::StatusOr<std::vector<CommittedEvent>> r =
      store().CommitEvents(std::move(events));
  ASSERT_TRUE(r.ok()) << r.status();
  ASSERT_EQ(r->size(), 5u);
  int64_t last = 0;
  for (int i = 0; i < 5; ++i) {
    EXPECT_TRUE((*r)[i].status.ok());
    EXPECT_GT((*r)[i].event_id, last);
    last = (*r)[i].event_id;
    EXPECT_EQ((*r)[i].deliveries_created, i % 3);
    EXPECT_FALSE((*r)[i].duplicate);
  }
  EXPECT_EQ(Executions(p.id).total_size, 4);
  // An event without deliveries is still stored.
  EXPECT_TRUE(store().GetEvent((*r)[0].event_id).ok());

  absl::StatusOr<std::vector<CommittedEvent>> empty = store().CommitEvents({});
  ASSERT_TRUE(empty.ok()) << empty.status();
  EXPECT_THAT(*empty, IsEmpty());
}

TEST_P(StoreConformanceTest, CommitEventsIsIdempotentPerScopeAndRequestId) {
  core::Policy p = Create(MakePolicy(1, "p"));
  CommittedEvent first = CommitOne(MakeEvent(1, "PUSH_ARTIFACT",
                                             {p.id, p.id}, "req-1", "tok-1"));
  ASSERT_FALSE(first.duplicate);

  clock_->Advance(absl::Hours(23));
  // A duplicate returns the original ack and creates nothing, even if its
  // content differs.
  CommittedEvent dup =
      CommitOne(MakeEvent(1, "PULL_ARTIFACT", {p.id}, "req-1", "tok-1"));
  EXPECT_TRUE(dup.duplicate);
  EXPECT_EQ(dup.event_id, first.event_id);
  EXPECT_EQ(dup.deliveries_created, 2);
  EXPECT_EQ(Executions(p.id).total_size, 2);

  // Another scope is another producer.
  CommittedEvent other =
      CommitOne(MakeEvent(1, "PUSH_ARTIFACT", {p.id}, "req-1", "tok-2"));
  EXPECT_FALSE(other.duplicate);
  EXPECT_NE(other.event_id, first.event_id);
  EXPECT_EQ(Executions(p.id).total_size, 3);

  // No request id: never a duplicate.
  CommittedEvent a = CommitOne(MakeEvent(1, "PUSH_ARTIFACT", {}, "", "tok-1"));
  CommittedEvent b = CommitOne(MakeEvent(1, "PUSH_ARTIFACT", {}, "", "tok-1"));
  EXPECT_FALSE(b.duplicate);
  EXPECT_NE(a.event_id, b.event_id);

  // Remembered across a restart.
  Reopen();
  dup = CommitOne(MakeEvent(1, "PUSH_ARTIFACT", {p.id}, "req-1", "tok-1"));
  EXPECT_TRUE(dup.duplicate);
  EXPECT_EQ(dup.event_id, first.event_id);

  // Forgotten after 24 h.
  clock_->Advance(absl::Hours(1) + absl::Seconds(1));
  CommittedEvent late =
      CommitOne(MakeEvent(1, "PUSH_ARTIFACT", {p.id}, "req-1", "tok-1"));
  EXPECT_FALSE(late.duplicate);
  EXPECT_GT(late.event_id, first.event_id);
  dup = CommitOne(MakeEvent(1, "PUSH_ARTIFACT", {p.id}, "req-1", "tok-1"));
  EXPECT_TRUE(dup.duplicate);
  EXPECT_EQ(dup.event_id, late.event_id);
  EXPECT_EQ(dup.deliveries_created, 1);
}

TEST_P(StoreConformanceTest, DuplicatesWithinOneBatch) {
  core::Policy p = Create(MakePolicy(1, "p"));
  std::vector<NewEvent> events;
  events.push_back(MakeEvent(1, "PUSH_ARTIFACT", {p.id}, "r1"));
  events.push_back(MakeEvent(1, "PUSH_ARTIFACT", {p.id}, "r2"));
  events.push_back(MakeEvent(1, "PUSH_ARTIFACT", {p.id, p.id}, "r1"));
  events.push_back(MakeEvent(1, "PUSH_ARTIFACT", {p.id}, "r1", "other"));
  absl::StatusOr<std::vector<CommittedEvent>> r =
      store().CommitEvents(std::move(events));
  ASSERT_TRUE(r.ok()) << r.status();
  ASSERT_EQ(r->size(), 4u);
  EXPECT_FALSE((*r)[0].duplicate);
  EXPECT_FALSE((*r)[1].duplicate);
  EXPECT_TRUE((*r)[2].duplicate);
  EXPECT_EQ((*r)[2].event_id, (*r)[0].event_id);
  EXPECT_EQ((*r)[2].deliveries_created, 1);
  EXPECT_FALSE((*r)[3].duplicate);
  EXPECT_EQ(Executions(p.id).total_size, 3);
}

TEST_P(StoreConformanceTest, EachEventOfABatchIsAtomic) {
  core::Policy p = Create(MakePolicy(1, "p"));
  std::vector<NewEvent> events;
  events.push_back(MakeEvent(1, "PUSH_ARTIFACT", {p.id}, "ok-1"));
  events.push_back(MakeEvent(1, "", {p.id}, "bad-type"));  // no event type
  NewEvent bad_delivery = MakeEvent(1, "PUSH_ARTIFACT", {p.id, p.id}, "bad-d");
  bad_delivery.deliveries[1].max_attempts = 0;
  events.push_back(bad_delivery);
  NewEvent bad_policy = MakeEvent(1, "PUSH_ARTIFACT", {p.id}, "bad-p");
  bad_policy.deliveries[0].policy_id = 0;
  events.push_back(bad_policy);
  events.push_back(MakeEvent(1, "PUSH_ARTIFACT", {p.id}, "ok-2"));

  absl::StatusOr<std::vector<CommittedEvent>> r =
      store().CommitEvents(std::move(events));
  ASSERT_TRUE(r.ok()) << r.status();
  ASSERT_EQ(r->size(), 5u);
  EXPECT_TRUE((*r)[0].status.ok());
  EXPECT_TRUE((*r)[4].status.ok());
  for (int i = 1; i <= 3; ++i) {
    EXPECT_EQ((*r)[i].status.code(), kInvalidArgument) << i;
    EXPECT_EQ((*r)[i].event_id, 0) << i;
    EXPECT_EQ((*r)[i].deliveries_created, 0) << i;
  }
  // Nothing of the failed events was stored (not even half of bad-d).
  EXPECT_EQ(Executions(p.id).total_size, 2);
  EXPECT_TRUE(store().GetEvent((*r)[0].event_id).ok());
  EXPECT_TRUE(store().GetEvent((*r)[4].event_id).ok());

  // A failed event's request id was not consumed.
  CommittedEvent retry = CommitOne(MakeEvent(1, "PUSH_ARTIFACT", {p.id}, "bad-d"));
  EXPECT_FALSE(retry.duplicate);
  EXPECT_EQ(retry.deliveries_created, 1);
}

TEST_P(StoreConformanceTest, DeliveriesToDeletedPoliciesAreSkipped) {
  core::Policy keep = Create(MakePolicy(1, "keep"));
  core::Policy gone = Create(MakePolicy(1, "gone"));
  ASSERT_TRUE(store().DeletePolicy(gone.id).ok());
  CommittedEvent c = CommitOne(
      MakeEvent(1, "PUSH_ARTIFACT", {keep.id, gone.id, 987654}, "r"));
  EXPECT_GT(c.event_id, 0);
  EXPECT_EQ(c.deliveries_created, 1);
  EXPECT_EQ(Executions(keep.id).total_size, 1);
  EXPECT_EQ(Executions(gone.id).total_size, 0);
}

TEST_P(StoreConformanceTest, CommitEventsAsyncDeliversTheResult) {
  core::Policy p = Create(MakePolicy(1, "p"));
  std::vector<NewEvent> events;
  events.push_back(MakeEvent(1, "PUSH_ARTIFACT", {p.id}, "a"));
  events.push_back(MakeEvent(1, "PUSH_ARTIFACT", {p.id}, "a"));
  absl::Notification done;
  absl::StatusOr<std::vector<CommittedEvent>> result;
  store().CommitEventsAsync(
      std::move(events),
      [&](absl::StatusOr<std::vector<CommittedEvent>> r) {
        result = std::move(r);
        done.Notify();
      });
  ASSERT_TRUE(done.WaitForNotificationWithTimeout(absl::Seconds(30)));
  ASSERT_TRUE(result.ok()) << result.status();
  ASSERT_EQ(result->size(), 2u);
  EXPECT_FALSE((*result)[0].duplicate);
  EXPECT_TRUE((*result)[1].duplicate);
  // Acknowledged means readable.
  EXPECT_TRUE(store().GetEvent((*result)[0].event_id).ok());
}

TEST_P(StoreConformanceTest, StoreCallsFromACompletionCallbackDoNotDeadlock) {
  core::Policy p = Create(MakePolicy(1, "p"));
  absl::Notification done;
  absl::Status inner;
  store().CommitEventsAsync(
      {MakeEvent(1, "PUSH_ARTIFACT", {p.id})},
      [&](absl::StatusOr<std::vector<CommittedEvent>> r) {
        core::Settings s;
        s.execution_retention_count = 3;
        inner = store().PutSettings(s);
        if (inner.ok()) inner = store().GetSettings().status();
        if (inner.ok()) {
          inner = store().CommitEvents({MakeEvent(1, "X", {p.id})}).status();
        }
        done.Notify();
      });
  ASSERT_TRUE(done.WaitForNotificationWithTimeout(absl::Seconds(30)));
  EXPECT_TRUE(inner.ok()) << inner;
  EXPECT_EQ(store().GetSettings()->execution_retention_count, 3);
  EXPECT_EQ(Executions(p.id).total_size, 2);
}

TEST_P(StoreConformanceTest, PendingAsyncCommitsFinishBeforeClose) {
  core::Policy p = Create(MakePolicy(1, "p"));
  constexpr int kCalls = 50;
  std::atomic<int> ok{0};
  std::vector<int64_t> ids(kCalls);
  for (int i = 0; i < kCalls; ++i) {
    store().CommitEventsAsync(
        {MakeEvent(1, "PUSH_ARTIFACT", {p.id})},
        [&, i](absl::StatusOr<std::vector<CommittedEvent>> r) {
          if (r.ok() && (*r)[0].status.ok()) {
            ids[i] = (*r)[0].event_id;
            ok.fetch_add(1);
          }
        });
  }
  Reopen();  // destroys the store with the commits possibly still queued
  EXPECT_EQ(ok.load(), kCalls);
  for (int64_t id : ids) EXPECT_TRUE(store().GetEvent(id).ok()) << id;
  EXPECT_EQ(Executions(p.id).total_size, kCalls);
}

TEST_P(StoreConformanceTest, ConcurrentCommittersAreGroupCommitted) {
  core::Policy p = Create(MakePolicy(1, "p"));
  constexpr int kThreads = 8;
  constexpr int kPerThread = 100;
  const int64_t before =
      handle_.transactions_committed ? handle_.transactions_committed() : 0;
  std::vector<std::vector<int64_t>> ids(kThreads);
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < kPerThread; ++i) {
        absl::StatusOr<std::vector<CommittedEvent>> r = store().CommitEvents(
            {MakeEvent(1, "PUSH_ARTIFACT", {p.id},
                       "r-" + std::to_string(t) + "-" + std::to_string(i))});
        if (r.ok() && (*r)[0].status.ok()) ids[t].push_back((*r)[0].event_id);
      }
    });
  }
  for (std::thread& t : threads) t.join();

  std::set<int64_t> all;
  for (const auto& v : ids) {
    EXPECT_EQ(v.size(), static_cast<size_t>(kPerThread));
    EXPECT_TRUE(std::is_sorted(v.begin(), v.end()));  // per-caller order
    all.insert(v.begin(), v.end());
  }
  EXPECT_EQ(all.size(), static_cast<size_t>(kThreads * kPerThread));
  EXPECT_EQ(Executions(p.id).total_size, kThreads * kPerThread);
  if (!handle_.transactions_committed) {
    GTEST_SKIP() << "backend does not count transactions";
  }
  const int64_t txns = handle_.transactions_committed() - before;
  EXPECT_LT(txns, kThreads * kPerThread);
  RecordProperty("transactions", static_cast<int>(txns));
}

TEST_P(StoreConformanceTest, QueuedWritesShareOneTransaction) {
  if (!handle_.pause_writer || !handle_.transactions_committed) {
    GTEST_SKIP() << "backend has no pausable group-commit writer";
  }
  core::Policy p = Create(MakePolicy(1, "p"));
  Create(MakePolicy(1, "taken"));
  constexpr int kThreads = 16;
  handle_.pause_writer();
  const int64_t before = handle_.transactions_committed();
  std::vector<absl::StatusOr<std::vector<CommittedEvent>>> results(
      kThreads, absl::UnknownError("not run"));
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      results[t] = store().CommitEvents({MakeEvent(1, "PUSH_ARTIFACT", {p.id})});
    });
  }
  // A failing write in the same transaction only fails itself.
  absl::Status dup;
  std::thread failing(
      [&] { dup = store().CreatePolicy(MakePolicy(1, "taken"), "", "").status(); });
  while (handle_.queued_writes() < kThreads + 1) absl::SleepFor(absl::Milliseconds(1));
  handle_.resume_writer();
  for (std::thread& t : threads) t.join();
  failing.join();

  EXPECT_EQ(handle_.transactions_committed() - before, 1);
  EXPECT_EQ(dup.code(), kAlreadyExists);
  for (const auto& r : results) {
    ASSERT_TRUE(r.ok()) << r.status();
    EXPECT_TRUE((*r)[0].status.ok());
  }
  EXPECT_EQ(Executions(p.id).total_size, kThreads);
}

TEST_P(StoreConformanceTest, ReadsRunConcurrentlyWithWrites) {
  core::Policy p = Create(MakePolicy(1, "p"));
  std::atomic<bool> stop{false};
  std::atomic<int> read_errors{0};
  std::vector<std::thread> readers;
  for (int t = 0; t < 6; ++t) {  // more readers than pooled connections
    readers.emplace_back([&] {
      while (!stop.load()) {
        ExecutionQuery q;
        q.policy_id = p.id;
        absl::StatusOr<ExecutionList> list = store().ListExecutions(q);
        if (!list.ok() ||
            list->total_size < static_cast<int64_t>(list->executions.size())) {
          read_errors.fetch_add(1);
        }
        if (!store().GetPolicy(p.id).ok()) read_errors.fetch_add(1);
      }
    });
  }
  for (int i = 0; i < 200; ++i) CommitOne(MakeEvent(1, "PUSH_ARTIFACT", {p.id}));
  stop = true;
  for (std::thread& t : readers) t.join();
  EXPECT_EQ(read_errors.load(), 0);
  EXPECT_EQ(Executions(p.id).total_size, 200);
}

// -------------------------------------------------- Executions and tasks

TEST_P(StoreConformanceTest, ListExecutionsNewestFirstWithFiltersAndTotals) {
  core::Policy p = Create(MakePolicy(1, "p"));
  core::Policy other = Create(MakePolicy(1, "other"));
  std::vector<int64_t> push, del;
  for (int i = 0; i < 4; ++i) {
    CommitOne(MakeEvent(1, "PUSH_ARTIFACT", {p.id, other.id}));
    push.push_back(Executions(p.id, 1).executions[0].id);
    CommitOne(MakeEvent(1, "DELETE_ARTIFACT", {p.id}));
    del.push_back(Executions(p.id, 1).executions[0].id);
  }
  ExecutionList all = Executions(p.id);
  EXPECT_EQ(all.total_size, 8);
  std::vector<int64_t> ids = Ids(all);
  EXPECT_TRUE(std::is_sorted(ids.rbegin(), ids.rend()));
  EXPECT_EQ(Executions(other.id).total_size, 4);

  ExecutionQuery q;
  q.policy_id = p.id;
  q.page = {2, 3};
  absl::StatusOr<ExecutionList> page = store().ListExecutions(q);
  ASSERT_TRUE(page.ok()) << page.status();
  EXPECT_EQ(page->total_size, 8);
  EXPECT_THAT(Ids(*page), ElementsAre(ids[2], ids[3], ids[4]));

  q.page = {0, 10};
  q.event_type = "DELETE_ARTIFACT";
  page = store().ListExecutions(q);
  EXPECT_EQ(page->total_size, 4);
  EXPECT_THAT(Ids(*page), ElementsAre(del[3], del[2], del[1], del[0]));
  q.event_type = "PUSH_ARTIFACT";
  q.page = {1, 2};
  page = store().ListExecutions(q);
  EXPECT_EQ(page->total_size, 4);
  EXPECT_THAT(Ids(*page), ElementsAre(push[2], push[1]));

  q = {};
  q.policy_id = p.id;
  q.status = core::TaskStatus::kPending;
  EXPECT_EQ(store().ListExecutions(q)->total_size, 8);
  q.status = core::TaskStatus::kSuccess;
  page = store().ListExecutions(q);
  EXPECT_EQ(page->total_size, 0);
  EXPECT_THAT(page->executions, IsEmpty());

  // Unknown policy: nothing.
  q = {};
  q.policy_id = other.id + 100;
  EXPECT_EQ(store().ListExecutions(q)->total_size, 0);
}

TEST_P(StoreConformanceTest, ListExecutionsValidatesArguments) {
  ExecutionQuery q;  // policy_id is required
  EXPECT_EQ(store().ListExecutions(q).status().code(), kInvalidArgument);
  q.policy_id = 1;
  q.page.limit = 0;
  EXPECT_EQ(store().ListExecutions(q).status().code(), kInvalidArgument);
  q.page = {-5, 10};
  EXPECT_EQ(store().ListExecutions(q).status().code(), kInvalidArgument);
}

TEST_P(StoreConformanceTest, MissingIdsAreNotFound) {
  EXPECT_EQ(store().GetEvent(777).status().code(), kNotFound);
  EXPECT_EQ(store().GetExecution(777).status().code(), kNotFound);
  EXPECT_EQ(store().GetTask(777).status().code(), kNotFound);
  EXPECT_EQ(store().CountTasks(777).status().code(), kNotFound);
  EXPECT_EQ(store().ListTasks(777).status().code(), kNotFound);
  EXPECT_EQ(store().GetEvent(0).status().code(), kNotFound);
  EXPECT_EQ(store().GetExecution(-3).status().code(), kNotFound);
}

TEST_P(StoreConformanceTest, DeletePolicyCascadesToExecutionsAndTasks) {
  core::Policy doomed = Create(MakePolicy(1, "doomed"));
  core::Policy kept = Create(MakePolicy(1, "kept"));
  CommittedEvent c =
      CommitOne(MakeEvent(1, "PUSH_ARTIFACT", {doomed.id, kept.id}));
  CommitOne(MakeEvent(1, "PUSH_ARTIFACT", {doomed.id}));
  const core::Execution gone = Executions(doomed.id).executions[0];
  const int64_t gone_task = (*store().ListTasks(gone.id))[0].id;
  const core::Execution stays = Executions(kept.id).executions[0];

  ASSERT_TRUE(store().DeletePolicy(doomed.id).ok());
  EXPECT_EQ(store().GetExecution(gone.id).status().code(), kNotFound);
  EXPECT_EQ(store().GetTask(gone_task).status().code(), kNotFound);
  EXPECT_EQ(store().ListTasks(gone.id).status().code(), kNotFound);
  EXPECT_EQ(Executions(doomed.id).total_size, 0);
  // Other policies' deliveries and the events themselves stay.
  EXPECT_TRUE(store().GetExecution(stays.id).ok());
  EXPECT_EQ(store().ListTasks(stays.id)->size(), 1u);
  EXPECT_TRUE(store().GetEvent(c.event_id).ok());

  Reopen();
  EXPECT_EQ(store().GetExecution(gone.id).status().code(), kNotFound);
  EXPECT_TRUE(store().GetExecution(stays.id).ok());
}

// ------------------------------------------------------------- Lifecycle

TEST_P(StoreConformanceTest, EverythingSurvivesRepeatedReopen) {
  core::Policy p = Create(MakePolicy(5, "p"));
  ASSERT_TRUE(store().CreateToken(MakeToken("t", "hash")).ok());
  CommittedEvent c = CommitOne(MakeEvent(5, "PUSH_ARTIFACT", {p.id}, "r"));
  for (int i = 0; i < 3; ++i) {
    Reopen();
    EXPECT_EQ(*store().GetPolicy(p.id), p);
    EXPECT_TRUE(store().FindTokenByHash("hash").ok());
    EXPECT_TRUE(store().GetEvent(c.event_id).ok());
    EXPECT_EQ(Executions(p.id).total_size, 1);
  }
  // Ids keep increasing after a restart.
  EXPECT_GT(Create(MakePolicy(5, "q")).id, p.id);
  EXPECT_GT(CommitOne(MakeEvent(5, "PUSH_ARTIFACT", {p.id})).event_id,
            c.event_id);
}

INSTANTIATE_TEST_SUITE_P(
    Stores, StoreConformanceTest, ::testing::ValuesIn(StoreFactories()),
    [](const ::testing::TestParamInfo<StoreFactory>& info) {
      return info.param.name;
    });

}  // namespace
}  // namespace herald::store::testing
