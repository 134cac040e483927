// herald.v1.DeliveryService: executions, tasks, logs, redelivery, watch.
#ifndef HERALD_SERVER_API_DELIVERY_SERVICE_H_
#define HERALD_SERVER_API_DELIVERY_SERVICE_H_

#include "herald/v1/delivery_service.grpc.pb.h"
#include "server/api/service_context.h"

namespace herald::api {

// Thread-safe; handlers never block (work runs on the Executor).
class DeliveryServiceImpl final : public v1::DeliveryService::CallbackService {
 public:
  explicit DeliveryServiceImpl(const ServiceContext* services)
      : services_(*services) {}

  grpc::ServerUnaryReactor* ListExecutions(
      grpc::CallbackServerContext* context,
      const v1::ListExecutionsRequest* request,
      v1::ListExecutionsResponse* response) override;
  grpc::ServerUnaryReactor* GetExecution(
      grpc::CallbackServerContext* context,
      const v1::GetExecutionRequest* request,
      v1::GetExecutionResponse* response) override;
  grpc::ServerUnaryReactor* ListTasks(grpc::CallbackServerContext* context,
                                      const v1::ListTasksRequest* request,
                                      v1::ListTasksResponse* response) override;
  grpc::ServerUnaryReactor* GetTaskLog(
      grpc::CallbackServerContext* context,
      const v1::GetTaskLogRequest* request,
      v1::GetTaskLogResponse* response) override;
  grpc::ServerUnaryReactor* RedeliverTask(
      grpc::CallbackServerContext* context,
      const v1::RedeliverTaskRequest* request,
      v1::RedeliverTaskResponse* response) override;
  grpc::ServerUnaryReactor* RedeliverExecution(
      grpc::CallbackServerContext* context,
      const v1::RedeliverExecutionRequest* request,
      v1::RedeliverExecutionResponse* response) override;
  grpc::ServerWriteReactor<v1::RecoverFailedResponse>* RecoverFailed(
      grpc::CallbackServerContext* context,
      const v1::RecoverFailedRequest* request) override;
  grpc::ServerWriteReactor<v1::WatchTasksResponse>* WatchTasks(
      grpc::CallbackServerContext* context,
      const v1::WatchTasksRequest* request) override;

 private:
  const ServiceContext& services_;
};

}  // namespace herald::api

#endif  // HERALD_SERVER_API_DELIVERY_SERVICE_H_
