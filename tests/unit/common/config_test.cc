#include "server/common/config.h"

#include <map>
#include <string>
#include <vector>

#include "absl/strings/str_split.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "server/common/secret_file.h"
#include "tests/unit/common/temp_dir.h"

namespace herald::common {
namespace {

using ::testing::AllOf;
using ::testing::HasSubstr;
using ::testing::Not;

// Runs LoadConfig over `args` (argv[0] is added) and a fake environment.
class ConfigTest : public ::testing::Test {
 protected:
  absl::StatusOr<Config> Load(std::vector<std::string> args) {
    args.insert(args.begin(), "heraldd");
    std::vector<char*> argv;
    for (std::string& a : args) argv.push_back(a.data());
    argv.push_back(nullptr);
    return LoadConfig(
        static_cast<int>(args.size()), argv.data(),
        [this](std::string_view name) -> std::optional<std::string> {
          auto it = env_.find(std::string(name));
          if (it == env_.end()) return std::nullopt;
          return it->second;
        });
  }

  // Writes a config file and returns its path.
  std::string File(const std::string& contents,
                   const std::string& name = "h.conf") {
    const std::string path = dir_.Join(name);
    EXPECT_TRUE(WriteFileAtomically(path, contents, 0644).ok());
    return path;
  }

  std::string Error(std::vector<std::string> args) {
    absl::StatusOr<Config> c = Load(std::move(args));
    EXPECT_FALSE(c.ok());
    if (c.ok()) return "";
    EXPECT_EQ(c.status().code(), absl::StatusCode::kInvalidArgument)
        << c.status();
    return std::string(c.status().message());
  }

  herald::testing::TempDir dir_;
  std::map<std::string, std::string> env_;
};

TEST_F(ConfigTest, DefaultsMatchTheDocumentedValues) {
  absl::StatusOr<Config> c = Load({});
  ASSERT_TRUE(c.ok()) << c.status();
  EXPECT_EQ(c->listen_address, "127.0.0.1:7070");
  EXPECT_EQ(c->address_file, "");
  EXPECT_EQ(c->data_dir, "./var");
  EXPECT_EQ(c->store, "sqlite");
  EXPECT_EQ(c->postgres_dsn, "");
  EXPECT_EQ(c->postgres_pool_size, 8);
  EXPECT_EQ(c->tls_cert_file, "");
  EXPECT_EQ(c->tls_key_file, "");
  EXPECT_EQ(c->tls_client_ca_file, "");
  EXPECT_EQ(c->metrics_address, "127.0.0.1:9090");
  EXPECT_EQ(c->registry_endpoint, "http://localhost");
  EXPECT_TRUE(c->notification_enable);
  EXPECT_EQ(c->webhook_job_max_retry, 3);
  EXPECT_EQ(c->webhook_job_http_client_timeout, absl::Seconds(3));
  EXPECT_EQ(c->execution_retention_count, 50);
  EXPECT_EQ(c->log_level, "info");
  EXPECT_EQ(c->log_format, "json");
  EXPECT_EQ(c->shutdown_grace_period, absl::Seconds(10));
  EXPECT_EQ(c->worker_threads, 4);
  EXPECT_EQ(c->max_receive_message_bytes, 4194304);
  EXPECT_EQ(c->admin_token_file, "./var/admin.token");
  EXPECT_EQ(c->delivery_max_in_flight, 256);
  EXPECT_EQ(c->delivery_per_endpoint_concurrency, 16);
  EXPECT_EQ(c->delivery_backoff_scale, 1.0);
  EXPECT_EQ(c->delivery_lease, absl::Seconds(60));
  EXPECT_FALSE(c->allow_loopback_targets);
  EXPECT_FALSE(c->strict_private_targets);
  EXPECT_EQ(c->allowed_target_cidrs, "");
  EXPECT_EQ(c->keepalive_time, absl::Seconds(60));
  EXPECT_EQ(c->keepalive_timeout, absl::Seconds(20));
  EXPECT_EQ(c->keepalive_permit_time, absl::Seconds(10));
  EXPECT_EQ(c->config_file, "");
  EXPECT_FALSE(c->help_requested);
  EXPECT_FALSE(c->version_requested);
}

TEST_F(ConfigTest, AdminTokenFileFollowsDataDirUnlessSet) {
  EXPECT_EQ(Load({"--data_dir=/srv/herald"})->admin_token_file,
            "/srv/herald/admin.token");
  EXPECT_EQ(Load({"--data_dir=/srv/herald", "--admin_token_file=/run/t"})
                ->admin_token_file,
            "/run/t");
}

TEST_F(ConfigTest, SecretKeyFileFollowsDataDirUnlessSet) {
  absl::StatusOr<Config> c = Load({"--data_dir=/srv/herald"});
  ASSERT_TRUE(c.ok()) << c.status();
  EXPECT_EQ(c->secret_key_file, "/srv/herald/secret.key");
  EXPECT_TRUE(c->secret_key_file_is_default);
  EXPECT_EQ(c->secret_key_previous_file, "");
  env_["HERALD_SECRET_KEY_FILE"] = "/run/keys/herald";
  c = Load({"--secret_key_previous_file=/run/keys/old"});
  ASSERT_TRUE(c.ok()) << c.status();
  EXPECT_EQ(c->secret_key_file, "/run/keys/herald");
  EXPECT_FALSE(c->secret_key_file_is_default);
  EXPECT_EQ(c->secret_key_previous_file, "/run/keys/old");
}

TEST_F(ConfigTest, PublishRateLimitIsOffByDefaultAndBounded) {
  absl::StatusOr<Config> c = Load({});
  ASSERT_TRUE(c.ok()) << c.status();
  EXPECT_EQ(c->publish_rate_limit, 0);
  EXPECT_EQ(c->publish_rate_burst, 0);
  c = Load({"--publish_rate_limit=500", "--publish_rate_burst=2000"});
  ASSERT_TRUE(c.ok()) << c.status();
  EXPECT_EQ(c->publish_rate_limit, 500);
  EXPECT_EQ(c->publish_rate_burst, 2000);
  EXPECT_THAT(Error({"--publish_rate_limit=-1"}),
              AllOf(HasSubstr("publish_rate_limit"), HasSubstr("from 0 to")));
}

// ---- precedence -----------------------------------------------------------

TEST_F(ConfigTest, FlagsBeatEnvironmentBeatsFileBeatsDefaults) {
  const std::string path = File(
      "worker_threads = 5\n"
      "postgres_pool_size = 5\n"
      "delivery_max_in_flight = 5\n");
  env_["HERALD_POSTGRES_POOL_SIZE"] = "6";
  env_["HERALD_DELIVERY_MAX_IN_FLIGHT"] = "6";
  absl::StatusOr<Config> c =
      Load({"--config=" + path, "--delivery_max_in_flight=7"});
  ASSERT_TRUE(c.ok()) << c.status();
  EXPECT_EQ(c->worker_threads, 5);              // file
  EXPECT_EQ(c->postgres_pool_size, 6);          // env over file
  EXPECT_EQ(c->delivery_max_in_flight, 7);      // flag over env and file
  EXPECT_EQ(c->execution_retention_count, 50);  // default
  EXPECT_EQ(c->config_file, path);
}

TEST_F(ConfigTest, ConfigFileFromEnvironment) {
  env_["HERALD_CONFIG"] = File("log_level = debug\n");
  absl::StatusOr<Config> c = Load({});
  ASSERT_TRUE(c.ok()) << c.status();
  EXPECT_EQ(c->log_level, "debug");
}

TEST_F(ConfigTest, ConfigFlagOverridesConfigEnvironment) {
  env_["HERALD_CONFIG"] = File("log_level = debug\n", "env.conf");
  const std::string flag_file = File("log_level = warn\n", "flag.conf");
  absl::StatusOr<Config> c = Load({"--config", flag_file});
  ASSERT_TRUE(c.ok()) << c.status();
  EXPECT_EQ(c->log_level, "warn");
  EXPECT_EQ(c->config_file, flag_file);
}

TEST_F(ConfigTest, LastFlagWins) {
  EXPECT_EQ(Load({"--worker_threads=2", "--worker_threads=3"})->worker_threads,
            3);
}

TEST_F(ConfigTest, MissingConfigFileIsNotFound) {
  absl::StatusOr<Config> c = Load({"--config=" + dir_.Join("nope.conf")});
  ASSERT_FALSE(c.ok());
  EXPECT_EQ(c.status().code(), absl::StatusCode::kNotFound);
  EXPECT_THAT(c.status().message(), AllOf(HasSubstr("cannot read config file"),
                                          HasSubstr("nope.conf")));
}

TEST_F(ConfigTest, EmptyEnvironmentValueCountsAsSet) {
  env_["HERALD_METRICS_ADDRESS"] = "";
  EXPECT_EQ(Load({})->metrics_address, "");
}

// ---- Harbor names ---------------------------------------------------------

TEST_F(ConfigTest, HarborEnvironmentNamesAreAccepted) {
  env_["NOTIFICATION_ENABLE"] = "false";
  env_["JOBSERVICE_WEBHOOK_JOB_MAX_RETRY"] = "10";
  env_["JOBSERVICE_WEBHOOK_JOB_HTTP_CLIENT_TIMEOUT"] = "7";  // bare seconds
  absl::StatusOr<Config> c = Load({});
  ASSERT_TRUE(c.ok()) << c.status();
  EXPECT_FALSE(c->notification_enable);
  EXPECT_EQ(c->webhook_job_max_retry, 10);
  EXPECT_EQ(c->webhook_job_http_client_timeout, absl::Seconds(7));
}

TEST_F(ConfigTest, HeraldEnvironmentNameBeatsHarborName) {
  env_["JOBSERVICE_WEBHOOK_JOB_MAX_RETRY"] = "10";
  env_["HERALD_WEBHOOK_JOB_MAX_RETRY"] = "4";
  EXPECT_EQ(Load({})->webhook_job_max_retry, 4);
}

TEST_F(ConfigTest, FlagBeatsHarborName) {
  env_["NOTIFICATION_ENABLE"] = "false";
  EXPECT_TRUE(Load({"--notification_enable"})->notification_enable);
}

TEST_F(ConfigTest, BadHarborValueNamesTheHarborVariable) {
  env_["JOBSERVICE_WEBHOOK_JOB_MAX_RETRY"] = "three";
  EXPECT_THAT(Error({}),
              AllOf(HasSubstr("\"three\""), HasSubstr("webhook_job_max_retry"),
                    HasSubstr("environment variable "
                              "JOBSERVICE_WEBHOOK_JOB_MAX_RETRY"),
                    HasSubstr("expected an integer")));
}

// ---- flag syntax ----------------------------------------------------------

TEST_F(ConfigTest, FlagWithSeparateValue) {
  absl::StatusOr<Config> c = Load({"--listen_address", "0.0.0.0:0", "--store",
                                   "postgres", "--postgres_dsn", "host=db"});
  ASSERT_TRUE(c.ok()) << c.status();
  EXPECT_EQ(c->listen_address, "0.0.0.0:0");
  EXPECT_EQ(c->store, "postgres");
  EXPECT_EQ(c->postgres_dsn, "host=db");
}

TEST_F(ConfigTest, FlagValueMayContainEquals) {
  EXPECT_EQ(Load({"--postgres_dsn=host=db user=h"})->postgres_dsn,
            "host=db user=h");
}

TEST_F(ConfigTest, BoolFlagWithoutValueMeansTrue) {
  absl::StatusOr<Config> c =
      Load({"--strict_private_targets", "--allow_loopback_targets", "false"});
  ASSERT_TRUE(c.ok()) << c.status();
  EXPECT_TRUE(c->strict_private_targets);
  EXPECT_FALSE(c->allow_loopback_targets);
}

TEST_F(ConfigTest, BoolFlagFollowedByAnotherFlag) {
  absl::StatusOr<Config> c =
      Load({"--strict_private_targets", "--worker_threads=2"});
  ASSERT_TRUE(c.ok()) << c.status();
  EXPECT_TRUE(c->strict_private_targets);
  EXPECT_EQ(c->worker_threads, 2);
}

TEST_F(ConfigTest, UnknownFlag) {
  EXPECT_THAT(Error({"--listen_adress=x:1"}),
              HasSubstr("unknown flag --listen_adress"));
}

TEST_F(ConfigTest, UnknownFlagsValueIsNotReportedSeparately) {
  const std::string err = Error({"--colour", "blue"});
  EXPECT_THAT(err, HasSubstr("unknown flag --colour"));
  EXPECT_THAT(err, Not(HasSubstr("blue")));
}

TEST_F(ConfigTest, PositionalArgumentIsAnError) {
  EXPECT_THAT(Error({"serve"}), HasSubstr("unexpected argument \"serve\""));
  EXPECT_THAT(Error({"-v"}), HasSubstr("unexpected argument \"-v\""));
}

TEST_F(ConfigTest, FlagMissingItsValue) {
  EXPECT_THAT(Error({"--data_dir"}),
              HasSubstr("flag --data_dir needs a value"));
  EXPECT_THAT(Error({"--data_dir", "--worker_threads=1"}),
              HasSubstr("flag --data_dir needs a value"));
}

TEST_F(ConfigTest, HelpAndVersionShortCircuit) {
  // Even with otherwise invalid arguments.
  EXPECT_TRUE(Load({"--bogus", "--help"})->help_requested);
  EXPECT_TRUE(Load({"-h"})->help_requested);
  EXPECT_TRUE(Load({"--worker_threads=0", "--version"})->version_requested);
  EXPECT_FALSE(Version().empty());
}

TEST_F(ConfigTest, AllErrorsAreReportedTogether) {
  const std::string err =
      Error({"--worker_threads=x", "--nope", "--store=mysql"});
  EXPECT_THAT(err, AllOf(HasSubstr("worker_threads"), HasSubstr("--nope"),
                         HasSubstr("store")));
}

// ---- value parsers --------------------------------------------------------

TEST_F(ConfigTest, BoolSpellings) {
  for (const char* t : {"true", "TRUE", "1", "yes", "Yes", "on"}) {
    absl::StatusOr<Config> c =
        Load({std::string("--strict_private_targets=") + t});
    ASSERT_TRUE(c.ok()) << t;
    EXPECT_TRUE(c->strict_private_targets) << t;
  }
  for (const char* f : {"false", "False", "0", "no", "off"}) {
    absl::StatusOr<Config> c =
        Load({std::string("--allow_loopback_targets=") + f});
    ASSERT_TRUE(c.ok()) << f;
    EXPECT_FALSE(c->allow_loopback_targets) << f;
  }
  EXPECT_THAT(Error({"--allow_loopback_targets=maybe"}),
              AllOf(HasSubstr("\"maybe\""), HasSubstr("allow_loopback_targets"),
                    HasSubstr("flag --allow_loopback_targets"),
                    HasSubstr("expected a bool")));
}

TEST_F(ConfigTest, IntegerParsing) {
  EXPECT_EQ(Load({"--worker_threads=12"})->worker_threads, 12);
  EXPECT_EQ(Load({"--worker_threads= 12 "})->worker_threads, 12);
  for (const char* bad : {"", "1.5", "0x10", "12abc", "99999999999"}) {
    EXPECT_THAT(Error({std::string("--worker_threads=") + bad}),
                HasSubstr("expected an integer"))
        << bad;
  }
}

TEST_F(ConfigTest, DoubleParsing) {
  EXPECT_EQ(Load({"--delivery_backoff_scale=0.001"})->delivery_backoff_scale,
            0.001);
  EXPECT_EQ(Load({"--delivery_backoff_scale=2"})->delivery_backoff_scale, 2.0);
  EXPECT_EQ(Load({"--delivery_backoff_scale=1e-3"})->delivery_backoff_scale,
            0.001);
  for (const char* bad : {"", "fast", "nan", "inf"}) {
    EXPECT_THAT(Error({std::string("--delivery_backoff_scale=") + bad}),
                HasSubstr("expected a number"))
        << bad;
  }
}

TEST_F(ConfigTest, DurationParsing) {
  const std::vector<std::pair<std::string, absl::Duration>> cases = {
      {"3", absl::Seconds(3)},
      {"3s", absl::Seconds(3)},
      {"500ms", absl::Milliseconds(500)},
      {"2m", absl::Minutes(2)},
      {"1.5", absl::Milliseconds(1500)},
      {"1m30s", absl::Seconds(90)},
      {"1h", absl::Hours(1)},
  };
  for (const auto& [text, want] : cases) {
    absl::StatusOr<Config> c = Load({"--delivery_lease=" + text});
    ASSERT_TRUE(c.ok()) << text << ": " << c.status();
    EXPECT_EQ(c->delivery_lease, want) << text;
  }
  for (const char* bad : {"", "soon", "3 s", "3x", "inf"}) {
    EXPECT_THAT(Error({std::string("--delivery_lease=") + bad}),
                HasSubstr("expected a duration"))
        << bad;
  }
}

TEST_F(ConfigTest, StringChoices) {
  EXPECT_EQ(Load({"--log_format=text"})->log_format, "text");
  EXPECT_THAT(Error({"--log_format=yaml"}),
              AllOf(HasSubstr("\"yaml\""), HasSubstr("log_format"),
                    HasSubstr("flag --log_format"),
                    HasSubstr("expected one of json text")));
  EXPECT_THAT(Error({"--log_level=verbose"}),
              HasSubstr("expected one of debug info warn error"));
  EXPECT_THAT(Error({"--store=mysql"}),
              HasSubstr("expected one of sqlite postgres"));
}

// ---- ranges and cross-field rules -----------------------------------------

TEST_F(ConfigTest, IntegerRanges) {
  EXPECT_THAT(
      Error({"--worker_threads=0"}),
      AllOf(HasSubstr("invalid value \"0\" for worker_threads from flag "
                      "--worker_threads"),
            HasSubstr("expected an integer from 1 to 256")));
  EXPECT_THAT(Error({"--webhook_job_max_retry=0"}),
              HasSubstr("expected an integer from 1 to 100"));
  EXPECT_THAT(Error({"--max_receive_message_bytes=-1"}),
              HasSubstr("max_receive_message_bytes"));
  EXPECT_THAT(Error({"--postgres_pool_size=0"}),
              HasSubstr("postgres_pool_size"));
  EXPECT_THAT(Error({"--delivery_max_in_flight=0"}),
              HasSubstr("delivery_max_in_flight"));
  EXPECT_THAT(Error({"--delivery_per_endpoint_concurrency=0"}),
              HasSubstr("delivery_per_endpoint_concurrency"));
  EXPECT_THAT(Error({"--execution_retention_count=0"}),
              HasSubstr("execution_retention_count"));
}

TEST_F(ConfigTest, DurationsMustBePositive) {
  for (const char* name :
       {"shutdown_grace_period", "delivery_lease", "keepalive_time",
        "keepalive_timeout", "keepalive_permit_time"}) {
    EXPECT_THAT(Error({std::string("--") + name + "=0"}),
                AllOf(HasSubstr(name), HasSubstr("expected a duration > 0")))
        << name;
    EXPECT_THAT(Error({std::string("--") + name + "=-5s"}),
                HasSubstr("expected a duration > 0"))
        << name;
  }
}

TEST_F(ConfigTest, HttpClientTimeoutRange) {
  EXPECT_THAT(Error({"--webhook_job_http_client_timeout=500ms"}),
              HasSubstr("expected a duration from 1s to 300s"));
  EXPECT_THAT(Error({"--webhook_job_http_client_timeout=301"}),
              HasSubstr("expected a duration from 1s to 300s"));
  EXPECT_EQ(Load({"--webhook_job_http_client_timeout=300"})
                ->webhook_job_http_client_timeout,
            absl::Seconds(300));
}

TEST_F(ConfigTest, BackoffScaleMustBePositive) {
  EXPECT_THAT(Error({"--delivery_backoff_scale=0"}),
              HasSubstr("expected a number > 0"));
  EXPECT_THAT(Error({"--delivery_backoff_scale=-1"}),
              HasSubstr("expected a number > 0"));
}

TEST_F(ConfigTest, HostPortValidation) {
  for (const char* ok : {"127.0.0.1:0", "0.0.0.0:65535", "localhost:7070",
                         "[::1]:7070", "[::]:0"}) {
    absl::StatusOr<Config> c = Load({std::string("--listen_address=") + ok});
    EXPECT_TRUE(c.ok()) << ok << ": " << c.status();
  }
  for (const char* bad : {"7070", ":7070", "host:", "host:65536", "host:x",
                          "::1:7070", "[::1]7070", "host:-1"}) {
    EXPECT_THAT(
        Error({std::string("--listen_address=") + bad}),
        AllOf(HasSubstr("listen_address"), HasSubstr("expected host:port")))
        << bad;
  }
}

TEST_F(ConfigTest, MetricsAddressMayBeEmpty) {
  EXPECT_EQ(Load({"--metrics_address="})->metrics_address, "");
  EXPECT_THAT(
      Error({"--metrics_address=9090"}),
      AllOf(HasSubstr("metrics_address"), HasSubstr("or empty to disable")));
}

TEST_F(ConfigTest, MetricsAndListenAddressMustDiffer) {
  EXPECT_THAT(Error({"--listen_address=127.0.0.1:9090"}),
              HasSubstr("use different ports"));
  // Port 0 twice is two different free ports.
  EXPECT_TRUE(
      Load({"--listen_address=127.0.0.1:0", "--metrics_address=127.0.0.1:0"})
          .ok());
}

TEST_F(ConfigTest, RegistryEndpointMustBeHttpUrl) {
  EXPECT_EQ(Load({"--registry_endpoint=https://harbor.example.com"})
                ->registry_endpoint,
            "https://harbor.example.com");
  EXPECT_THAT(Error({"--registry_endpoint=harbor.example.com"}),
              HasSubstr("expected an http:// or https:// URL"));
}

TEST_F(ConfigTest, DataDirMustNotBeEmpty) {
  EXPECT_THAT(Error({"--data_dir="}), HasSubstr("data_dir"));
}

TEST_F(ConfigTest, TlsFilesComeInPairs) {
  EXPECT_THAT(
      Error({"--tls_cert_file=c.pem"}),
      AllOf(HasSubstr("tls_cert_file is set (from flag --tls_cert_file)"),
            HasSubstr("tls_key_file is not")));
  env_["HERALD_TLS_KEY_FILE"] = "k.pem";
  EXPECT_THAT(Error({}),
              HasSubstr("tls_key_file is set (from environment variable "
                        "HERALD_TLS_KEY_FILE)"));
  EXPECT_TRUE(Load({"--tls_cert_file=c.pem"}).ok());
}

TEST_F(ConfigTest, ClientCaNeedsServerCertificate) {
  EXPECT_THAT(Error({"--tls_client_ca_file=ca.pem"}),
              HasSubstr("mutual TLS needs a server certificate"));
  EXPECT_TRUE(Load({"--tls_client_ca_file=ca.pem", "--tls_cert_file=c",
                    "--tls_key_file=k"})
                  .ok());
}

TEST_F(ConfigTest, PostgresNeedsDsn) {
  EXPECT_THAT(Error({"--store=postgres"}),
              HasSubstr("store is postgres (from flag --store) but "
                        "postgres_dsn is empty"));
}

TEST_F(ConfigTest, OverriddenSourceIsNamedInRangeErrors) {
  const std::string path = File("worker_threads = 2\n");
  env_["HERALD_WORKER_THREADS"] = "0";
  EXPECT_THAT(Error({"--config=" + path}),
              HasSubstr("from environment variable HERALD_WORKER_THREADS"));
  // A bad value that a higher-precedence source overrides is not an error.
  EXPECT_TRUE(Load({"--config=" + path, "--worker_threads=3"}).ok());
}

// ---- config file format ---------------------------------------------------

TEST_F(ConfigTest, FileFormat) {
  const std::string path = File(
      "# herald configuration\n"
      "\n"
      "   # indented comment\n"
      "listen_address = 0.0.0.0:7070\n"
      "  log_format=text  \n"
      "postgres_dsn = host=db password=a#b\n"
      "address_file = \"\"\n"
      "data_dir = \" /spaced dir \"\n"
      "registry_endpoint = \"https://h/\\\"q\\\"\\\\\"\r\n"
      "notification_enable = no\n"
      "webhook_job_http_client_timeout = 5\n");
  absl::StatusOr<Config> c = Load({"--config=" + path});
  ASSERT_TRUE(c.ok()) << c.status();
  EXPECT_EQ(c->listen_address, "0.0.0.0:7070");
  EXPECT_EQ(c->log_format, "text");
  EXPECT_EQ(c->postgres_dsn, "host=db password=a#b");
  EXPECT_EQ(c->address_file, "");
  EXPECT_EQ(c->data_dir, " /spaced dir ");
  EXPECT_EQ(c->registry_endpoint, "https://h/\"q\"\\");
  EXPECT_FALSE(c->notification_enable);
  EXPECT_EQ(c->webhook_job_http_client_timeout, absl::Seconds(5));
}

TEST_F(ConfigTest, FileUnknownKeyNamesFileAndLine) {
  const std::string path = File("# c\nworker_threads = 2\nworkers = 3\n");
  EXPECT_THAT(Error({"--config=" + path}),
              HasSubstr("unknown option \"workers\" at " + path + ":3"));
}

TEST_F(ConfigTest, FileBadValueNamesFileLineAndType) {
  const std::string path = File("\n\nkeepalive_time = often\n");
  EXPECT_THAT(
      Error({"--config=" + path}),
      AllOf(HasSubstr("invalid value \"often\" for keepalive_time from " +
                      path + ":3"),
            HasSubstr("expected a duration")));
}

TEST_F(ConfigTest, ControlCharactersAreRefusedInEveryValue) {
  const std::string path = File(std::string("listen_address = \x01\0 0.0.0.0:7070\n", 33));
  EXPECT_THAT(Error({"--config=" + path}),
              AllOf(HasSubstr("listen_address from " + path + ":1"),
                    HasSubstr("without control characters")));
  env_["HERALD_DATA_DIR"] = "/var/lib/\x1b[31mherald";
  EXPECT_THAT(Error({}), HasSubstr("HERALD_DATA_DIR"));
  env_.clear();
  EXPECT_THAT(Error({"--log_level=info\r"}),
              HasSubstr("without control characters"));
  // A tab is not refused by this rule.
  EXPECT_TRUE(Load({"--data_dir=/tmp/a\tb"}).ok());
}

TEST_F(ConfigTest, AllowedTargetCidrsAreValidated) {
  absl::StatusOr<Config> c =
      Load({"--allowed_target_cidrs=10.0.0.0/8, fd00::/8,192.0.2.7"});
  ASSERT_TRUE(c.ok()) << c.status();
  EXPECT_EQ(c->allowed_target_cidrs, "10.0.0.0/8, fd00::/8,192.0.2.7");
  EXPECT_THAT(Error({"--allowed_target_cidrs=10.0.0.0/8,10.1.0.0/40"}),
              AllOf(HasSubstr("allowed_target_cidrs"),
                    HasSubstr("prefix length"), HasSubstr("10.1.0.0/40")));
}

TEST_F(ConfigTest, FileRangeErrorNamesFileAndLine) {
  const std::string path = File("worker_threads = 0\n");
  EXPECT_THAT(Error({"--config=" + path}),
              HasSubstr("worker_threads from " + path + ":1"));
}

TEST_F(ConfigTest, FileLineWithoutEquals) {
  const std::string path = File("listen_address 1.2.3.4:5\n");
  EXPECT_THAT(Error({"--config=" + path}),
              HasSubstr(path + ":1: expected `name = value`"));
}

TEST_F(ConfigTest, FileDuplicateKey) {
  const std::string path = File("log_level = info\nlog_level = debug\n");
  EXPECT_THAT(Error({"--config=" + path}),
              HasSubstr(path + ":2: log_level is already set at line 1"));
}

TEST_F(ConfigTest, FileUnterminatedQuote) {
  const std::string path = File("data_dir = \"/x\n");
  EXPECT_THAT(Error({"--config=" + path}),
              HasSubstr(path + ":1: unterminated quoted value for data_dir"));
  const std::string trailing = File("data_dir = \"/x\" # c\n", "t.conf");
  EXPECT_THAT(Error({"--config=" + trailing}), HasSubstr("unterminated"));
}

TEST_F(ConfigTest, ConfigIsNotAFileKey) {
  const std::string path = File("config = other.conf\n");
  EXPECT_THAT(Error({"--config=" + path}),
              HasSubstr("unknown option \"config\""));
}

// ---- generated text -------------------------------------------------------

TEST(HelpTextTest, MentionsEveryOptionAndItsEnvironmentVariable) {
  const std::string help = HelpText("heraldd");
  EXPECT_THAT(help, HasSubstr("Usage: heraldd"));
  for (const auto& [name, value] : DescribeConfig(Config{})) {
    EXPECT_THAT(help, HasSubstr("--" + name + "=")) << name;
    std::string env = "HERALD_";
    for (char ch : name) env.push_back(static_cast<char>(std::toupper(ch)));
    EXPECT_THAT(help, HasSubstr(env)) << name;
  }
  EXPECT_THAT(help, HasSubstr("JOBSERVICE_WEBHOOK_JOB_MAX_RETRY"));
  EXPECT_THAT(help, HasSubstr("HERALD_ADMIN_TOKEN"));
  EXPECT_THAT(help, HasSubstr("HERALD_CONFIG"));
  for (absl::string_view line : absl::StrSplit(help, '\n')) {
    EXPECT_LE(line.size(), 80u) << line;
  }
}

TEST(MarkdownTableTest, OneRowPerOptionPlusExtras) {
  const std::string table = ConfigMarkdownTable();
  const std::vector<std::string> rows =
      absl::StrSplit(table, '\n', absl::SkipEmpty());
  const auto options = DescribeConfig(Config{});
  // Extras: --config / HERALD_CONFIG, HERALD_ADMIN_TOKEN, HERALD_SECRET_KEY.
  ASSERT_EQ(rows.size(), 2 + options.size() + 3);
  EXPECT_EQ(rows[0], "| Option | Environment | Type | Default | Description |");
  for (size_t i = 0; i < options.size(); ++i) {
    EXPECT_THAT(rows[2 + i], HasSubstr("| `" + options[i].first + "` |"));
  }
  EXPECT_THAT(table, HasSubstr("| `listen_address` | `HERALD_LISTEN_ADDRESS` | "
                               "string | `127.0.0.1:7070` |"));
  EXPECT_THAT(table, HasSubstr("`HERALD_NOTIFICATION_ENABLE`, "
                               "`NOTIFICATION_ENABLE` | bool | `true` |"));
  EXPECT_THAT(table, HasSubstr("| `webhook_job_http_client_timeout` | "
                               "`HERALD_WEBHOOK_JOB_HTTP_CLIENT_TIMEOUT`, "
                               "`JOBSERVICE_WEBHOOK_JOB_HTTP_CLIENT_TIMEOUT` | "
                               "duration | `3s` |"));
  EXPECT_THAT(table, HasSubstr("| `delivery_lease` | `HERALD_DELIVERY_LEASE` | "
                               "duration | `60s` |"));
  EXPECT_THAT(table, HasSubstr("| `address_file` | `HERALD_ADDRESS_FILE` | "
                               "string | (empty) |"));
  EXPECT_THAT(table, HasSubstr("`<data_dir>/admin.token`"));
  EXPECT_THAT(table, HasSubstr("`HERALD_ADMIN_TOKEN`"));
  EXPECT_THAT(table, HasSubstr("`HERALD_CONFIG`"));
}

// docs/configuration.md embeds ConfigMarkdownTable() verbatim. If this fails,
// run `cmake --build <build> --target config_docs` and commit the doc.
TEST(MarkdownTableTest, DocumentationIsUpToDate) {
  const std::string path =
      std::string(HERALD_SOURCE_DIR) + "/docs/configuration.md";
  absl::StatusOr<std::string> doc = ReadFileToString(path);
  ASSERT_TRUE(doc.ok()) << doc.status();
  const std::string begin = "<!-- BEGIN GENERATED: ConfigMarkdownTable()";
  const std::string end = "<!-- END GENERATED -->";
  const size_t b = doc->find(begin);
  const size_t e = doc->find(end);
  ASSERT_NE(b, std::string::npos) << path << " lacks the GENERATED markers";
  ASSERT_NE(e, std::string::npos) << path << " lacks the GENERATED markers";
  const size_t start = doc->find('\n', b) + 1;
  EXPECT_EQ(doc->substr(start, e - start), ConfigMarkdownTable())
      << path << " is out of date: run `cmake --build <build> --target "
      << "config_docs`";
}

TEST(DescribeConfigTest, ListsEffectiveValuesAndMasksDsnPassword) {
  Config c;
  c.postgres_dsn = "host=db password=hunter2 dbname=herald";
  c.delivery_lease = absl::Milliseconds(1500);
  std::map<std::string, std::string> m;
  for (auto& [k, v] : DescribeConfig(c)) m[k] = v;
  EXPECT_EQ(m["postgres_dsn"], "host=db password=**** dbname=herald");
  EXPECT_EQ(m["delivery_lease"], "1500ms");
  EXPECT_EQ(m["keepalive_time"], "60s");
  EXPECT_EQ(m["notification_enable"], "true");
  EXPECT_EQ(m["delivery_backoff_scale"], "1");

  c.postgres_dsn = "password = 'a b\\' c' host=x";
  EXPECT_EQ(DescribeConfig(c)[4].second, "password = **** host=x");
  c.postgres_dsn = "postgresql://herald:s3cret@db:5432/h?sslmode=require";
  EXPECT_EQ(DescribeConfig(c)[4].second,
            "postgresql://herald:****@db:5432/h?sslmode=require");
  c.postgres_dsn = "postgresql://db/h?user=u&password=p&sslmode=disable";
  EXPECT_EQ(DescribeConfig(c)[4].second,
            "postgresql://db/h?user=u&password=****&sslmode=disable");
}

}  // namespace
}  // namespace herald::common
