// A unit test of code that uses herald::Client, with herald's gMock
// connection (@herald//client:mocks) instead of a server.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <memory>

#include "herald/client/client.h"
#include "herald/client/mocks/mock_connection.h"

namespace {

using ::testing::Return;

TEST(MockConnection, StandsInForTheServer) {
  auto mock = std::make_shared<herald::mocks::MockConnection>();
  herald::v1::GetServerInfoResponse info;
  info.set_version("9.9.9");
  EXPECT_CALL(*mock, GetServerInfo).WillOnce(Return(info));
  EXPECT_CALL(*mock, GetPolicy)
      .WillOnce(Return(herald::MakeError(absl::StatusCode::kNotFound, "no such policy",
                                         "NOT_FOUND")));

  herald::Client client(mock);
  absl::StatusOr<herald::v1::GetServerInfoResponse> got = client.GetServerInfo();
  ASSERT_TRUE(got.ok()) << got.status();
  EXPECT_EQ(got->version(), "9.9.9");
  EXPECT_EQ(herald::ErrorReason(client.GetPolicy(7).status()), "NOT_FOUND");
}

}  // namespace
