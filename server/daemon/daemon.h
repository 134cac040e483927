// heraldd's wiring: owns every part (store, auth, executor, gRPC server) and
// the order in which they start and stop.
#ifndef HERALD_SERVER_DAEMON_DAEMON_H_
#define HERALD_SERVER_DAEMON_DAEMON_H_

#include <memory>
#include <optional>
#include <string>

#include "absl/status/statusor.h"
#include "server/common/config.h"

namespace herald::daemon {

// Not thread-safe: Start, then Shutdown once, from one thread.
class Daemon {
 public:
  // Takes the data-directory lock, opens the store (running migrations),
  // seeds settings, makes sure an admin token exists, and starts serving.
  // `env_admin_token` is HERALD_ADMIN_TOKEN and `env_secret_key`
  // HERALD_SECRET_KEY when set. Errors say what went wrong (port taken,
  // data directory in use, bad TLS files, a secret key that is missing or
  // does not open the stored secrets, ...).
  static absl::StatusOr<std::unique_ptr<Daemon>> Start(
      const common::Config& config,
      std::optional<std::string> env_admin_token,
      std::optional<std::string> env_secret_key = std::nullopt);

  virtual ~Daemon() = default;

  // The bound gRPC address, host:port.
  virtual std::string address() const = 0;

  // Graceful stop: reports NOT_SERVING, refuses new work, lets in-flight
  // calls finish within config.shutdown_grace_period, then stops the rest.
  // Idempotent.
  virtual void Shutdown() = 0;
};

}  // namespace herald::daemon

#endif  // HERALD_SERVER_DAEMON_DAEMON_H_
