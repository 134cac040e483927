// Secrets at rest: SecretBox (AES-256-GCM sealing, plaintext passthrough,
// rotation) and the SQLite store with a SecretBox: the database files never
// hold an auth_header or signing secret in plaintext, old plaintext rows
// are sealed at open, a rotated key re-seals everything, a wrong key is
// refused at open.
#include <dirent.h>

#include <fstream>
#include <memory>
#include <sstream>
#include <string>
#include <vector>

#include "absl/strings/escaping.h"
#include "absl/strings/match.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "server/store/secret_box.h"
#include "server/store/sqlite/codec.h"
#include "server/store/sqlite/sqlite_store.h"
#include "tests/unit/store/store_test_env.h"

namespace herald::store {
namespace {

using ::testing::HasSubstr;
using testing::TempDir;

constexpr char kAuth[] = "Bearer s3cr3t-auth-header-value-0123456789";
constexpr char kSigning[] = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";
constexpr char kPrevious[] = "whsec_c2VjcmV0LXByZXZpb3VzLWtleS0xMjM0NTY3OA==";

std::string Key(char fill) { return std::string(SecretBox::kKeyBytes, fill); }

std::shared_ptr<const SecretBox> Box(char fill, std::vector<char> previous = {}) {
  std::vector<std::string> prev;
  for (char p : previous) prev.push_back(Key(p));
  absl::StatusOr<std::shared_ptr<const SecretBox>> box =
      SecretBox::Create(Key(fill), prev);
  EXPECT_TRUE(box.ok()) << box.status();
  return *box;
}

TEST(SecretBoxTest, SealsAndOpens) {
  auto box = Box('a');
  absl::StatusOr<std::string> sealed = box->Seal(kAuth);
  ASSERT_TRUE(sealed.ok()) << sealed.status();
  EXPECT_TRUE(SecretBox::IsSealed(*sealed));
  EXPECT_THAT(*sealed, ::testing::StartsWith("enc:v1:"));
  EXPECT_FALSE(absl::StrContains(*sealed, "s3cr3t"));
  EXPECT_EQ(*box->Open(*sealed), kAuth);
  // A fresh nonce every time.
  EXPECT_NE(*box->Seal(kAuth), *sealed);
  EXPECT_EQ(*box->Seal(""), "");
  EXPECT_FALSE(box->NeedsRewrap(*sealed));
}

TEST(SecretBoxTest, PlaintextPassesThrough) {
  auto box = Box('a');
  EXPECT_EQ(*box->Open("Bearer legacy"), "Bearer legacy");
  EXPECT_EQ(*box->Open(""), "");
  EXPECT_FALSE(box->NeedsRewrap("Bearer legacy"));
}

TEST(SecretBoxTest, WrongKeyAndTamperingAreDataLoss) {
  const std::string sealed = *Box('a')->Seal(kAuth);
  absl::StatusOr<std::string> other = Box('b')->Open(sealed);
  EXPECT_EQ(other.status().code(), absl::StatusCode::kDataLoss);
  EXPECT_THAT(other.status().message(), HasSubstr("secret key"));
  EXPECT_FALSE(absl::StrContains(other.status().message(), sealed));

  std::string tampered = sealed;
  tampered[tampered.size() - 3] ^= 1;
  EXPECT_FALSE(Box('a')->Open(tampered).ok());
  EXPECT_FALSE(Box('a')->Open("enc:v1:not base64!").ok());
  EXPECT_FALSE(Box('a')->Open("enc:v1:").ok());
  EXPECT_TRUE(Box('a')->NeedsRewrap("enc:v1:"));
}

TEST(SecretBoxTest, PreviousKeysOpenButNeedRewrap) {
  const std::string old = *Box('a')->Seal(kSigning);
  auto rotated = Box('b', {'a'});
  EXPECT_TRUE(rotated->has_previous_keys());
  EXPECT_EQ(*rotated->Open(old), kSigning);
  EXPECT_TRUE(rotated->NeedsRewrap(old));
  EXPECT_FALSE(rotated->NeedsRewrap(*rotated->Seal(kSigning)));
}

TEST(SecretBoxTest, ParsesKeysAndRefusesBadOnes) {
  const std::string text = SecretBox::GenerateKeyText();
  absl::StatusOr<std::string> key = SecretBox::ParseKey(text, "f");
  ASSERT_TRUE(key.ok()) << key.status();
  EXPECT_EQ(key->size(), 32u);
  EXPECT_TRUE(SecretBox::ParseKey("  " + text + "\n\n", "f").ok());
  EXPECT_NE(SecretBox::GenerateKeyText(), text);
  const std::string short_key = absl::Base64Escape(std::string(16, 'k'));
  absl::StatusOr<std::string> bad = SecretBox::ParseKey(short_key, "/etc/k");
  EXPECT_EQ(bad.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(bad.status().message(), HasSubstr("/etc/k"));
  EXPECT_FALSE(absl::StrContains(bad.status().message(), short_key));
  EXPECT_FALSE(SecretBox::ParseKey("not base64 at all!", "x").ok());
  EXPECT_FALSE(SecretBox::ParseKey("", "x").ok());
  EXPECT_FALSE(SecretBox::Create(std::string(31, 'k')).ok());
}

TEST(SecretCodecTest, SealsOnlyTheSecretFields) {
  auto box = Box('a');
  core::Target t;
  t.address = "https://receiver.example/hook";
  t.auth_header = kAuth;
  t.signing_secret = kSigning;
  t.previous_signing_secret = kPrevious;
  t.headers = {{"X-Team", "blue"}};
  absl::StatusOr<std::string> json = sqlite::EncodeTarget(t, box.get());
  ASSERT_TRUE(json.ok()) << json.status();
  EXPECT_FALSE(absl::StrContains(*json, "s3cr3t"));
  EXPECT_FALSE(absl::StrContains(*json, kSigning));
  EXPECT_FALSE(absl::StrContains(*json, kPrevious));
  EXPECT_TRUE(absl::StrContains(*json, "https://receiver.example/hook"));
  EXPECT_TRUE(absl::StrContains(*json, "\"auth_header\":\"enc:v1:"));
  EXPECT_EQ(*sqlite::DecodeTarget(*json, box.get()), t);
  // Without the key a sealed row does not decode; plaintext rows still do.
  EXPECT_FALSE(sqlite::DecodeTarget(*json).ok());
  EXPECT_EQ(*sqlite::DecodeTarget(*sqlite::EncodeTarget(t), box.get()), t);
  // A target without secrets is stored the same with or without a box.
  core::Target plain;
  plain.address = t.address;
  EXPECT_EQ(*sqlite::EncodeTarget(plain, box.get()),
            *sqlite::EncodeTarget(plain));
  // The UTF-8 rule still applies to sealed values.
  core::Target bad = plain;
  bad.auth_header = "\xff";
  EXPECT_EQ(sqlite::EncodeTarget(bad, box.get()).status().code(),
            absl::StatusCode::kInvalidArgument);
}

// Every byte of every file in `dir` (the database, its WAL and shm).
std::string AllFileBytes(const std::string& dir) {
  std::string out;
  DIR* d = opendir(dir.c_str());
  if (d == nullptr) return out;
  while (dirent* e = readdir(d)) {
    const std::string name = e->d_name;
    if (name == "." || name == "..") continue;
    std::ifstream in(dir + "/" + name, std::ios::binary);
    std::stringstream s;
    s << in.rdbuf();
    out += s.str();
  }
  closedir(d);
  return out;
}

class SqliteSecretsTest : public ::testing::Test {
 protected:
  std::unique_ptr<SqliteStore> Open(std::shared_ptr<const SecretBox> box) {
    SqliteOptions o;
    o.path = dir_.File("herald.db");
    o.secrets = std::move(box);
    absl::StatusOr<std::unique_ptr<SqliteStore>> s = SqliteStore::Open(o);
    EXPECT_TRUE(s.ok()) << s.status();
    return s.ok() ? *std::move(s) : nullptr;
  }

  static core::Target SecretTarget() {
    core::Target t;
    t.address = "http://127.0.0.1:9/hook";
    t.payload_format = core::PayloadFormat::kDefault;
    t.auth_header = kAuth;
    t.signing_secret = kSigning;
    t.previous_signing_secret = kPrevious;
    t.previous_secret_expire_time = absl::FromUnixSeconds(2000000000);
    return t;
  }

  // A policy with secrets and one event delivered to it.
  int64_t Populate(SqliteStore& store) {
    core::Policy p;
    p.project_id = 1;
    p.name = "secretive";
    p.event_types = {"PUSH_ARTIFACT"};
    p.targets = {SecretTarget()};
    absl::StatusOr<core::Policy> created = store.CreatePolicy(p, "s", "");
    EXPECT_TRUE(created.ok()) << created.status();
    NewEvent e;
    e.event.project_id = 1;
    e.event.event_type = "PUSH_ARTIFACT";
    e.event.data = "{}";
    NewDelivery d;
    d.policy_id = created->id;
    d.target = SecretTarget();
    d.payload = "{}";
    d.content_type = "application/json";
    d.webhook_id = "msg_1";
    e.deliveries.push_back(d);
    std::vector<NewEvent> events;
    events.push_back(std::move(e));
    absl::StatusOr<std::vector<CommittedEvent>> committed =
        store.CommitEvents(std::move(events));
    EXPECT_TRUE(committed.ok() && committed->at(0).status.ok());
    return created->id;
  }

  void ExpectSecretsReadBack(SqliteStore& store, int64_t policy_id) {
    absl::StatusOr<core::Policy> p = store.GetPolicy(policy_id);
    ASSERT_TRUE(p.ok()) << p.status();
    EXPECT_EQ(p->targets.at(0), SecretTarget());
    ExecutionQuery q;
    q.policy_id = policy_id;
    q.page = {0, 10};
    absl::StatusOr<ExecutionList> list = store.ListExecutions(q);
    ASSERT_TRUE(list.ok()) << list.status();
    ASSERT_EQ(list->executions.size(), 1u);
    EXPECT_EQ(list->executions[0].target, SecretTarget());
  }

  void ExpectNoPlaintext() {
    const std::string bytes = AllFileBytes(dir_.path());
    ASSERT_FALSE(bytes.empty());
    EXPECT_FALSE(absl::StrContains(bytes, "s3cr3t-auth-header"));
    EXPECT_FALSE(absl::StrContains(bytes, kSigning));
    EXPECT_FALSE(absl::StrContains(bytes, kPrevious));
  }

  TempDir dir_;
};

TEST_F(SqliteSecretsTest, DatabaseFilesNeverHoldSecretsInPlaintext) {
  int64_t id;
  {
    auto store = Open(Box('a'));
    ASSERT_NE(store, nullptr);
    id = Populate(*store);
    ExpectSecretsReadBack(*store, id);
    // The claim path decrypts too.
    ClaimOptions claim;
    claim.owner = "test";
    claim.limit = 10;
    claim.lease = absl::Seconds(60);
    absl::StatusOr<std::vector<ClaimedTask>> claimed = store->ClaimTasks(claim);
    ASSERT_TRUE(claimed.ok()) << claimed.status();
    ASSERT_EQ(claimed->size(), 1u);
    EXPECT_EQ(claimed->at(0).execution.target, SecretTarget());
    ExpectNoPlaintext();  // while open: the WAL holds the writes
  }
  ExpectNoPlaintext();
  auto store = Open(Box('a'));
  ASSERT_NE(store, nullptr);
  EXPECT_EQ(store->secrets_resealed(), 0);
  ExpectSecretsReadBack(*store, id);
}

TEST_F(SqliteSecretsTest, PlaintextRowsAreSealedAtOpen) {
  int64_t id;
  {
    auto store = Open(nullptr);  // before encryption was enabled
    ASSERT_NE(store, nullptr);
    id = Populate(*store);
  }
  EXPECT_TRUE(absl::StrContains(AllFileBytes(dir_.path()), kSigning));
  {
    auto store = Open(Box('a'));
    ASSERT_NE(store, nullptr);
    EXPECT_EQ(store->secrets_resealed(), 2);  // the policy and the execution
    ExpectSecretsReadBack(*store, id);
  }
  ExpectNoPlaintext();
  auto store = Open(Box('a'));
  ASSERT_NE(store, nullptr);
  EXPECT_EQ(store->secrets_resealed(), 0);
}

TEST_F(SqliteSecretsTest, RotationResealsWithTheNewKey) {
  int64_t id;
  {
    auto store = Open(Box('a'));
    ASSERT_NE(store, nullptr);
    id = Populate(*store);
  }
  {
    auto store = Open(Box('b', {'a'}));
    ASSERT_NE(store, nullptr);
    EXPECT_EQ(store->secrets_resealed(), 2);
    ExpectSecretsReadBack(*store, id);
  }
  auto store = Open(Box('b'));  // the old key is no longer needed
  ASSERT_NE(store, nullptr);
  EXPECT_EQ(store->secrets_resealed(), 0);
  ExpectSecretsReadBack(*store, id);
  ExpectNoPlaintext();
}

TEST_F(SqliteSecretsTest, WrongKeyIsRefusedAtOpen) {
  {
    auto store = Open(Box('a'));
    ASSERT_NE(store, nullptr);
    Populate(*store);
  }
  SqliteOptions o;
  o.path = dir_.File("herald.db");
  o.secrets = Box('z');
  absl::StatusOr<std::unique_ptr<SqliteStore>> s = SqliteStore::Open(o);
  ASSERT_FALSE(s.ok());
  EXPECT_THAT(s.status().message(), HasSubstr("secret key"));
  o.secrets = nullptr;  // no key at all: opens, but the rows do not decode
  s = SqliteStore::Open(o);
  ASSERT_TRUE(s.ok()) << s.status();
  PolicyQuery q;
  q.page = {0, 10};
  EXPECT_FALSE((*s)->ListPolicies(q).ok());
}

}  // namespace
}  // namespace herald::store
