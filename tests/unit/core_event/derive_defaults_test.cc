// DeriveDefaults() and the event type helpers.
#include <gtest/gtest.h>

#include <string>

#include "server/core/event.h"
#include "server/core/event_validation.h"

namespace herald::core {
namespace {

constexpr char kDigest[] =
    "sha256:954b378c375d852eb3c63ab88978f640b4348b01c1b3456a024a81536dafbbf4";

Event Artifact(std::string_view type, std::string tag) {
  Event e;
  e.event_type = std::string(type);
  e.project_id = 1;
  e.resources.push_back(
      Resource{kDigest, std::move(tag), "", {}, std::nullopt});
  e.repository = Repository{std::nullopt, "", "", "library/busybox", "public"};
  return e;
}

TEST(DeriveDefaultsTest, ArtifactByDigestGetsDigestTagAndAtUrl) {
  for (auto type : {kPushArtifact, kPullArtifact, kDeleteArtifact}) {
    Event e = Artifact(type, "");
    DeriveDefaults(e, "https://harbor.dev");
    EXPECT_EQ(e.resources[0].tag, kDigest) << type;
    EXPECT_EQ(e.resources[0].resource_url,
              std::string("harbor.dev/library/busybox@") + kDigest)
        << type;
  }
}

TEST(DeriveDefaultsTest, ArtifactByTagGetsColonUrlKeepingThePort) {
  Event e = Artifact(kPushArtifact, "1.36");
  DeriveDefaults(e, "http://harbor.dev:8080/");
  EXPECT_EQ(e.resources[0].tag, "1.36");
  EXPECT_EQ(e.resources[0].resource_url,
            "harbor.dev:8080/library/busybox:1.36");
}

TEST(DeriveDefaultsTest, RepositoryNamesAreDerived) {
  Event e = Artifact(kPushArtifact, "x");
  e.repository->repo_full_name = "library/team/app";
  DeriveDefaults(e, "");
  EXPECT_EQ(e.repository->name, "team/app");  // after the first '/'
  EXPECT_EQ(e.repository->namespace_name, "library");

  e.repository = Repository{std::nullopt, "app", "library", "", ""};
  DeriveDefaults(e, "");
  EXPECT_EQ(e.repository->repo_full_name, "library/app");
}

TEST(DeriveDefaultsTest, SetFieldsAreLeftAlone) {
  Event e = Artifact(kPushArtifact, "given");
  e.resources[0].resource_url = "elsewhere/x:y";
  e.repository = Repository{std::nullopt, "n", "ns", "other/full", ""};
  const absl::Time t = absl::FromUnixSeconds(5);
  e.occur_time = t;
  DeriveDefaults(e, "https://harbor.dev", absl::FromUnixSeconds(99));
  EXPECT_EQ(e.resources[0].tag, "given");
  EXPECT_EQ(e.resources[0].resource_url, "elsewhere/x:y");
  EXPECT_EQ(e.repository->name, "n");
  EXPECT_EQ(e.repository->namespace_name, "ns");
  EXPECT_EQ(e.occur_time, t);
}

TEST(DeriveDefaultsTest, OccurTimeDefaultsToNow) {
  Event e = Artifact(kPushArtifact, "x");
  DeriveDefaults(e, "");
  EXPECT_FALSE(e.occur_time.has_value());  // the two-argument form
  DeriveDefaults(e, "", absl::FromUnixSeconds(42));
  EXPECT_EQ(e.occur_time, absl::FromUnixSeconds(42));
}

TEST(DeriveDefaultsTest, NoEndpointNoUrl) {
  Event e = Artifact(kPullArtifact, "");
  DeriveDefaults(e, "");
  EXPECT_EQ(e.resources[0].tag, kDigest);
  EXPECT_EQ(e.resources[0].resource_url, "");
}

TEST(DeriveDefaultsTest, ScanningKeepsAnEmptyTagButBuildsTheUrl) {
  Event e = Artifact(kScanningCompleted, "");
  DeriveDefaults(e, "harbor.dev");
  EXPECT_EQ(e.resources[0].tag, "");  // omitted from the payload, as Harbor
  EXPECT_EQ(e.resources[0].resource_url,
            std::string("harbor.dev/library/busybox@") + kDigest);
  e = Artifact(kScanningFailed, "v1");
  DeriveDefaults(e, "harbor.dev");
  EXPECT_EQ(e.resources[0].resource_url, "harbor.dev/library/busybox:v1");
}

TEST(DeriveDefaultsTest, QuotaResourcesGetNothing) {
  Event e = Artifact(kQuotaExceed, "");
  DeriveDefaults(e, "https://harbor.dev");
  EXPECT_EQ(e.resources[0].tag, "");
  EXPECT_EQ(e.resources[0].resource_url, "");
}

TEST(DeriveDefaultsTest, HostnameForReplicationAndRetentionDropsThePort) {
  Event e;
  e.event_type = std::string(kReplication);
  e.replication.emplace();
  e.retention.emplace();
  DeriveDefaults(e, "https://harbor.dev:8443");
  EXPECT_EQ(e.replication->harbor_hostname, "harbor.dev");
  EXPECT_EQ(e.retention->harbor_hostname, "harbor.dev");
  e.replication->harbor_hostname = "kept";
  DeriveDefaults(e, "https://other");
  EXPECT_EQ(e.replication->harbor_hostname, "kept");
}

TEST(RegistryTest, AuthorityHostnameAndUrls) {
  EXPECT_EQ(RegistryAuthority("https://harbor.dev:8443/"), "harbor.dev:8443");
  EXPECT_EQ(RegistryAuthority("harbor.dev"), "harbor.dev");
  EXPECT_EQ(RegistryHostname("http://localhost:80"), "localhost");
  EXPECT_EQ(ResourceUrl("https://h", "a/b", "v1"), "h/a/b:v1");
  EXPECT_EQ(ResourceUrl("https://h", "a/b", kDigest),
            std::string("h/a/b@") + kDigest);
}

TEST(EventTypesTest, DigestDetectionMatchesHarbor) {
  EXPECT_TRUE(IsDigestReference(kDigest));
  EXPECT_TRUE(IsDigestReference("sha512:" + std::string(128, 'a')));
  EXPECT_TRUE(IsDigestReference("multihash+base58:" + std::string(32, 'F')));
  EXPECT_FALSE(IsDigestReference("sha256:" + std::string(31, 'a')));
  EXPECT_FALSE(IsDigestReference("latest"));
  EXPECT_FALSE(IsDigestReference(":" + std::string(32, 'a')));
  EXPECT_FALSE(IsDigestReference("123:" + std::string(32, 'a')));
  EXPECT_FALSE(IsDigestReference("sha256:dde8..."));
}

TEST(EventTypesTest, CloudEventsTypes) {
  const std::pair<std::string_view, std::string_view> expected[] = {
      {"PUSH_ARTIFACT", "harbor.artifact.pushed"},
      {"PULL_ARTIFACT", "harbor.artifact.pulled"},
      {"DELETE_ARTIFACT", "harbor.artifact.deleted"},
      {"QUOTA_EXCEED", "harbor.quota.exceeded"},
      {"QUOTA_WARNING", "harbor.quota.warned"},
      {"SCANNING_FAILED", "harbor.scan.failed"},
      {"SCANNING_STOPPED", "harbor.scan.stopped"},
      {"SCANNING_COMPLETED", "harbor.scan.completed"},
      {"REPLICATION", "harbor.replication.status.changed"},
      {"TAG_RETENTION", "harbor.tag_retention.finished"},
  };
  std::vector<std::string> order;
  for (const auto& [type, ce] : expected) {
    EXPECT_EQ(CloudEventsType(type), ce);
    order.emplace_back(type);
  }
  EXPECT_EQ(KnownEventTypes(), order);  // Harbor's listing order
  EXPECT_EQ(CloudEventsType("CREATE_PROJECT"), std::nullopt);
  EXPECT_FALSE(IsKnownEventType(""));
}

}  // namespace
}  // namespace herald::core
