// The one place where absl::Status becomes a gRPC status. Every error leaves
// herald as a google.rpc.Status (in the grpc-status-details-bin trailer)
// with a google.rpc.ErrorInfo{reason, domain "herald.dev", metadata} and,
// for validation errors, a google.rpc.BadRequest naming each field.
#ifndef HERALD_SERVER_API_GRPC_STATUS_H_
#define HERALD_SERVER_API_GRPC_STATUS_H_

#include <grpcpp/support/status.h>

#include "absl/status/status.h"
#include "google/rpc/status.pb.h"

namespace herald::api {

// Thread-safe, pure.
google::rpc::Status ToRpcStatus(const absl::Status& status);
grpc::Status ToGrpcStatus(const absl::Status& status);

}  // namespace herald::api

#endif  // HERALD_SERVER_API_GRPC_STATUS_H_
