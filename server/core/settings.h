// Server-wide delivery settings, persisted in the store and editable through
// AdminService. Names follow Harbor's configuration keys.
#ifndef HERALD_SERVER_CORE_SETTINGS_H_
#define HERALD_SERVER_CORE_SETTINGS_H_

#include "absl/time/time.h"

namespace herald::core {

struct Settings {
  // Harbor's notification_enable: when false, events are acknowledged and
  // dropped (no executions are created).
  bool notification_enable = true;
  // Harbor's webhook_job_max_retry: total attempts per delivery (1..100).
  int webhook_job_max_retry = 3;
  // Harbor's webhook_job_http_client_timeout (1 s..300 s).
  absl::Duration webhook_job_http_client_timeout = absl::Seconds(3);
  // Finished executions kept per policy and vendor type (1..100000).
  int execution_retention_count = 50;
  friend bool operator==(const Settings&, const Settings&) = default;
};

}  // namespace herald::core

#endif  // HERALD_SERVER_CORE_SETTINGS_H_
