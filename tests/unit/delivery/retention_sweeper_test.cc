// RetentionSweeper: keeps the newest execution_retention_count finished
// executions per policy and vendor type, on its own schedule.
#include "server/delivery/retention_sweeper.h"

#include <memory>
#include <string>
#include <vector>

#include "absl/time/clock.h"
#include "gtest/gtest.h"
#include "server/core/clock.h"
#include "server/store/sqlite/sqlite_store.h"
#include "tests/unit/common/temp_dir.h"

namespace herald::delivery {
namespace {

class RetentionSweeperTest : public ::testing::Test {
 protected:
  void SetUp() override {
    store::SqliteOptions options;
    options.path = dir_.Join("herald.db");
    store_ = *store::SqliteStore::Open(options);
    core::Policy p;
    p.project_id = 1;
    p.name = "p";
    p.targets.resize(1);
    p.targets[0].address = "http://a.example/";
    p.event_types = {"PUSH_ARTIFACT"};
    policy_ = store_->CreatePolicy(p, "", "")->id;
  }

  // `finished` executions delivered, `pending` not yet due.
  void Make(int finished, int pending) {
    std::vector<store::NewEvent> events;
    for (int i = 0; i < finished + pending; ++i) {
      store::NewEvent e;
      e.event.event_type = "PUSH_ARTIFACT";
      store::NewDelivery d;
      d.policy_id = policy_;
      d.target.address = "http://a.example/";
      d.due_time = i < finished ? absl::Now() : absl::Now() + absl::Hours(1);
      e.deliveries.push_back(d);
      events.push_back(std::move(e));
    }
    ASSERT_TRUE(store_->CommitEvents(std::move(events)).ok());
    store::ClaimOptions claim;
    claim.owner = "w";
    claim.limit = 1000;
    claim.default_endpoint_room = 1000;
    std::vector<store::TaskResult> results;
    absl::StatusOr<std::vector<store::ClaimedTask>> claimed =
        store_->ClaimTasks(claim);
    ASSERT_TRUE(claimed.ok()) << claimed.status();
    for (const store::ClaimedTask& c : *claimed) {
      store::TaskResult r;
      r.task_id = c.task.id;
      r.run_count = c.task.run_count;
      r.outcome = store::TaskResult::Outcome::kSuccess;
      results.push_back(r);
    }
    ASSERT_EQ(results.size(), static_cast<size_t>(finished));
    ASSERT_TRUE(store_->CompleteTasks("w", results).ok());
  }

  int64_t Executions() {
    store::ExecutionQuery q;
    q.policy_id = policy_;
    return store_->ListExecutions(q)->total_size;
  }

  herald::testing::TempDir dir_;
  std::unique_ptr<store::SqliteStore> store_;
  int64_t policy_ = 0;
};

TEST_F(RetentionSweeperTest, SweepOnceUsesTheRetentionSetting) {
  core::Settings settings;
  settings.execution_retention_count = 3;
  ASSERT_TRUE(store_->PutSettings(settings).ok());
  Make(10, 4);
  RetentionSweeper sweeper(store_.get(), {.batch = 2});
  absl::StatusOr<int64_t> deleted = sweeper.SweepOnce();
  ASSERT_TRUE(deleted.ok()) << deleted.status();
  EXPECT_EQ(*deleted, 7);
  EXPECT_EQ(Executions(), 3 + 4);  // unfinished ones are never touched
}

TEST_F(RetentionSweeperTest, RunsShortlyAfterStartAndThenPeriodically) {
  core::Settings settings;
  settings.execution_retention_count = 1;
  ASSERT_TRUE(store_->PutSettings(settings).ok());
  Make(3, 0);
  RetentionSweeper sweeper(store_.get(), {.first_delay = absl::Milliseconds(10),
                                          .interval = absl::Milliseconds(50)});
  sweeper.Start();
  const absl::Time deadline = absl::Now() + absl::Seconds(5);
  while (Executions() != 1 && absl::Now() < deadline) {
    absl::SleepFor(absl::Milliseconds(5));
  }
  EXPECT_EQ(Executions(), 1);
  Make(2, 0);
  while (Executions() != 1 && absl::Now() < deadline) {
    absl::SleepFor(absl::Milliseconds(5));
  }
  EXPECT_EQ(Executions(), 1);
  sweeper.Stop();
}

}  // namespace
}  // namespace herald::delivery
