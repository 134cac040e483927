// Bad input at the gRPC level against a real heraldd: oversized messages,
// huge repeated fields and maps, deep nesting, invalid UTF-8 and malformed
// protobuf sent as raw bytes through a generic stub, unknown enum values,
// and garbage bytes on the port. Each gets a clear error (or a closed
// connection, for bytes that are not HTTP/2) and heraldd keeps serving: a
// normal call afterwards works, and the process is still alive at the end.
#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <grpcpp/generic/generic_stub.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <iostream>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/synchronization/notification.h"
#include "herald/v1/admin_service.grpc.pb.h"
#include "herald/v1/delivery_service.grpc.pb.h"
#include "herald/v1/event_service.grpc.pb.h"
#include "herald/v1/policy_service.grpc.pb.h"
#include "tests/integration/grpc_test_util.h"
#include "tests/integration/heraldd_process.h"

namespace herald::testing {
namespace {

constexpr int kMaxMessageBytes = 256 * 1024;

class BadInputTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    HeralddProcess::Options options;
    options.extra_args = {
        absl::StrCat("--max_receive_message_bytes=", kMaxMessageBytes)};
    auto started = HeralddProcess::Start(options);
    ASSERT_TRUE(started.ok()) << started.status();
    server_ = started->release();
  }
  static void TearDownTestSuite() {
    std::cout << "[ figures  ] bad inputs tried: " << tried_ << "\n";
    if (server_ != nullptr) {
      EXPECT_EQ(server_->Terminate(), 0) << server_->Log();
      delete server_;
      server_ = nullptr;
    }
  }

  void SetUp() override {
    ASSERT_NE(server_, nullptr);
    admin_ = server_->AdminToken();
    channel_ = server_->Channel();
    events_ = v1::EventService::NewStub(channel_);
    policies_ = v1::PolicyService::NewStub(channel_);
    admin_service_ = v1::AdminService::NewStub(channel_);
  }

  // After every bad input: heraldd answers a normal call on a new channel.
  void TearDown() override { ExpectServing(); }

  void ExpectServing() {
    auto fresh = v1::AdminService::NewStub(server_->Channel());
    v1::GetServerInfoRequest r;
    v1::GetServerInfoResponse out;
    grpc::Status s = fresh->GetServerInfo(AuthContext(admin_).get(), r, &out);
    EXPECT_TRUE(s.ok()) << "heraldd stopped serving: " << s.error_message()
                        << "\n" << server_->Log();
    v1::PublishEventRequest p;
    *p.mutable_event() = PushArtifactEvent(1);
    v1::PublishEventResponse ack;
    grpc::Status published = v1::EventService::NewStub(server_->Channel())
                                  ->PublishEvent(AuthContext(admin_).get(), p, &ack);
    EXPECT_TRUE(published.ok()) << published.error_message();
  }

  // Sends `bytes` as the request of `method` (a full name,
  // "/herald.v1.PolicyService/CreatePolicy") and returns the status.
  grpc::Status RawCall(const std::string& method, const std::string& bytes) {
    ++tried_;
    grpc::GenericStub stub(channel_);
    grpc::ClientContext context;
    context.AddMetadata("authorization", "Bearer " + admin_);
    context.set_deadline(std::chrono::system_clock::now() +
                         std::chrono::seconds(10));
    grpc::Slice slice(bytes);
    grpc::ByteBuffer request(&slice, 1);
    grpc::ByteBuffer response;
    grpc::Status result;
    absl::Notification done;
    stub.UnaryCall(&context, method, grpc::StubOptions(), &request, &response,
                   [&](grpc::Status s) {
                     result = std::move(s);
                     done.Notify();
                   });
    done.WaitForNotification();
    return result;
  }

  // Serialises `message` and replaces every occurrence of `marker` (which
  // must be in one of its string fields) with `replacement` of the same
  // length.
  static std::string Patch(const google::protobuf::Message& message,
                           const std::string& marker,
                           const std::string& replacement) {
    EXPECT_EQ(marker.size(), replacement.size());
    std::string bytes = message.SerializeAsString();
    size_t at = bytes.find(marker);
    EXPECT_NE(at, std::string::npos);
    while (at != std::string::npos) {
      bytes.replace(at, marker.size(), replacement);
      at = bytes.find(marker, at + replacement.size());
    }
    return bytes;
  }

  static void ExpectClearError(const grpc::Status& s,
                               std::vector<grpc::StatusCode> codes,
                               const std::string& context) {
    EXPECT_FALSE(s.ok()) << context;
    EXPECT_NE(std::find(codes.begin(), codes.end(), s.error_code()), codes.end())
        << context << ": code " << s.error_code() << " " << s.error_message();
    EXPECT_FALSE(s.error_message().empty()) << context;
    EXPECT_LT(s.error_message().size(), 8192u) << context;
  }

  // Bytes that do not parse as the request type: INVALID_ARGUMENT with
  // reason MALFORMED_REQUEST naming the type (not gRPC's bare
  // UNIMPLEMENTED).
  static void ExpectMalformed(const grpc::Status& s, const std::string& context) {
    ExpectClearError(s, {grpc::StatusCode::INVALID_ARGUMENT}, context);
    EXPECT_EQ(DetailsOf(s).reason, "MALFORMED_REQUEST")
        << context << ": " << s.error_message();
    EXPECT_TRUE(absl::StrContains(s.error_message(), "Request"))
        << context << ": " << s.error_message();
  }

  static HeralddProcess* server_;
  static int tried_;
  std::string admin_;
  std::shared_ptr<grpc::Channel> channel_;
  std::unique_ptr<v1::EventService::Stub> events_;
  std::unique_ptr<v1::PolicyService::Stub> policies_;
  std::unique_ptr<v1::AdminService::Stub> admin_service_;
};

HeralddProcess* BadInputTest::server_ = nullptr;
int BadInputTest::tried_ = 0;

TEST_F(BadInputTest, OversizedMessagesAreResourceExhausted) {
  for (int size : {kMaxMessageBytes + 1, 4 * kMaxMessageBytes, 16 << 20}) {
    ++tried_;
    v1::PublishEventRequest r;
    *r.mutable_event() = PushArtifactEvent(1);
    (*r.mutable_event()->mutable_custom_attributes())["big"] =
        std::string(size, 'x');
    v1::PublishEventResponse out;
    grpc::Status s = events_->PublishEvent(AuthContext(admin_).get(), r, &out);
    EXPECT_EQ(s.error_code(), grpc::StatusCode::RESOURCE_EXHAUSTED)
        << size << ": " << s.error_message();
    EXPECT_TRUE(absl::StrContains(s.error_message(), "larger than max"))
        << s.error_message();
  }
  // Just under the limit is accepted by gRPC and judged by herald's own
  // rules (a custom attribute value is at most 64 KiB).
  ++tried_;
  v1::PublishEventRequest r;
  *r.mutable_event() = PushArtifactEvent(1);
  (*r.mutable_event()->mutable_custom_attributes())["big"] =
      std::string(kMaxMessageBytes - 4096, 'x');
  v1::PublishEventResponse out;
  grpc::Status s = events_->PublishEvent(AuthContext(admin_).get(), r, &out);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::INVALID_ARGUMENT) << s.error_message();
  EXPECT_TRUE(DetailsOf(s).HasViolation("event.custom_attributes[\"big\"]"))
      << s.error_message();

  // On a stream the oversized message ends the stream with the same code.
  ++tried_;
  grpc::ClientContext context;
  context.AddMetadata("authorization", "Bearer " + admin_);
  auto stream = events_->PublishEvents(&context);
  v1::PublishEventsRequest big;
  *big.mutable_event() = PushArtifactEvent(1);
  (*big.mutable_event()->mutable_custom_attributes())["big"] =
      std::string(2 * kMaxMessageBytes, 'x');
  stream->Write(big);
  stream->WritesDone();
  v1::PublishEventsResponse response;
  while (stream->Read(&response)) {
  }
  EXPECT_EQ(stream->Finish().error_code(), grpc::StatusCode::RESOURCE_EXHAUSTED);
}

TEST_F(BadInputTest, HugeRepeatedFieldsAndMapsGetBoundedErrors) {
  {
    ++tried_;
    v1::PublishEventRequest r;
    *r.mutable_event() = PushArtifactEvent(1);
    for (int i = 0; i < 50000; ++i) r.mutable_event()->add_resources();
    v1::PublishEventResponse out;
    grpc::Status s = events_->PublishEvent(AuthContext(admin_).get(), r, &out);
    ExpectClearError(s, {grpc::StatusCode::INVALID_ARGUMENT}, "50,000 resources");
    EXPECT_TRUE(DetailsOf(s).HasViolation("event.resources")) << s.error_message();
  }
  {
    ++tried_;
    v1::PublishEventRequest r;
    *r.mutable_event() = PushArtifactEvent(1);
    auto& attrs = *r.mutable_event()->mutable_custom_attributes();
    for (int i = 0; i < 20000; ++i) attrs[absl::StrCat("k", i)] = "v";
    v1::PublishEventResponse out;
    grpc::Status s = events_->PublishEvent(AuthContext(admin_).get(), r, &out);
    ExpectClearError(s, {grpc::StatusCode::INVALID_ARGUMENT}, "20,000 attributes");
    EXPECT_LE(DetailsOf(s).violations.size(), 100u);
  }
  {
    ++tried_;
    v1::CreatePolicyRequest r;
    v1::Policy* p = r.mutable_policy();
    p->set_project_id(1);
    p->set_name("huge");
    // As many as fit under the message size limit: herald's own bound
    // must refuse them, not gRPC's.
    for (int i = 0; i < 12000; ++i) p->add_event_types("PUSH_ARTIFACT");
    v1::Target* t = p->add_targets();
    t->set_type(v1::TARGET_TYPE_HTTP);
    t->set_address("https://example.com/x");
    v1::CreatePolicyResponse out;
    grpc::Status s = policies_->CreatePolicy(AuthContext(admin_).get(), r, &out);
    ExpectClearError(s, {grpc::StatusCode::INVALID_ARGUMENT}, "12,000 event types");
  }
  {
    ++tried_;
    v1::CreatePolicyRequest r;
    v1::Policy* p = r.mutable_policy();
    p->set_project_id(1);
    p->set_name("many-targets");
    p->add_event_types("PUSH_ARTIFACT");
    for (int i = 0; i < 2500; ++i) {
      v1::Target* t = p->add_targets();
      t->set_type(v1::TARGET_TYPE_HTTP);
      t->set_address("https://example.com/x");
      for (int h = 0; h < 5; ++h) {
        v1::Header* header = t->add_headers();
        header->set_name("X-H");
        header->set_value("v");
      }
    }
    v1::CreatePolicyResponse out;
    grpc::Status s = policies_->CreatePolicy(AuthContext(admin_).get(), r, &out);
    ExpectClearError(s, {grpc::StatusCode::INVALID_ARGUMENT}, "2,500 targets");
  }
  {
    ++tried_;
    v1::CreateTokenRequest r;
    r.mutable_token()->set_name("many-projects");
    r.mutable_token()->set_role(v1::ROLE_PROJECT_ADMIN);
    for (int i = 1; i <= 30000; ++i) r.mutable_token()->add_project_ids(i);
    v1::CreateTokenResponse out;
    grpc::Status s = admin_service_->CreateToken(AuthContext(admin_).get(), r, &out);
    ExpectClearError(s, {grpc::StatusCode::INVALID_ARGUMENT}, "30,000 projects");
  }
}

TEST_F(BadInputTest, DeepNestingIsRefused) {
  ++tried_;
  v1::PublishEventRequest r;
  v1::Event* e = r.mutable_event();
  e->set_event_type("TAG_RETENTION");
  e->set_project_id(1);
  v1::RetentionRule* rule = e->mutable_retention()->add_retention_rules();
  google::protobuf::Value* v = &(*rule->mutable_params())["deep"];
  for (int i = 0; i < 2000; ++i) {
    v = v->mutable_list_value()->add_values();
  }
  v->set_string_value("bottom");
  // Serialised by hand (the client library would refuse nothing, but be
  // sure the bytes reach the server as they are).
  grpc::Status s =
      RawCall("/herald.v1.EventService/PublishEvent", r.SerializeAsString());
  ExpectMalformed(s, "2,000 levels");
}

TEST_F(BadInputTest, InvalidUtf8InStringFieldsIsRefused) {
  const std::string marker = "MARKER_MARKER";
  const std::vector<std::string> bad = {
      std::string("\xff\xfe\xfd\xfc\xfb\xfa\xf9\xf8\xf7\xf6\xf5\xf4\xf3", 13),
      std::string("\xc0\xaf" "ABCDEFGHIJK", 13),           // overlong '/'
      std::string("\xed\xa0\x80" "ABCDEFGHIJ", 13),        // surrogate
      std::string("ABCDEFGHIJKL\xe2", 13),                 // truncated
      std::string("ABCDEFGHI\xf4\x90\x80\x80", 13),        // > U+10FFFF
  };
  for (const std::string& replacement : bad) {
    v1::CreatePolicyRequest policy;
    policy.mutable_policy()->set_project_id(1);
    policy.mutable_policy()->set_name(marker);
    policy.mutable_policy()->add_event_types("PUSH_ARTIFACT");
    v1::Target* t = policy.mutable_policy()->add_targets();
    t->set_type(v1::TARGET_TYPE_HTTP);
    t->set_address("https://example.com/x");
    grpc::Status s = RawCall("/herald.v1.PolicyService/CreatePolicy",
                             Patch(policy, marker, replacement));
    ExpectMalformed(s, "policy name");

    v1::PublishEventRequest event;
    *event.mutable_event() = PushArtifactEvent(1);
    event.mutable_event()->set_operator_(marker);
    s = RawCall("/herald.v1.EventService/PublishEvent",
                Patch(event, marker, replacement));
    ExpectMalformed(s, "event operator");

    v1::PublishEventRequest key;
    *key.mutable_event() = PushArtifactEvent(1);
    (*key.mutable_event()->mutable_custom_attributes())[marker] = "v";
    s = RawCall("/herald.v1.EventService/PublishEvent",
                Patch(key, marker, replacement));
    ExpectMalformed(s, "custom attribute key");
  }
}

TEST_F(BadInputTest, MalformedProtobufIsRefused) {
  std::mt19937 rng(42);
  std::vector<std::string> inputs = {
      std::string("\x0a\xff\xff\xff\xff\x0f", 6),  // length far past the end
      std::string("\x0a\x05" "ab", 4),             // truncated submessage
      std::string("\x08", 1),                      // tag without a value
      std::string("\x0f\x00", 2),                  // wire type 7
      std::string("\x00\x00\x00", 3),              // field number 0
      std::string("\x0b\x0c", 2),                  // group start/end mismatch
      std::string(1000, '\x80'),                   // endless varint
  };
  for (int i = 0; i < 40; ++i) {
    std::string junk(1 + rng() % 4096, '\0');
    for (char& c : junk) c = static_cast<char>(rng());
    inputs.push_back(junk);
  }
  int refused = 0;
  for (const std::string& bytes : inputs) {
    for (const char* method : {"/herald.v1.PolicyService/CreatePolicy",
                               "/herald.v1.EventService/PublishEvent",
                               "/herald.v1.AdminService/CreateToken",
                               "/herald.v1.DeliveryService/ListTasks"}) {
      grpc::Status s = RawCall(method, bytes);
      // Random bytes may happen to parse; then herald's own validation
      // answers. Never OK with garbage, never a crash.
      if (!s.ok()) ++refused;
      if (s.error_code() == grpc::StatusCode::UNIMPLEMENTED) {
        ADD_FAILURE() << method << ": bare UNIMPLEMENTED for unparsable bytes";
      }
      EXPECT_NE(s.error_code(), grpc::StatusCode::UNAVAILABLE)
          << method << ": " << s.error_message();
    }
  }
  EXPECT_GT(refused, static_cast<int>(inputs.size()));
  // Unknown methods and services.
  grpc::Status s = RawCall("/herald.v1.PolicyService/NoSuchMethod", "");
  EXPECT_EQ(s.error_code(), grpc::StatusCode::UNIMPLEMENTED);
  EXPECT_TRUE(absl::StrContains(s.error_message(),
                                "unknown method /herald.v1.PolicyService/NoSuchMethod"))
      << s.error_message();
  EXPECT_EQ(DetailsOf(s).reason, "NOT_IMPLEMENTED");
  s = RawCall("/no.such.Service/Method", "");
  EXPECT_EQ(s.error_code(), grpc::StatusCode::UNIMPLEMENTED);
}

TEST_F(BadInputTest, UnknownEnumValuesAreRefused) {
  {
    ++tried_;
    v1::CreatePolicyRequest r;
    v1::Policy* p = r.mutable_policy();
    p->set_project_id(1);
    p->set_name("enums");
    p->add_event_types("PUSH_ARTIFACT");
    v1::Target* t = p->add_targets();
    t->set_type(static_cast<v1::TargetType>(99));
    t->set_address("https://example.com/x");
    t->set_payload_format(static_cast<v1::PayloadFormat>(77));
    p->mutable_retry_policy()->set_backoff(static_cast<v1::BackoffKind>(1234));
    v1::CreatePolicyResponse out;
    grpc::Status s = policies_->CreatePolicy(AuthContext(admin_).get(), r, &out);
    ExpectClearError(s, {grpc::StatusCode::INVALID_ARGUMENT}, "policy enums");
    const ErrorDetails d = DetailsOf(s);
    EXPECT_TRUE(d.HasViolation("policy.targets[0].type")) << s.error_message();
    EXPECT_TRUE(d.HasViolation("policy.targets[0].payload_format"))
        << s.error_message();
  }
  {
    ++tried_;
    v1::CreateTokenRequest r;
    r.mutable_token()->set_name("enum-role");
    r.mutable_token()->set_role(static_cast<v1::Role>(42));
    v1::CreateTokenResponse out;
    grpc::Status s = admin_service_->CreateToken(AuthContext(admin_).get(), r, &out);
    ExpectClearError(s, {grpc::StatusCode::INVALID_ARGUMENT}, "token role");
    EXPECT_TRUE(DetailsOf(s).HasViolation("token.role"));
  }
  {
    ++tried_;
    auto deliveries = v1::DeliveryService::NewStub(channel_);
    v1::ListExecutionsRequest r;
    r.set_policy_id(1);
    r.set_status(static_cast<v1::TaskStatus>(-5));
    v1::ListExecutionsResponse out;
    grpc::Status s = deliveries->ListExecutions(AuthContext(admin_).get(), r, &out);
    // Either refused as invalid or (policy 1 does not exist) not found;
    // never a crash or an internal error.
    ExpectClearError(s,
                     {grpc::StatusCode::INVALID_ARGUMENT, grpc::StatusCode::NOT_FOUND},
                     "task status filter");
  }
}

// A TCP connection to heraldd's port.
int Connect(const std::string& address) {
  const size_t colon = address.rfind(':');
  sockaddr_in sa{};
  sa.sin_family = AF_INET;
  sa.sin_port = htons(static_cast<uint16_t>(std::stoi(address.substr(colon + 1))));
  inet_pton(AF_INET, address.substr(0, colon).c_str(), &sa.sin_addr);
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  if (connect(fd, reinterpret_cast<sockaddr*>(&sa), sizeof sa) != 0) {
    close(fd);
    return -1;
  }
  timeval tv{5, 0};
  setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  return fd;
}

// Writes `bytes` (ignoring a reset) and reads until the server closes the
// connection or 5 s pass; returns what the server sent.
std::string SendAndDrain(int fd, const std::string& bytes) {
  size_t off = 0;
  while (off < bytes.size()) {
    ssize_t n = send(fd, bytes.data() + off, bytes.size() - off, MSG_NOSIGNAL);
    if (n <= 0) break;
    off += static_cast<size_t>(n);
  }
  std::string got;
  char buf[4096];
  while (true) {
    ssize_t n = recv(fd, buf, sizeof buf, 0);
    if (n <= 0) break;
    got.append(buf, static_cast<size_t>(n));
  }
  return got;
}

TEST_F(BadInputTest, GarbageBytesOnThePortAreDropped) {
  const std::string address = server_->address();
  std::mt19937 rng(7);
  std::vector<std::string> inputs = {
      "GET / HTTP/1.1\r\nHost: x\r\n\r\n",
      "POST /herald.v1.EventService/PublishEvent HTTP/1.1\r\n"
      "Content-Type: application/grpc\r\nContent-Length: 5\r\n\r\nhello",
      std::string("\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03", 11),  // TLS
      // A valid HTTP/2 preface followed by frames that make no sense.
      std::string("PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n") +
          std::string("\x00\x00\x04\x08\x00\x00\x00\x00\x00\xff\xff\xff\xff", 13) +
          std::string("\xff\xff\xff\xff\xff\xff\xff\xff\xff", 9),
      std::string("PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n") + std::string(70000, '\0'),
  };
  for (int i = 0; i < 20; ++i) {
    std::string junk(1 + rng() % 65536, '\0');
    for (char& c : junk) c = static_cast<char>(rng());
    inputs.push_back(junk);
  }
  for (const std::string& bytes : inputs) {
    ++tried_;
    int fd = Connect(address);
    ASSERT_GE(fd, 0);
    SendAndDrain(fd, bytes);  // the server closes (or answers GOAWAY)
    close(fd);
  }
  // Idle and half-finished connections do not block anyone.
  std::vector<int> idle;
  for (int i = 0; i < 50; ++i) {
    ++tried_;
    int fd = Connect(address);
    ASSERT_GE(fd, 0);
    if (i % 2 == 0) send(fd, "PRI * HTTP/2.0\r\n", 16, MSG_NOSIGNAL);
    idle.push_back(fd);
  }
  ExpectServing();
  for (int fd : idle) close(fd);
  // 64 concurrent garbage senders while a client keeps calling.
  std::vector<std::thread> senders;
  for (int t = 0; t < 8; ++t) {
    senders.emplace_back([&, t] {
      std::mt19937 local(100 + t);
      for (int i = 0; i < 8; ++i) {
        std::string junk(1 + local() % 8192, '\0');
        for (char& c : junk) c = static_cast<char>(local());
        int fd = Connect(address);
        if (fd < 0) continue;
        SendAndDrain(fd, junk);
        close(fd);
      }
    });
  }
  for (int i = 0; i < 20; ++i) ExpectServing();
  for (auto& t : senders) t.join();
  tried_ += 64;
}

}  // namespace
}  // namespace herald::testing
