// Answers for RPCs that are part of the v1 contract but not served yet:
// the caller is authenticated first (so the permission contract holds),
// then gets UNIMPLEMENTED with reason NOT_IMPLEMENTED.
#ifndef HERALD_SERVER_API_UNIMPLEMENTED_H_
#define HERALD_SERVER_API_UNIMPLEMENTED_H_

#include <string>
#include <string_view>

#include "absl/strings/str_cat.h"
#include "server/api/service_context.h"

namespace herald::api {

inline absl::Status NotImplementedError(std::string_view rpc) {
  return core::MakeError(
      absl::StatusCode::kUnimplemented, core::reason::kNotImplemented,
      absl::StrCat(std::string(rpc), " is not implemented by this heraldd yet"),
      {{"rpc", std::string(rpc)}});
}

// A server-streaming reactor that authenticates and finishes with
// UNIMPLEMENTED. Deletes itself when done.
template <typename Response>
class UnimplementedWriter final : public grpc::ServerWriteReactor<Response> {
 public:
  UnimplementedWriter(grpc::CallbackServerContext* context,
                      const ServiceContext& services, std::string rpc)
      : services_(services) {
    if (!services.calls->Begin()) {
      tracked_ = false;
      this->Finish(ToGrpcStatus(ShuttingDownError()));
      return;
    }
    bool queued = services.executor->Submit(
        [this, &services, authorization = AuthorizationOf(context),
         rpc = std::move(rpc)] {
          absl::StatusOr<auth::Caller> caller =
              services.authenticator->Authenticate(authorization);
          this->Finish(ToGrpcStatus(caller.ok() ? NotImplementedError(rpc)
                                                : caller.status()));
        });
    if (!queued) this->Finish(ToGrpcStatus(ShuttingDownError()));
  }
  void OnDone() override {
    if (tracked_) services_.calls->End();
    delete this;
  }

 private:
  const ServiceContext& services_;
  bool tracked_ = true;
};

}  // namespace herald::api

#endif  // HERALD_SERVER_API_UNIMPLEMENTED_H_
