// File: mocks/mock_connection.h
//
// gMock doubles of herald::Connection and herald::PublishStream, for testing
// code that uses herald::Client without a server:
//
//   #include "herald/client/mocks/mock_connection.h"
//
//   auto mock = std::make_shared<herald::mocks::MockConnection>();
//   EXPECT_CALL(*mock, GetPolicy)
//       .WillOnce([](const herald::v1::GetPolicyRequest& r) {
//         herald::v1::Policy p;
//         p.set_id(r.id());
//         p.set_name("ci-notify");
//         return p;
//       });
//   EXPECT_CALL(*mock, ListPolicies).WillOnce([](auto) {
//     return herald::MakeStreamRange<herald::v1::Policy>({p1, p2});
//   });
//   herald::Client client(mock);
//   CodeUnderTest(client);
//
// Errors as the server sends them: herald::MakeError(code, message, reason,
// violations) from errors.h. Streams: herald::MakeStreamRange(values,
// final_status) from stream_range.h.
//
// Requires GoogleTest's gMock (link GTest::gmock).
#ifndef HERALD_CLIENT_MOCKS_MOCK_CONNECTION_H_
#define HERALD_CLIENT_MOCKS_MOCK_CONNECTION_H_

#include <gmock/gmock.h>

#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "../connection.h"

namespace herald::mocks {

class MockConnection : public Connection {
 public:
  MOCK_METHOD(absl::StatusOr<v1::Policy>, CreatePolicy,
              (const v1::CreatePolicyRequest&), (override));
  MOCK_METHOD(absl::StatusOr<v1::Policy>, GetPolicy,
              (const v1::GetPolicyRequest&), (override));
  MOCK_METHOD(PaginatedRange<v1::Policy>, ListPolicies,
              (v1::ListPoliciesRequest), (override));
  MOCK_METHOD(absl::StatusOr<v1::Policy>, UpdatePolicy,
              (const v1::UpdatePolicyRequest&), (override));
  MOCK_METHOD(absl::Status, DeletePolicy, (const v1::DeletePolicyRequest&),
              (override));
  MOCK_METHOD(absl::StatusOr<v1::ListEventTypesResponse>, ListEventTypes,
              (const v1::ListEventTypesRequest&), (override));

  MOCK_METHOD(absl::StatusOr<v1::EventAck>, PublishEvent,
              (const v1::PublishEventRequest&), (override));
  MOCK_METHOD(std::unique_ptr<PublishStream>, PublishEvents, (), (override));

  MOCK_METHOD(PaginatedRange<v1::Execution>, ListExecutions,
              (v1::ListExecutionsRequest), (override));
  MOCK_METHOD(absl::StatusOr<v1::Execution>, GetExecution,
              (const v1::GetExecutionRequest&), (override));
  MOCK_METHOD(absl::StatusOr<std::vector<v1::Task>>, ListTasks,
              (const v1::ListTasksRequest&), (override));
  MOCK_METHOD(absl::StatusOr<std::string>, GetTaskLog,
              (const v1::GetTaskLogRequest&), (override));
  MOCK_METHOD(absl::StatusOr<v1::Task>, RedeliverTask,
              (const v1::RedeliverTaskRequest&), (override));
  MOCK_METHOD(absl::StatusOr<v1::Execution>, RedeliverExecution,
              (const v1::RedeliverExecutionRequest&), (override));
  MOCK_METHOD(StreamRange<v1::RecoverFailedResponse>, RecoverFailed,
              (const v1::RecoverFailedRequest&), (override));
  MOCK_METHOD(StreamRange<v1::TaskUpdate>, WatchTasks,
              (const v1::WatchTasksRequest&), (override));

  MOCK_METHOD(absl::StatusOr<v1::Settings>, GetSettings,
              (const v1::GetSettingsRequest&), (override));
  MOCK_METHOD(absl::StatusOr<v1::Settings>, UpdateSettings,
              (const v1::UpdateSettingsRequest&), (override));
  MOCK_METHOD(absl::StatusOr<v1::CreateTokenResponse>, CreateToken,
              (const v1::CreateTokenRequest&), (override));
  MOCK_METHOD(PaginatedRange<v1::Token>, ListTokens, (v1::ListTokensRequest),
              (override));
  MOCK_METHOD(absl::Status, RevokeToken, (const v1::RevokeTokenRequest&),
              (override));
  MOCK_METHOD(absl::StatusOr<v1::GetServerInfoResponse>, GetServerInfo,
              (const v1::GetServerInfoRequest&), (override));

  MOCK_METHOD(absl::StatusOr<ServingStatus>, CheckHealth, (const std::string&),
              (override));
};

// A scripted PublishEvents stream: return it from MockConnection's
// PublishEvents, e.g. with
//   .WillOnce([] { auto s = std::make_unique<MockPublishStream>(); ...; return s; })
class MockPublishStream : public PublishStream {
 public:
  MOCK_METHOD(bool, Write, (const v1::PublishEventsRequest&), (override));
  MOCK_METHOD(bool, WritesDone, (), (override));
  MOCK_METHOD(std::optional<v1::PublishEventsResponse>, Read, (), (override));
  MOCK_METHOD(absl::Status, Finish, (), (override));
  MOCK_METHOD(void, Cancel, (), (override));
};

}  // namespace herald::mocks

#endif  // HERALD_CLIENT_MOCKS_MOCK_CONNECTION_H_
