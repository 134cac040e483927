// herald.v1.PolicyService over the Store: authorization, validation and
// proto conversion. No logic of its own beyond that.
#ifndef HERALD_SERVER_API_POLICY_SERVICE_H_
#define HERALD_SERVER_API_POLICY_SERVICE_H_

#include "herald/v1/policy_service.grpc.pb.h"
#include "server/api/service_context.h"

namespace herald::api {

// Thread-safe; handlers never block (work runs on the Executor).
class PolicyServiceImpl final : public v1::PolicyService::CallbackService {
 public:
  explicit PolicyServiceImpl(const ServiceContext* services)
      : services_(*services) {}

  grpc::ServerUnaryReactor* CreatePolicy(
      grpc::CallbackServerContext* context,
      const v1::CreatePolicyRequest* request,
      v1::CreatePolicyResponse* response) override;
  grpc::ServerUnaryReactor* GetPolicy(grpc::CallbackServerContext* context,
                                      const v1::GetPolicyRequest* request,
                                      v1::GetPolicyResponse* response) override;
  grpc::ServerUnaryReactor* ListPolicies(
      grpc::CallbackServerContext* context,
      const v1::ListPoliciesRequest* request,
      v1::ListPoliciesResponse* response) override;
  grpc::ServerUnaryReactor* UpdatePolicy(
      grpc::CallbackServerContext* context,
      const v1::UpdatePolicyRequest* request,
      v1::UpdatePolicyResponse* response) override;
  grpc::ServerUnaryReactor* DeletePolicy(
      grpc::CallbackServerContext* context,
      const v1::DeletePolicyRequest* request,
      v1::DeletePolicyResponse* response) override;
  grpc::ServerUnaryReactor* ListEventTypes(
      grpc::CallbackServerContext* context,
      const v1::ListEventTypesRequest* request,
      v1::ListEventTypesResponse* response) override;

 private:
  const ServiceContext& services_;
};

}  // namespace herald::api

#endif  // HERALD_SERVER_API_POLICY_SERVICE_H_
