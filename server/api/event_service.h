// herald.v1.EventService: PublishEvent and the PublishEvents stream.
#ifndef HERALD_SERVER_API_EVENT_SERVICE_H_
#define HERALD_SERVER_API_EVENT_SERVICE_H_

#include "herald/v1/event_service.grpc.pb.h"
#include "server/api/service_context.h"
#include "server/ingest/publisher.h"

namespace herald::api {

// Thread-safe; handlers never block: authentication, validation and
// rendering run on the Executor, commits on the store's writer thread.
class EventServiceImpl final : public v1::EventService::CallbackService {
 public:
  // Events of one PublishEvents stream that may await their ack at once;
  // the server stops reading the stream while this many are pending.
  static constexpr int kMaxPendingPerStream = 256;

  EventServiceImpl(const ServiceContext* services,
                   ingest::Publisher* publisher)
      : services_(*services), publisher_(publisher) {}

  grpc::ServerUnaryReactor* PublishEvent(
      grpc::CallbackServerContext* context,
      const v1::PublishEventRequest* request,
      v1::PublishEventResponse* response) override;

  grpc::ServerBidiReactor<v1::PublishEventsRequest, v1::PublishEventsResponse>*
  PublishEvents(grpc::CallbackServerContext* context) override;

 private:
  const ServiceContext& services_;
  ingest::Publisher* const publisher_;
};

// Runs one publish for `caller`: conversion, authorization, the Publisher.
// `done` is called exactly once, possibly inline. Exposed for the stream
// reactor.
void PublishOne(const ServiceContext& services, ingest::Publisher& publisher,
                const auth::Caller& caller, const v1::Event& event,
                const std::string& request_id,
                absl::AnyInvocable<void(absl::StatusOr<v1::EventAck>) &&> done);

}  // namespace herald::api

#endif  // HERALD_SERVER_API_EVENT_SERVICE_H_
