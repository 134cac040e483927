#include "server/daemon/daemon.h"

#include <grpcpp/ext/proto_server_reflection_plugin.h>
#include <grpcpp/grpcpp.h>
#include <grpcpp/health_check_service_interface.h>

#include <sys/stat.h>

#include <fstream>
#include <sstream>

#include "absl/strings/str_cat.h"
#include "grpc/health/v1/health.pb.h"
#include "server/api/admin_service.h"
#include "server/api/delivery_service.h"
#include "server/api/event_service.h"
#include "server/api/executor.h"
#include "server/api/policy_service.h"
#include "server/api/request_parse_interceptor.h"
#include "server/auth/authenticator.h"
#include "server/auth/bootstrap.h"
#include "server/common/dir_lock.h"
#include "server/common/log.h"
#include "server/common/secret_file.h"
#include "server/core/clock.h"
#include "server/core/status_macros.h"
#include "server/delivery/connect_guard.h"
#include "server/delivery/curl_sender.h"
#include "server/delivery/dispatcher.h"
#include "server/delivery/retention_sweeper.h"
#include "server/ingest/match_cache.h"
#include "server/ingest/publisher.h"
#include "server/metrics/metrics.h"
#include "server/watch/watch_hub.h"
#include "server/store/secret_box.h"
#include "server/store/postgres/postgres_store.h"
#include "server/store/sqlite/sqlite_store.h"

namespace herald::daemon {
namespace {

// How long a policy or settings change made by another replica may take to
// reach this one's matching (local changes apply at once).
constexpr absl::Duration kMatchCacheMaxAge = absl::Seconds(1);

constexpr const char* kServiceNames[] = {
    "herald.v1.EventService", "herald.v1.PolicyService",
    "herald.v1.DeliveryService", "herald.v1.AdminService"};

absl::StatusOr<std::shared_ptr<grpc::ServerCredentials>> MakeCredentials(
    const common::Config& config) {
  if (config.tls_cert_file.empty()) return grpc::InsecureServerCredentials();
  grpc::SslServerCredentialsOptions options;
  grpc::SslServerCredentialsOptions::PemKeyCertPair pair;
  HERALD_ASSIGN_OR_RETURN(pair.cert_chain,
                          common::ReadFileToString(config.tls_cert_file));
  HERALD_ASSIGN_OR_RETURN(pair.private_key,
                          common::ReadFileToString(config.tls_key_file));
  options.pem_key_cert_pairs.push_back(std::move(pair));
  if (!config.tls_client_ca_file.empty()) {
    HERALD_ASSIGN_OR_RETURN(options.pem_root_certs,
                            common::ReadFileToString(config.tls_client_ca_file));
    options.client_certificate_request =
        GRPC_SSL_REQUEST_AND_REQUIRE_CLIENT_CERTIFICATE_AND_VERIFY;
  }
  return grpc::SslServerCredentials(options);
}

// The key that encrypts stored secrets: HERALD_SECRET_KEY, else
// secret_key_file (generated on first start when that is the default path
// and missing, with SQLite only: the replicas on PostgreSQL share one key,
// which a replica cannot make up for the others), plus the previous key
// while rotating.
absl::StatusOr<std::shared_ptr<const store::SecretBox>> LoadSecretBox(
    const common::Config& config, const std::optional<std::string>& env_key) {
  std::string key;
  if (env_key.has_value()) {
    HERALD_ASSIGN_OR_RETURN(
        key, store::SecretBox::ParseKey(*env_key, "HERALD_SECRET_KEY"));
  } else {
    const std::string& path = config.secret_key_file;
    absl::StatusOr<std::string> text = common::ReadFileToString(path);
    if (absl::IsNotFound(text.status()) && config.secret_key_file_is_default &&
        config.store == "postgres") {
      return absl::FailedPreconditionError(absl::StrCat(
          "store=postgres needs the secret key that every replica shares: "
          "set HERALD_SECRET_KEY or secret_key_file (create one with "
          "`openssl rand -base64 32`; ",
          path, " does not exist)"));
    }
    if (absl::IsNotFound(text.status()) && config.secret_key_file_is_default) {
      const std::string generated = store::SecretBox::GenerateKeyText();
      HERALD_RETURN_IF_ERROR(common::WriteSecretFile(path, generated));
      log::Info("secret key created: keep a copy, stored secrets cannot be "
                "read without it",
                {{"key_file", path}});
      text = generated;
    }
    if (!text.ok()) {
      return absl::Status(text.status().code(),
                          absl::StrCat("secret_key_file: ",
                                       text.status().message()));
    }
    struct stat st;
    if (stat(path.c_str(), &st) == 0 && (st.st_mode & 077) != 0) {
      log::Warn("secret key file is readable by other users: chmod 600 it",
                {{"key_file", path}});
    }
    HERALD_ASSIGN_OR_RETURN(key, store::SecretBox::ParseKey(*text, path));
  }
  std::vector<std::string> previous;
  if (!config.secret_key_previous_file.empty()) {
    const std::string& path = config.secret_key_previous_file;
    absl::StatusOr<std::string> text = common::ReadFileToString(path);
    if (!text.ok()) {
      return absl::Status(text.status().code(),
                          absl::StrCat("secret_key_previous_file: ",
                                       text.status().message()));
    }
    HERALD_ASSIGN_OR_RETURN(std::string old,
                            store::SecretBox::ParseKey(*text, path));
    previous.push_back(std::move(old));
  }
  return store::SecretBox::Create(std::move(key), std::move(previous));
}

void LogResealed(int64_t targets) {
  if (targets > 0) {
    log::Info("stored secrets encrypted with the current secret key",
              {{"targets", targets}});
  }
}

// Seeds the stored settings from the configuration on first start.
absl::Status SeedSettings(store::Store& store, const common::Config& config) {
  core::Settings seed;
  seed.notification_enable = config.notification_enable;
  seed.webhook_job_max_retry = config.webhook_job_max_retry;
  seed.webhook_job_http_client_timeout = config.webhook_job_http_client_timeout;
  seed.execution_retention_count = config.execution_retention_count;
  return store.SeedSettings(seed);
}

class DaemonImpl final : public Daemon {
 public:
  explicit DaemonImpl(const common::Config& config) : config_(config) {}

  ~DaemonImpl() override {
    Shutdown();
    metrics_server_.reset();  // before the members its sources read
    // The hub goes before the store: the store must not call into it.
    if (store_ != nullptr) store_->SetTaskUpdateListener(nullptr);
  }

  absl::Status Init(std::optional<std::string> env_admin_token,
                    std::optional<std::string> env_secret_key) {
    HERALD_ASSIGN_OR_RETURN(common::DirLock lock,
                            common::DirLock::Acquire(config_.data_dir));
    dir_lock_.emplace(std::move(lock));

    if (config_.store == "postgres") {
      // Shared by every replica; each keeps its own data_dir (lock, token).
      store::PostgresOptions postgres;
      postgres.dsn = config_.postgres_dsn;
      postgres.pool_size = config_.postgres_pool_size;
      HERALD_ASSIGN_OR_RETURN(postgres.secrets,
                              LoadSecretBox(config_, env_secret_key));
      HERALD_ASSIGN_OR_RETURN(std::unique_ptr<store::PostgresStore> pg,
                              store::PostgresStore::Open(postgres));
      LogResealed(pg->secrets_resealed());
      store_ = std::move(pg);
    } else if (config_.store != "sqlite") {
      return absl::UnimplementedError(absl::StrCat(
          "store \"", config_.store, "\" is not available in this build"));
    } else {
      store::SqliteOptions options;
      options.path = absl::StrCat(config_.data_dir, "/herald.db");
      HERALD_ASSIGN_OR_RETURN(options.secrets,
                              LoadSecretBox(config_, env_secret_key));
      HERALD_ASSIGN_OR_RETURN(std::unique_ptr<store::SqliteStore> sqlite,
                              store::SqliteStore::Open(options));
      LogResealed(sqlite->secrets_resealed());
      store_ = std::move(sqlite);
    }
    HERALD_RETURN_IF_ERROR(SeedSettings(*store_, config_));
    watch_hub_ = std::make_unique<watch::WatchHub>(store_.get());
    store_->SetTaskUpdateListener([hub = watch_hub_.get()] { hub->Notify(); });
    HERALD_RETURN_IF_ERROR(watch_hub_->Start());

    HERALD_ASSIGN_OR_RETURN(
        auth::BootstrapResult bootstrap,
        auth::EnsureBootstrapAdmin(*store_, *core::RealClock::Default(),
                                   env_admin_token,
                                   config_.admin_token_file));
    if (bootstrap.created && !bootstrap.token_file.empty()) {
      log::Info("bootstrap admin token created",
                {{"token_file", bootstrap.token_file}});
    } else if (env_admin_token.has_value()) {
      log::Info("admin token taken from HERALD_ADMIN_TOKEN");
    } else {
      log::Info("admin token exists",
                {{"token_file", config_.admin_token_file}});
    }

    authenticator_ = std::make_unique<auth::Authenticator>(
        store_.get(), core::RealClock::Default());
    executor_ = std::make_unique<api::Executor>(config_.worker_threads);
    services_.store = store_.get();
    services_.authenticator = authenticator_.get();
    services_.executor = executor_.get();
    services_.calls = &calls_;
    services_.watch_hub = watch_hub_.get();
    services_.clock = core::RealClock::Default();
    services_.address_rules.allow_loopback = config_.allow_loopback_targets;
    services_.address_rules.strict_private = config_.strict_private_targets;
    // Validated when the configuration was loaded.
    HERALD_ASSIGN_OR_RETURN(
        services_.address_rules.allowed,
        common::ParseIpNetworkList(config_.allowed_target_cidrs));
    if (config_.publish_rate_limit > 0) {
      publish_limiter_ = std::make_unique<core::RateLimiter>(
          config_.publish_rate_limit,
          config_.publish_rate_burst > 0 ? config_.publish_rate_burst
                                         : config_.publish_rate_limit,
          core::RealClock::Default());
      services_.publish_limiter = publish_limiter_.get();
    }
    match_cache_ = std::make_unique<ingest::MatchCache>(
        store_.get(), core::RealClock::Default(), kMatchCacheMaxAge);
    services_.match_cache = match_cache_.get();
    publisher_ = std::make_unique<ingest::Publisher>(
        store_.get(), match_cache_.get(), core::RealClock::Default(),
        &ingest_metrics_, config_.registry_endpoint);
    services_.version = std::string(common::Version());
    services_.store_kind = config_.store;
    services_.registry_endpoint = config_.registry_endpoint;
    services_.start_time = absl::Now();

    event_service_ =
        std::make_unique<api::EventServiceImpl>(&services_, publisher_.get());
    policy_service_ = std::make_unique<api::PolicyServiceImpl>(&services_);
    delivery_service_ = std::make_unique<api::DeliveryServiceImpl>(&services_);
    admin_service_ = std::make_unique<api::AdminServiceImpl>(&services_);
    HERALD_RETURN_IF_ERROR(StartDelivery());
    // Metrics first: once the gRPC address is published, everything is up.
    HERALD_RETURN_IF_ERROR(StartMetrics());
    return StartServer();
  }

  std::string address() const override { return address_; }

  void Shutdown() override {
    if (server_ == nullptr) return;
    const absl::Time deadline = absl::Now() + config_.shutdown_grace_period;
    log::Info("shutting down",
              {{"grace_period_ms",
                absl::ToInt64Milliseconds(config_.shutdown_grace_period)}});
    // No new deliveries from now on; those in flight finish while the
    // calls drain (one grace period for both).
    dispatcher_->StopClaiming();
    if (auto* health = server_->GetHealthCheckService()) {
      health->Shutdown();  // every service reports NOT_SERVING from now on
    }
    // Watch streams end now with UNAVAILABLE: their clients resume from
    // their cursor elsewhere or after the restart.
    watch_hub_->Stop();
    // Refuse new calls, let the ones in flight finish within the grace
    // period, then stop gRPC (which cancels whatever is left).
    calls_.Drain();
    if (!calls_.WaitIdle(config_.shutdown_grace_period)) {
      log::Warn("grace period over: cancelling calls still in flight",
                {{"in_flight", calls_.in_flight()}});
    }
    server_->Shutdown(std::chrono::system_clock::now() +
                      std::chrono::milliseconds(100));
    server_->Wait();
    executor_->Shutdown();
    // Attempts still in flight get what is left of the grace period, then
    // are aborted; every unfinished claim is released (due again at the
    // next start), every result written. Then the sender stops.
    sweeper_->Stop();
    dispatcher_->Shutdown(std::max(deadline - absl::Now(), absl::ZeroDuration()));
    server_.reset();
    metrics_server_.reset();  // its sources point into this object
    log::Info("stopped");
  }

 private:
  absl::Status StartServer() {
    grpc::EnableDefaultHealthCheckService(true);
    grpc::reflection::InitProtoReflectionServerBuilderPlugin();
    // Puts grpc.health.v1 into the descriptor pool so reflection can
    // describe the built-in health service.
    (void)grpc::health::v1::HealthCheckRequest::descriptor();

    HERALD_ASSIGN_OR_RETURN(std::shared_ptr<grpc::ServerCredentials> creds,
                            MakeCredentials(config_));
    grpc::ServerBuilder builder;
    int port = 0;
    builder.AddListeningPort(config_.listen_address, creds, &port);
    builder.AddChannelArgument(GRPC_ARG_ALLOW_REUSEPORT, 0);
    builder.AddChannelArgument(
        GRPC_ARG_KEEPALIVE_TIME_MS,
        static_cast<int>(absl::ToInt64Milliseconds(config_.keepalive_time)));
    builder.AddChannelArgument(
        GRPC_ARG_KEEPALIVE_TIMEOUT_MS,
        static_cast<int>(absl::ToInt64Milliseconds(config_.keepalive_timeout)));
    builder.AddChannelArgument(GRPC_ARG_KEEPALIVE_PERMIT_WITHOUT_CALLS, 1);
    builder.AddChannelArgument(
        GRPC_ARG_HTTP2_MIN_RECV_PING_INTERVAL_WITHOUT_DATA_MS,
        static_cast<int>(
            absl::ToInt64Milliseconds(config_.keepalive_permit_time)));
    builder.SetMaxReceiveMessageSize(config_.max_receive_message_bytes);
    std::vector<
        std::unique_ptr<grpc::experimental::ServerInterceptorFactoryInterface>>
        interceptors;
    interceptors.push_back(api::MakeRequestParseInterceptorFactory());
    builder.experimental().SetInterceptorCreators(std::move(interceptors));
    builder.RegisterService(event_service_.get());
    builder.RegisterService(policy_service_.get());
    builder.RegisterService(delivery_service_.get());
    builder.RegisterService(admin_service_.get());
    server_ = builder.BuildAndStart();
    if (server_ == nullptr || port == 0) {
      server_.reset();
      return absl::UnavailableError(absl::StrCat(
          "cannot listen on ", config_.listen_address,
          " (address in use or not available)"));
    }
    auto* health = server_->GetHealthCheckService();
    health->SetServingStatus(true);
    for (const char* name : kServiceNames) health->SetServingStatus(name, true);

    std::string host = config_.listen_address.substr(
        0, config_.listen_address.rfind(':'));
    address_ = absl::StrCat(host, ":", port);
    if (!config_.address_file.empty()) {
      HERALD_RETURN_IF_ERROR(common::WriteFileAtomically(
          config_.address_file, address_ + "\n", 0644));
    }
    log::Info("heraldd listening",
              {{"address", address_},
               {"tls", !config_.tls_cert_file.empty()},
               {"store", config_.store},
               {"data_dir", config_.data_dir},
               {"version", std::string(common::Version())}});
    return absl::OkStatus();
  }

  // The delivery engine: the libcurl sender (with the SSRF guard), the
  // dispatcher and the retention sweeper.
  absl::Status StartDelivery() {
    delivery::CurlSender::Options sender_options;
    sender_options.max_connections =
        std::max(512, 2 * config_.delivery_max_in_flight);
    sender_options.connect_guard =
        delivery::MakeConnectGuard(services_.address_rules);
    HERALD_ASSIGN_OR_RETURN(sender_,
                            delivery::CurlSender::Create(sender_options));
    delivery::DispatcherOptions options;
    options.max_in_flight = config_.delivery_max_in_flight;
    options.per_endpoint_concurrency = config_.delivery_per_endpoint_concurrency;
    options.backoff_scale = config_.delivery_backoff_scale;
    options.lease = config_.delivery_lease;
    // SQLite: the data-directory lock makes this the only heraldd on this
    // store, so tasks left Running belong to a process that died. With
    // PostgreSQL other replicas hold live leases: they expire on their own.
    options.expire_foreign_leases_at_start = config_.store == "sqlite";
    options.on_attempt = [this](const delivery::AttemptReport& r) {
      const std::string_view type =
          r.vendor_type == core::VendorType::kSlack ? "slack" : "http";
      const std::string_view outcome =
          r.verdict == delivery::Verdict::kSuccess ? "success"
          : r.verdict == delivery::Verdict::kRetry ? "retry"
                                                   : "failed";
      metrics_.RecordAttempt(type, outcome, r.latency);
      if (r.verdict == delivery::Verdict::kSuccess) {
        metrics_.RecordAckToDelivery(r.since_created);
      }
    };
    dispatcher_ = std::make_unique<delivery::Dispatcher>(
        store_.get(), sender_.get(), core::RealClock::Default(),
        std::move(options));
    HERALD_RETURN_IF_ERROR(dispatcher_->Start());
    sweeper_ = std::make_unique<delivery::RetentionSweeper>(
        store_.get(), delivery::RetentionSweeper::Options{});
    sweeper_->Start();
    log::Info("delivery engine started",
              {{"owner", dispatcher_->owner()},
               {"max_in_flight", config_.delivery_max_in_flight},
               {"per_endpoint_concurrency",
                config_.delivery_per_endpoint_concurrency}});
    return absl::OkStatus();
  }

  absl::Status StartMetrics() {
    metrics::Sources sources;
    sources.events_published = [this] { return ingest_metrics_.published(); };
    sources.events_dropped = [this] { return ingest_metrics_.dropped(); };
    sources.events_rejected = [this] { return ingest_metrics_.rejected(); };
    sources.deliveries_created = [this] {
      return ingest_metrics_.deliveries_created();
    };
    sources.grpc_calls_in_flight = [this] { return calls_.in_flight(); };
    sources.queue_depth = [this]() -> absl::StatusOr<metrics::QueueDepth> {
      HERALD_ASSIGN_OR_RETURN(store::QueueDepth d, store_->CountQueue());
      return metrics::QueueDepth{d.pending, d.retrying, d.running};
    };
    sources.endpoint_in_flight = [this] {
      return dispatcher_->EndpointInFlight();
    };
    metrics_.SetSources(std::move(sources));
    if (config_.metrics_address.empty()) return absl::OkStatus();
    HERALD_ASSIGN_OR_RETURN(
        metrics_server_,
        metrics::MetricsServer::Start(config_.metrics_address, metrics_));
    if (!config_.metrics_address_file.empty()) {
      HERALD_RETURN_IF_ERROR(common::WriteFileAtomically(
          config_.metrics_address_file, metrics_server_->address() + "\n",
          0644));
    }
    log::Info("metrics listening",
              {{"address", metrics_server_->address()}, {"path", "/metrics"}});
    return absl::OkStatus();
  }

  common::Config config_;
  metrics::Metrics metrics_;
  std::unique_ptr<metrics::MetricsServer> metrics_server_;
  std::optional<common::DirLock> dir_lock_;
  std::unique_ptr<store::Store> store_;
  std::unique_ptr<watch::WatchHub> watch_hub_;
  // Declared after the store: destroyed (stopped) before it.
  std::unique_ptr<delivery::CurlSender> sender_;
  std::unique_ptr<delivery::Dispatcher> dispatcher_;
  std::unique_ptr<delivery::RetentionSweeper> sweeper_;
  std::unique_ptr<auth::Authenticator> authenticator_;
  std::unique_ptr<api::Executor> executor_;
  api::CallTracker calls_;
  std::unique_ptr<core::RateLimiter> publish_limiter_;
  api::ServiceContext services_;
  ingest::IngestMetrics ingest_metrics_;
  std::unique_ptr<ingest::MatchCache> match_cache_;
  std::unique_ptr<ingest::Publisher> publisher_;
  std::unique_ptr<api::EventServiceImpl> event_service_;
  std::unique_ptr<api::PolicyServiceImpl> policy_service_;
  std::unique_ptr<api::DeliveryServiceImpl> delivery_service_;
  std::unique_ptr<api::AdminServiceImpl> admin_service_;
  std::unique_ptr<grpc::Server> server_;
  std::string address_;
};

}  // namespace

absl::StatusOr<std::unique_ptr<Daemon>> Daemon::Start(
    const common::Config& config, std::optional<std::string> env_admin_token,
    std::optional<std::string> env_secret_key) {
  auto daemon = std::make_unique<DaemonImpl>(config);
  HERALD_RETURN_IF_ERROR(
      daemon->Init(std::move(env_admin_token), std::move(env_secret_key)));
  return daemon;
}

}  // namespace herald::daemon
