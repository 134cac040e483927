// heraldd: the herald webhook notification daemon.
#include <cstdio>
#include <cstdlib>
#include <iostream>

#include "server/common/config.h"
#include "server/common/log.h"
#include "server/common/signals.h"
#include "server/daemon/daemon.h"

int main(int argc, char** argv) {
  using namespace herald;
  // Before any thread exists, so every gRPC thread inherits the mask and
  // only the main thread ever sees SIGTERM/SIGINT.
  common::BlockTerminationSignals();

  absl::StatusOr<common::Config> config =
      common::LoadConfig(argc, argv, common::ProcessEnv());
  if (!config.ok()) {
    std::cerr << "heraldd: " << config.status().message() << "\n"
              << "Run 'heraldd --help' for the options.\n";
    return 2;
  }
  if (config->help_requested) {
    std::cout << common::HelpText("heraldd");
    return 0;
  }
  if (config->version_requested) {
    std::cout << "heraldd " << common::Version() << "\n";
    return 0;
  }
  if (auto level = log::ParseLevel(config->log_level); level.ok()) {
    log::SetMinLevel(*level);
  }
  if (auto format = log::ParseFormat(config->log_format); format.ok()) {
    log::SetFormat(*format);
  }
  for (const auto& [name, value] : common::DescribeConfig(*config)) {
    log::Debug("config", {{"name", name}, {"value", value}});
  }

  std::optional<std::string> env_token;
  if (const char* token = std::getenv("HERALD_ADMIN_TOKEN");
      token != nullptr && *token != '\0') {
    env_token = token;
  }
  std::optional<std::string> env_secret_key;
  if (const char* key = std::getenv("HERALD_SECRET_KEY");
      key != nullptr && *key != '\0') {
    env_secret_key = key;
  }
  absl::StatusOr<std::unique_ptr<daemon::Daemon>> daemon =
      daemon::Daemon::Start(*config, env_token, env_secret_key);
  if (!daemon.ok()) {
    log::Error("heraldd failed to start",
               {{"error", std::string(daemon.status().message())}});
    std::cerr << "heraldd: " << daemon.status().message() << "\n";
    return 1;
  }
  int signal = common::WaitForTerminationSignal();
  log::Info("signal received", {{"signal", signal}});
  (*daemon)->Shutdown();
  return 0;
}
