#include "server/core/settings_validation.h"

#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace herald::core {
namespace {

using ::testing::AllOf;
using ::testing::ElementsAre;
using ::testing::Field;
using ::testing::HasSubstr;
using ::testing::IsEmpty;

void ExpectOnly(const Settings& s, const std::string& field,
                const std::string& text) {
  EXPECT_THAT(ValidateSettings(s),
              ElementsAre(AllOf(Field(&FieldViolation::field, field),
                                Field(&FieldViolation::description,
                                      HasSubstr(text)))));
}

TEST(ValidateSettingsTest, HarborDefaultsAreValid) {
  EXPECT_THAT(ValidateSettings(Settings{}), IsEmpty());
  Settings off;
  off.notification_enable = false;
  EXPECT_THAT(ValidateSettings(off), IsEmpty());
}

TEST(ValidateSettingsTest, MaxRetryFrom1To100) {
  Settings s;
  for (int ok : {1, 100}) {
    s.webhook_job_max_retry = ok;
    EXPECT_THAT(ValidateSettings(s), IsEmpty());
  }
  for (int bad : {0, -3, 101}) {
    s.webhook_job_max_retry = bad;
    ExpectOnly(s, "settings.webhook_job_max_retry", "from 1 to 100");
  }
}

TEST(ValidateSettingsTest, HttpClientTimeoutFrom1To300Seconds) {
  Settings s;
  for (absl::Duration ok : {absl::Seconds(1), absl::Seconds(300)}) {
    s.webhook_job_http_client_timeout = ok;
    EXPECT_THAT(ValidateSettings(s), IsEmpty());
  }
  for (absl::Duration bad : {absl::ZeroDuration(), absl::Milliseconds(999),
                             absl::Seconds(301), absl::InfiniteDuration()}) {
    s.webhook_job_http_client_timeout = bad;
    ExpectOnly(s, "settings.webhook_job_http_client_timeout",
               "from 1s to 5m");
  }
}

TEST(ValidateSettingsTest, RetentionCountFrom1To100000) {
  Settings s;
  for (int ok : {1, 100000}) {
    s.execution_retention_count = ok;
    EXPECT_THAT(ValidateSettings(s), IsEmpty());
  }
  for (int bad : {0, 100001}) {
    s.execution_retention_count = bad;
    ExpectOnly(s, "settings.execution_retention_count", "from 1 to 100000");
  }
}

TEST(ValidateSettingsTest, ReportsEveryViolation) {
  Settings s;
  s.webhook_job_max_retry = 0;
  s.webhook_job_http_client_timeout = absl::ZeroDuration();
  s.execution_retention_count = 0;
  EXPECT_THAT(ValidateSettings(s),
              ElementsAre(Field(&FieldViolation::field,
                                "settings.webhook_job_max_retry"),
                          Field(&FieldViolation::field,
                                "settings.webhook_job_http_client_timeout"),
                          Field(&FieldViolation::field,
                                "settings.execution_retention_count")));
}

}  // namespace
}  // namespace herald::core
