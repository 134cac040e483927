#include "server/api/request_parse_interceptor.h"

#include <google/protobuf/descriptor.h>

#include <string>
#include <utility>

#include "absl/strings/str_cat.h"
#include "server/api/grpc_status.h"
#include "server/core/errors.h"

namespace herald::api {
namespace {

constexpr std::string_view kHeraldPrefix = "/herald.v1.";

// "/herald.v1.PolicyService/CreatePolicy" -> its descriptor, or null.
const google::protobuf::MethodDescriptor* FindMethod(std::string_view path) {
  const size_t slash = path.rfind('/');
  if (slash == 0 || slash == std::string_view::npos) return nullptr;
  const std::string service(path.substr(1, slash - 1));
  const google::protobuf::ServiceDescriptor* descriptor =
      google::protobuf::DescriptorPool::generated_pool()->FindServiceByName(
          service);
  if (descriptor == nullptr) return nullptr;
  return descriptor->FindMethodByName(std::string(path.substr(slash + 1)));
}

absl::Status Rewritten(const std::string& path) {
  const google::protobuf::MethodDescriptor* method = FindMethod(path);
  if (method == nullptr) {
    return core::MakeError(
        absl::StatusCode::kUnimplemented, core::reason::kNotImplemented,
        absl::StrCat("unknown method ", path,
                     ": see protos/herald/v1 for the RPCs herald serves"),
        {{"method", std::string(path)}});
  }
  return core::MakeError(
      absl::StatusCode::kInvalidArgument, core::reason::kMalformedRequest,
      absl::StrCat("the request is not a valid ",
                   method->input_type()->full_name(),
                   ": malformed protobuf, invalid UTF-8 in a string field, "
                   "or nesting deeper than 100 levels"),
      {{"method", std::string(path)}});
}

class RequestParseInterceptor final : public grpc::experimental::Interceptor {
 public:
  explicit RequestParseInterceptor(std::string path) : path_(std::move(path)) {}

  void Intercept(grpc::experimental::InterceptorBatchMethods* methods) override {
    if (methods->QueryInterceptionHookPoint(
            grpc::experimental::InterceptionHookPoints::PRE_SEND_STATUS)) {
      const grpc::Status status = methods->GetSendStatus();
      if (status.error_code() == grpc::StatusCode::UNIMPLEMENTED &&
          status.error_message().empty()) {
        methods->ModifySendStatus(ToGrpcStatus(Rewritten(path_)));
      }
    }
    methods->Proceed();
  }

 private:
  const std::string path_;
};

class RequestParseInterceptorFactory final
    : public grpc::experimental::ServerInterceptorFactoryInterface {
 public:
  grpc::experimental::Interceptor* CreateServerInterceptor(
      grpc::experimental::ServerRpcInfo* info) override {
    const std::string path = info->method() ? info->method() : "";
    if (path.rfind(kHeraldPrefix, 0) != 0) return nullptr;
    return new RequestParseInterceptor(path);
  }
};

}  // namespace

std::unique_ptr<grpc::experimental::ServerInterceptorFactoryInterface>
MakeRequestParseInterceptorFactory() {
  return std::make_unique<RequestParseInterceptorFactory>();
}

}  // namespace herald::api
