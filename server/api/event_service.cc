#include "server/api/event_service.h"

#include <deque>
#include <memory>

#include "absl/strings/str_cat.h"

#include "server/api/event_convert.h"
#include "server/api/reactor_lifetime.h"
#include "server/auth/permissions.h"
#include "server/core/status_macros.h"

namespace herald::api {
namespace {

constexpr size_t kMaxRequestIdBytes = 128;
// A whole event, as encoded on the wire.
constexpr size_t kMaxEventBytes = 1 << 20;

v1::EventAck AckToProto(const ingest::PublishResult& result) {
  v1::EventAck ack;
  ack.set_event_id(result.event_id);
  ack.set_deliveries_created(result.deliveries_created);
  ack.set_duplicate(result.duplicate);
  ack.set_dropped(result.dropped);
  return ack;
}

// One PublishEvents stream. Reads at most kMaxPendingPerStream events ahead
// of the acks, writes acks strictly in arrival order, and deletes itself
// once gRPC is done with it and no publish it started is still running.
class PublishStream final
    : public grpc::ServerBidiReactor<v1::PublishEventsRequest,
                                     v1::PublishEventsResponse> {
 public:
  PublishStream(grpc::CallbackServerContext* context,
                const ServiceContext& services, ingest::Publisher& publisher)
      : services_(services), publisher_(publisher) {
    if (!services_.calls->Begin()) {
      tracked_ = false;
      FinishOnce(ToGrpcStatus(ShuttingDownError()));
      return;
    }
    Hold();
    bool queued = services_.executor->Submit(
        [this, authorization = AuthorizationOf(context)] {
          Authenticate(authorization);
          Release();
        });
    if (!queued) {
      FinishOnce(ToGrpcStatus(ShuttingDownError()));
      Release();
    }
  }

  void OnReadDone(bool ok) override {
    if (!ok) {
      {
        absl::MutexLock lock(&mu_);
        reading_ = false;
        reads_done_ = true;
      }
      MaybeFinish();
      return;
    }
    auto slot = std::make_shared<Slot>();
    slot->request_id = request_.request_id();
    v1::Event event = std::move(*request_.mutable_event());
    bool read_more, start_drain;
    {
      // One critical section: once reading_ is false, OnWriteDone may start
      // the next read, whose OnReadDone must queue behind this event.
      absl::MutexLock lock(&mu_);
      slot->sequence = ++last_sequence_;
      pending_.push_back(slot);
      inbound_.emplace_back(slot, std::move(event));
      start_drain = !draining_;
      draining_ = true;
      read_more = pending_.size() < EventServiceImpl::kMaxPendingPerStream;
      reading_ = read_more;
    }
    if (start_drain) {
      Hold();
      if (!services_.executor->Submit([this] {
            Drain();
            Release();
          })) {
        Drain(ShuttingDownError());
        Release();
      }
    }
    if (read_more) StartRead(&request_);
  }

  void OnWriteDone(bool ok) override {
    bool read_more = false;
    {
      absl::MutexLock lock(&mu_);
      writing_ = false;
      pending_.pop_front();
      if (ok && !reading_ && !reads_done_ && !finished_ &&
          pending_.size() < EventServiceImpl::kMaxPendingPerStream) {
        reading_ = read_more = true;
      }
    }
    if (!ok) {
      FinishOnce(grpc::Status(grpc::StatusCode::CANCELLED, "write failed"));
      return;
    }
    if (read_more) StartRead(&request_);
    MaybeWrite();
    MaybeFinish();
  }

  void OnCancel() override {
    FinishOnce(grpc::Status(grpc::StatusCode::CANCELLED, "cancelled"));
  }

  void OnDone() override {
    const bool destroy = lifetime_.Done();
    if (tracked_) services_.calls->End();
    if (destroy) delete this;
  }

 private:
  struct Slot {
    int64_t sequence = 0;
    std::string request_id;
    bool complete = false;
    absl::StatusOr<v1::EventAck> ack = absl::UnknownError("pending");
  };

  void Authenticate(const std::optional<std::string>& authorization) {
    absl::StatusOr<auth::Caller> caller =
        services_.authenticator->Authenticate(authorization);
    if (!caller.ok()) {
      FinishOnce(ToGrpcStatus(caller.status()));
      return;
    }
    caller_ = *std::move(caller);
    {
      absl::MutexLock lock(&mu_);
      reading_ = true;
    }
    StartRead(&request_);
  }

  // Publishes the stream's events one after another, on one executor
  // thread at a time, so their commits are queued in stream order (event ids
  // increase in publish order). Commits themselves complete asynchronously
  // and are group-committed with other streams'. With `refusal`, answers
  // every queued event with it instead.
  void Drain(absl::Status refusal = absl::OkStatus()) {
    while (true) {
      std::shared_ptr<Slot> slot;
      v1::Event event;
      {
        absl::MutexLock lock(&mu_);
        if (inbound_.empty()) {
          draining_ = false;
          return;
        }
        slot = std::move(inbound_.front().first);
        event = std::move(inbound_.front().second);
        inbound_.pop_front();
      }
      if (!refusal.ok()) {
        Complete(*slot, refusal);
        continue;
      }
      Hold();
      PublishOne(services_, publisher_, caller_, event, slot->request_id,
                 [this, slot](absl::StatusOr<v1::EventAck> ack) {
                   Complete(*slot, std::move(ack));
                   Release();
                 });
    }
  }

  void Complete(Slot& slot, absl::StatusOr<v1::EventAck> ack) {
    {
      absl::MutexLock lock(&mu_);
      slot.ack = std::move(ack);
      slot.complete = true;
    }
    MaybeWrite();
  }

  // Starts writing the oldest ack if it is complete and no write is in
  // flight (gRPC allows one at a time).
  void MaybeWrite() {
    {
      absl::MutexLock lock(&mu_);
      if (writing_ || finished_ || pending_.empty() ||
          !pending_.front()->complete) {
        return;
      }
      writing_ = true;
      const Slot& slot = *pending_.front();
      response_.Clear();
      response_.set_sequence(slot.sequence);
      response_.set_request_id(slot.request_id);
      if (slot.ack.ok()) {
        *response_.mutable_ack() = *slot.ack;
      } else {
        *response_.mutable_error() = ToRpcStatus(slot.ack.status());
      }
    }
    StartWrite(&response_);
  }

  void MaybeFinish() {
    {
      absl::MutexLock lock(&mu_);
      if (!reads_done_ || !pending_.empty() || writing_) return;
    }
    FinishOnce(grpc::Status::OK);
  }

  void FinishOnce(const grpc::Status& status) {
    {
      absl::MutexLock lock(&mu_);
      if (finished_) return;
      finished_ = true;
    }
    Finish(status);
  }

  void Hold() { lifetime_.Hold(); }

  void Release() {
    if (lifetime_.Release()) delete this;
  }

  const ServiceContext& services_;
  ingest::Publisher& publisher_;
  bool tracked_ = true;  // counted in services_.calls
  auth::Caller caller_;  // written once before the first read
  v1::PublishEventsRequest request_;    // owned by the read in flight
  v1::PublishEventsResponse response_;  // owned by the write in flight

  absl::Mutex mu_;
  // Every event read and not yet acknowledged, in stream order.
  std::deque<std::shared_ptr<Slot>> pending_ ABSL_GUARDED_BY(mu_);
  // Events read and not yet handed to the publisher.
  std::deque<std::pair<std::shared_ptr<Slot>, v1::Event>> inbound_
      ABSL_GUARDED_BY(mu_);
  bool draining_ ABSL_GUARDED_BY(mu_) = false;  // a Drain() is scheduled
  int64_t last_sequence_ ABSL_GUARDED_BY(mu_) = 0;
  bool reading_ ABSL_GUARDED_BY(mu_) = false;
  bool reads_done_ ABSL_GUARDED_BY(mu_) = false;
  bool writing_ ABSL_GUARDED_BY(mu_) = false;
  bool finished_ ABSL_GUARDED_BY(mu_) = false;
  ReactorLifetime lifetime_;
};

}  // namespace

void PublishOne(
    const ServiceContext& services, ingest::Publisher& publisher,
    const auth::Caller& caller, const v1::Event& event,
    const std::string& request_id,
    absl::AnyInvocable<void(absl::StatusOr<v1::EventAck>) &&> done) {
  auto refuse = [&](absl::Status status) {
    publisher.metrics().EventRejected(core::ErrorReasonOf(status));
    std::move(done)(std::move(status));
  };
  if (event.project_id() <= 0) {
    return refuse(core::InvalidFieldError("event.project_id",
                                          "required, positive"));
  }
  if (absl::Status allowed =
          auth::Authorize(caller, auth::Access::kPublish, event.project_id());
      !allowed.ok()) {
    return refuse(std::move(allowed));
  }
  if (services.publish_limiter != nullptr) {
    if (std::optional<absl::Duration> wait =
            services.publish_limiter->TryAcquire(caller.token_id)) {
      const int64_t wait_ms = absl::ToInt64Milliseconds(absl::Ceil(
          *wait, absl::Milliseconds(1)));
      return refuse(core::MakeError(
          absl::StatusCode::kResourceExhausted, core::reason::kRateLimited,
          absl::StrCat("publish rate limit of this token reached (",
                       services.publish_limiter->rate(), " events/s, burst ",
                       services.publish_limiter->burst(), "); retry in ",
                       wait_ms, " ms"),
          {{"limit_per_second", absl::StrCat(services.publish_limiter->rate())},
           {"retry_delay_ms", absl::StrCat(wait_ms)}}));
    }
  }
  if (request_id.size() > kMaxRequestIdBytes) {
    return refuse(core::InvalidFieldError("request_id", "at most 128 bytes"));
  }
  if (event.ByteSizeLong() > kMaxEventBytes) {
    return refuse(core::InvalidFieldError(
        "event", absl::StrCat("is ", event.ByteSizeLong(),
                              " bytes encoded; at most 1 MiB (1048576)")));
  }
  ingest::PublishRequest request;
  request.event = EventFromProto(event);
  request.request_id = request_id;
  request.token_id = caller.token_id;
  publisher.Publish(
      std::move(request),
      [&publisher, done = std::move(done)](
          absl::StatusOr<ingest::PublishResult> result) mutable {
        if (!result.ok()) {
          publisher.metrics().EventRejected(
              core::ErrorReasonOf(result.status()));
          std::move(done)(result.status());
          return;
        }
        std::move(done)(AckToProto(*result));
      });
}

grpc::ServerUnaryReactor* EventServiceImpl::PublishEvent(
    grpc::CallbackServerContext* context,
    const v1::PublishEventRequest* request,
    v1::PublishEventResponse* response) {
  grpc::ServerUnaryReactor* reactor = context->DefaultReactor();
  if (!services_.calls->Begin()) {
    reactor->Finish(ToGrpcStatus(ShuttingDownError()));
    return reactor;
  }
  bool queued = services_.executor->Submit(
      [this, reactor, request, response,
       authorization = AuthorizationOf(context)] {
        absl::StatusOr<auth::Caller> caller =
            services_.authenticator->Authenticate(authorization);
        if (!caller.ok()) {
          reactor->Finish(ToGrpcStatus(caller.status()));
          services_.calls->End();
          return;
        }
        PublishOne(services_, *publisher_, *caller, request->event(),
                   request->request_id(),
                   [this, reactor, response](absl::StatusOr<v1::EventAck> ack) {
                     if (ack.ok()) *response->mutable_ack() = *ack;
                     reactor->Finish(ToGrpcStatus(ack.status()));
                     services_.calls->End();
                   });
      });
  if (!queued) {
    reactor->Finish(ToGrpcStatus(ShuttingDownError()));
    services_.calls->End();
  }
  return reactor;
}

grpc::ServerBidiReactor<v1::PublishEventsRequest, v1::PublishEventsResponse>*
EventServiceImpl::PublishEvents(grpc::CallbackServerContext* context) {
  return new PublishStream(context, services_, *publisher_);
}

}  // namespace herald::api
