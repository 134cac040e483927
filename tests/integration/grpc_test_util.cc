#include "tests/integration/grpc_test_util.h"

#include <chrono>
#include <cstdlib>
#include <iostream>

#include "google/rpc/error_details.pb.h"
#include "google/rpc/status.pb.h"

namespace herald::testing {

std::unique_ptr<grpc::ClientContext> AuthContext(const std::string& token) {
  auto context = std::make_unique<grpc::ClientContext>();
  if (!token.empty()) context->AddMetadata("authorization", "Bearer " + token);
  context->set_deadline(std::chrono::system_clock::now() +
                        std::chrono::seconds(10));
  return context;
}

bool ErrorDetails::HasViolation(const std::string& field) const {
  for (const auto& [f, d] : violations) {
    if (f == field) return true;
  }
  return false;
}

ErrorDetails DetailsOf(const grpc::Status& status) {
  ErrorDetails out;
  google::rpc::Status rpc;
  if (!rpc.ParseFromString(status.error_details())) return out;
  for (const google::protobuf::Any& any : rpc.details()) {
    google::rpc::ErrorInfo info;
    google::rpc::BadRequest bad;
    if (any.UnpackTo(&info)) {
      out.has_error_info = true;
      out.reason = info.reason();
      out.domain = info.domain();
      out.metadata = {info.metadata().begin(), info.metadata().end()};
    } else if (any.UnpackTo(&bad)) {
      for (const auto& v : bad.field_violations()) {
        out.violations.emplace_back(v.field(), v.description());
      }
    }
  }
  return out;
}

std::string CreateToken(const std::shared_ptr<grpc::Channel>& channel,
                        const std::string& admin_token,
                        const std::string& name, v1::Role role,
                        std::vector<int64_t> project_ids) {
  auto stub = v1::AdminService::NewStub(channel);
  v1::CreateTokenRequest request;
  request.mutable_token()->set_name(name);
  request.mutable_token()->set_role(role);
  for (int64_t p : project_ids) request.mutable_token()->add_project_ids(p);
  v1::CreateTokenResponse response;
  grpc::Status status =
      stub->CreateToken(AuthContext(admin_token).get(), request, &response);
  if (!status.ok()) {
    std::cerr << "CreateToken(" << name << ") failed: "
              << status.error_message() << "\n";
    std::abort();
  }
  return response.secret();
}

absl::StatusOr<std::string> TaskLog(v1::DeliveryService::Stub& deliveries,
                                    const std::string& token, int64_t task_id) {
  v1::GetTaskLogRequest r;
  r.set_task_id(task_id);
  v1::GetTaskLogResponse out;
  grpc::Status s = deliveries.GetTaskLog(AuthContext(token).get(), r, &out);
  if (!s.ok()) {
    return absl::Status(static_cast<absl::StatusCode>(s.error_code()),
                        "GetTaskLog: " + s.error_message());
  }
  return out.log();
}

v1::Event PushArtifactEvent(int64_t project, const std::string& repo,
                            const std::string& tag) {
  v1::Event e;
  e.set_event_type("PUSH_ARTIFACT");
  e.set_project_id(project);
  e.set_operator_("admin");
  auto* r = e.mutable_repository();
  r->set_repo_full_name(repo);
  r->set_namespace_(repo.substr(0, repo.find('/')));
  r->set_name(repo.substr(repo.find('/') + 1));
  r->set_repo_type("public");
  auto* res = e.add_resources();
  res->set_digest(
      "sha256:dde8e930c7b6a490f728e66292bc9bce42efc9bbb5278bae40e4f30f6e00fe8c");
  if (!tag.empty()) res->set_tag(tag);
  return e;
}

}  // namespace herald::testing
