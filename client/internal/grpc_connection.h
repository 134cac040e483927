// The gRPC implementation of herald::Connection, exposed for tests that
// inject the generated gMock stubs (herald/v1/*_mock.grpc.pb.h) to check
// deadlines, metadata and retries without a server. Not installed; users
// call herald::MakeConnection().
#ifndef HERALD_CLIENT_INTERNAL_GRPC_CONNECTION_H_
#define HERALD_CLIENT_INTERNAL_GRPC_CONNECTION_H_

#include <grpcpp/grpcpp.h>

#include <memory>

#include "absl/status/status.h"
#include "client/connection.h"
#include "client/options.h"
#include "grpc/health/v1/health.grpc.pb.h"
#include "herald/v1/admin_service.grpc.pb.h"
#include "herald/v1/delivery_service.grpc.pb.h"
#include "herald/v1/event_service.grpc.pb.h"
#include "herald/v1/policy_service.grpc.pb.h"

namespace herald::internal {

// The generated stubs a GrpcConnection calls.
struct Stubs {
  std::unique_ptr<v1::PolicyService::StubInterface> policy;
  std::unique_ptr<v1::EventService::StubInterface> event;
  std::unique_ptr<v1::DeliveryService::StubInterface> delivery;
  std::unique_ptr<v1::AdminService::StubInterface> admin;
  std::unique_ptr<grpc::health::v1::Health::StubInterface> health;
};

// Stubs over one channel.
Stubs MakeStubs(const std::shared_ptr<grpc::Channel>& channel);

// The channel MakeConnection() uses: credentials from options.tls,
// keepalive, reconnect backoff, user agent.
std::shared_ptr<grpc::Channel> MakeChannel(const ConnectionOptions& options);

// A Connection over `stubs` (all five must be set). `channel`, the channel
// under the stubs, serves WaitForConnection; without one (mocked stubs) it
// sleeps.
std::shared_ptr<Connection> MakeGrpcConnection(
    ConnectionOptions options, Stubs stubs,
    std::shared_ptr<grpc::Channel> channel = nullptr);

// The gRPC status as an absl::Status; the google.rpc.Status of the
// grpc-status-details-bin trailer becomes the payload read by errors.h.
absl::Status FromGrpcStatus(const grpc::Status& status);

}  // namespace herald::internal

#endif  // HERALD_CLIENT_INTERNAL_GRPC_CONNECTION_H_
