#include "server/core/execution.h"

#include <optional>

#include "gtest/gtest.h"

namespace herald::core {
namespace {

TEST(TaskStatusTest, NamesAreHarborSpellings) {
  EXPECT_EQ(TaskStatusName(TaskStatus::kPending), "Pending");
  EXPECT_EQ(TaskStatusName(TaskStatus::kRunning), "Running");
  EXPECT_EQ(TaskStatusName(TaskStatus::kSuccess), "Success");
  EXPECT_EQ(TaskStatusName(TaskStatus::kError), "Error");
  EXPECT_EQ(TaskStatusName(TaskStatus::kStopped), "Stopped");
}

TEST(TaskStatusTest, ParseRoundTripsEveryStatus) {
  for (TaskStatus s : {TaskStatus::kPending, TaskStatus::kRunning,
                       TaskStatus::kSuccess, TaskStatus::kError,
                       TaskStatus::kStopped}) {
    EXPECT_EQ(ParseTaskStatus(TaskStatusName(s)), s) << TaskStatusName(s);
  }
}

TEST(TaskStatusTest, ParseRejectsUnknownAndWrongCase) {
  EXPECT_EQ(ParseTaskStatus(""), std::nullopt);
  EXPECT_EQ(ParseTaskStatus("success"), std::nullopt);
  EXPECT_EQ(ParseTaskStatus("SUCCESS"), std::nullopt);
  EXPECT_EQ(ParseTaskStatus("Scheduled"), std::nullopt);
  EXPECT_EQ(ParseTaskStatus("Unknown"), std::nullopt);
}

TEST(TaskStatusTest, UnknownEnumValueHasAName) {
  EXPECT_EQ(TaskStatusName(static_cast<TaskStatus>(99)), "Unknown");
}

TEST(VendorTypeTest, NamesAndMapping) {
  EXPECT_EQ(VendorTypeName(VendorType::kWebhook), "WEBHOOK");
  EXPECT_EQ(VendorTypeName(VendorType::kSlack), "SLACK");
  EXPECT_EQ(VendorTypeFor(TargetType::kHttp), VendorType::kWebhook);
  EXPECT_EQ(VendorTypeFor(TargetType::kSlack), VendorType::kSlack);
}

TEST(TaskTest, FinalAndRetryScheduled) {
  Task t;
  EXPECT_FALSE(t.final());  // Pending
  t.status = TaskStatus::kRunning;
  EXPECT_FALSE(t.final());
  t.status = TaskStatus::kSuccess;
  EXPECT_TRUE(t.final());
  t.status = TaskStatus::kStopped;
  EXPECT_TRUE(t.final());
  t.status = TaskStatus::kError;
  EXPECT_FALSE(t.retry_scheduled());
  EXPECT_TRUE(t.final());
  t.next_attempt_time = absl::UnixEpoch() + absl::Seconds(10);
  EXPECT_TRUE(t.retry_scheduled());
  EXPECT_FALSE(t.final());
}

}  // namespace
}  // namespace herald::core
