#include "tests/receivers/test_receiver.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/ssl.h>
#include <poll.h>
#include <signal.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <deque>
#include <set>
#include <thread>

#include "absl/base/call_once.h"
#include "absl/base/thread_annotations.h"
#include "absl/status/status.h"
#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/string_view.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/clock.h"

namespace herald::receivers {
namespace {

absl::string_view AV(std::string_view s) { return {s.data(), s.size()}; }

constexpr size_t kMaxHeadBytes = 64 * 1024;

std::string_view Reason(int status) {
  switch (status) {
    case 100: return "Continue";
    case 200: return "OK";
    case 201: return "Created";
    case 202: return "Accepted";
    case 204: return "No Content";
    case 301: return "Moved Permanently";
    case 302: return "Found";
    case 303: return "See Other";
    case 304: return "Not Modified";
    case 307: return "Temporary Redirect";
    case 308: return "Permanent Redirect";
    case 400: return "Bad Request";
    case 401: return "Unauthorized";
    case 403: return "Forbidden";
    case 404: return "Not Found";
    case 410: return "Gone";
    case 413: return "Content Too Large";
    case 429: return "Too Many Requests";
    case 500: return "Internal Server Error";
    case 502: return "Bad Gateway";
    case 503: return "Service Unavailable";
    case 504: return "Gateway Timeout";
    default: return "Status";
  }
}

bool StatusHasNoBody(int status) {
  return (status >= 100 && status < 200) || status == 204 || status == 304;
}

// Test processes write to sockets the peer may have closed; a SIGPIPE would
// kill them (OpenSSL writes with write(2), not send(MSG_NOSIGNAL)).
void IgnoreSigpipeOnce() {
  static absl::once_flag once;
  absl::call_once(once, [] { signal(SIGPIPE, SIG_IGN); });
}

// A connection's byte stream, plain or TLS, blocking.
struct Conn {
  int fd = -1;
  SSL* ssl = nullptr;

  // >0 bytes read, 0 end of stream, <0 error.
  ssize_t Read(char* buf, size_t n) {
    if (ssl != nullptr) {
      const int r = SSL_read(ssl, buf, static_cast<int>(n));
      if (r > 0) return r;
      return SSL_get_error(ssl, r) == SSL_ERROR_ZERO_RETURN ? 0 : -1;
    }
    while (true) {
      const ssize_t r = recv(fd, buf, n, 0);
      if (r < 0 && errno == EINTR) continue;
      return r;
    }
  }
  bool WriteAll(std::string_view data) {
    while (!data.empty()) {
      ssize_t w;
      if (ssl != nullptr) {
        const int r = SSL_write(ssl, data.data(), static_cast<int>(data.size()));
        w = r > 0 ? r : -1;
      } else {
        w = send(fd, data.data(), data.size(), MSG_NOSIGNAL);
        if (w < 0 && errno == EINTR) continue;
      }
      if (w <= 0) return false;
      data.remove_prefix(static_cast<size_t>(w));
    }
    return true;
  }
  // Appends what is available (blocking for at least one byte).
  bool Fill(std::string& buf) {
    char tmp[16384];
    const ssize_t n = Read(tmp, sizeof(tmp));
    if (n <= 0) return false;
    buf.append(tmp, static_cast<size_t>(n));
    return true;
  }
};

// Reads a chunked body from `buf` (refilled from `c`) into `body`.
bool ReadChunked(Conn& c, std::string& buf, std::string* body) {
  while (true) {
    size_t eol;
    while ((eol = buf.find("\r\n")) == std::string::npos) {
      if (buf.size() > kMaxHeadBytes || !c.Fill(buf)) return false;
    }
    std::string_view line(buf.data(), eol);
    line = line.substr(0, line.find(';'));
    size_t size = 0;
    if (!absl::SimpleHexAtoi(absl::StripAsciiWhitespace(AV(line)), &size)) {
      return false;
    }
    buf.erase(0, eol + 2);
    if (size == 0) {  // trailers, then an empty line
      while (true) {
        while ((eol = buf.find("\r\n")) == std::string::npos) {
          if (buf.size() > kMaxHeadBytes || !c.Fill(buf)) return false;
        }
        buf.erase(0, eol + 2);
        if (eol == 0) return true;
      }
    }
    while (buf.size() < size + 2) {
      if (!c.Fill(buf)) return false;
    }
    body->append(buf, 0, size);
    buf.erase(0, size + 2);
  }
}

bool ParseHead(std::string_view head, ReceivedRequest* req) {
  size_t eol = head.find("\r\n");
  std::string_view line = head.substr(0, eol);
  const size_t sp1 = line.find(' ');
  const size_t sp2 = line.rfind(' ');
  if (sp1 == std::string_view::npos || sp2 == sp1) return false;
  req->method = std::string(line.substr(0, sp1));
  req->target = std::string(line.substr(sp1 + 1, sp2 - sp1 - 1));
  req->version = std::string(line.substr(sp2 + 1));
  req->path = req->target.substr(0, req->target.find('?'));
  while (eol != std::string_view::npos) {
    head.remove_prefix(eol + 2);
    eol = head.find("\r\n");
    std::string_view field = head.substr(0, eol);
    if (field.empty()) break;
    const size_t colon = field.find(':');
    if (colon == std::string_view::npos) return false;
    req->headers.emplace_back(
        std::string(field.substr(0, colon)),
        std::string(absl::StripAsciiWhitespace(AV(field.substr(colon + 1)))));
  }
  return true;
}

}  // namespace

std::optional<std::string> ReceivedRequest::header(std::string_view name) const {
  for (const auto& [n, v] : headers) {
    if (absl::EqualsIgnoreCase(AV(n), AV(name))) return v;
  }
  return std::nullopt;
}

int ReceivedRequest::header_count(std::string_view name) const {
  int count = 0;
  for (const auto& [n, v] : headers) {
    if (absl::EqualsIgnoreCase(AV(n), AV(name))) ++count;
  }
  return count;
}

std::vector<std::string> ReceivedRequest::header_names_lower() const {
  std::vector<std::string> names;
  for (const auto& [n, v] : headers) names.push_back(absl::AsciiStrToLower(AV(n)));
  return names;
}

Reply Reply::Status(int status, std::string body) {
  Reply r;
  r.status = status;
  r.body = std::move(body);
  return r;
}
Reply Reply::TooManyRequests(std::string retry_after) {
  return Status(429).WithHeader("Retry-After", std::move(retry_after));
}
Reply Reply::Redirect(int status, std::string location) {
  return Status(status).WithHeader("Location", std::move(location));
}
Reply Reply::Hang() {
  Reply r;
  r.action = Action::kHang;
  return r;
}
Reply Reply::Reset() {
  Reply r;
  r.action = Action::kReset;
  return r;
}
Reply Reply::Drip(std::string body, absl::Duration per_byte) {
  Reply r;
  r.action = Action::kDrip;
  r.body = std::move(body);
  r.drip_interval = per_byte;
  return r;
}
Reply Reply::HugeBody(size_t bytes) {
  Reply r;
  r.action = Action::kHugeBody;
  r.huge_body_bytes = bytes;
  return r;
}
Reply Reply::Truncated(std::string body, size_t content_length) {
  Reply r;
  r.action = Action::kTruncate;
  r.body = std::move(body);
  r.huge_body_bytes = content_length;
  return r;
}
Reply Reply::After(absl::Duration d) const {
  Reply r = *this;
  r.delay = d;
  return r;
}
Reply Reply::WithHeader(std::string name, std::string value) const {
  Reply r = *this;
  r.headers.emplace_back(std::move(name), std::move(value));
  return r;
}

struct TestReceiver::State {
  explicit State(Options o) : options(std::move(o)) {}

  void AcceptLoop();
  void Serve(int fd, int64_t connection_id);
  // Runs `reply`; false when the connection must be closed afterwards.
  bool Act(Conn& c, const Reply& reply, bool client_wants_close);
  // Waits up to `d`; false if the receiver is stopping.
  bool Sleep(absl::Duration d) {
    absl::MutexLock lock(&mu);
    return !mu.AwaitWithTimeout(absl::Condition(&stopping), d);
  }
  bool Stopping() {
    absl::MutexLock lock(&mu);
    return stopping;
  }

  const Options options;
  std::string ca_pem;
  int listen_fd = -1;
  int wake_fd = -1;
  int port = 0;
  SSL_CTX* ssl_ctx = nullptr;
  std::thread acceptor;
  absl::Mutex stop_mu;
  bool stopped = false;  // guarded by stop_mu

  mutable absl::Mutex mu;
  std::map<std::string, std::deque<Reply>> one_shot ABSL_GUARDED_BY(mu);
  std::map<std::string, Reply> replies ABSL_GUARDED_BY(mu);
  Reply default_reply ABSL_GUARDED_BY(mu) = Reply::Status(200);
  std::vector<ReceivedRequest> requests ABSL_GUARDED_BY(mu);
  int64_t request_count ABSL_GUARDED_BY(mu) = 0;
  int64_t connections ABSL_GUARDED_BY(mu) = 0;
  int64_t handshake_failures ABSL_GUARDED_BY(mu) = 0;
  std::set<int> open_fds ABSL_GUARDED_BY(mu);
  int threads ABSL_GUARDED_BY(mu) = 0;
  bool stopping ABSL_GUARDED_BY(mu) = false;
};

absl::StatusOr<std::unique_ptr<TestReceiver>> TestReceiver::Start(
    Options options) {
  IgnoreSigpipeOnce();
  auto state = std::make_unique<State>(std::move(options));
  if (state->options.tls) {
    TlsIdentity identity;
    if (state->options.identity.has_value()) {
      identity = *state->options.identity;
    } else {
      absl::StatusOr<TlsIdentity> generated = GenerateTlsIdentity();
      if (!generated.ok()) return generated.status();
      identity = *std::move(generated);
    }
    state->ca_pem = identity.ca_pem;
    SSL_CTX* ctx = SSL_CTX_new(TLS_server_method());
    state->ssl_ctx = ctx;
    SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION);
    BIO* cert_bio = BIO_new_mem_buf(identity.cert_pem.data(),
                                    static_cast<int>(identity.cert_pem.size()));
    X509* cert = PEM_read_bio_X509(cert_bio, nullptr, nullptr, nullptr);
    BIO_free(cert_bio);
    BIO* key_bio = BIO_new_mem_buf(identity.key_pem.data(),
                                   static_cast<int>(identity.key_pem.size()));
    EVP_PKEY* key = PEM_read_bio_PrivateKey(key_bio, nullptr, nullptr, nullptr);
    BIO_free(key_bio);
    const bool ok = cert != nullptr && key != nullptr &&
                    SSL_CTX_use_certificate(ctx, cert) == 1 &&
                    SSL_CTX_use_PrivateKey(ctx, key) == 1;
    X509_free(cert);
    EVP_PKEY_free(key);
    if (!ok) {
      SSL_CTX_free(ctx);
      return absl::InternalError("cannot load the TLS identity");
    }
  }

  const int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return absl::InternalError(absl::StrCat("socket: ", strerror(errno)));
  state->listen_fd = fd;
  const int one = 1;
  setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  addr.sin_port = 0;
  socklen_t len = sizeof(addr);
  if (bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) != 0 ||
      listen(fd, 1024) != 0 ||
      getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len) != 0) {
    const std::string why = strerror(errno);
    close(fd);
    if (state->ssl_ctx != nullptr) SSL_CTX_free(state->ssl_ctx);
    return absl::InternalError(absl::StrCat("bind/listen: ", why));
  }
  state->port = ntohs(addr.sin_port);
  state->wake_fd = eventfd(0, EFD_CLOEXEC);
  State* raw = state.get();
  state->acceptor = std::thread([raw] { raw->AcceptLoop(); });
  return std::unique_ptr<TestReceiver>(new TestReceiver(std::move(state)));
}

TestReceiver::TestReceiver(std::unique_ptr<State> state)
    : state_(std::move(state)) {}

TestReceiver::~TestReceiver() {
  Stop();
  close(state_->listen_fd);
  close(state_->wake_fd);
  if (state_->ssl_ctx != nullptr) SSL_CTX_free(state_->ssl_ctx);
}

void TestReceiver::Stop() {
  State& s = *state_;
  absl::MutexLock serial(&s.stop_mu);
  if (s.stopped) return;
  s.stopped = true;
  {
    absl::MutexLock lock(&s.mu);
    s.stopping = true;
  }
  const uint64_t one = 1;
  (void)!write(s.wake_fd, &one, sizeof(one));
  s.acceptor.join();
  absl::MutexLock lock(&s.mu);
  for (int fd : s.open_fds) shutdown(fd, SHUT_RDWR);
  auto done = [&s]() ABSL_SHARED_LOCKS_REQUIRED(s.mu) { return s.threads == 0; };
  s.mu.Await(absl::Condition(&done));
}

void TestReceiver::State::AcceptLoop() {
  pollfd fds[2] = {{listen_fd, POLLIN, 0}, {wake_fd, POLLIN, 0}};
  while (true) {
    if (poll(fds, 2, -1) < 0) {
      if (errno == EINTR) continue;
      return;
    }
    if (fds[1].revents != 0) return;
    if ((fds[0].revents & POLLIN) == 0) continue;
    const int fd = accept4(listen_fd, nullptr, nullptr, SOCK_CLOEXEC);
    if (fd < 0) continue;
    const int one = 1;
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
    int64_t id = 0;
    {
      absl::MutexLock lock(&mu);
      if (stopping) {
        close(fd);
        return;
      }
      id = ++connections;
      ++threads;
      open_fds.insert(fd);
    }
    std::thread([this, fd, id] { Serve(fd, id); }).detach();
  }
}

void TestReceiver::State::Serve(int fd, int64_t connection_id) {
  Conn c{fd, nullptr};
  bool handshake_ok = true;
  if (ssl_ctx != nullptr) {
    c.ssl = SSL_new(ssl_ctx);
    SSL_set_fd(c.ssl, fd);
    if (SSL_accept(c.ssl) <= 0) {
      handshake_ok = false;
      ERR_clear_error();
      absl::MutexLock lock(&mu);
      ++handshake_failures;
    }
  }
  std::string buf;
  while (handshake_ok) {
    size_t head_end;
    bool ok = true;
    while ((head_end = buf.find("\r\n\r\n")) == std::string::npos) {
      if (buf.size() > kMaxHeadBytes || !c.Fill(buf)) {
        ok = false;
        break;
      }
    }
    if (!ok) break;
    ReceivedRequest req;
    if (!ParseHead(std::string_view(buf.data(), head_end + 2), &req)) break;
    buf.erase(0, head_end + 4);
    req.connection_id = connection_id;
    req.tls = c.ssl != nullptr;
    const std::optional<std::string> expect = req.header("Expect");
    if (expect && absl::EqualsIgnoreCase(*expect, "100-continue")) {
      if (!c.WriteAll("HTTP/1.1 100 Continue\r\n\r\n")) break;
    }
    const std::optional<std::string> te = req.header("Transfer-Encoding");
    if (te && absl::StrContains(absl::AsciiStrToLower(*te), "chunked")) {
      if (!ReadChunked(c, buf, &req.body)) break;
    } else if (std::optional<std::string> cl = req.header("Content-Length")) {
      size_t length = 0;
      if (!absl::SimpleAtoi(*cl, &length)) break;
      while (buf.size() < length) {
        if (!c.Fill(buf)) {
          ok = false;
          break;
        }
      }
      if (!ok) break;
      req.body = buf.substr(0, length);
      buf.erase(0, length);
    }
    req.arrival = absl::Now();
    const std::optional<std::string> connection = req.header("Connection");
    const bool client_close =
        (connection && absl::EqualsIgnoreCase(*connection, "close")) ||
        req.version == "HTTP/1.0";

    Reply reply;
    {
      absl::MutexLock lock(&mu);
      if (auto it = one_shot.find(req.path);
          it != one_shot.end() && !it->second.empty()) {
        reply = std::move(it->second.front());
        it->second.pop_front();
      } else if (auto r = replies.find(req.path); r != replies.end()) {
        reply = r->second;
      } else {
        reply = default_reply;
      }
      ++request_count;
      if (options.record) requests.push_back(std::move(req));
    }
    if (!Act(c, reply, client_close)) break;
  }
  if (c.ssl != nullptr) SSL_free(c.ssl);  // no close_notify: just drop it
  // Free this thread's OpenSSL state (per-thread DRBGs, error queue) now:
  // the thread is detached, and once it is counted out below the process
  // may exit before its thread-exit handlers run, which LeakSanitizer
  // reports as leaks inside libcrypto.
  if (ssl_ctx != nullptr) OPENSSL_thread_stop();
  absl::MutexLock lock(&mu);
  open_fds.erase(fd);
  close(fd);
  --threads;
}

bool TestReceiver::State::Act(Conn& c, const Reply& reply,
                              bool client_wants_close) {
  switch (reply.action) {
    case Reply::Action::kReset: {
      // SO_LINGER 0: close() sends RST and discards unsent data.
      linger l{1, 0};
      setsockopt(c.fd, SOL_SOCKET, SO_LINGER, &l, sizeof(l));
      return false;
    }
    case Reply::Action::kHang: {
      // Until the client closes (its timeout) or Stop() signals wake_fd,
      // which stays readable from then on. No periodic wakeups: thousands
      // of hung connections cost nothing.
      while (true) {
        pollfd p[2] = {{c.fd, POLLIN, 0}, {wake_fd, POLLIN, 0}};
        if (poll(p, 2, -1) < 0) {
          if (errno == EINTR) continue;
          break;
        }
        if (p[1].revents != 0) break;
        char tmp[4096];
        const ssize_t n = recv(c.fd, tmp, sizeof(tmp), MSG_DONTWAIT);
        if (n == 0 || (n < 0 && errno != EAGAIN && errno != EINTR)) break;
      }
      return false;
    }
    case Reply::Action::kDrip:
    case Reply::Action::kHugeBody:
    case Reply::Action::kTruncate:
    case Reply::Action::kRespond:
      break;
  }
  if (reply.delay > absl::ZeroDuration() && !Sleep(reply.delay)) return false;

  const bool close_after = reply.close_connection || client_wants_close;
  const int status = reply.action == Reply::Action::kRespond ? reply.status : 200;
  size_t body_size = reply.body.size();
  if (reply.action == Reply::Action::kHugeBody ||
      reply.action == Reply::Action::kTruncate) {
    body_size = reply.huge_body_bytes;
  }
  std::string head = absl::StrCat("HTTP/1.1 ", status, " ", AV(Reason(status)), "\r\n");
  if (!StatusHasNoBody(status)) {
    absl::StrAppend(&head, "Content-Length: ", body_size, "\r\n");
  }
  for (const auto& [name, value] : reply.headers) {
    absl::StrAppend(&head, name, ": ", value, "\r\n");
  }
  if (close_after) head.append("Connection: close\r\n");
  head.append("\r\n");

  switch (reply.action) {
    case Reply::Action::kRespond:
      if (!StatusHasNoBody(status)) head.append(reply.body);
      if (!c.WriteAll(head)) return false;
      break;
    case Reply::Action::kDrip:
      if (!c.WriteAll(head)) return false;
      for (char ch : reply.body) {
        if (!Sleep(reply.drip_interval)) return false;
        if (!c.WriteAll(std::string_view(&ch, 1))) return false;
      }
      break;
    case Reply::Action::kHugeBody: {
      if (!c.WriteAll(head)) return false;
      const std::string chunk(64 * 1024, 'x');
      size_t left = reply.huge_body_bytes;
      while (left > 0) {
        const size_t n = std::min(left, chunk.size());
        if (!c.WriteAll(std::string_view(chunk.data(), n))) return false;
        left -= n;
      }
      break;
    }
    case Reply::Action::kTruncate:
      // Fewer bytes than announced, then FIN: the client sees the
      // connection close mid-body.
      head.append(reply.body);
      (void)c.WriteAll(head);
      return false;
    default:
      return false;
  }
  return !close_after;
}

int TestReceiver::port() const { return state_->port; }

std::string TestReceiver::base_url() const {
  return absl::StrCat(state_->ssl_ctx != nullptr ? "https" : "http",
                      "://127.0.0.1:", state_->port);
}

std::string TestReceiver::url(std::string_view path) const {
  return absl::StrCat(base_url(), AV(path));
}

std::string TestReceiver::ca_pem() const { return state_->ca_pem; }

void TestReceiver::SetReply(std::string path, Reply reply) {
  absl::MutexLock lock(&state_->mu);
  state_->replies[std::move(path)] = std::move(reply);
}

void TestReceiver::PushReplies(std::string path, std::vector<Reply> replies) {
  absl::MutexLock lock(&state_->mu);
  std::deque<Reply>& q = state_->one_shot[std::move(path)];
  for (Reply& r : replies) q.push_back(std::move(r));
}

void TestReceiver::SetDefaultReply(Reply reply) {
  absl::MutexLock lock(&state_->mu);
  state_->default_reply = std::move(reply);
}

std::vector<ReceivedRequest> TestReceiver::requests() const {
  absl::MutexLock lock(&state_->mu);
  return state_->requests;
}

int64_t TestReceiver::request_count() const {
  absl::MutexLock lock(&state_->mu);
  return state_->request_count;
}

bool TestReceiver::WaitForRequests(int64_t n, absl::Duration timeout) const {
  State& s = *state_;
  absl::MutexLock lock(&s.mu);
  auto enough = [&s, n]() ABSL_SHARED_LOCKS_REQUIRED(s.mu) {
    return s.request_count >= n;
  };
  return s.mu.AwaitWithTimeout(absl::Condition(&enough), timeout);
}

void TestReceiver::ClearRequests() {
  absl::MutexLock lock(&state_->mu);
  state_->requests.clear();
}

int64_t TestReceiver::connections_accepted() const {
  absl::MutexLock lock(&state_->mu);
  return state_->connections;
}

int TestReceiver::open_connections() const {
  absl::MutexLock lock(&state_->mu);
  return static_cast<int>(state_->open_fds.size());
}

int64_t TestReceiver::tls_handshake_failures() const {
  absl::MutexLock lock(&state_->mu);
  return state_->handshake_failures;
}

}  // namespace herald::receivers
