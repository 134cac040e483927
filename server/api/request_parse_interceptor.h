// Gives requests that gRPC could not parse a clear error.
//
// gRPC's callback API answers a request whose bytes do not parse as the
// method's request type (malformed protobuf, invalid UTF-8 in a proto3
// string, nesting deeper than 100) with UNIMPLEMENTED and an empty message,
// and a call to a method no service registered the same way. This
// interceptor rewrites those answers, and only those (herald's own
// UNIMPLEMENTED answers always carry a message), for methods under
// /herald.v1.:
//   - a known method: INVALID_ARGUMENT, reason MALFORMED_REQUEST, naming
//     the request type;
//   - an unknown one: UNIMPLEMENTED, reason NOT_IMPLEMENTED, naming it.
#ifndef HERALD_SERVER_API_REQUEST_PARSE_INTERCEPTOR_H_
#define HERALD_SERVER_API_REQUEST_PARSE_INTERCEPTOR_H_

#include <grpcpp/support/server_interceptor.h>

#include <memory>

namespace herald::api {

// Thread-safe (stateless); one interceptor is created per call.
std::unique_ptr<grpc::experimental::ServerInterceptorFactoryInterface>
MakeRequestParseInterceptorFactory();

}  // namespace herald::api

#endif  // HERALD_SERVER_API_REQUEST_PARSE_INTERCEPTOR_H_
