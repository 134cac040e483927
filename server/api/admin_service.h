// herald.v1.AdminService: settings, tokens and server information.
#ifndef HERALD_SERVER_API_ADMIN_SERVICE_H_
#define HERALD_SERVER_API_ADMIN_SERVICE_H_

#include "herald/v1/admin_service.grpc.pb.h"
#include "server/api/service_context.h"

namespace herald::api {

// Thread-safe; handlers never block (work runs on the Executor).
class AdminServiceImpl final : public v1::AdminService::CallbackService {
 public:
  explicit AdminServiceImpl(const ServiceContext* services)
      : services_(*services) {}

  grpc::ServerUnaryReactor* GetSettings(
      grpc::CallbackServerContext* context,
      const v1::GetSettingsRequest* request,
      v1::GetSettingsResponse* response) override;
  grpc::ServerUnaryReactor* UpdateSettings(
      grpc::CallbackServerContext* context,
      const v1::UpdateSettingsRequest* request,
      v1::UpdateSettingsResponse* response) override;
  grpc::ServerUnaryReactor* CreateToken(
      grpc::CallbackServerContext* context,
      const v1::CreateTokenRequest* request,
      v1::CreateTokenResponse* response) override;
  grpc::ServerUnaryReactor* ListTokens(
      grpc::CallbackServerContext* context,
      const v1::ListTokensRequest* request,
      v1::ListTokensResponse* response) override;
  grpc::ServerUnaryReactor* RevokeToken(
      grpc::CallbackServerContext* context,
      const v1::RevokeTokenRequest* request,
      v1::RevokeTokenResponse* response) override;
  grpc::ServerUnaryReactor* GetServerInfo(
      grpc::CallbackServerContext* context,
      const v1::GetServerInfoRequest* request,
      v1::GetServerInfoResponse* response) override;

 private:
  const ServiceContext& services_;
};

}  // namespace herald::api

#endif  // HERALD_SERVER_API_ADMIN_SERVICE_H_
