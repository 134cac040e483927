// The WatchTasks server stream.
#ifndef HERALD_SERVER_API_WATCH_TASKS_H_
#define HERALD_SERVER_API_WATCH_TASKS_H_

#include "herald/v1/delivery_service.grpc.pb.h"
#include "server/api/service_context.h"
#include "server/watch/watch_hub.h"

namespace herald::api {

// Starts one WatchTasks stream; the reactor deletes itself when done.
//
// Flow: authenticate and authorize (reads of the projects concerned), pick
// the start (cursor, now, or a snapshot of unfinished tasks first), then
// loop: read the updates after the cursor from the hub (memory or store),
// keep those matching the filters, write them as one message, wait for the
// write, repeat; when there is nothing new, wait on the hub. At most one
// batch is held per stream, so a consumer that stops reading costs no
// memory: it resumes from the store once it reads again. The stream ends
// with UNAVAILABLE (reason SHUTTING_DOWN) when heraldd stops, and with
// OUT_OF_RANGE (CURSOR_EXPIRED) when its cursor's history was trimmed.
grpc::ServerWriteReactor<v1::WatchTasksResponse>* StartWatchTasks(
    grpc::CallbackServerContext* context, const ServiceContext& services,
    watch::WatchHub& hub, const v1::WatchTasksRequest& request);

// Largest number of updates in one message.
inline constexpr int kMaxUpdatesPerMessage = 256;

}  // namespace herald::api

#endif  // HERALD_SERVER_API_WATCH_TASKS_H_
