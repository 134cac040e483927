#include "server/delivery/curl_sender.h"

#include <arpa/inet.h>
#include <curl/curl.h>
#include <netinet/in.h>
#include <pthread.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cstring>
#include <thread>
#include <utility>
#include <vector>

#include "absl/base/call_once.h"
#include "absl/container/flat_hash_set.h"
#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/string_view.h"

#if LIBCURL_VERSION_NUM < 0x075500
#error "herald needs libcurl >= 7.85 (CURLOPT_PROTOCOLS_STR, curl_easy_header)"
#endif

namespace herald::delivery {
namespace {

absl::string_view AV(std::string_view s) { return {s.data(), s.size()}; }

constexpr absl::Duration kMaxRetryAfter = absl::Hours(24 * 30);
// Easy handles kept for reuse. Each idle handle holds a few KiB; the cap
// keeps an idle daemon small after a burst.
constexpr size_t kEasyPoolSize = 64;
// The longest the loop sleeps when nothing happens (it is woken for new
// requests, by socket activity and by libcurl's timer anyway).
constexpr int kMaxPollMs = 1000;
constexpr int kMaxEvents = 256;

// RFC 9110 token characters.
bool IsTokenChar(unsigned char c) {
  if (absl::ascii_isalnum(c)) return true;
  return std::strchr("!#$%&'*+-.^_`|~", c) != nullptr && c != '\0';
}

bool IsValidHeaderName(std::string_view name) {
  return !name.empty() &&
         std::all_of(name.begin(), name.end(), [](char c) {
           return IsTokenChar(static_cast<unsigned char>(c));
         });
}

bool IsValidHeaderValue(std::string_view value) {
  return value.find_first_of(std::string_view("\r\n\0", 3)) ==
         std::string_view::npos;
}

bool HasHeader(const std::vector<core::Header>& headers,
               std::string_view name) {
  for (const core::Header& h : headers) {
    if (absl::EqualsIgnoreCase(AV(h.name), AV(name))) return true;
  }
  return false;
}

// The key under which a request's server is remembered: the dispatcher's
// endpoint key, or the URL when the caller left it empty.
const std::string& EndpointOf(const HttpRequest& request) {
  return request.endpoint_key.empty() ? request.url : request.endpoint_key;
}

HttpErrorKind Classify(CURLcode code) {
  switch (code) {
    case CURLE_OK:
      return HttpErrorKind::kNone;
    case CURLE_OPERATION_TIMEDOUT:
      return HttpErrorKind::kTimeout;
    case CURLE_COULDNT_CONNECT:
      return HttpErrorKind::kConnect;
    case CURLE_COULDNT_RESOLVE_HOST:
    case CURLE_COULDNT_RESOLVE_PROXY:
      return HttpErrorKind::kDns;
    case CURLE_SSL_CONNECT_ERROR:
    case CURLE_PEER_FAILED_VERIFICATION:
    case CURLE_SSL_CERTPROBLEM:
    case CURLE_SSL_CIPHER:
    case CURLE_SSL_CACERT_BADFILE:
    case CURLE_SSL_CRL_BADFILE:
    case CURLE_SSL_ISSUER_ERROR:
    case CURLE_SSL_PINNEDPUBKEYNOTMATCH:
    case CURLE_SSL_INVALIDCERTSTATUS:
    case CURLE_SSL_SHUTDOWN_FAILED:
    case CURLE_SSL_ENGINE_NOTFOUND:
    case CURLE_SSL_ENGINE_SETFAILED:
    case CURLE_SSL_ENGINE_INITFAILED:
    case CURLE_SSL_CLIENTCERT:
    case CURLE_USE_SSL_FAILED:
      return HttpErrorKind::kTls;
    case CURLE_TOO_MANY_REDIRECTS:
      return HttpErrorKind::kTooManyRedirects;
    case CURLE_GOT_NOTHING:
    case CURLE_RECV_ERROR:
    case CURLE_SEND_ERROR:
    case CURLE_WEIRD_SERVER_REPLY:
    case CURLE_PARTIAL_FILE:
    case CURLE_HTTP2:
    case CURLE_HTTP2_STREAM:
    case CURLE_BAD_CONTENT_ENCODING:
    case CURLE_HTTP_RETURNED_ERROR:
      return HttpErrorKind::kProtocol;
    default:
      return HttpErrorKind::kOther;
  }
}

absl::once_flag curl_init_once;
CURLcode curl_init_result = CURLE_OK;

void InitCurlOnce() {
  absl::call_once(curl_init_once, [] {
    curl_init_result = curl_global_init(CURL_GLOBAL_DEFAULT);
  });
}

}  // namespace

std::optional<absl::Duration> ParseRetryAfter(std::string_view value,
                                              absl::Time now) {
  absl::string_view v = absl::StripAsciiWhitespace(AV(value));
  if (v.empty()) return std::nullopt;
  if (std::all_of(v.begin(), v.end(), [](char c) {
        return absl::ascii_isdigit(static_cast<unsigned char>(c));
      })) {
    uint64_t seconds = 0;
    // Too many digits to parse is "very long": clamp like any large value.
    if (!absl::SimpleAtoi(v, &seconds) ||
        seconds > static_cast<uint64_t>(absl::ToInt64Seconds(kMaxRetryAfter))) {
      return kMaxRetryAfter;
    }
    return absl::Seconds(static_cast<int64_t>(seconds));
  }
  // An HTTP-date starts with a day name (IMF-fixdate, RFC 850, asctime);
  // this also keeps curl_getdate's lenient parser away from "-5" or "1.5".
  if (!absl::ascii_isalpha(static_cast<unsigned char>(v.front()))) {
    return std::nullopt;
  }
  const std::string text(v);
  const time_t when = curl_getdate(text.c_str(), nullptr);
  if (when == -1) return std::nullopt;
  absl::Duration d = absl::FromTimeT(when) - now;
  return std::clamp(d, absl::ZeroDuration(), kMaxRetryAfter);
}

// One exchange: the request, its callback and what libcurl reports while
// it runs. Owned by the sender; touched only by the sender thread once
// queued.
struct CurlSender::Transfer {
  HttpRequest request;
  absl::AnyInvocable<void(HttpResult) &&> done;
  CURL* easy = nullptr;
  curl_slist* headers = nullptr;
  const Options* options = nullptr;
  std::string excerpt;
  size_t body_bytes = 0;
  bool body_too_large = false;
  std::string refused;  // the connect guard's refusal, if any
  absl::Time start;
  char errbuf[CURL_ERROR_SIZE] = {};
};

struct CurlSender::Impl {
  explicit Impl(Options o) : options(std::move(o)) {}
  // The thread must have been joined (or never started).
  ~Impl() {
    for (CURL* easy : easy_pool) curl_easy_cleanup(easy);
    // curl_multi_cleanup may still call OnSocket: close epoll after it.
    if (multi != nullptr) curl_multi_cleanup(multi);
    if (wake_fd >= 0) close(wake_fd);
    if (epoll_fd >= 0) close(epoll_fd);
  }

  // Sender thread main loop.
  void Run();
  // Sender thread: configures `t` and adds it to the multi handle, or
  // completes it at once if it cannot start.
  void Start(std::unique_ptr<Transfer> t);
  // Sender thread: collects finished transfers.
  void DrainCompleted();
  // Sender thread: detaches `t` from libcurl and runs its callback.
  void Finish(Transfer* t, CURLcode code, const char* override_error);
  // Sender thread: completes `t` without ever having added it to `multi`.
  void Fail(std::unique_ptr<Transfer> t, HttpErrorKind kind,
            std::string error);
  CURL* AcquireEasy();
  void ReleaseEasy(CURL* easy);

  // Wakes the loop (new requests, Shutdown). Any thread.
  void Wake();
  // Milliseconds the loop may sleep: until libcurl's timer, at most
  // kMaxPollMs, and not past `limit`.
  int WaitMs(absl::Time limit) const;

  // libcurl multi-socket callbacks (sender thread).
  static int OnSocket(CURL* easy, curl_socket_t fd, int what, void* user,
                      void* socket_data);
  static int OnTimer(CURLM* multi, long timeout_ms, void* user);
  static size_t OnBody(char* data, size_t size, size_t n, void* user);
  static curl_socket_t OnOpenSocket(void* user, curlsocktype purpose,
                                    curl_sockaddr* address);

  const Options options;
  CURLM* multi = nullptr;
  int epoll_fd = -1;
  int wake_fd = -1;  // eventfd, in epoll_fd
  std::thread thread;
  std::atomic<int> in_flight{0};
  std::atomic<int64_t> connections_opened{0};

  absl::Mutex mu;
  std::vector<std::unique_ptr<Transfer>> pending ABSL_GUARDED_BY(mu);
  bool accepting ABSL_GUARDED_BY(mu) = true;
  absl::Time abort_at ABSL_GUARDED_BY(mu) = absl::InfiniteFuture();

  // Serialises Shutdown() callers (joining a thread twice is undefined).
  absl::Mutex shutdown_mu;

  // Sender thread only.
  absl::flat_hash_set<Transfer*> active;
  long max_connections = 0;  // current CURLMOPT_MAXCONNECTS
  // https endpoints whose last exchange failed before any response (TLS,
  // connect, DNS, timeout): their transfers do not set CURLOPT_PIPEWAIT.
  // With it, concurrent transfers to a server wait for one connection, and
  // libcurl 7.88 releases a single waiter each time that connection fails,
  // so attempts to a server whose handshakes fail queue behind each
  // other's handshakes and time out without ever trying. Cleared by the
  // endpoint's next response; emptied when it reaches kMaxRemembered.
  absl::flat_hash_set<std::string> no_pipewait;
  static constexpr size_t kMaxRemembered = 4096;
  // When libcurl wants curl_multi_socket_action(CURL_SOCKET_TIMEOUT);
  // InfiniteFuture = no timer.
  absl::Time timer_due = absl::InfiniteFuture();
  std::vector<CURL*> easy_pool;
};

absl::StatusOr<std::unique_ptr<CurlSender>> CurlSender::Create(
    Options options) {
  InitCurlOnce();
  if (curl_init_result != CURLE_OK) {
    return absl::InternalError(absl::StrCat("curl_global_init failed: ",
                                            curl_easy_strerror(curl_init_result)));
  }
  const curl_version_info_data* info = curl_version_info(CURLVERSION_NOW);
  if (info->version_num < 0x075500) {
    return absl::FailedPreconditionError(absl::StrCat(
        "libcurl ", info->version, " is too old; herald needs 7.85 or later"));
  }
  if ((info->features & CURL_VERSION_SSL) == 0) {
    return absl::FailedPreconditionError("libcurl was built without TLS");
  }
  if (options.max_connections < 1) options.max_connections = 1;
  if (options.max_connect_timeout <= absl::ZeroDuration()) {
    options.max_connect_timeout = absl::Seconds(10);
  }

  auto impl = std::make_unique<Impl>(std::move(options));
  impl->multi = curl_multi_init();
  if (impl->multi == nullptr) {
    return absl::InternalError("curl_multi_init failed");
  }
  impl->epoll_fd = epoll_create1(EPOLL_CLOEXEC);
  impl->wake_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
  if (impl->epoll_fd < 0 || impl->wake_fd < 0) {
    return absl::InternalError("cannot create epoll/eventfd");
  }
  epoll_event wake{};
  wake.events = EPOLLIN;
  wake.data.fd = impl->wake_fd;
  epoll_ctl(impl->epoll_fd, EPOLL_CTL_ADD, impl->wake_fd, &wake);
  // The multi-socket API: libcurl touches only transfers whose sockets
  // are ready or whose timers expired, so thousands of idle or hung
  // transfers cost nothing per event (curl_multi_perform would walk all
  // of them on every wakeup).
  curl_multi_setopt(impl->multi, CURLMOPT_SOCKETFUNCTION, &Impl::OnSocket);
  curl_multi_setopt(impl->multi, CURLMOPT_SOCKETDATA, impl.get());
  curl_multi_setopt(impl->multi, CURLMOPT_TIMERFUNCTION, &Impl::OnTimer);
  curl_multi_setopt(impl->multi, CURLMOPT_TIMERDATA, impl.get());
  impl->max_connections = impl->options.max_connections;
  curl_multi_setopt(impl->multi, CURLMOPT_MAXCONNECTS, impl->max_connections);
  // HTTP/2 multiplexing over TLS (the default since 7.62, set explicitly).
  curl_multi_setopt(impl->multi, CURLMOPT_PIPELINING, CURLPIPE_MULTIPLEX);
  Impl* raw = impl.get();
  impl->thread = std::thread([raw] { raw->Run(); });
  // Named here rather than in Run() so that the name is visible as soon as
  // Create returns (top -H, perf, /proc/<pid>/task/*/comm).
  pthread_setname_np(impl->thread.native_handle(), "herald-sender");
  return std::unique_ptr<CurlSender>(new CurlSender(std::move(impl)));
}

CurlSender::CurlSender(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}

CurlSender::~CurlSender() { Shutdown(absl::ZeroDuration()); }

void CurlSender::Send(HttpRequest request,
                      absl::AnyInvocable<void(HttpResult) &&> done) {
  auto t = std::make_unique<Transfer>();
  t->request = std::move(request);
  t->done = std::move(done);
  t->options = &impl_->options;
  bool wake = false;
  {
    absl::MutexLock lock(&impl_->mu);
    if (impl_->accepting) {
      // Only the first request of a batch needs to wake the loop: it
      // drains the whole queue after every wakeup.
      wake = impl_->pending.empty();
      impl_->pending.push_back(std::move(t));
      impl_->in_flight.fetch_add(1, std::memory_order_relaxed);
    }
  }
  if (t != nullptr) {  // not accepted
    HttpResult result;
    result.error_kind = HttpErrorKind::kOther;
    result.error = "sender is shut down";
    std::move(t->done)(std::move(result));
    return;
  }
  if (wake) impl_->Wake();
}

int CurlSender::in_flight() const {
  return impl_->in_flight.load(std::memory_order_relaxed);
}

int64_t CurlSender::connections_opened() const {
  return impl_->connections_opened.load(std::memory_order_relaxed);
}

void CurlSender::Shutdown(absl::Duration deadline) {
  absl::MutexLock serial(&impl_->shutdown_mu);
  {
    absl::MutexLock lock(&impl_->mu);
    if (impl_->accepting) {
      impl_->accepting = false;
      impl_->abort_at = absl::Now() + std::max(deadline, absl::ZeroDuration());
    }
  }
  impl_->Wake();
  // Called from a callback (a contract violation): the loop still stops on
  // its own; joining here would deadlock.
  if (impl_->thread.joinable() &&
      impl_->thread.get_id() != std::this_thread::get_id()) {
    impl_->thread.join();
  }
}

void CurlSender::Impl::Wake() {
  const uint64_t one = 1;
  // EAGAIN means the counter is already non-zero: the loop will wake.
  (void)!write(wake_fd, &one, sizeof(one));
}

int CurlSender::Impl::WaitMs(absl::Time limit) const {
  const absl::Time until = std::min(timer_due, limit);
  const absl::Duration left = until - absl::Now();
  if (left <= absl::ZeroDuration()) return 0;
  return static_cast<int>(std::min<int64_t>(
      kMaxPollMs,
      absl::ToInt64Milliseconds(absl::Ceil(left, absl::Milliseconds(1)))));
}

int CurlSender::Impl::OnSocket(CURL* easy, curl_socket_t fd, int what,
                               void* user, void* socket_data) {
  Impl* self = static_cast<Impl*>(user);
  if (what == CURL_POLL_REMOVE) {
    epoll_ctl(self->epoll_fd, EPOLL_CTL_DEL, fd, nullptr);
    return 0;
  }
  epoll_event ev{};
  if (what & CURL_POLL_IN) ev.events |= EPOLLIN;
  if (what & CURL_POLL_OUT) ev.events |= EPOLLOUT;
  ev.data.fd = fd;
  if (epoll_ctl(self->epoll_fd, EPOLL_CTL_MOD, fd, &ev) != 0 &&
      errno == ENOENT) {
    epoll_ctl(self->epoll_fd, EPOLL_CTL_ADD, fd, &ev);
  }
  return 0;
}

int CurlSender::Impl::OnTimer(CURLM* multi, long timeout_ms, void* user) {
  Impl* self = static_cast<Impl*>(user);
  self->timer_due = timeout_ms < 0
                        ? absl::InfiniteFuture()
                        : absl::Now() + absl::Milliseconds(timeout_ms);
  return 0;
}

void CurlSender::Impl::Run() {
  std::vector<std::unique_ptr<Transfer>> batch;
  epoll_event events[kMaxEvents];
  int running = 0;
  while (true) {
    bool stopping = false;
    absl::Time stop_deadline;
    {
      absl::MutexLock lock(&mu);
      batch.swap(pending);
      stopping = !accepting;
      stop_deadline = abort_at;
    }
    // Adding a handle sets a 0 ms timer: the transfer starts below.
    for (std::unique_ptr<Transfer>& t : batch) Start(std::move(t));
    batch.clear();

    if (stopping) {
      // Once stopping, `pending` can no longer grow: everything accepted is
      // in `active` or done.
      if (active.empty()) break;
      if (absl::Now() >= stop_deadline) {
        std::vector<Transfer*> rest(active.begin(), active.end());
        for (Transfer* t : rest) {
          Finish(t, CURLE_ABORTED_BY_CALLBACK, "shutting down");
        }
        break;
      }
    }

    const int n = epoll_wait(epoll_fd, events, kMaxEvents,
                             WaitMs(stopping ? stop_deadline
                                             : absl::InfiniteFuture()));
    for (int i = 0; i < n; ++i) {
      const int fd = events[i].data.fd;
      if (fd == wake_fd) {
        uint64_t count;
        (void)!read(wake_fd, &count, sizeof(count));
        continue;
      }
      int flags = 0;
      if (events[i].events & (EPOLLIN | EPOLLHUP)) flags |= CURL_CSELECT_IN;
      if (events[i].events & EPOLLOUT) flags |= CURL_CSELECT_OUT;
      if (events[i].events & EPOLLERR) flags |= CURL_CSELECT_ERR;
      curl_multi_socket_action(multi, fd, flags, &running);
    }
    if (timer_due <= absl::Now()) {
      timer_due = absl::InfiniteFuture();  // OnTimer may set a new one
      curl_multi_socket_action(multi, CURL_SOCKET_TIMEOUT, 0, &running);
    }
    DrainCompleted();
  }
}

CURL* CurlSender::Impl::AcquireEasy() {
  if (!easy_pool.empty()) {
    CURL* easy = easy_pool.back();
    easy_pool.pop_back();
    return easy;
  }
  CURL* easy = curl_easy_init();
  if (easy == nullptr) return nullptr;
  // Options that are the same for every transfer, set once per handle:
  // handles are reused without curl_easy_reset (which would re-allocate
  // all of this), and Start() sets every per-request option each time.
  curl_easy_setopt(easy, CURLOPT_NOSIGNAL, 1L);
  curl_easy_setopt(easy, CURLOPT_PROTOCOLS_STR, "http,https");
  curl_easy_setopt(easy, CURLOPT_REDIR_PROTOCOLS_STR, "http,https");
  curl_easy_setopt(easy, CURLOPT_POST, 1L);
  curl_easy_setopt(easy, CURLOPT_TCP_KEEPALIVE, 1L);
  curl_easy_setopt(easy, CURLOPT_WRITEFUNCTION, &Impl::OnBody);
  curl_easy_setopt(easy, CURLOPT_OPENSOCKETFUNCTION, &Impl::OnOpenSocket);
  curl_easy_setopt(easy, CURLOPT_MAXREDIRS, 5L);
  curl_easy_setopt(easy, CURLOPT_POSTREDIR,
                   static_cast<long>(CURL_REDIR_POST_ALL));
  if (!options.proxy.empty()) {
    curl_easy_setopt(easy, CURLOPT_PROXY, options.proxy.c_str());
  } else if (!options.proxy_from_environment) {
    curl_easy_setopt(easy, CURLOPT_PROXY, "");  // ignore *_proxy variables
  }
  return easy;
}

void CurlSender::Impl::ReleaseEasy(CURL* easy) {
  if (easy_pool.size() < kEasyPoolSize) {
    // Drop every pointer into the finished transfer.
    curl_easy_setopt(easy, CURLOPT_PRIVATE, nullptr);
    curl_easy_setopt(easy, CURLOPT_ERRORBUFFER, nullptr);
    curl_easy_setopt(easy, CURLOPT_HTTPHEADER, nullptr);
    curl_easy_setopt(easy, CURLOPT_POSTFIELDS, nullptr);
    curl_easy_setopt(easy, CURLOPT_WRITEDATA, nullptr);
    curl_easy_setopt(easy, CURLOPT_OPENSOCKETDATA, nullptr);
    easy_pool.push_back(easy);
  } else {
    curl_easy_cleanup(easy);
  }
}

void CurlSender::Impl::Fail(std::unique_ptr<Transfer> t, HttpErrorKind kind,
                            std::string error) {
  if (t->easy != nullptr) ReleaseEasy(t->easy);
  curl_slist_free_all(t->headers);
  HttpResult result;
  result.error_kind = kind;
  result.error = std::move(error);
  in_flight.fetch_sub(1, std::memory_order_relaxed);
  std::move(t->done)(std::move(result));
}

void CurlSender::Impl::Start(std::unique_ptr<Transfer> t) {
  const HttpRequest& req = t->request;
  const bool https = absl::StartsWithIgnoreCase(AV(req.url), "https://");
  if (!https && !absl::StartsWithIgnoreCase(AV(req.url), "http://")) {
    Fail(std::move(t), HttpErrorKind::kOther, "URL scheme is not http or https");
    return;
  }
  // Header list: the caller's headers verbatim, then removals of what
  // libcurl would otherwise add on its own.
  for (const core::Header& h : req.headers) {
    if (!IsValidHeaderName(h.name)) {
      Fail(std::move(t), HttpErrorKind::kOther, "invalid request header name");
      return;
    }
    if (!IsValidHeaderValue(h.value)) {
      Fail(std::move(t), HttpErrorKind::kOther,
           absl::StrCat("invalid value for request header ", AV(h.name)));
      return;
    }
    // "Name;" is libcurl's syntax for a header with an empty value.
    const std::string line = h.value.empty()
                                 ? absl::StrCat(AV(h.name), ";")
                                 : absl::StrCat(AV(h.name), ": ", AV(h.value));
    t->headers = curl_slist_append(t->headers, line.c_str());
  }
  for (const char* name : {"Accept", "Expect", "Content-Type"}) {
    if (!HasHeader(req.headers, name)) {
      t->headers = curl_slist_append(t->headers, absl::StrCat(name, ":").c_str());
    }
  }

  CURL* easy = AcquireEasy();
  if (easy == nullptr || t->headers == nullptr) {
    t->easy = easy;
    Fail(std::move(t), HttpErrorKind::kOther, "out of memory");
    return;
  }
  t->easy = easy;
  t->start = absl::Now();

  absl::Duration timeout = req.timeout;
  if (timeout <= absl::ZeroDuration()) timeout = absl::Seconds(3);
  const long timeout_ms = static_cast<long>(std::max<int64_t>(
      1, absl::ToInt64Milliseconds(absl::Ceil(timeout, absl::Milliseconds(1)))));
  const long connect_ms = static_cast<long>(std::min<int64_t>(
      timeout_ms, absl::ToInt64Milliseconds(options.max_connect_timeout)));

  // Every per-request option is set on every transfer (see AcquireEasy).
  curl_easy_setopt(easy, CURLOPT_PRIVATE, t.get());
  curl_easy_setopt(easy, CURLOPT_ERRORBUFFER, t->errbuf);
  curl_easy_setopt(easy, CURLOPT_URL, req.url.c_str());
  curl_easy_setopt(easy, CURLOPT_POSTFIELDSIZE_LARGE,
                   static_cast<curl_off_t>(req.body.size()));
  curl_easy_setopt(easy, CURLOPT_POSTFIELDS, req.body.data());
  curl_easy_setopt(easy, CURLOPT_HTTPHEADER, t->headers);
  curl_easy_setopt(easy, CURLOPT_TIMEOUT_MS, timeout_ms);
  curl_easy_setopt(easy, CURLOPT_CONNECTTIMEOUT_MS, connect_ms);
  curl_easy_setopt(easy, CURLOPT_WRITEDATA, t.get());
  curl_easy_setopt(easy, CURLOPT_OPENSOCKETDATA, t.get());
  // Plain http: HTTP/1.1 keep-alive (never h2c). https: HTTP/2 when the
  // server offers it by ALPN; concurrent requests to a new server then wait
  // for its first connection instead of each opening their own.
  curl_easy_setopt(easy, CURLOPT_HTTP_VERSION,
                   https ? CURL_HTTP_VERSION_2TLS : CURL_HTTP_VERSION_1_1);
  curl_easy_setopt(easy, CURLOPT_PIPEWAIT,
                   https && !no_pipewait.contains(EndpointOf(req)) ? 1L : 0L);
  curl_easy_setopt(easy, CURLOPT_SSL_VERIFYPEER, req.skip_cert_verify ? 0L : 1L);
  curl_easy_setopt(easy, CURLOPT_SSL_VERIFYHOST, req.skip_cert_verify ? 0L : 2L);
  if (!req.skip_cert_verify && !req.ca_bundle_pem.empty()) {
    // Replaces the CA bundle file; Debian's CA directory stays trusted.
    curl_blob blob;
    blob.data = const_cast<char*>(req.ca_bundle_pem.data());
    blob.len = req.ca_bundle_pem.size();
    blob.flags = CURL_BLOB_COPY;
    curl_easy_setopt(easy, CURLOPT_CAINFO_BLOB, &blob);
  } else {
    curl_easy_setopt(easy, CURLOPT_CAINFO_BLOB, nullptr);
  }
  curl_easy_setopt(easy, CURLOPT_FOLLOWLOCATION, req.follow_redirects ? 1L : 0L);

  Transfer* raw = t.release();
  if (CURLMcode mc = curl_multi_add_handle(multi, easy); mc != CURLM_OK) {
    Fail(std::unique_ptr<Transfer>(raw), HttpErrorKind::kOther,
         absl::StrCat("cannot start transfer: ", curl_multi_strerror(mc)));
    return;
  }
  active.insert(raw);
  // Keep the connection cache larger than the number of transfers in
  // flight: a smaller cache closes a connection every time a transfer ends
  // and opens a new one for the next (measured: ~7x the CPU per request).
  const long wanted = static_cast<long>(active.size()) * 5 / 4;
  if (wanted > max_connections) {
    max_connections = std::max(wanted, max_connections * 2);
    curl_multi_setopt(multi, CURLMOPT_MAXCONNECTS, max_connections);
  }
}

void CurlSender::Impl::DrainCompleted() {
  int left = 0;
  while (CURLMsg* msg = curl_multi_info_read(multi, &left)) {
    if (msg->msg != CURLMSG_DONE) continue;
    // Copy before Finish: removing the handle invalidates `msg`.
    CURL* easy = msg->easy_handle;
    const CURLcode code = msg->data.result;
    Transfer* t = nullptr;
    curl_easy_getinfo(easy, CURLINFO_PRIVATE, &t);
    if (t != nullptr) Finish(t, code, nullptr);
  }
}

void CurlSender::Impl::Finish(Transfer* raw, CURLcode code,
                              const char* override_error) {
  std::unique_ptr<Transfer> t(raw);
  active.erase(raw);
  CURL* easy = t->easy;

  HttpResult result;
  long status = 0;
  curl_easy_getinfo(easy, CURLINFO_RESPONSE_CODE, &status);
  result.status_code = static_cast<int>(status);
  // libcurl's total time restarts when a transfer that waited for another
  // one's connection (PIPEWAIT) finally starts: measure the attempt here.
  result.latency = absl::Now() - t->start;
  curl_off_t connect_us = 0;
  const bool never_connected =
      curl_easy_getinfo(easy, CURLINFO_CONNECT_TIME_T, &connect_us) == CURLE_OK &&
      connect_us == 0;
  long connects = 0;
  if (curl_easy_getinfo(easy, CURLINFO_NUM_CONNECTS, &connects) == CURLE_OK) {
    connections_opened.fetch_add(connects, std::memory_order_relaxed);
  }
  if (status != 0) {
    // Headers of the last response (request index -1).
    curl_header* h = nullptr;
    if (curl_easy_header(easy, "Retry-After", 0, CURLH_HEADER, -1, &h) ==
            CURLHE_OK &&
        h != nullptr && h->value != nullptr) {
      result.retry_after = ParseRetryAfter(h->value, absl::Now());
    }
    h = nullptr;
    if (status >= 300 && status < 400 &&
        curl_easy_header(easy, "Location", 0, CURLH_HEADER, -1, &h) ==
            CURLHE_OK &&
        h != nullptr && h->value != nullptr) {
      result.location = h->value;
    }
  }

  if (override_error != nullptr) {
    result.error_kind = HttpErrorKind::kOther;
    result.error = override_error;
  } else if (code != CURLE_OK) {
    result.error_kind = Classify(code);
    if (t->body_too_large) {
      result.error_kind = HttpErrorKind::kProtocol;
      result.error = absl::StrCat("response body too large (more than ",
                                  options.max_response_body_bytes, " bytes)");
    } else if (!t->refused.empty() && code == CURLE_COULDNT_CONNECT) {
      result.error_kind = HttpErrorKind::kConnect;
      result.error = std::move(t->refused);
    } else if (t->errbuf[0] != '\0') {
      result.error = t->errbuf;
    } else {
      result.error = curl_easy_strerror(code);
    }
    if (code == CURLE_OPERATION_TIMEDOUT && never_connected && status == 0) {
      // libcurl's own message counts from when the transfer last
      // (re)started, e.g. "Failed to resolve host '127.0.0.1' with timeout
      // after 0 ms" for one that waited its whole timeout for a connection.
      result.error = absl::StrCat(
          "no connection within ",
          absl::FormatDuration(absl::Trunc(result.latency, absl::Milliseconds(1))),
          " (libcurl: ", result.error, ")");
    }
  }
  if (absl::StartsWithIgnoreCase(AV(t->request.url), "https://")) {
    const std::string endpoint = EndpointOf(t->request);
    if (result.error_kind == HttpErrorKind::kNone) {
      no_pipewait.erase(endpoint);
    } else if (status == 0 && (result.error_kind == HttpErrorKind::kTls ||
                               result.error_kind == HttpErrorKind::kConnect ||
                               result.error_kind == HttpErrorKind::kDns ||
                               result.error_kind == HttpErrorKind::kTimeout)) {
      if (no_pipewait.size() >= kMaxRemembered) no_pipewait.clear();
      no_pipewait.insert(endpoint);
    }
  }
  result.body_excerpt = std::move(t->excerpt);

  curl_multi_remove_handle(multi, easy);
  curl_slist_free_all(t->headers);
  t->headers = nullptr;
  ReleaseEasy(easy);
  t->easy = nullptr;

  in_flight.fetch_sub(1, std::memory_order_relaxed);
  std::move(t->done)(std::move(result));
}

size_t CurlSender::Impl::OnBody(char* data, size_t size, size_t n,
                                void* user) {
  Transfer* t = static_cast<Transfer*>(user);
  const size_t len = size * n;
  if (t->excerpt.size() < kBodyExcerptBytes) {
    t->excerpt.append(data,
                      std::min(len, kBodyExcerptBytes - t->excerpt.size()));
  }
  t->body_bytes += len;
  if (t->body_bytes > t->options->max_response_body_bytes) {
    t->body_too_large = true;
    return 0;  // aborts the transfer with CURLE_WRITE_ERROR
  }
  return len;
}

curl_socket_t CurlSender::Impl::OnOpenSocket(void* user, curlsocktype purpose,
                                             curl_sockaddr* address) {
  Transfer* t = static_cast<Transfer*>(user);
  const auto& guard = t->options->connect_guard;
  if (purpose == CURLSOCKTYPE_IPCXN && guard) {
    char ip[INET6_ADDRSTRLEN] = {};
    const void* where = nullptr;
    if (address->family == AF_INET) {
      where = &reinterpret_cast<const sockaddr_in*>(&address->addr)->sin_addr;
    } else if (address->family == AF_INET6) {
      where = &reinterpret_cast<const sockaddr_in6*>(&address->addr)->sin6_addr;
    }
    if (where == nullptr ||
        inet_ntop(address->family, where, ip, sizeof(ip)) == nullptr) {
      t->refused = "address of an unsupported family forbidden by SSRF policy";
      return CURL_SOCKET_BAD;
    }
    const absl::Status verdict = guard(ip);
    if (!verdict.ok()) {
      t->refused = absl::StrCat("address ", ip, " forbidden by SSRF policy");
      if (!verdict.message().empty()) {
        absl::StrAppend(&t->refused, ": ", verdict.message());
      }
      return CURL_SOCKET_BAD;
    }
  }
  return socket(address->family, address->socktype | SOCK_CLOEXEC,
                address->protocol);
}

}  // namespace herald::delivery
