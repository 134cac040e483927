// heraldctl end to end against a real heraldd: every subcommand, --json
// output parsed back into the proto and compared field by field with what
// the client library reads, table output smoke tests (plain, coloured, and
// the live watch view and progress bar on a pseudo-terminal), and the
// documented exit codes.
#include <google/protobuf/util/json_util.h>
#include <google/protobuf/util/message_differencer.h>
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <fstream>
#include <set>
#include <thread>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "absl/time/clock.h"
#include "client/client.h"
#include "tests/client/subprocess.h"
#include "tests/integration/heraldd_process.h"
#include "tests/receivers/test_receiver.h"

namespace herald::testing {
namespace {

using ::google::protobuf::util::MessageDifferencer;
using ::testing::HasSubstr;
using ::testing::Not;

constexpr char kDeadUrl[] = "http://127.0.0.1:1/hook";

// The exit codes heraldctl documents.
constexpr int kOk = 0, kError = 1, kUsage = 2, kAuth = 3, kNotFound = 4,
              kUnavailable = 5, kInvalid = 6;

template <typename Message>
Message FromJson(const std::string& json) {
  Message m;
  const auto status = google::protobuf::util::JsonStringToMessage(json, &m);
  EXPECT_TRUE(status.ok()) << status.ToString() << "\n" << json;
  return m;
}

template <typename Message>
void ExpectSame(const Message& expected, const Message& got) {
  MessageDifferencer differ;
  std::string diff;
  differ.ReportDifferencesToString(&diff);
  EXPECT_TRUE(differ.Compare(expected, got)) << diff;
}

class HeraldctlTest : public ::testing::Test {
 protected:
  void SetUp() override { Start(); }

  void Start(const std::string& data_dir = "", const std::string& address = "") {
    HeralddProcess::Options options;
    options.data_dir = data_dir;
    if (!address.empty()) options.listen_address = address;
    options.extra_args = {"--delivery_backoff_scale=0.001"};
    auto started = HeralddProcess::Start(options);
    ASSERT_TRUE(started.ok()) << started.status();
    server_ = *std::move(started);
    ConnectionOptions o;
    o.address = server_->address();
    o.token = server_->AdminToken();
    client_.emplace(MakeConnection(o));
  }

  std::string TokenFile() const { return server_->data_dir() + "/admin.token"; }

  // heraldctl with the server's address and the admin token file, unless
  // `raw`; the environment is cleared of HERALD_* so the flags decide.
  RunResult Ctl(std::vector<std::string> args, RunOptions options = {}, bool raw = false) {
    std::vector<std::string> argv = {HERALDCTL_PATH};
    if (!raw) {
      argv.push_back("--addr=" + server_->address());
      argv.push_back("--token-file=" + TokenFile());
    }
    argv.insert(argv.end(), args.begin(), args.end());
    for (const char* name : {"HERALD_ADDR", "HERALD_TOKEN", "HERALD_TOKEN_FILE", "NO_COLOR"}) {
      options.env.emplace(name, "");
    }
    return RunProgram(argv, options);
  }

  // Runs and expects success; returns stdout.
  std::string Ok(std::vector<std::string> args) {
    RunResult r = Ctl(args);
    EXPECT_EQ(r.exit_code, kOk) << absl::StrJoin(args, " ") << "\n" << r.err;
    return r.out;
  }

  int64_t MakePolicy(const std::string& name, const std::string& url = kDeadUrl) {
    v1::Policy p;
    p.set_project_id(1);
    p.set_name(name);
    p.add_event_types("PUSH_ARTIFACT");
    v1::Target* t = p.add_targets();
    t->set_type(v1::TARGET_TYPE_HTTP);
    t->set_address(url);
    p.mutable_retry_policy()->set_max_attempts(1);
    absl::StatusOr<v1::Policy> created = client_->CreatePolicy(p);
    EXPECT_TRUE(created.ok()) << created.status();
    return created.ok() ? created->id() : 0;
  }

  v1::Task WaitFinal(int64_t execution) {
    for (int i = 0; i < 1500; ++i) {
      absl::StatusOr<std::vector<v1::Task>> tasks = client_->ListTasks(execution);
      if (tasks.ok() && !tasks->empty() && tasks->front().final()) return tasks->front();
      absl::SleepFor(absl::Milliseconds(20));
    }
    ADD_FAILURE() << "execution " << execution << " did not finish";
    return v1::Task();
  }

  std::string WriteFile(const std::string& name, const std::string& text) {
    const std::string path = server_->data_dir() + "/" + name;
    std::ofstream(path) << text;
    return path;
  }

  std::unique_ptr<HeralddProcess> server_;
  std::optional<Client> client_;
};

const std::vector<std::string> kCommands = {
    "policies create",   "policies get",        "policies list",   "policies update",
    "policies delete",   "policies enable",     "policies disable", "policies event-types",
    "events publish",    "executions list",     "executions get",  "tasks list",
    "tasks get",         "tasks log",           "redeliver task",  "redeliver execution",
    "recover",           "watch",               "settings get",    "settings set",
    "tokens create",     "tokens list",         "tokens revoke",   "health",
    "info",              "version"};

TEST_F(HeraldctlTest, EveryCommandHasHelpWithAnExample) {
  RunResult top = Ctl({"--help"}, {}, true);
  EXPECT_EQ(top.exit_code, kOk);
  EXPECT_THAT(top.out, HasSubstr("Exit codes:"));
  for (const std::string& command : kCommands) {
    SCOPED_TRACE(command);
    EXPECT_THAT(top.out, HasSubstr("  " + command));
    std::vector<std::string> args = absl::StrSplit(command, ' ');
    args.push_back("--help");
    RunResult help = Ctl(args, {}, true);
    EXPECT_EQ(help.exit_code, kOk) << help.err;
    EXPECT_THAT(help.out, HasSubstr("Usage:\n  heraldctl " + command));
    EXPECT_THAT(help.out, HasSubstr("Example:\n  heraldctl " + command));
  }
  // Groups list their subcommands; "help X" works too.
  EXPECT_THAT(Ctl({"policies", "--help"}, {}, true).out, HasSubstr("policies disable"));
  EXPECT_THAT(Ctl({"help", "tasks", "log"}, {}, true).out, HasSubstr("heraldctl tasks log"));
}

TEST_F(HeraldctlTest, PolicyCommandsJsonMatchesTheApi) {
  const std::string created_json =
      Ok({"--json", "policies", "create", "--project", "1", "--name", "ci-notify",
          "--event-type", "PUSH_ARTIFACT,DELETE_ARTIFACT", "--target",
          "https://ci.example.com/hook", "--format", "cloudevents", "--signing-secret",
          "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw", "--header", "X-Team=platform",
          "--repo-pattern", "library/**", "--max-attempts", "5", "--request-id", "ctl-1"});
  const v1::Policy created = FromJson<v1::Policy>(created_json);
  ASSERT_GT(created.id(), 0);
  absl::StatusOr<v1::Policy> api = client_->GetPolicy(created.id());
  ASSERT_TRUE(api.ok());
  ExpectSame(*api, created);
  EXPECT_EQ(created.targets(0).payload_format(), v1::PAYLOAD_FORMAT_CLOUDEVENTS);
  EXPECT_TRUE(created.targets(0).has_signing_secret());
  EXPECT_EQ(created.targets(0).headers(0).value(), "platform");
  EXPECT_EQ(created.filters().repository_patterns(0), "library/**");
  EXPECT_EQ(created.retry_policy().max_attempts(), 5);
  // The request id makes a repeated create return the same policy.
  EXPECT_EQ(FromJson<v1::Policy>(Ok({"--json", "policies", "create", "--project", "1",
                                     "--name", "ci-notify", "--event-type", "PUSH_ARTIFACT",
                                     "--target", "https://x.example.com",
                                     "--request-id", "ctl-1"}))
                .id(),
            created.id());

  const std::string id = absl::StrCat(created.id());
  ExpectSame(*api, FromJson<v1::Policy>(Ok({"--json", "policies", "get", id})));

  // From a file (a bare Policy in proto JSON).
  const std::string file = WriteFile("policy.json", R"({
      "project_id": 1, "name": "from-file", "event_types": ["PULL_ARTIFACT"],
      "targets": [{"type": "TARGET_TYPE_SLACK",
                   "address": "https://hooks.slack.com/services/T0/B0/XYZ"}]})");
  const v1::Policy from_file =
      FromJson<v1::Policy>(Ok({"--json", "policies", "create", "--file", file}));
  EXPECT_EQ(from_file.targets(0).type(), v1::TARGET_TYPE_SLACK);

  v1::ListPoliciesResponse listed =
      FromJson<v1::ListPoliciesResponse>(Ok({"--json", "policies", "list", "--project", "1"}));
  ASSERT_EQ(listed.policies_size(), 2);
  ExpectSame(*client_->GetPolicy(from_file.id()), listed.policies(0));  // newest first
  ExpectSame(*client_->GetPolicy(created.id()), listed.policies(1));
  EXPECT_EQ(FromJson<v1::ListPoliciesResponse>(
                Ok({"--json", "policies", "list", "--name-contains", "file"}))
                .policies_size(),
            1);
  EXPECT_EQ(FromJson<v1::ListPoliciesResponse>(
                Ok({"--json", "policies", "list", "--limit", "1", "--page-size", "1"}))
                .policies_size(),
            1);

  const v1::Policy updated = FromJson<v1::Policy>(
      Ok({"--json", "policies", "update", id, "--description", "to CI", "--event-type",
          "PUSH_ARTIFACT"}));
  ExpectSame(*client_->GetPolicy(created.id()), updated);
  EXPECT_EQ(updated.description(), "to CI");
  EXPECT_EQ(updated.event_types_size(), 1);
  EXPECT_TRUE(updated.targets(0).has_signing_secret());  // untouched fields keep

  EXPECT_FALSE(FromJson<v1::Policy>(Ok({"--json", "policies", "disable", id})).enabled());
  EXPECT_FALSE(client_->GetPolicy(created.id())->enabled());
  EXPECT_THAT(Ok({"policies", "enable", id}), HasSubstr("enabled"));
  EXPECT_TRUE(client_->GetPolicy(created.id())->enabled());

  ExpectSame(*client_->ListEventTypes(),
             FromJson<v1::ListEventTypesResponse>(Ok({"--json", "policies", "event-types"})));

  EXPECT_THAT(Ok({"policies", "delete", id}), HasSubstr("deleted policy " + id));
  EXPECT_EQ(client_->GetPolicy(created.id()).status().code(), absl::StatusCode::kNotFound);
}

TEST_F(HeraldctlTest, TablesAreAlignedAndColouredOnlyWhenAsked) {
  MakePolicy("alpha");
  MakePolicy("a-much-longer-name");
  const std::string table = Ok({"policies", "list"});
  std::vector<std::string> lines = absl::StrSplit(table, '\n', absl::SkipEmpty());
  ASSERT_EQ(lines.size(), 3u);
  EXPECT_TRUE(absl::StartsWith(lines[0], "ID  PROJECT  NAME"));
  // Columns line up: STATE starts at the same offset on every line.
  const size_t state = lines[0].find("STATE");
  EXPECT_EQ(lines[1].find("enabled"), state);
  EXPECT_EQ(lines[2].find("enabled"), state);
  EXPECT_THAT(table, Not(HasSubstr("\x1b[")));  // not a terminal: no colour
  EXPECT_THAT(Ok({"--color=always", "policies", "list"}), HasSubstr("\x1b[32menabled"));

  EXPECT_THAT(Ok({"settings", "get"}), HasSubstr("webhook_job_max_retry:"));
  EXPECT_THAT(Ok({"tokens", "list"}), HasSubstr("bootstrap-admin"));
  EXPECT_THAT(Ok({"info"}), HasSubstr("bootstrap-admin (system-admin)"));
  EXPECT_THAT(Ok({"policies", "event-types"}), HasSubstr("harbor.artifact.pushed"));
}

TEST_F(HeraldctlTest, EventsPublish) {
  MakePolicy("p");
  const v1::EventAck ack = FromJson<v1::EventAck>(
      Ok({"--json", "events", "publish", "--project", "1", "--repo", "library/busybox",
          "--tag", "v1", "--request-id", "ctl-pub-1"}));
  EXPECT_GT(ack.event_id(), 0);
  EXPECT_EQ(ack.deliveries_created(), 1);
  EXPECT_TRUE(FromJson<v1::EventAck>(Ok({"--json", "events", "publish", "--project", "1",
                                         "--tag", "v1", "--request-id", "ctl-pub-1"}))
                  .duplicate());
  EXPECT_THAT(Ok({"events", "publish", "--project", "1"}), HasSubstr("deliveries created:  1"));

  const std::string event =
      R"({"event_type": "DELETE_ARTIFACT", "project_id": 1,
          "repository": {"namespace": "library", "name": "busybox"},
          "resources": [{"digest": "sha256:dde8e930c7b6a490f728e66292bc9bce42efc9bbb5278bae40e4f30f6e00fe8c"}]})";
  EXPECT_GT(FromJson<v1::EventAck>(
                Ok({"--json", "events", "publish", "--file", WriteFile("e.json", event)}))
                .event_id(),
            0);
  // JSON Lines: one stream, one acknowledgement per event.
  std::string compact = event;
  std::replace(compact.begin(), compact.end(), '\n', ' ');
  const std::string lines = absl::StrCat(R"({"request_id": "l1", "event": )", compact, "}\n",
                                         R"({"request_id": "l2", "event": )", compact, "}\n");
  RunResult stream = Ctl({"--json", "events", "publish", "--file", WriteFile("e.jsonl", lines)});
  ASSERT_EQ(stream.exit_code, kOk) << stream.err;
  std::vector<std::string> acks = absl::StrSplit(stream.out, '\n', absl::SkipEmpty());
  ASSERT_EQ(acks.size(), 2u);
  EXPECT_EQ(FromJson<v1::PublishEventsResponse>(acks[1]).request_id(), "l2");
  EXPECT_EQ(FromJson<v1::PublishEventsResponse>(acks[1]).sequence(), 2);
  // From stdin.
  RunOptions in;
  in.stdin_data = event;
  RunResult piped = Ctl({"events", "publish", "--file", "-"}, in);
  EXPECT_EQ(piped.exit_code, kOk) << piped.err;

  // Load mode.
  RunResult load = Ctl({"--json", "events", "publish", "--project", "1", "--count", "200",
                        "--rate", "2000"});
  ASSERT_EQ(load.exit_code, kOk) << load.err;
  google::protobuf::Struct summary = FromJson<google::protobuf::Struct>(load.out);
  EXPECT_EQ(summary.fields().at("acknowledged").number_value(), 200);
  EXPECT_EQ(summary.fields().at("deliveries_created").number_value(), 200);
  EXPECT_EQ(summary.fields().at("refused").number_value(), 0);
  EXPECT_THAT(Ok({"events", "publish", "--project", "1", "--count", "3"}),
              HasSubstr("acknowledged:        3"));
}

TEST_F(HeraldctlTest, DeliveryCommands) {
  auto receiver = receivers::TestReceiver::Start();
  ASSERT_TRUE(receiver.ok());
  const int64_t bad = MakePolicy("bad");
  const int64_t good = MakePolicy("good", (*receiver)->url("/ok"));
  Ok({"events", "publish", "--project", "1", "--tag", "v1"});

  v1::ListExecutionsRequest request;
  request.set_policy_id(bad);
  std::vector<v1::Execution> api;
  for (auto& e : client_->ListExecutions(request)) api.push_back(*e);
  ASSERT_EQ(api.size(), 1u);
  const int64_t execution = api[0].id();
  const v1::Task task = WaitFinal(execution);
  const std::string eid = absl::StrCat(execution), tid = absl::StrCat(task.id());

  v1::ListExecutionsResponse listed = FromJson<v1::ListExecutionsResponse>(
      Ok({"--json", "executions", "list", "--policy", absl::StrCat(bad)}));
  ASSERT_EQ(listed.executions_size(), 1);
  for (auto& e : client_->ListExecutions(request)) ExpectSame(*e, listed.executions(0));
  EXPECT_EQ(FromJson<v1::ListExecutionsResponse>(
                Ok({"--json", "executions", "list", "--policy", absl::StrCat(bad), "--status",
                    "success"}))
                .executions_size(),
            0);
  ExpectSame(*client_->GetExecution(execution),
             FromJson<v1::Execution>(Ok({"--json", "executions", "get", eid})));
  EXPECT_THAT(Ok({"executions", "get", eid, "--payload"}),
              HasSubstr("\"type\":\"PUSH_ARTIFACT\""));
  EXPECT_THAT(Ok({"executions", "list", "--policy", absl::StrCat(bad)}), HasSubstr("ERROR"));

  v1::ListTasksResponse tasks =
      FromJson<v1::ListTasksResponse>(Ok({"--json", "tasks", "list", eid}));
  ASSERT_EQ(tasks.tasks_size(), 1);
  ExpectSame(task, tasks.tasks(0));
  ExpectSame(task, FromJson<v1::Task>(Ok({"--json", "tasks", "get", tid, "--execution", eid})));
  EXPECT_THAT(Ok({"tasks", "list", eid}), HasSubstr("1/1"));
  EXPECT_EQ(Ctl({"tasks", "get", "999", "--execution", eid}).exit_code, kNotFound);

  const std::string log = Ok({"tasks", "log", tid});
  EXPECT_EQ(log, *client_->GetTaskLog(task.id()));
  EXPECT_THAT(log, HasSubstr("attempt 1 of 1"));
  EXPECT_EQ(FromJson<v1::GetTaskLogResponse>(Ok({"--json", "tasks", "log", tid})).log(), log);

  const v1::Task redelivered =
      FromJson<v1::Task>(Ok({"--json", "redeliver", "task", tid}));
  EXPECT_EQ(redelivered.status(), v1::TASK_STATUS_PENDING);
  WaitFinal(execution);
  EXPECT_EQ(FromJson<v1::Execution>(Ok({"--json", "redeliver", "execution", eid})).id(),
            execution);
  WaitFinal(execution);

  const std::string recovered =
      Ok({"recover", "--policy", absl::StrCat(bad), "--since", "1h", "--dry-run"});
  EXPECT_THAT(recovered, HasSubstr("failed tasks found:  1"));
  EXPECT_THAT(recovered, HasSubstr("would redeliver:     1"));
  RunResult recover = Ctl({"--json", "recover", "--project", "1", "--since", "1h"});
  ASSERT_EQ(recover.exit_code, kOk) << recover.err;
  std::vector<std::string> progress = absl::StrSplit(recover.out, '\n', absl::SkipEmpty());
  ASSERT_FALSE(progress.empty());
  const v1::RecoverFailedResponse last = FromJson<v1::RecoverFailedResponse>(progress.back());
  EXPECT_TRUE(last.done());
  EXPECT_EQ(last.redelivered(), 1);
  (void)good;
}

TEST_F(HeraldctlTest, SettingsTokensHealthInfo) {
  ExpectSame(*client_->GetSettings(),
             FromJson<v1::Settings>(Ok({"--json", "settings", "get"})));
  const v1::Settings set = FromJson<v1::Settings>(
      Ok({"--json", "settings", "set", "--max-retry", "7", "--http-timeout", "9s"}));
  EXPECT_EQ(set.webhook_job_max_retry(), 7);
  EXPECT_EQ(set.webhook_job_http_client_timeout().seconds(), 9);
  ExpectSame(*client_->GetSettings(), set);
  EXPECT_FALSE(FromJson<v1::Settings>(
                   Ok({"--json", "settings", "set", "--notification-enable=false"}))
                   .notification_enable());

  const v1::CreateTokenResponse token = FromJson<v1::CreateTokenResponse>(
      Ok({"--json", "tokens", "create", "--name", "ci", "--role", "project-admin",
          "--project", "1,2", "--expires-in", "24h"}));
  EXPECT_TRUE(absl::StartsWith(token.secret(), "hld_")) << token.secret();
  EXPECT_EQ(token.token().role(), v1::ROLE_PROJECT_ADMIN);
  EXPECT_EQ(token.token().project_ids_size(), 2);
  EXPECT_TRUE(token.token().has_expire_time());
  v1::ListTokensResponse tokens =
      FromJson<v1::ListTokensResponse>(Ok({"--json", "tokens", "list"}));
  ASSERT_EQ(tokens.tokens_size(), 2);
  v1::ListTokensRequest all;
  int i = 0;
  for (auto& t : client_->ListTokens(all)) ExpectSame(*t, tokens.tokens(i++));

  // The new token works through --token, and through HERALD_TOKEN.
  RunResult as_ci = Ctl({"--addr=" + server_->address(), "--token", token.secret(), "--json",
                         "info"},
                        {}, true);
  ASSERT_EQ(as_ci.exit_code, kOk) << as_ci.err;
  EXPECT_EQ(FromJson<v1::GetServerInfoResponse>(as_ci.out).caller().name(), "ci");
  RunOptions env;
  env.env = {{"HERALD_ADDR", server_->address()}, {"HERALD_TOKEN", token.secret()}};
  std::vector<std::string> argv = {HERALDCTL_PATH, "--json", "info"};
  RunResult from_env = RunProgram(argv, env);
  ASSERT_EQ(from_env.exit_code, kOk) << from_env.err;
  EXPECT_EQ(FromJson<v1::GetServerInfoResponse>(from_env.out).caller().name(), "ci");

  EXPECT_THAT(Ok({"tokens", "revoke", absl::StrCat(token.token().id())}),
              HasSubstr("revoked token"));
  EXPECT_EQ(RunProgram(argv, env).exit_code, kAuth);
  EXPECT_EQ(FromJson<v1::ListTokensResponse>(Ok({"--json", "tokens", "list", "--revoked"}))
                .tokens_size(),
            2);

  RunResult health = Ctl({"--addr=" + server_->address(), "health"}, {}, true);  // no token
  EXPECT_EQ(health.exit_code, kOk) << health.err;
  EXPECT_EQ(health.out, "SERVING\n");
  EXPECT_EQ(Ok({"health", "--service", "herald.v1.PolicyService"}), "SERVING\n");
  EXPECT_EQ(Ctl({"health", "--service", "nope"}).exit_code, kNotFound);

  v1::GetServerInfoResponse info =
      FromJson<v1::GetServerInfoResponse>(Ok({"--json", "info"}));
  ExpectSame(*client_->GetServerInfo(), info);
}

TEST_F(HeraldctlTest, ExitCodes) {
  // Usage errors.
  EXPECT_EQ(Ctl({"frobnicate"}).exit_code, kUsage);
  EXPECT_EQ(Ctl({"policies"}).exit_code, kUsage);
  EXPECT_EQ(Ctl({"policies", "get"}).exit_code, kUsage);
  EXPECT_EQ(Ctl({"policies", "get", "abc"}).exit_code, kUsage);
  RunResult flag = Ctl({"policies", "list", "--bogus"});
  EXPECT_EQ(flag.exit_code, kUsage);
  EXPECT_THAT(flag.err, HasSubstr("unknown flag --bogus"));
  EXPECT_EQ(Ctl({"policies", "list", "--limit", "many"}).exit_code, kUsage);
  EXPECT_EQ(Ctl({"policies", "create", "--name", "x"}).exit_code, kUsage);
  // Authentication.
  RunResult bad_token =
      Ctl({"--addr=" + server_->address(), "--token", "hld_wrong", "policies", "list"}, {}, true);
  EXPECT_EQ(bad_token.exit_code, kAuth);
  EXPECT_THAT(bad_token.err, HasSubstr("TOKEN_INVALID"));
  EXPECT_EQ(Ctl({"--addr=" + server_->address(), "info"}, {}, true).exit_code, kAuth);
  // Not found.
  RunResult missing = Ctl({"policies", "get", "424242"});
  EXPECT_EQ(missing.exit_code, kNotFound);
  EXPECT_THAT(missing.err, HasSubstr("NOT_FOUND"));
  // Invalid argument, with the field violations.
  RunResult invalid = Ctl({"policies", "create", "--project", "1", "--name", "x",
                           "--event-type", "NOT_A_TYPE", "--target", "ftp://x"});
  EXPECT_EQ(invalid.exit_code, kInvalid);
  EXPECT_THAT(invalid.err, HasSubstr("policy.targets[0].address"));
  // Unavailable: nobody listens there.
  RunResult down = Ctl({"--addr=127.0.0.1:1", "--token", "x", "--timeout", "2s", "info"}, {},
                       true);
  EXPECT_EQ(down.exit_code, kUnavailable);
  EXPECT_THAT(down.err, HasSubstr("is heraldd running at 127.0.0.1:1?"));
  // Anything else, e.g. FAILED_PRECONDITION: redelivering a task that is
  // not final (its endpoint hangs).
  auto receiver = receivers::TestReceiver::Start();
  ASSERT_TRUE(receiver.ok());
  (*receiver)->SetReply("/hang", receivers::Reply::Hang());
  const int64_t policy = MakePolicy("hangs", (*receiver)->url("/hang"));
  Ok({"events", "publish", "--project", "1"});
  v1::ListExecutionsRequest request;
  request.set_policy_id(policy);
  int64_t task = 0;
  for (auto& e : client_->ListExecutions(request)) task = (*client_->ListTasks(e->id()))[0].id();
  RunResult not_final = Ctl({"redeliver", "task", absl::StrCat(task)});
  EXPECT_EQ(not_final.exit_code, kError) << not_final.err;
  EXPECT_THAT(not_final.err, HasSubstr("TASK_NOT_FINAL"));
}

TEST_F(HeraldctlTest, WatchFollowsDeliveriesAcrossARestart) {
  auto receiver = receivers::TestReceiver::Start();
  ASSERT_TRUE(receiver.ok());
  const int64_t policy = MakePolicy("watched", (*receiver)->url("/ok"));
  // 2 events before and 2 after a restart, 3 updates each (PENDING,
  // RUNNING, SUCCESS).
  const int kUpdates = 12;
  RunResult watch;
  std::thread watcher([&] {
    watch = Ctl({"--json", "watch", "--policy", absl::StrCat(policy), "--count",
                 absl::StrCat(kUpdates), "--for", "90s"});
  });
  absl::SleepFor(absl::Seconds(1));
  Ok({"events", "publish", "--project", "1", "--tag", "a1"});
  Ok({"events", "publish", "--project", "1", "--tag", "a2"});
  absl::SleepFor(absl::Seconds(1));
  const std::string data_dir = server_->data_dir(), address = server_->address();
  ASSERT_EQ(server_->Terminate(), 0);
  Start(data_dir, address);
  Ok({"events", "publish", "--project", "1", "--tag", "b1"});
  Ok({"events", "publish", "--project", "1", "--tag", "b2"});
  watcher.join();
  if (watch.exit_code == kError && absl::StrContains(watch.err, "UNIMPLEMENTED")) {
    GTEST_SKIP() << "this heraldd does not implement WatchTasks: " << watch.err;
  }
  ASSERT_EQ(watch.exit_code, kOk) << watch.err;
  std::vector<std::string> lines = absl::StrSplit(watch.out, '\n', absl::SkipEmpty());
  ASSERT_EQ(lines.size(), static_cast<size_t>(kUpdates)) << watch.out << watch.err;
  std::set<std::string> cursors;
  int successes = 0;
  for (const std::string& line : lines) {
    const v1::TaskUpdate u = FromJson<v1::TaskUpdate>(line);
    EXPECT_EQ(u.execution().policy_id(), policy);
    cursors.insert(u.cursor());
    successes += u.task().status() == v1::TASK_STATUS_SUCCESS ? 1 : 0;
  }
  EXPECT_EQ(cursors.size(), lines.size());  // nothing twice
  EXPECT_EQ(successes, 4);                  // nothing lost
}

TEST_F(HeraldctlTest, WatchLineOutputAndStop) {
  MakePolicy("p");
  RunResult watch;
  std::thread watcher([&] { watch = Ctl({"watch", "--count", "3", "--for", "60s"}); });
  absl::SleepFor(absl::Seconds(1));
  Ok({"events", "publish", "--project", "1"});
  watcher.join();
  if (absl::StrContains(watch.err, "UNIMPLEMENTED")) GTEST_SKIP() << watch.err;
  ASSERT_EQ(watch.exit_code, kOk) << watch.err;
  std::vector<std::string> lines = absl::StrSplit(watch.out, '\n', absl::SkipEmpty());
  ASSERT_EQ(lines.size(), 3u);
  EXPECT_THAT(lines[0], HasSubstr("status=PENDING"));
  EXPECT_THAT(lines[0], HasSubstr("type=PUSH_ARTIFACT"));
  // --for ends a quiet watch cleanly.
  RunResult quiet = Ctl({"watch", "--for", "1s"});
  EXPECT_EQ(quiet.exit_code, kOk) << quiet.err;
  EXPECT_EQ(quiet.out, "");
}

// `script` runs a command on a pseudo-terminal.
bool HaveScript() { return RunProgram({"script", "--version"}).exit_code == 0; }

std::string Shell(const std::vector<std::string>& argv) {
  std::string cmd;
  for (const std::string& a : argv) absl::StrAppend(&cmd, cmd.empty() ? "" : " ", "'", a, "'");
  return cmd;
}

TEST_F(HeraldctlTest, LiveViewAndProgressBarOnATerminal) {
  if (!HaveScript()) GTEST_SKIP() << "no script(1) for a pseudo-terminal";
  MakePolicy("p");
  RunOptions tty;
  tty.env = {{"TERM", "xterm"}, {"HERALD_ADDR", ""}, {"HERALD_TOKEN", ""}, {"NO_COLOR", ""}};
  RunResult live;
  std::thread watcher([&] {
    live = RunProgram({"script", "-qefc",
                Shell({HERALDCTL_PATH, "--addr=" + server_->address(),
                       "--token-file=" + TokenFile(), "watch", "--count", "6", "--for", "30s"}),
                "/dev/null"},
               tty);
  });
  absl::SleepFor(absl::Seconds(1));
  Ok({"events", "publish", "--project", "1", "--count", "2"});
  watcher.join();
  if (absl::StrContains(live.out, "UNIMPLEMENTED")) GTEST_SKIP() << live.out;
  EXPECT_EQ(live.exit_code, kOk) << live.out;
  EXPECT_THAT(live.out, HasSubstr("\x1b[?1049h"));  // alternate screen
  EXPECT_THAT(live.out, HasSubstr("herald watch"));
  EXPECT_THAT(live.out, HasSubstr("deliveries/s"));
  EXPECT_THAT(live.out, HasSubstr("PENDING"));
  EXPECT_THAT(live.out, HasSubstr("\x1b[?1049l"));  // restored
  EXPECT_THAT(live.out, HasSubstr("watched 6 updates"));

  RunResult bar = RunProgram({"script", "-qefc",
                       Shell({HERALDCTL_PATH, "--addr=" + server_->address(),
                              "--token-file=" + TokenFile(), "events", "publish", "--project",
                              "1", "--count", "300", "--rate", "600"}),
                       "/dev/null"},
                      tty);
  EXPECT_EQ(bar.exit_code, kOk) << bar.out;
  EXPECT_THAT(bar.out, HasSubstr("300/300 100%"));
  EXPECT_THAT(bar.out, HasSubstr("ev/s"));
}

}  // namespace
}  // namespace herald::testing
