#include "client/connection.h"

#include <fstream>
#include <sstream>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "client/internal/strings.h"

namespace herald {
namespace {

absl::Status NotImplemented(const char* rpc) {
  return absl::UnimplementedError(
      absl::StrCat("this Connection does not implement ", rpc));
}

}  // namespace

const char* ServingStatusName(ServingStatus status) {
  switch (status) {
    case ServingStatus::kServing:
      return "SERVING";
    case ServingStatus::kNotServing:
      return "NOT_SERVING";
    case ServingStatus::kServiceUnknown:
      return "SERVICE_UNKNOWN";
    case ServingStatus::kUnknown:
      break;
  }
  return "UNKNOWN";
}

bool Connection::WaitForConnection(absl::Time deadline) {
  absl::SleepFor(deadline - absl::Now());
  return false;
}

absl::StatusOr<v1::Policy> Connection::CreatePolicy(const v1::CreatePolicyRequest&) {
  return NotImplemented("CreatePolicy");
}
absl::StatusOr<v1::Policy> Connection::GetPolicy(const v1::GetPolicyRequest&) {
  return NotImplemented("GetPolicy");
}
PaginatedRange<v1::Policy> Connection::ListPolicies(v1::ListPoliciesRequest) {
  return MakeErrorRange<v1::Policy>(NotImplemented("ListPolicies"));
}
absl::StatusOr<v1::Policy> Connection::UpdatePolicy(const v1::UpdatePolicyRequest&) {
  return NotImplemented("UpdatePolicy");
}
absl::Status Connection::DeletePolicy(const v1::DeletePolicyRequest&) {
  return NotImplemented("DeletePolicy");
}
absl::StatusOr<v1::ListEventTypesResponse> Connection::ListEventTypes(
    const v1::ListEventTypesRequest&) {
  return NotImplemented("ListEventTypes");
}
absl::StatusOr<v1::EventAck> Connection::PublishEvent(const v1::PublishEventRequest&) {
  return NotImplemented("PublishEvent");
}

namespace {
// The stream of a Connection without PublishEvents: fails at once.
class UnimplementedPublishStream final : public PublishStream {
 public:
  bool Write(const v1::PublishEventsRequest&) override { return false; }
  bool WritesDone() override { return false; }
  std::optional<v1::PublishEventsResponse> Read() override { return std::nullopt; }
  absl::Status Finish() override { return NotImplemented("PublishEvents"); }
  void Cancel() override {}
};
}  // namespace

std::unique_ptr<PublishStream> Connection::PublishEvents() {
  return std::make_unique<UnimplementedPublishStream>();
}
PaginatedRange<v1::Execution> Connection::ListExecutions(v1::ListExecutionsRequest) {
  return MakeErrorRange<v1::Execution>(NotImplemented("ListExecutions"));
}
absl::StatusOr<v1::Execution> Connection::GetExecution(const v1::GetExecutionRequest&) {
  return NotImplemented("GetExecution");
}
absl::StatusOr<std::vector<v1::Task>> Connection::ListTasks(const v1::ListTasksRequest&) {
  return NotImplemented("ListTasks");
}
absl::StatusOr<std::string> Connection::GetTaskLog(const v1::GetTaskLogRequest&) {
  return NotImplemented("GetTaskLog");
}
absl::StatusOr<v1::Task> Connection::RedeliverTask(const v1::RedeliverTaskRequest&) {
  return NotImplemented("RedeliverTask");
}
absl::StatusOr<v1::Execution> Connection::RedeliverExecution(
    const v1::RedeliverExecutionRequest&) {
  return NotImplemented("RedeliverExecution");
}
StreamRange<v1::RecoverFailedResponse> Connection::RecoverFailed(
    const v1::RecoverFailedRequest&) {
  return MakeErrorRange<v1::RecoverFailedResponse>(NotImplemented("RecoverFailed"));
}
StreamRange<v1::TaskUpdate> Connection::WatchTasks(const v1::WatchTasksRequest&) {
  return MakeErrorRange<v1::TaskUpdate>(NotImplemented("WatchTasks"));
}
absl::StatusOr<v1::Settings> Connection::GetSettings(const v1::GetSettingsRequest&) {
  return NotImplemented("GetSettings");
}
absl::StatusOr<v1::Settings> Connection::UpdateSettings(const v1::UpdateSettingsRequest&) {
  return NotImplemented("UpdateSettings");
}
absl::StatusOr<v1::CreateTokenResponse> Connection::CreateToken(
    const v1::CreateTokenRequest&) {
  return NotImplemented("CreateToken");
}
PaginatedRange<v1::Token> Connection::ListTokens(v1::ListTokensRequest) {
  return MakeErrorRange<v1::Token>(NotImplemented("ListTokens"));
}
absl::Status Connection::RevokeToken(const v1::RevokeTokenRequest&) {
  return NotImplemented("RevokeToken");
}
absl::StatusOr<v1::GetServerInfoResponse> Connection::GetServerInfo(
    const v1::GetServerInfoRequest&) {
  return NotImplemented("GetServerInfo");
}
absl::StatusOr<ServingStatus> Connection::CheckHealth(const std::string&) {
  return NotImplemented("CheckHealth");
}

absl::Status ApplyEnvironment(ConnectionOptions& options) {
  if (const char* addr = std::getenv("HERALD_ADDR"); addr != nullptr && *addr) {
    options.address = addr;
  }
  if (const char* token = std::getenv("HERALD_TOKEN"); token != nullptr && *token) {
    options.token = token;
  } else if (const char* file = std::getenv("HERALD_TOKEN_FILE");
             file != nullptr && *file) {
    std::ifstream in(file);
    if (!in) {
      return absl::NotFoundError(
          absl::StrCat("HERALD_TOKEN_FILE: cannot read ", file));
    }
    std::stringstream text;
    text << in.rdbuf();
    options.token = std::string(absl::StripAsciiWhitespace(text.str()));
  }
  return absl::OkStatus();
}

}  // namespace herald
