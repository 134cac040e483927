// Secrets at rest: SecretBox (AES-256-GCM sealing, plaintext passthrough,
// rotation) and both stores with a SecretBox: the database never holds an
// auth_header or signing secret in plaintext, old plaintext rows are sealed
// at open, a rotated key re-seals everything, a wrong key is refused at
// open; on PostgreSQL also the replicas' shared key (one with another key
// is refused even before any secret is stored) and replicas that start
// together.
#include <dirent.h>

#include <fstream>
#include <memory>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/escaping.h"
#include "absl/strings/match.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "server/store/postgres/postgres_store.h"
#include "server/store/secret_box.h"
#include "server/store/sqlite/codec.h"
#include "server/store/sqlite/sqlite_store.h"
#include "tests/unit/store/postgres_test_cluster.h"
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

TEST(SecretCodecTest, TellsWhichStoredTargetsNeedResealing) {
  auto box = Box('a');
  core::Target t;
  t.address = "https://receiver.example/hook";
  const std::string none = *sqlite::EncodeTarget(t);
  t.signing_secret = kSigning;
  const std::string plain = *sqlite::EncodeTarget(t);
  const std::string sealed = *sqlite::EncodeTarget(t, box.get());
  EXPECT_FALSE(sqlite::TargetSecretsNeedReseal(none, *box));
  EXPECT_TRUE(sqlite::TargetSecretsNeedReseal(plain, *box));
  EXPECT_TRUE(sqlite::TargetSecretsNeedReseal("[" + none + "," + plain + "]",
                                              *box));
  EXPECT_FALSE(sqlite::TargetSecretsNeedReseal(sealed, *box));
  auto rotated = Box('b', {'a'});
  EXPECT_TRUE(sqlite::TargetSecretsNeedReseal(sealed, *rotated));
  absl::StatusOr<std::string> resealed = sqlite::ResealTarget(sealed, *rotated);
  ASSERT_TRUE(resealed.ok()) << resealed.status();
  EXPECT_FALSE(sqlite::TargetSecretsNeedReseal(*resealed, *rotated));
  EXPECT_EQ(*sqlite::DecodeTarget(*resealed, Box('b').get()), t);
  EXPECT_FALSE(sqlite::ResealTarget(sealed, *Box('c')).ok());
  // A damaged row's error does not quote what the parser last read.
  absl::StatusOr<core::Target> damaged =
      sqlite::DecodeTarget("{\"auth_header\":\"Bearer leak-me-0123", box.get());
  ASSERT_FALSE(damaged.ok());
  EXPECT_FALSE(absl::StrContains(damaged.status().message(), "leak-me"))
      << damaged.status();
  // A header value that looks like a secret field is not one.
  core::Target tricky;
  tricky.headers = {{"X-A", "\"auth_header\":\"x"}};
  EXPECT_FALSE(
      sqlite::TargetSecretsNeedReseal(*sqlite::EncodeTarget(tricky), *box));
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

// One database, opened as often as a test likes, with what differs between
// the stores: how to look at everything the database holds.
class SecretsBackend {
 public:
  virtual ~SecretsBackend() = default;
  struct Opened {
    std::unique_ptr<Store> store;
    int64_t resealed = 0;  // the store's secrets_resealed()
  };
  virtual absl::StatusOr<Opened> Open(std::shared_ptr<const SecretBox> box) = 0;
  // True if `needle` occurs anywhere the database keeps data: for SQLite
  // the bytes of its files; for PostgreSQL every row of the schema's
  // tables and, after a CHECKPOINT, the bytes of their files (heap, TOAST,
  // indexes), where replaced row versions stay until VACUUM; `scrub` runs
  // VACUUM FULL first, as docs/configuration.md says to after sealing
  // plaintext rows.
  virtual bool Holds(const std::string& needle, bool scrub) = 0;
  // Whether a store opened without a key on sealed secrets is refused
  // (PostgreSQL: replicas) or opens and fails on reading them (SQLite).
  virtual bool RefusesMissingKey() const = 0;
};

class SqliteSecrets final : public SecretsBackend {
 public:
  absl::StatusOr<Opened> Open(std::shared_ptr<const SecretBox> box) override {
    SqliteOptions o;
    o.path = dir_.File("herald.db");
    o.secrets = std::move(box);
    absl::StatusOr<std::unique_ptr<SqliteStore>> s = SqliteStore::Open(o);
    if (!s.ok()) return s.status();
    Opened out;
    out.resealed = (*s)->secrets_resealed();
    out.store = *std::move(s);
    return out;
  }
  bool Holds(const std::string& needle, bool) override {
    const std::string bytes = AllFileBytes(dir_.path());
    EXPECT_FALSE(bytes.empty());
    return absl::StrContains(bytes, needle);
  }
  bool RefusesMissingKey() const override { return false; }

 private:
  TempDir dir_;
};

class PostgresSecrets final : public SecretsBackend {
 public:
  PostgresSecrets() {
    absl::StatusOr<herald::testing::PostgresCluster*> cluster =
        herald::testing::SharedPostgresCluster();
    if (absl::IsUnimplemented(cluster.status())) {
      missing_ = std::string(cluster.status().message());
      return;
    }
    if (!cluster.ok()) {
      ADD_FAILURE() << "no PostgreSQL test cluster: " << cluster.status();
      return;
    }
    cluster_ = *cluster;
    absl::StatusOr<std::string> schema = cluster_->CreateSchema("herald_sec");
    if (!schema.ok()) {
      ADD_FAILURE() << schema.status();
      return;
    }
    schema_ = *schema;
  }
  ~PostgresSecrets() override {
    if (!schema_.empty()) cluster_->DropSchema(schema_).IgnoreError();
  }
  const std::string& missing() const { return missing_; }
  std::string dsn() const { return cluster_->SchemaDsn(schema_); }

  absl::StatusOr<Opened> Open(std::shared_ptr<const SecretBox> box) override {
    if (schema_.empty()) return absl::FailedPreconditionError("no schema");
    PostgresOptions o;
    o.dsn = dsn();
    o.pool_size = 2;
    o.secrets = std::move(box);
    absl::StatusOr<std::unique_ptr<PostgresStore>> s = PostgresStore::Open(o);
    if (!s.ok()) return s.status();
    Opened out;
    out.resealed = (*s)->secrets_resealed();
    out.store = *std::move(s);
    return out;
  }

  bool Holds(const std::string& needle, bool scrub) override {
    const std::string dsn = cluster_->SchemaDsn(schema_);
    const std::string like = absl::StrCat("%", needle, "%");
    if (scrub) {
      EXPECT_TRUE(Query("VACUUM (FULL) policies, executions").ok());
    }
    // Every row of every table, as text.
    absl::StatusOr<std::string> rows = Query(absl::StrCat(
        "SELECT coalesce(sum((xpath('/row/n/text()', query_to_xml(format("
        "'SELECT count(*) AS n FROM %I.%I x WHERE x::text LIKE %L', "
        "table_schema, table_name, '", like, "'), false, true, '')))[1]"
        "::text::int), 0) FROM information_schema.tables "
        "WHERE table_schema = '", schema_, "' AND table_type = 'BASE TABLE'"));
    EXPECT_TRUE(rows.ok()) << rows.status();
    EXPECT_TRUE(Query("CHECKPOINT").ok());
    // The files of those tables, their TOAST tables and every index.
    absl::StatusOr<std::string> files = Query(absl::StrCat(
        "WITH t AS (SELECT oid, reltoastrelid FROM pg_class "
        "WHERE relnamespace = '", schema_, "'::regnamespace AND relkind = 'r'), "
        "rels AS (SELECT oid FROM t UNION SELECT reltoastrelid FROM t "
        "WHERE reltoastrelid <> 0 UNION SELECT indexrelid FROM pg_index "
        "WHERE indrelid IN (SELECT oid FROM t UNION SELECT reltoastrelid "
        "FROM t)) SELECT count(*) FROM rels WHERE position(convert_to('",
        needle, "', 'UTF8') IN "
        "pg_read_binary_file(pg_relation_filepath(oid))) > 0"));
    EXPECT_TRUE(files.ok()) << files.status();
    return !rows.ok() || *rows != "0" || !files.ok() || *files != "0";
  }
  bool RefusesMissingKey() const override { return true; }

  absl::StatusOr<std::string> Query(const std::string& sql) {
    return herald::testing::PostgresCluster::Query(dsn(), sql);
  }

 private:
  herald::testing::PostgresCluster* cluster_ = nullptr;
  std::string schema_;
  std::string missing_;
};

class StoreSecretsTest : public ::testing::TestWithParam<std::string> {
 protected:
  void SetUp() override {
    if (GetParam() == "Postgres") {
      auto pg = std::make_unique<PostgresSecrets>();
      if (!pg->missing().empty()) GTEST_SKIP() << pg->missing();
      backend_ = std::move(pg);
    } else {
      backend_ = std::make_unique<SqliteSecrets>();
    }
  }

  SecretsBackend::Opened Open(std::shared_ptr<const SecretBox> box) {
    absl::StatusOr<SecretsBackend::Opened> s = backend_->Open(std::move(box));
    EXPECT_TRUE(s.ok()) << s.status();
    return s.ok() ? *std::move(s) : SecretsBackend::Opened{};
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
  int64_t Populate(Store& store) {
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

  void ExpectSecretsReadBack(Store& store, int64_t policy_id) {
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

  void ExpectNoPlaintext(bool scrub = false) {
    EXPECT_FALSE(backend_->Holds("s3cr3t-auth-header", scrub));
    EXPECT_FALSE(backend_->Holds(kSigning, false));
    EXPECT_FALSE(backend_->Holds(kPrevious, false));
  }

  std::unique_ptr<SecretsBackend> backend_;
};

INSTANTIATE_TEST_SUITE_P(Stores, StoreSecretsTest,
                         ::testing::Values("Sqlite", "Postgres"),
                         [](const auto& info) { return info.param; });

TEST_P(StoreSecretsTest, DatabaseNeverHoldsSecretsInPlaintext) {
  int64_t id;
  {
    auto opened = Open(Box('a'));
    ASSERT_NE(opened.store, nullptr);
    Store& store = *opened.store;
    id = Populate(store);
    ExpectSecretsReadBack(store, id);
    // The claim path decrypts too.
    ClaimOptions claim;
    claim.owner = "test";
    claim.limit = 10;
    claim.lease = absl::Seconds(60);
    absl::StatusOr<std::vector<ClaimedTask>> claimed = store.ClaimTasks(claim);
    ASSERT_TRUE(claimed.ok()) << claimed.status();
    ASSERT_EQ(claimed->size(), 1u);
    EXPECT_EQ(claimed->at(0).execution.target, SecretTarget());
    // An update rewrites the policy row (old versions stay behind in
    // PostgreSQL's heap: they must be sealed too).
    core::Policy p = *store.GetPolicy(id);
    p.description = "updated";
    ASSERT_TRUE(store.UpdatePolicy(p).ok());
    ExpectNoPlaintext();  // while open: SQLite's WAL holds the writes
  }
  ExpectNoPlaintext();
  auto opened = Open(Box('a'));
  ASSERT_NE(opened.store, nullptr);
  EXPECT_EQ(opened.resealed, 0);
  ExpectSecretsReadBack(*opened.store, id);
}

TEST_P(StoreSecretsTest, PlaintextRowsAreSealedAtOpen) {
  int64_t id;
  {
    auto opened = Open(nullptr);  // before encryption was enabled
    ASSERT_NE(opened.store, nullptr);
    id = Populate(*opened.store);
  }
  EXPECT_TRUE(backend_->Holds(kSigning, false));
  {
    auto opened = Open(Box('a'));
    ASSERT_NE(opened.store, nullptr);
    EXPECT_EQ(opened.resealed, 2);  // the policy and the execution
    ExpectSecretsReadBack(*opened.store, id);
  }
  // PostgreSQL keeps the replaced row versions until VACUUM.
  ExpectNoPlaintext(/*scrub=*/true);
  auto opened = Open(Box('a'));
  ASSERT_NE(opened.store, nullptr);
  EXPECT_EQ(opened.resealed, 0);
}

TEST_P(StoreSecretsTest, RotationResealsWithTheNewKey) {
  int64_t id;
  {
    auto opened = Open(Box('a'));
    ASSERT_NE(opened.store, nullptr);
    id = Populate(*opened.store);
  }
  {
    auto opened = Open(Box('b', {'a'}));
    ASSERT_NE(opened.store, nullptr);
    EXPECT_EQ(opened.resealed, 2);
    ExpectSecretsReadBack(*opened.store, id);
  }
  auto opened = Open(Box('b'));  // the old key is no longer needed
  ASSERT_NE(opened.store, nullptr);
  EXPECT_EQ(opened.resealed, 0);
  ExpectSecretsReadBack(*opened.store, id);
  ExpectNoPlaintext();
  opened.store.reset();
  // ... and no longer opens anything.
  EXPECT_FALSE(backend_->Open(Box('a')).ok());
}

TEST_P(StoreSecretsTest, WrongKeyIsRefusedAtOpen) {
  {
    auto opened = Open(Box('a'));
    ASSERT_NE(opened.store, nullptr);
    Populate(*opened.store);
  }
  absl::StatusOr<SecretsBackend::Opened> s = backend_->Open(Box('z'));
  ASSERT_FALSE(s.ok());
  EXPECT_THAT(s.status().message(), HasSubstr("secret key"));
  s = backend_->Open(nullptr);  // no key at all
  if (backend_->RefusesMissingKey()) {
    ASSERT_FALSE(s.ok());
    EXPECT_EQ(s.status().code(), absl::StatusCode::kFailedPrecondition);
    EXPECT_THAT(s.status().message(), HasSubstr("secret key"));
  } else {
    ASSERT_TRUE(s.ok()) << s.status();  // opens, but the rows do not decode
    PolicyQuery q;
    q.page = {0, 10};
    EXPECT_FALSE(s->store->ListPolicies(q).ok());
  }
}

// PostgreSQL: the replicas of one deployment.
class PostgresSecretsTest : public ::testing::Test {
 protected:
  void SetUp() override {
    if (!backend_.missing().empty()) GTEST_SKIP() << backend_.missing();
  }
  PostgresSecrets backend_;
};

TEST_F(PostgresSecretsTest, ReplicaWithAnotherKeyIsRefusedBeforeAnySecret) {
  absl::StatusOr<SecretsBackend::Opened> a = backend_.Open(Box('a'));
  ASSERT_TRUE(a.ok()) << a.status();
  // Nothing secret is stored yet, but the database knows the key.
  absl::StatusOr<SecretsBackend::Opened> b = backend_.Open(Box('b'));
  ASSERT_FALSE(b.ok());
  EXPECT_EQ(b.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_THAT(b.status().message(), HasSubstr("every replica"));
  EXPECT_FALSE(absl::StrContains(b.status().message(), Key('b')));
  // The same key (and the same key being rotated in) is accepted.
  EXPECT_TRUE(backend_.Open(Box('a')).ok());
  EXPECT_TRUE(backend_.Open(Box('b', {'a'})).ok());
}

TEST_F(PostgresSecretsTest, ReplicasStartingTogetherSealOnce) {
  int64_t id;
  {
    absl::StatusOr<SecretsBackend::Opened> plain = backend_.Open(nullptr);
    ASSERT_TRUE(plain.ok()) << plain.status();
    core::Policy p;
    p.project_id = 1;
    p.event_types = {"PUSH_ARTIFACT"};
    core::Target t;
    t.address = "http://127.0.0.1:9/hook";
    t.auth_header = kAuth;
    p.targets = {t};
    // Enough rows for several chunks of executions.
    for (int i = 0; i < 3; ++i) {
      p.name = absl::StrCat("p", i);
      absl::StatusOr<core::Policy> created =
          plain->store->CreatePolicy(p, "s", "");
      ASSERT_TRUE(created.ok()) << created.status();
      id = created->id;
    }
    std::vector<NewEvent> events;
    for (int i = 0; i < 1200; ++i) {
      NewEvent e;
      e.event.project_id = 1;
      e.event.event_type = "PUSH_ARTIFACT";
      e.event.data = "{}";
      NewDelivery d;
      d.policy_id = id;
      d.target = t;
      d.payload = "{}";
      d.content_type = "application/json";
      d.webhook_id = absl::StrCat("msg_", i);
      e.deliveries.push_back(d);
      events.push_back(std::move(e));
    }
    ASSERT_TRUE(plain->store->CommitEvents(std::move(events)).ok());
  }
  std::vector<absl::StatusOr<SecretsBackend::Opened>> replicas(3);
  {
    std::vector<std::thread> threads;
    for (auto& r : replicas) {
      threads.emplace_back([&r, this] { r = backend_.Open(Box('a')); });
    }
    for (std::thread& t : threads) t.join();
  }
  int64_t resealed = 0;
  for (auto& r : replicas) {
    ASSERT_TRUE(r.ok()) << r.status();
    resealed += r->resealed;
  }
  EXPECT_EQ(resealed, 3 + 1200);  // each row once, by whichever came first
  EXPECT_FALSE(backend_.Holds("s3cr3t-auth-header", /*scrub=*/true));
  absl::StatusOr<core::Policy> p = replicas[2]->store->GetPolicy(id);
  ASSERT_TRUE(p.ok()) << p.status();
  EXPECT_EQ(p->targets.at(0).auth_header, kAuth);
}

}  // namespace
}  // namespace herald::store
