#include "server/core/matching.h"

#include <string>
#include <vector>

#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace herald::core {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::IsEmpty;

Policy MakePolicy(int64_t id, int64_t project_id,
                  std::vector<std::string> event_types) {
  Policy p;
  p.id = id;
  p.project_id = project_id;
  p.name = "p" + std::to_string(id);
  p.event_types = std::move(event_types);
  p.targets = {Target{.address = "https://example.com/hook"}};
  return p;
}

MatchInput Push(int64_t project_id, std::string repo,
                std::vector<std::string> tags) {
  MatchInput in;
  in.project_id = project_id;
  in.event_type = "PUSH_ARTIFACT";
  in.repo_full_name = std::move(repo);
  in.tags = std::move(tags);
  return in;
}

bool Matches(const Policy& p, const MatchInput& in) {
  absl::StatusOr<PolicyMatcher> m = PolicyMatcher::Create(p);
  EXPECT_TRUE(m.ok()) << m.status();
  return m.ok() && m->Matches(in);
}

TEST(PolicyMatchesTest, ProjectAndEventType) {
  const Policy p = MakePolicy(1, 7, {"PUSH_ARTIFACT", "DELETE_ARTIFACT"});
  EXPECT_TRUE(Matches(p, Push(7, "library/nginx", {"latest"})));
  EXPECT_FALSE(Matches(p, Push(8, "library/nginx", {"latest"})));
  MatchInput pull = Push(7, "library/nginx", {"latest"});
  pull.event_type = "PULL_ARTIFACT";
  EXPECT_FALSE(Matches(p, pull));
}

TEST(PolicyMatchesTest, DisabledPolicyNeverMatches) {
  Policy p = MakePolicy(1, 7, {"PUSH_ARTIFACT"});
  p.enabled = false;
  EXPECT_FALSE(Matches(p, Push(7, "library/nginx", {"latest"})));
}

TEST(PolicyMatchesTest, SystemWidePolicyMatchesEveryProject) {
  const Policy p = MakePolicy(1, 0, {"PUSH_ARTIFACT"});
  EXPECT_TRUE(Matches(p, Push(1, "a/b", {})));
  EXPECT_TRUE(Matches(p, Push(999, "c/d", {})));
}

TEST(PolicyMatchesTest, DuplicateEventTypesMatchOnce) {
  // Validation refuses duplicates, but a stored legacy policy may have
  // them: Harbor would deliver twice, herald once.
  std::vector<PolicyMatcher> matchers;
  matchers.push_back(
      *PolicyMatcher::Create(MakePolicy(1, 7, {"PUSH_ARTIFACT", "PUSH_ARTIFACT"})));
  std::vector<const Policy*> got = MatchPolicies(matchers, Push(7, "a/b", {}));
  ASSERT_EQ(got.size(), 1u);
  EXPECT_EQ(got[0]->id, 1);
}

TEST(PolicyMatchesTest, NoFiltersMatchesEventsWithoutRepoOrTags) {
  const Policy p = MakePolicy(1, 7, {"QUOTA_EXCEED"});
  MatchInput quota;
  quota.project_id = 7;
  quota.event_type = "QUOTA_EXCEED";
  EXPECT_TRUE(Matches(p, quota));
}

TEST(FiltersTest, RepositoryPatterns) {
  Policy p = MakePolicy(1, 7, {"PUSH_ARTIFACT"});
  p.filters.repository_patterns = {"library/**", "team-*/web"};
  EXPECT_TRUE(Matches(p, Push(7, "library/nginx", {})));
  EXPECT_TRUE(Matches(p, Push(7, "library/sub/nginx", {})));
  EXPECT_TRUE(Matches(p, Push(7, "team-a/web", {})));
  EXPECT_FALSE(Matches(p, Push(7, "team-a/api", {})));
  EXPECT_FALSE(Matches(p, Push(7, "other/nginx", {})));
  // An event without a repository does not pass a repository filter.
  EXPECT_FALSE(Matches(p, Push(7, "", {})));
}

TEST(FiltersTest, TagPatternsMatchAnyTag) {
  Policy p = MakePolicy(1, 7, {"PUSH_ARTIFACT"});
  p.filters.tag_patterns = {"v[0-9]*", "release-{stable,lts}"};
  EXPECT_TRUE(Matches(p, Push(7, "a/b", {"v1.2.3"})));
  EXPECT_TRUE(Matches(p, Push(7, "a/b", {"latest", "release-lts"})));
  EXPECT_FALSE(Matches(p, Push(7, "a/b", {"latest", "dev"})));
  // Push by digest: no tag, no match.
  EXPECT_FALSE(Matches(p, Push(7, "a/b", {})));
  EXPECT_FALSE(Matches(p, Push(7, "a/b", {""})));
}

TEST(FiltersTest, RepositoryAndTagMustBothPass) {
  Policy p = MakePolicy(1, 7, {"PUSH_ARTIFACT"});
  p.filters.repository_patterns = {"prod/**"};
  p.filters.tag_patterns = {"v*"};
  EXPECT_TRUE(Matches(p, Push(7, "prod/api", {"v2"})));
  EXPECT_FALSE(Matches(p, Push(7, "prod/api", {"latest"})));
  EXPECT_FALSE(Matches(p, Push(7, "dev/api", {"v2"})));
}

TEST(FiltersTest, ScanStatusesApplyToScanningEventsOnly) {
  Policy p = MakePolicy(1, 7, {"PUSH_ARTIFACT", "SCANNING_COMPLETED",
                               "SCANNING_FAILED"});
  p.filters.scan_statuses = {"Error"};
  MatchInput scan = Push(7, "a/b", {"v1"});
  scan.event_type = "SCANNING_FAILED";
  scan.scan_status = "Error";
  EXPECT_TRUE(Matches(p, scan));
  scan.event_type = "SCANNING_COMPLETED";
  scan.scan_status = "Success";
  EXPECT_FALSE(Matches(p, scan));
  scan.scan_status = "error";  // exact comparison
  EXPECT_FALSE(Matches(p, scan));
  // Pushes carry no scan status and are not filtered by it.
  EXPECT_TRUE(Matches(p, Push(7, "a/b", {"v1"})));
}

TEST(FiltersTest, ReplicationStatusesApplyToReplicationOnly) {
  Policy p = MakePolicy(1, 7, {"REPLICATION", "PUSH_ARTIFACT"});
  p.filters.replication_statuses = {"Error", "Stopped"};
  MatchInput rep;
  rep.project_id = 7;
  rep.event_type = "REPLICATION";
  rep.replication_status = "Running";
  EXPECT_FALSE(Matches(p, rep));
  rep.replication_status = "Error";
  EXPECT_TRUE(Matches(p, rep));
  rep.replication_status = "Stopped";
  EXPECT_TRUE(Matches(p, rep));
  EXPECT_TRUE(Matches(p, Push(7, "a/b", {})));
}

TEST(CompiledPolicyFiltersTest, DefaultIsEmptyAndPassesEverything) {
  CompiledPolicyFilters none;
  EXPECT_TRUE(none.empty());
  EXPECT_TRUE(none.Matches(MatchInput{}));
  absl::StatusOr<CompiledPolicyFilters> compiled =
      CompiledPolicyFilters::Compile(Filters{});
  ASSERT_TRUE(compiled.ok());
  EXPECT_TRUE(compiled->empty());
}

TEST(CompiledPolicyFiltersTest, InvalidPatternNamesThePattern) {
  Filters f;
  f.tag_patterns = {"v*", "[oops"};
  absl::StatusOr<CompiledPolicyFilters> compiled =
      CompiledPolicyFilters::Compile(f);
  ASSERT_FALSE(compiled.ok());
  EXPECT_EQ(compiled.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(std::string(compiled.status().message()), HasSubstr("[oops"));
  Policy p = MakePolicy(1, 7, {"PUSH_ARTIFACT"});
  p.filters = f;
  EXPECT_FALSE(PolicyMatcher::Create(p).ok());
}

TEST(MatchPoliciesTest, KeepsOrderAndSkipsNonMatching) {
  std::vector<PolicyMatcher> matchers;
  for (Policy p : {MakePolicy(1, 7, {"PUSH_ARTIFACT"}),
                   MakePolicy(2, 8, {"PUSH_ARTIFACT"}),
                   MakePolicy(3, 0, {"PUSH_ARTIFACT"}),
                   MakePolicy(4, 7, {"DELETE_ARTIFACT"})}) {
    matchers.push_back(*PolicyMatcher::Create(p));
  }
  std::vector<int64_t> ids;
  for (const Policy* p : MatchPolicies(matchers, Push(7, "a/b", {"t"}))) {
    ids.push_back(p->id);
  }
  EXPECT_THAT(ids, ElementsAre(1, 3));
  MatchInput other = Push(7, "a/b", {"t"});
  other.event_type = "TAG_RETENTION";
  EXPECT_THAT(MatchPolicies(matchers, other), IsEmpty());
}

TEST(PolicyMatcherTest, KeepsThePolicy) {
  Policy p = MakePolicy(5, 7, {"PUSH_ARTIFACT"});
  p.filters.repository_patterns = {"x/*"};
  absl::StatusOr<PolicyMatcher> m = PolicyMatcher::Create(p);
  ASSERT_TRUE(m.ok());
  EXPECT_EQ(m->policy(), p);
  EXPECT_FALSE(m->filters().empty());
}

}  // namespace
}  // namespace herald::core
