#include "server/core/errors.h"

#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace herald::core {
namespace {

using ::testing::EndsWith;
using ::testing::HasSubstr;
using ::testing::Not;

TEST(InvalidFieldsErrorTest, NamesEveryFieldOfAShortList) {
  absl::Status s = InvalidFieldsError(
      {{"policy.name", "required"}, {"policy.targets", "at least one"}});
  EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(s.message(),
            "invalid policy.name: required; policy.targets: at least one");
  EXPECT_EQ(ErrorReasonOf(s), reason::kInvalidField);
  EXPECT_EQ(FieldViolationsOf(s).size(), 2u);
}

TEST(InvalidFieldsErrorTest, ReportsTheFirstViolationsAndCountsTheRest) {
  std::vector<FieldViolation> many;
  for (int i = 0; i < 12000; ++i) {
    many.push_back({absl::StrCat("policy.event_types[", i, "]"), "duplicate"});
  }
  absl::Status s = InvalidFieldsError(many);
  const std::vector<FieldViolation> reported = FieldViolationsOf(s);
  ASSERT_EQ(reported.size(), kMaxReportedViolations);
  EXPECT_EQ(reported.front().field, "policy.event_types[0]");
  EXPECT_THAT(std::string(s.message()),
              EndsWith(absl::StrCat("; and ", 12000 - kMaxReportedViolations,
                                    " more")));
  EXPECT_THAT(std::string(s.message()),
              Not(HasSubstr(absl::StrCat("[", kMaxReportedViolations, "]"))));
  EXPECT_LT(s.message().size(), 2048u);
}

}  // namespace
}  // namespace herald::core
