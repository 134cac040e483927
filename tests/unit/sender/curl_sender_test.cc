// CurlSender against real receivers on 127.0.0.1 (tests/receivers).
#include "server/delivery/curl_sender.h"

#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cstdlib>
#include <memory>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/escaping.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "absl/synchronization/notification.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "server/core/execution.h"
#include "server/delivery/request_builder.h"
#include "server/delivery/signer.h"
#include "tests/receivers/nginx_receiver.h"
#include "tests/receivers/test_receiver.h"

namespace herald::delivery {
namespace {

using ::herald::receivers::ReceivedRequest;
using ::herald::receivers::Reply;
using ::herald::receivers::TestReceiver;
using ::testing::AnyOf;
using ::testing::Eq;
using ::testing::HasSubstr;
using ::testing::IsEmpty;
using ::testing::Not;
using ::testing::UnorderedElementsAreArray;

// Runs one request and waits for its result.
HttpResult SendAndWait(HttpSender& sender, HttpRequest request) {
  absl::Notification done;
  HttpResult out;
  sender.Send(std::move(request), [&](HttpResult r) {
    out = std::move(r);
    done.Notify();
  });
  EXPECT_TRUE(done.WaitForNotificationWithTimeout(absl::Seconds(30)));
  return out;
}

HttpRequest Post(std::string url, std::string body = R"({"type":"PING"})") {
  HttpRequest r;
  r.url = std::move(url);
  r.body = std::move(body);
  r.headers = {{"Content-Type", "application/json"}};
  r.timeout = absl::Seconds(5);
  return r;
}

std::unique_ptr<CurlSender> NewSender(CurlSender::Options options = {}) {
  absl::StatusOr<std::unique_ptr<CurlSender>> sender =
      CurlSender::Create(std::move(options));
  EXPECT_TRUE(sender.ok()) << sender.status();
  return *std::move(sender);
}

std::unique_ptr<TestReceiver> NewReceiver(TestReceiver::Options options = {}) {
  absl::StatusOr<std::unique_ptr<TestReceiver>> r =
      TestReceiver::Start(std::move(options));
  EXPECT_TRUE(r.ok()) << r.status();
  return *std::move(r);
}

// A TCP port on 127.0.0.1 with nothing listening.
int UnusedPort() {
  const int fd = socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t len = sizeof(addr);
  bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr));
  getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len);
  close(fd);
  return ntohs(addr.sin_port);
}

class CurlSenderTest : public ::testing::Test {
 protected:
  void SetUp() override {
    receiver_ = NewReceiver();
    sender_ = NewSender();
  }
  std::unique_ptr<TestReceiver> receiver_;
  std::unique_ptr<CurlSender> sender_;
};

TEST_F(CurlSenderTest, PostsTheBodyAndReturnsTheStatus) {
  receiver_->SetReply("/hook", Reply::Status(200, "thanks"));
  const HttpResult r =
      SendAndWait(*sender_, Post(receiver_->url("/hook?token=abc"), "{\"a\":1}"));
  EXPECT_EQ(r.status_code, 200);
  EXPECT_EQ(r.error_kind, HttpErrorKind::kNone);
  EXPECT_THAT(r.error, IsEmpty());
  EXPECT_EQ(r.body_excerpt, "thanks");
  EXPECT_FALSE(r.retry_after.has_value());
  EXPECT_THAT(r.location, IsEmpty());
  EXPECT_GT(r.latency, absl::ZeroDuration());
  EXPECT_LT(r.latency, absl::Seconds(5));

  std::vector<ReceivedRequest> got = receiver_->requests();
  ASSERT_EQ(got.size(), 1u);
  EXPECT_EQ(got[0].method, "POST");
  EXPECT_EQ(got[0].target, "/hook?token=abc");
  EXPECT_EQ(got[0].version, "HTTP/1.1");
  EXPECT_EQ(got[0].body, "{\"a\":1}");
  EXPECT_EQ(sender_->in_flight(), 0);
}

TEST_F(CurlSenderTest, NonSuccessStatusesAreResultsNotErrors) {
  for (int status : {201, 204, 400, 401, 404, 410, 500, 502, 503}) {
    receiver_->SetReply("/s", Reply::Status(status, absl::StrCat("status ", status)));
    const HttpResult r = SendAndWait(*sender_, Post(receiver_->url("/s")));
    EXPECT_EQ(r.status_code, status);
    EXPECT_EQ(r.error_kind, HttpErrorKind::kNone) << r.error;
    if (status != 204) {
      EXPECT_EQ(r.body_excerpt, absl::StrCat("status ", status));
    }
  }
}

TEST_F(CurlSenderTest, RetryAfterInSeconds) {
  receiver_->SetReply("/busy", Reply::TooManyRequests("120"));
  const HttpResult r = SendAndWait(*sender_, Post(receiver_->url("/busy")));
  EXPECT_EQ(r.status_code, 429);
  EXPECT_EQ(r.error_kind, HttpErrorKind::kNone);
  ASSERT_TRUE(r.retry_after.has_value());
  EXPECT_EQ(*r.retry_after, absl::Seconds(120));
}

TEST_F(CurlSenderTest, RetryAfterAsHttpDate) {
  const absl::Time when = absl::Now() + absl::Seconds(90);
  const std::string date =
      absl::FormatTime("%a, %d %b %Y %H:%M:%S GMT", when, absl::UTCTimeZone());
  receiver_->SetReply("/busy", Reply::Status(503).WithHeader("Retry-After", date));
  const HttpResult r = SendAndWait(*sender_, Post(receiver_->url("/busy")));
  EXPECT_EQ(r.status_code, 503);
  ASSERT_TRUE(r.retry_after.has_value()) << date;
  EXPECT_GE(*r.retry_after, absl::Seconds(85));
  EXPECT_LE(*r.retry_after, absl::Seconds(91));
}

// What a receiver sees: Harbor's Go client sends Host, User-Agent,
// Content-Length, Accept-Encoding: gzip, Content-Type and Authorization;
// herald sends the same minus Accept-Encoding (it does not decode gzip),
// plus the Standard Webhooks headers and the target's custom headers, and
// nothing of libcurl's own (Accept, Expect).
TEST_F(CurlSenderTest, ReceiverSeesExactlyHarborsHeadersPlusHeralds) {
  core::Execution e;
  e.target.type = core::TargetType::kHttp;
  e.target.address = receiver_->url("/harbor");
  e.target.auth_header = "Bearer eyJhbGciOi.J9 x==";  // verbatim, odd spacing
  e.target.signing_secret =
      absl::StrCat("whsec_", absl::Base64Escape(std::string(32, 'k')));
  e.target.headers = {{"X-Registry", "harbor-1"}};
  e.payload = R"({"type":"PUSH_ARTIFACT","occur_at":1795773600})";
  e.content_type = "application/json";
  e.webhook_id = "0f8c1b9e-7d1a-4a57-8f0e-2b3c4d5e6f70";
  const absl::Time now = absl::Now();
  const HttpResult r = SendAndWait(*sender_, BuildRequest(e, {}, now));
  ASSERT_EQ(r.status_code, 200) << r.error;

  std::vector<ReceivedRequest> got = receiver_->requests();
  ASSERT_EQ(got.size(), 1u);
  const ReceivedRequest& req = got[0];
  const std::vector<std::string> harbor = {"host", "user-agent",
                                           "content-length", "content-type",
                                           "authorization"};
  std::vector<std::string> expected = harbor;
  expected.insert(expected.end(), {"webhook-id", "webhook-timestamp",
                                   "webhook-signature", "x-registry"});
  EXPECT_THAT(req.header_names_lower(), UnorderedElementsAreArray(expected));
  for (const std::string& name : req.header_names_lower()) {
    EXPECT_EQ(req.header_count(name), 1) << name;
  }
  EXPECT_EQ(req.header("Authorization"), "Bearer eyJhbGciOi.J9 x==");
  EXPECT_EQ(req.header("Content-Type"), "application/json");
  EXPECT_EQ(req.header("User-Agent"), DefaultUserAgent());
  EXPECT_EQ(req.header("Content-Length"), absl::StrCat(e.payload.size()));
  EXPECT_EQ(req.header("Host"), absl::StrCat("127.0.0.1:", receiver_->port()));
  EXPECT_EQ(req.header("webhook-id"), e.webhook_id);
  EXPECT_EQ(req.header("X-Registry"), "harbor-1");
  EXPECT_EQ(req.body, e.payload);
  EXPECT_TRUE(VerifySignature(*req.header("webhook-id"),
                              *req.header("webhook-timestamp"), req.body,
                              *req.header("webhook-signature"),
                              e.target.signing_secret, absl::Now()));
}

TEST_F(CurlSenderTest, SlackRequestHasNoAuthorization) {
  core::Execution e;
  e.target.type = core::TargetType::kSlack;
  e.target.address = receiver_->url("/services/T0/B0/X");
  e.target.auth_header = "Bearer never";
  e.payload = R"({"blocks":[]})";
  e.webhook_id = "id-1";
  ASSERT_EQ(SendAndWait(*sender_, BuildRequest(e, {}, absl::Now())).status_code, 200);
  const ReceivedRequest req = receiver_->requests().at(0);
  EXPECT_FALSE(req.header("Authorization").has_value());
  EXPECT_EQ(req.header("Content-Type"), "application/json");
}

TEST_F(CurlSenderTest, NoExpectContinueEvenForLargeBodies) {
  const std::string big(3 << 20, 'b');  // libcurl would add Expect above 1 MiB
  const HttpResult r = SendAndWait(*sender_, Post(receiver_->url("/big"), big));
  ASSERT_EQ(r.status_code, 200) << r.error;
  const ReceivedRequest req = receiver_->requests().at(0);
  EXPECT_FALSE(req.header("Expect").has_value());
  EXPECT_FALSE(req.header("Transfer-Encoding").has_value());
  EXPECT_EQ(req.body.size(), big.size());
}

TEST_F(CurlSenderTest, HeadersWithoutContentTypeAreSentAsGiven) {
  HttpRequest req = Post(receiver_->url("/bare"), "x");
  req.headers = {{"X-Empty", ""}};
  ASSERT_EQ(SendAndWait(*sender_, std::move(req)).status_code, 200);
  const ReceivedRequest got = receiver_->requests().at(0);
  EXPECT_THAT(got.header_names_lower(),
              UnorderedElementsAreArray({"host", "content-length", "x-empty"}));
  EXPECT_EQ(got.header("X-Empty"), "");
}

TEST_F(CurlSenderTest, KeepAliveReusesOneConnection) {
  constexpr int kRequests = 100;
  for (int i = 0; i < kRequests; ++i) {
    ASSERT_EQ(SendAndWait(*sender_, Post(receiver_->url("/k"))).status_code, 200);
  }
  EXPECT_EQ(receiver_->request_count(), kRequests);
  EXPECT_LE(receiver_->connections_accepted(), 2);
  EXPECT_EQ(sender_->connections_opened(), receiver_->connections_accepted());
  std::set<int64_t> connections;
  for (const ReceivedRequest& r : receiver_->requests()) {
    connections.insert(r.connection_id);
  }
  EXPECT_LE(connections.size(), 2u);
}

TEST_F(CurlSenderTest, ConnectionClosedByTheServerIsReplaced) {
  Reply closing = Reply::Status(200);
  closing.close_connection = true;
  receiver_->SetReply("/close", closing);
  for (int i = 0; i < 3; ++i) {
    EXPECT_EQ(SendAndWait(*sender_, Post(receiver_->url("/close"))).status_code, 200);
  }
  EXPECT_EQ(receiver_->connections_accepted(), 3);
}

TEST_F(CurlSenderTest, TimeoutWhenTheReceiverHangs) {
  receiver_->SetReply("/hang", Reply::Hang());
  HttpRequest req = Post(receiver_->url("/hang"));
  req.timeout = absl::Milliseconds(300);
  const absl::Time start = absl::Now();
  const HttpResult r = SendAndWait(*sender_, std::move(req));
  const absl::Duration took = absl::Now() - start;
  EXPECT_EQ(r.error_kind, HttpErrorKind::kTimeout);
  EXPECT_EQ(r.status_code, 0);
  EXPECT_THAT(r.error, HasSubstr("timed out"));
  EXPECT_GE(took, absl::Milliseconds(290));
  EXPECT_LT(took, absl::Seconds(2));
}

TEST_F(CurlSenderTest, TimeoutCoversASlowBody) {
  receiver_->SetReply("/drip", Reply::Drip("0123456789", absl::Milliseconds(400)));
  HttpRequest req = Post(receiver_->url("/drip"));
  req.timeout = absl::Seconds(1);
  const HttpResult r = SendAndWait(*sender_, std::move(req));
  EXPECT_EQ(r.error_kind, HttpErrorKind::kTimeout);
  EXPECT_EQ(r.status_code, 200);  // the status line had arrived
  EXPECT_THAT(r.body_excerpt, Not(IsEmpty()));
  EXPECT_LT(r.body_excerpt.size(), 10u);
}

TEST_F(CurlSenderTest, SlowButCompleteBodyWithinTheTimeout) {
  receiver_->SetReply("/drip", Reply::Drip("abc", absl::Milliseconds(50)));
  const HttpResult r = SendAndWait(*sender_, Post(receiver_->url("/drip")));
  EXPECT_EQ(r.error_kind, HttpErrorKind::kNone) << r.error;
  EXPECT_EQ(r.body_excerpt, "abc");
}

TEST_F(CurlSenderTest, ConnectionRefused) {
  const HttpResult r = SendAndWait(
      *sender_, Post(absl::StrCat("http://127.0.0.1:", UnusedPort(), "/x")));
  EXPECT_EQ(r.error_kind, HttpErrorKind::kConnect);
  EXPECT_EQ(r.status_code, 0);
  EXPECT_THAT(r.error, HasSubstr("onnect"));
}

TEST_F(CurlSenderTest, UnresolvableHost) {
  HttpRequest req = Post("http://herald-test-host.invalid/hook");
  req.timeout = absl::Seconds(10);
  const HttpResult r = SendAndWait(*sender_, std::move(req));
  EXPECT_EQ(r.error_kind, HttpErrorKind::kDns) << r.error;
  EXPECT_THAT(r.error, HasSubstr("resolve"));
}

TEST_F(CurlSenderTest, ConnectionResetIsAProtocolError) {
  receiver_->SetReply("/reset", Reply::Reset());
  const HttpResult r = SendAndWait(*sender_, Post(receiver_->url("/reset")));
  EXPECT_EQ(r.error_kind, HttpErrorKind::kProtocol) << r.error;
  EXPECT_EQ(r.status_code, 0);
  EXPECT_THAT(r.error, AnyOf(HasSubstr("reset"), HasSubstr("Empty reply")));
  // The next request works on a fresh connection.
  EXPECT_EQ(SendAndWait(*sender_, Post(receiver_->url("/ok"))).status_code, 200);
}

TEST_F(CurlSenderTest, RedirectsAreNotFollowedByDefault) {
  receiver_->SetReply("/old", Reply::Redirect(301, receiver_->url("/new")));
  const HttpResult r = SendAndWait(*sender_, Post(receiver_->url("/old")));
  EXPECT_EQ(r.status_code, 301);
  EXPECT_EQ(r.error_kind, HttpErrorKind::kNone);
  EXPECT_EQ(r.location, receiver_->url("/new"));
  EXPECT_EQ(receiver_->request_count(), 1);
}

TEST_F(CurlSenderTest, RedirectsFollowedWhenOptedInPostStaysPost) {
  for (int status : {301, 302, 303, 307, 308}) {
    receiver_->ClearRequests();
    receiver_->SetReply("/old", Reply::Redirect(status, "/new"));
    receiver_->SetReply("/new", Reply::Status(202, "moved here"));
    HttpRequest req = Post(receiver_->url("/old"), "payload");
    req.headers.push_back({"Authorization", "Bearer same-host"});
    req.follow_redirects = true;
    const HttpResult r = SendAndWait(*sender_, std::move(req));
    EXPECT_EQ(r.status_code, 202) << status << " " << r.error;
    EXPECT_EQ(r.body_excerpt, "moved here");
    EXPECT_THAT(r.location, IsEmpty());
    std::vector<ReceivedRequest> got = receiver_->requests();
    ASSERT_EQ(got.size(), 2u);
    EXPECT_EQ(got[1].path, "/new");
    EXPECT_EQ(got[1].method, "POST") << status;
    EXPECT_EQ(got[1].body, "payload") << status;
    EXPECT_EQ(got[1].header("Authorization"), "Bearer same-host");
  }
}

TEST_F(CurlSenderTest, AuthorizationIsNotForwardedToAnotherHost) {
  auto other = NewReceiver();
  receiver_->SetReply("/old", Reply::Redirect(307, other->url("/new")));
  HttpRequest req = Post(receiver_->url("/old"));
  req.headers.push_back({"Authorization", "Bearer secret"});
  req.follow_redirects = true;
  ASSERT_EQ(SendAndWait(*sender_, std::move(req)).status_code, 200);
  const ReceivedRequest got = other->requests().at(0);
  EXPECT_FALSE(got.header("Authorization").has_value());
}

TEST_F(CurlSenderTest, AtMostFiveRedirects) {
  receiver_->SetReply("/loop", Reply::Redirect(307, "/loop"));
  HttpRequest req = Post(receiver_->url("/loop"));
  req.follow_redirects = true;
  const HttpResult r = SendAndWait(*sender_, std::move(req));
  EXPECT_EQ(r.error_kind, HttpErrorKind::kTooManyRedirects);
  EXPECT_EQ(receiver_->request_count(), 6);  // the request + 5 hops
}

TEST_F(CurlSenderTest, BodyExcerptIsAtMostOneKiB) {
  std::string body;
  for (int i = 0; body.size() < 5000; ++i) absl::StrAppend(&body, i, ",");
  receiver_->SetReply("/long", Reply::Status(500, body));
  const HttpResult r = SendAndWait(*sender_, Post(receiver_->url("/long")));
  EXPECT_EQ(r.status_code, 500);
  EXPECT_EQ(r.error_kind, HttpErrorKind::kNone);
  EXPECT_EQ(r.body_excerpt, body.substr(0, kBodyExcerptBytes));
}

TEST_F(CurlSenderTest, HugeResponseBodyIsCutOff) {
  receiver_->SetReply("/huge", Reply::HugeBody(size_t{200} << 20));
  const absl::Time start = absl::Now();
  const HttpResult r = SendAndWait(*sender_, Post(receiver_->url("/huge")));
  EXPECT_EQ(r.error_kind, HttpErrorKind::kProtocol);
  EXPECT_THAT(r.error, HasSubstr("response body too large"));
  EXPECT_EQ(r.status_code, 200);
  EXPECT_EQ(r.body_excerpt.size(), kBodyExcerptBytes);
  EXPECT_LT(absl::Now() - start, absl::Seconds(3));
}

TEST_F(CurlSenderTest, BodyUpToTheLimitIsFine) {
  receiver_->SetReply("/big", Reply::HugeBody(size_t{1} << 20));
  const HttpResult r = SendAndWait(*sender_, Post(receiver_->url("/big")));
  EXPECT_EQ(r.error_kind, HttpErrorKind::kNone) << r.error;
  EXPECT_EQ(r.status_code, 200);
}

TEST_F(CurlSenderTest, InvalidRequestsFailBeforeAnyIo) {
  HttpRequest injected = Post(receiver_->url("/x"));
  injected.headers.push_back({"X-Evil", "a\r\nX-Injected: 1"});
  HttpResult r = SendAndWait(*sender_, std::move(injected));
  EXPECT_EQ(r.error_kind, HttpErrorKind::kOther);
  EXPECT_THAT(r.error, HasSubstr("X-Evil"));
  EXPECT_THAT(r.error, Not(HasSubstr("Injected")));

  HttpRequest bad_name = Post(receiver_->url("/x"));
  bad_name.headers.push_back({"Bad Name", "v"});
  EXPECT_EQ(SendAndWait(*sender_, std::move(bad_name)).error_kind,
            HttpErrorKind::kOther);

  EXPECT_EQ(SendAndWait(*sender_, Post("ftp://127.0.0.1/x")).error_kind,
            HttpErrorKind::kOther);
  EXPECT_EQ(SendAndWait(*sender_, Post("file:///etc/passwd")).error_kind,
            HttpErrorKind::kOther);
  EXPECT_EQ(receiver_->connections_accepted(), 0);
  EXPECT_EQ(sender_->in_flight(), 0);
}

TEST_F(CurlSenderTest, RedirectToAnotherSchemeIsRefused) {
  receiver_->SetReply("/old", Reply::Redirect(307, "file:///etc/passwd"));
  HttpRequest req = Post(receiver_->url("/old"));
  req.follow_redirects = true;
  const HttpResult r = SendAndWait(*sender_, std::move(req));
  EXPECT_NE(r.error_kind, HttpErrorKind::kNone);
}

TEST_F(CurlSenderTest, ProxyEnvironmentIsIgnoredByDefault) {
  setenv("http_proxy", "http://127.0.0.1:1", 1);
  const HttpResult r = SendAndWait(*sender_, Post(receiver_->url("/direct")));
  unsetenv("http_proxy");
  EXPECT_EQ(r.status_code, 200) << r.error;
}

TEST(CurlSenderProxy, ExplicitProxyIsUsed) {
  auto proxy = NewReceiver();  // an HTTP proxy sees absolute-form targets
  auto sender = NewSender({.proxy = proxy->base_url()});
  const HttpResult r = SendAndWait(*sender, Post("http://webhooks.example/hook"));
  EXPECT_EQ(r.status_code, 200) << r.error;
  EXPECT_EQ(proxy->requests().at(0).target, "http://webhooks.example/hook");
}

TEST(CurlSenderGuard, RefusedAddressNeverConnects) {
  auto receiver = NewReceiver();
  std::vector<std::string> asked;
  auto sender = NewSender({.connect_guard = [&](const std::string& ip) {
    asked.push_back(ip);  // only the sender thread calls the guard
    return ip == "127.0.0.1" ? absl::PermissionDeniedError("loopback")
                             : absl::OkStatus();
  }});
  const HttpResult r = SendAndWait(*sender, Post(receiver->url("/x")));
  EXPECT_EQ(r.error_kind, HttpErrorKind::kConnect);
  EXPECT_EQ(r.error, "address 127.0.0.1 forbidden by SSRF policy: loopback");
  EXPECT_EQ(r.status_code, 0);
  EXPECT_EQ(receiver->connections_accepted(), 0);
  // Also when the name resolves to loopback.
  const HttpResult by_name = SendAndWait(
      *sender, Post(absl::StrCat("http://localhost:", receiver->port(), "/x")));
  EXPECT_EQ(by_name.error_kind, HttpErrorKind::kConnect);
  EXPECT_THAT(by_name.error, HasSubstr("forbidden by SSRF policy"));
  EXPECT_EQ(receiver->connections_accepted(), 0);
  EXPECT_THAT(asked, testing::Contains("127.0.0.1"));
}

TEST(CurlSenderGuard, AllowedAddressConnects) {
  auto receiver = NewReceiver();
  std::atomic<int> calls{0};
  auto sender = NewSender({.connect_guard = [&](const std::string& ip) {
    ++calls;
    EXPECT_EQ(ip, "127.0.0.1");
    return absl::OkStatus();
  }});
  for (int i = 0; i < 3; ++i) {
    EXPECT_EQ(SendAndWait(*sender, Post(receiver->url("/x"))).status_code, 200);
  }
  EXPECT_EQ(calls.load(), 1);  // one connection, reused
}

TEST(CurlSenderGuard, RedirectHopsAreCheckedToo) {
  auto first = NewReceiver();
  auto second = NewReceiver();
  first->SetReply("/r", Reply::Redirect(307, second->url("/t")));
  // Allows the first connection only: the hop to the second receiver needs
  // a new connection, which the guard refuses.
  std::atomic<int> calls{0};
  auto sender = NewSender({.connect_guard = [&](const std::string& ip) {
    return ++calls == 1 ? absl::OkStatus()
                        : absl::PermissionDeniedError("second hop");
  }});
  HttpRequest req = Post(first->url("/r"));
  req.follow_redirects = true;
  const HttpResult r = SendAndWait(*sender, std::move(req));
  EXPECT_EQ(r.error_kind, HttpErrorKind::kConnect);
  EXPECT_EQ(r.error, "address 127.0.0.1 forbidden by SSRF policy: second hop");
  EXPECT_EQ(first->request_count(), 1);
  EXPECT_EQ(second->connections_accepted(), 0);
}

class CurlSenderTlsTest : public ::testing::Test {
 protected:
  void SetUp() override {
    receiver_ = NewReceiver({.tls = true});
    sender_ = NewSender();
  }
  std::unique_ptr<TestReceiver> receiver_;
  std::unique_ptr<CurlSender> sender_;
};

TEST_F(CurlSenderTlsTest, UnknownCertificateIsATlsError) {
  const HttpResult r = SendAndWait(*sender_, Post(receiver_->url("/hook")));
  EXPECT_EQ(r.error_kind, HttpErrorKind::kTls);
  EXPECT_EQ(r.status_code, 0);
  EXPECT_THAT(r.error, HasSubstr("certificate"));
  EXPECT_EQ(receiver_->request_count(), 0);
}

TEST_F(CurlSenderTlsTest, SkipCertVerifyAcceptsIt) {
  HttpRequest req = Post(receiver_->url("/hook"));
  req.skip_cert_verify = true;
  const HttpResult r = SendAndWait(*sender_, std::move(req));
  EXPECT_EQ(r.status_code, 200) << r.error;
  EXPECT_TRUE(receiver_->requests().at(0).tls);
}

TEST_F(CurlSenderTlsTest, CaBundleMakesVerificationSucceed) {
  HttpRequest req = Post(receiver_->url("/hook"));
  req.ca_bundle_pem = receiver_->ca_pem();
  const HttpResult r = SendAndWait(*sender_, std::move(req));
  EXPECT_EQ(r.status_code, 200) << r.error;
  // Host name checks stay on: "localhost" is in the certificate too.
  HttpRequest by_name =
      Post(absl::StrCat("https://localhost:", receiver_->port(), "/hook"));
  by_name.ca_bundle_pem = receiver_->ca_pem();
  EXPECT_EQ(SendAndWait(*sender_, std::move(by_name)).status_code, 200);
}

TEST_F(CurlSenderTlsTest, AnotherCaDoesNotHelp) {
  absl::StatusOr<receivers::TlsIdentity> other = receivers::GenerateTlsIdentity();
  ASSERT_TRUE(other.ok());
  HttpRequest req = Post(receiver_->url("/hook"));
  req.ca_bundle_pem = other->ca_pem;
  EXPECT_EQ(SendAndWait(*sender_, std::move(req)).error_kind, HttpErrorKind::kTls);
}

TEST_F(CurlSenderTlsTest, HostNameMismatchIsATlsError) {
  absl::StatusOr<receivers::TlsIdentity> id =
      receivers::GenerateTlsIdentity({"webhooks.example"});
  ASSERT_TRUE(id.ok());
  auto receiver = NewReceiver({.tls = true, .identity = *id});
  HttpRequest req = Post(receiver->url("/hook"));
  req.ca_bundle_pem = id->ca_pem;
  const HttpResult r = SendAndWait(*sender_, std::move(req));
  EXPECT_EQ(r.error_kind, HttpErrorKind::kTls);
  EXPECT_THAT(r.error, HasSubstr("127.0.0.1"));
}

TEST_F(CurlSenderTlsTest, VerifiedAndUnverifiedRequestsDoNotShareConnections) {
  HttpRequest insecure = Post(receiver_->url("/a"));
  insecure.skip_cert_verify = true;
  ASSERT_EQ(SendAndWait(*sender_, std::move(insecure)).status_code, 200);
  // The pooled connection was opened without verification; a verifying
  // request must not reuse it.
  EXPECT_EQ(SendAndWait(*sender_, Post(receiver_->url("/b"))).error_kind,
            HttpErrorKind::kTls);
}

TEST_F(CurlSenderTlsTest, KeepAliveOverTls) {
  for (int i = 0; i < 20; ++i) {
    HttpRequest req = Post(receiver_->url("/k"));
    req.ca_bundle_pem = receiver_->ca_pem();
    ASSERT_EQ(SendAndWait(*sender_, std::move(req)).status_code, 200);
  }
  EXPECT_EQ(receiver_->connections_accepted(), 1);
}

TEST(CurlSenderConcurrency, FiveHundredTransfersOnOneThread) {
  auto receiver = NewReceiver();
  receiver->SetDefaultReply(Reply::Status(200, "ok").After(absl::Milliseconds(200)));
  auto sender = NewSender();
  constexpr int kTransfers = 500;
  absl::Mutex mu;
  std::set<std::thread::id> threads;
  int ok = 0;
  int done = 0;
  const absl::Time start = absl::Now();
  for (int i = 0; i < kTransfers; ++i) {
    sender->Send(Post(receiver->url(absl::StrCat("/c/", i))), [&](HttpResult r) {
      absl::MutexLock lock(&mu);
      threads.insert(std::this_thread::get_id());
      if (r.status_code == 200) ++ok;
      ++done;
    });
  }
  EXPECT_GT(sender->in_flight(), kTransfers / 2);
  {
    absl::MutexLock lock(&mu);
    auto all = [&]() { return done == kTransfers; };
    ASSERT_TRUE(mu.AwaitWithTimeout(absl::Condition(&all), absl::Seconds(60)));
  }
  const absl::Duration took = absl::Now() - start;
  EXPECT_EQ(ok, kTransfers);
  EXPECT_EQ(threads.size(), 1u);
  EXPECT_EQ(threads.count(std::this_thread::get_id()), 0u);
  EXPECT_EQ(sender->in_flight(), 0);
  // 500 x 200 ms served concurrently, not one after another (100 s).
  EXPECT_LT(took, absl::Seconds(20));
  EXPECT_GE(receiver->connections_accepted(), 100);
}

// Sends `n` requests at once and waits for all results.
std::vector<HttpResult> SendAll(HttpSender& sender, const std::string& url,
                                int n) {
  absl::Mutex mu;
  std::vector<HttpResult> results;
  for (int i = 0; i < n; ++i) {
    sender.Send(Post(url), [&](HttpResult r) {
      absl::MutexLock lock(&mu);
      results.push_back(std::move(r));
    });
  }
  absl::MutexLock lock(&mu);
  auto all = [&]() { return static_cast<int>(results.size()) == n; };
  EXPECT_TRUE(mu.AwaitWithTimeout(absl::Condition(&all), absl::Seconds(60)));
  return results;
}

TEST(CurlSenderConcurrency, ConnectionsAreReusedAboveTheConfiguredCache) {
  auto receiver = NewReceiver();
  receiver->SetDefaultReply(Reply::Status(200).After(absl::Milliseconds(100)));
  auto sender = NewSender({.max_connections = 16});
  for (int round = 0; round < 3; ++round) {
    for (const HttpResult& r : SendAll(*sender, receiver->url("/r"), 100)) {
      ASSERT_EQ(r.status_code, 200) << r.error;
    }
  }
  // The cache grew with the 100 concurrent transfers instead of closing
  // all but 16 connections after every round.
  EXPECT_LE(receiver->connections_accepted(), 110);
  EXPECT_EQ(receiver->open_connections(), receiver->connections_accepted());
}

TEST(CurlSenderConcurrency, HungTransfersDoNotHoldUpOthers) {
  auto slow = NewReceiver();
  slow->SetDefaultReply(Reply::Hang());
  auto fast = NewReceiver();
  auto sender = NewSender();
  std::atomic<int> hung_done{0};
  for (int i = 0; i < 300; ++i) {
    HttpRequest req = Post(slow->url("/hang"));
    req.timeout = absl::Seconds(60);
    sender->Send(std::move(req), [&](HttpResult) { ++hung_done; });
  }
  ASSERT_TRUE(slow->WaitForRequests(300, absl::Seconds(30)));
  const absl::Time start = absl::Now();
  for (int i = 0; i < 200; ++i) {
    ASSERT_EQ(SendAndWait(*sender, Post(fast->url("/fast"))).status_code, 200);
  }
  EXPECT_LT(absl::Now() - start, absl::Seconds(10));
  EXPECT_EQ(hung_done.load(), 0);
  EXPECT_EQ(sender->in_flight(), 300);
  sender->Shutdown(absl::ZeroDuration());
  EXPECT_EQ(hung_done.load(), 300);
}

// An https server whose handshakes never complete: a plain receiver waits
// for a request head, so a ClientHello is never answered. A first burst of
// transfers waits for one connection (CURLOPT_PIPEWAIT) and times out;
// from then on the server is known to fail and every transfer of the next
// burst tries a connection of its own instead of queueing behind the
// others' handshakes (libcurl 7.88 releases one waiter per failure).
TEST(CurlSenderConcurrency, TransfersToAFailingTlsServerEachTryTheirOwnConnection) {
  auto receiver = NewReceiver();
  auto sender = NewSender();
  const std::string endpoint =
      absl::StrCat("https://127.0.0.1:", receiver->port());
  constexpr int kBurst = 4;
  auto burst = [&] {
    absl::Mutex mu;
    std::vector<HttpResult> results;
    for (int i = 0; i < kBurst; ++i) {
      HttpRequest req = Post(endpoint + "/tls");
      req.timeout = absl::Seconds(1);
      req.endpoint_key = endpoint;
      sender->Send(std::move(req), [&](HttpResult r) {
        absl::MutexLock lock(&mu);
        results.push_back(std::move(r));
      });
    }
    absl::MutexLock lock(&mu);
    auto all = [&]() { return static_cast<int>(results.size()) == kBurst; };
    EXPECT_TRUE(mu.AwaitWithTimeout(absl::Condition(&all), absl::Seconds(30)));
    return results;
  };
  const std::vector<HttpResult> first = burst();
  int waited = 0;
  for (const HttpResult& r : first) {
    EXPECT_EQ(r.error_kind, HttpErrorKind::kTimeout) << r.error;
    // The attempt's real duration, not libcurl's restarted clock.
    EXPECT_GE(r.latency, absl::Milliseconds(900)) << r.error;
    if (absl::StartsWith(r.error, "no connection within")) ++waited;
  }
  EXPECT_GE(waited, 1) << "the transfers that only waited say so";

  const int64_t before = receiver->connections_accepted();
  for (const HttpResult& r : burst()) {
    EXPECT_EQ(r.error_kind, HttpErrorKind::kTimeout) << r.error;
  }
  EXPECT_EQ(receiver->connections_accepted() - before, kBurst);
}

TEST(CurlSenderShutdown, AbortsHungTransfersWithinTheDeadline) {
  auto receiver = NewReceiver();
  receiver->SetDefaultReply(Reply::Hang());
  auto sender = NewSender();
  absl::Mutex mu;
  std::vector<HttpResult> results;
  for (int i = 0; i < 5; ++i) {
    HttpRequest req = Post(receiver->url("/hang"));
    req.timeout = absl::Seconds(60);
    sender->Send(std::move(req), [&](HttpResult r) {
      absl::MutexLock lock(&mu);
      results.push_back(std::move(r));
    });
  }
  ASSERT_TRUE(receiver->WaitForRequests(5, absl::Seconds(10)));
  EXPECT_EQ(sender->in_flight(), 5);
  const absl::Time start = absl::Now();
  sender->Shutdown(absl::Milliseconds(300));
  const absl::Duration took = absl::Now() - start;
  EXPECT_GE(took, absl::Milliseconds(250));
  EXPECT_LT(took, absl::Seconds(2));
  EXPECT_EQ(sender->in_flight(), 0);
  absl::MutexLock lock(&mu);
  ASSERT_EQ(results.size(), 5u);
  for (const HttpResult& r : results) {
    EXPECT_EQ(r.error_kind, HttpErrorKind::kOther);
    EXPECT_EQ(r.error, "shutting down");
  }
}

TEST(CurlSenderShutdown, LetsTransfersFinishWithinTheDeadline) {
  auto receiver = NewReceiver();
  receiver->SetDefaultReply(Reply::Status(200).After(absl::Milliseconds(200)));
  auto sender = NewSender();
  absl::Notification done;
  HttpResult result;
  sender->Send(Post(receiver->url("/slow")), [&](HttpResult r) {
    result = std::move(r);
    done.Notify();
  });
  sender->Shutdown(absl::Seconds(10));
  ASSERT_TRUE(done.HasBeenNotified());
  EXPECT_EQ(result.status_code, 200);
}

TEST(CurlSenderShutdown, RefusesNewRequestsInline) {
  auto sender = NewSender();
  sender->Shutdown(absl::ZeroDuration());
  bool called = false;
  sender->Send(Post("http://127.0.0.1:1/"), [&](HttpResult r) {
    called = true;
    EXPECT_EQ(r.error_kind, HttpErrorKind::kOther);
    EXPECT_EQ(r.error, "sender is shut down");
  });
  EXPECT_TRUE(called);
  EXPECT_EQ(sender->in_flight(), 0);
  sender->Shutdown(absl::ZeroDuration());  // idempotent
}

TEST(CurlSenderShutdown, DestructorAbortsWhatIsLeft) {
  auto receiver = NewReceiver();
  receiver->SetDefaultReply(Reply::Hang());
  std::atomic<int> aborted{0};
  {
    auto sender = NewSender();
    for (int i = 0; i < 3; ++i) {
      sender->Send(Post(receiver->url("/h")), [&](HttpResult r) {
        if (r.error == "shutting down") ++aborted;
      });
    }
    ASSERT_TRUE(receiver->WaitForRequests(3, absl::Seconds(10)));
  }
  EXPECT_EQ(aborted.load(), 3);
}

TEST(CurlSender, CallbacksMaySendAgain) {
  auto receiver = NewReceiver();
  auto sender = NewSender();
  absl::Notification second;
  HttpSender* s = sender.get();
  const std::string url = receiver->url("/chain");
  sender->Send(Post(url), [&, s](HttpResult first) {
    EXPECT_EQ(first.status_code, 200);
    s->Send(Post(url), [&](HttpResult r) {
      EXPECT_EQ(r.status_code, 200);
      second.Notify();
    });
  });
  EXPECT_TRUE(second.WaitForNotificationWithTimeout(absl::Seconds(10)));
}

// nginx (optional): HTTP/2 over TLS, which the TestReceiver does not speak.
TEST(CurlSenderNginx, Http2OverTlsMultiplexesConcurrentRequests) {
  if (!receivers::NginxReceiver::Available()) {
    GTEST_SKIP() << "nginx is not installed (Debian nginx-light; "
                    "scripts/install-deps.sh installs it)";
  }
  absl::StatusOr<std::unique_ptr<receivers::NginxReceiver>> nginx =
      receivers::NginxReceiver::Start({.tls = true});
  ASSERT_TRUE(nginx.ok()) << nginx.status();
  auto sender = NewSender();
  constexpr int kRequests = 50;
  absl::Mutex mu;
  std::vector<HttpResult> results;
  for (int i = 0; i < kRequests; ++i) {
    HttpRequest req = Post((*nginx)->url("/h2"));
    req.ca_bundle_pem = (*nginx)->ca_pem();
    sender->Send(std::move(req), [&](HttpResult r) {
      absl::MutexLock lock(&mu);
      results.push_back(std::move(r));
    });
  }
  absl::MutexLock lock(&mu);
  auto all = [&]() { return results.size() == kRequests; };
  ASSERT_TRUE(mu.AwaitWithTimeout(absl::Condition(&all), absl::Seconds(30)));
  std::set<std::string> bodies;
  for (const HttpResult& r : results) {
    EXPECT_EQ(r.status_code, 200) << r.error;
    bodies.insert(r.body_excerpt);
  }
  // One connection ("HTTP/2.0 <serial>" identical for all).
  ASSERT_EQ(bodies.size(), 1u);
  EXPECT_THAT(*bodies.begin(), testing::StartsWith("HTTP/2.0 "));
  EXPECT_EQ(sender->connections_opened(), 1);
}

TEST(CurlSenderNginx, PlainHttpUsesHttp11KeepAlive) {
  if (!receivers::NginxReceiver::Available()) {
    GTEST_SKIP() << "nginx is not installed (Debian nginx-light; "
                    "scripts/install-deps.sh installs it)";
  }
  absl::StatusOr<std::unique_ptr<receivers::NginxReceiver>> nginx =
      receivers::NginxReceiver::Start();
  ASSERT_TRUE(nginx.ok()) << nginx.status();
  auto sender = NewSender();
  std::set<std::string> bodies;
  for (int i = 0; i < 20; ++i) {
    const HttpResult r = SendAndWait(*sender, Post((*nginx)->url("/h1")));
    ASSERT_EQ(r.status_code, 200) << r.error;
    bodies.insert(r.body_excerpt);
  }
  ASSERT_EQ(bodies.size(), 1u);
  EXPECT_THAT(*bodies.begin(), testing::StartsWith("HTTP/1.1 "));
}

TEST(ParseRetryAfter, DeltaSeconds) {
  const absl::Time now = absl::FromUnixSeconds(1795773600);
  EXPECT_EQ(ParseRetryAfter("120", now), absl::Seconds(120));
  EXPECT_EQ(ParseRetryAfter("0", now), absl::ZeroDuration());
  EXPECT_EQ(ParseRetryAfter(" 7 ", now), absl::Seconds(7));
  EXPECT_EQ(ParseRetryAfter("99999999999999999999999", now), absl::Hours(24 * 30));
  EXPECT_EQ(ParseRetryAfter("31536000", now), absl::Hours(24 * 30));
}

TEST(ParseRetryAfter, HttpDates) {
  // 2026-11-27T10:00:00Z
  const absl::Time now = absl::FromUnixSeconds(1795773600);
  EXPECT_EQ(ParseRetryAfter("Fri, 27 Nov 2026 10:01:30 GMT", now),
            absl::Seconds(90));
  EXPECT_EQ(ParseRetryAfter("Friday, 27-Nov-26 10:01:30 GMT", now),
            absl::Seconds(90));  // RFC 850
  EXPECT_EQ(ParseRetryAfter("Fri Nov 27 10:01:30 2026", now),
            absl::Seconds(90));  // asctime
  EXPECT_EQ(ParseRetryAfter("Fri, 27 Nov 2026 09:00:00 GMT", now),
            absl::ZeroDuration());  // in the past
}

TEST(ParseRetryAfter, Garbage) {
  const absl::Time now = absl::FromUnixSeconds(1795773600);
  for (const char* bad : {"", "  ", "-5", "+5", "1.5", "5s", "soon", "0x10",
                          "Fri, 99 Foo 2026 10:01:30 GMT"}) {
    EXPECT_EQ(ParseRetryAfter(bad, now), std::nullopt) << bad;
  }
}

TEST(HttpErrorKindName, Names) {
  EXPECT_EQ(HttpErrorKindName(HttpErrorKind::kTooManyRedirects),
            "too_many_redirects");
  EXPECT_EQ(HttpErrorKindName(HttpErrorKind::kTls), "tls");
}

}  // namespace
}  // namespace herald::delivery
