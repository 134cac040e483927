#include "tests/bench/receiver.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <pthread.h>
#include <strings.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <deque>
#include <mutex>
#include <string_view>
#include <thread>
#include <unordered_map>

namespace herald::bench {
namespace {

constexpr std::string_view kResponse =
    "HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n";
constexpr std::string_view kContinue = "HTTP/1.1 100 Continue\r\n\r\n";
constexpr std::string_view kMarker = "\"operator\":\"bench-";
// A listening socket's epoll data: its index with this bit set.
constexpr uint64_t kListenBit = uint64_t{1} << 62;
constexpr uint64_t kWakeData = uint64_t{1} << 61;

int64_t NowNs() {
  timespec ts;
  clock_gettime(CLOCK_REALTIME, &ts);
  return int64_t{ts.tv_sec} * 1000000000 + ts.tv_nsec;
}

// Case-insensitive "name:" at the start of a header line.
bool HeaderIs(std::string_view line, std::string_view name) {
  return line.size() > name.size() && line[name.size()] == ':' &&
         strncasecmp(line.data(), name.data(), name.size()) == 0;
}

std::string_view Trim(std::string_view v) {
  while (!v.empty() && (v.front() == ' ' || v.front() == '\t')) v.remove_prefix(1);
  while (!v.empty() && (v.back() == ' ' || v.back() == '\t' || v.back() == '\r')) {
    v.remove_suffix(1);
  }
  return v;
}

int Listen(int port) {
  int fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (fd < 0) return -1;
  int one = 1;
  setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  addr.sin_port = htons(static_cast<uint16_t>(port));
  if (bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0 ||
      listen(fd, 4096) != 0) {
    close(fd);
    return -1;
  }
  return fd;
}

int PortOf(int fd) {
  sockaddr_in addr{};
  socklen_t len = sizeof addr;
  getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len);
  return ntohs(addr.sin_port);
}

}  // namespace

struct BenchReceiver::Impl {
  struct Held {
    int64_t seq;
    std::string webhook_id;
  };
  struct Conn {
    int fd = -1;
    int port_index = 0;
    std::string in;
    size_t parsed = 0;  // bytes of `in` consumed
    std::string out;    // unsent response bytes
    bool continue_sent = false;
    std::deque<Held> held;  // kHang: requests not answered yet
  };

  BenchReceiver* owner = nullptr;
  int epfd = -1;
  int wakefd = -1;
  std::vector<int> ports;
  std::vector<int> listen_fds;
  std::unordered_map<int, Conn> conns;
  std::thread thread;
  clockid_t cpu_clock{};
  std::atomic<bool> cpu_clock_ready{false};

  std::mutex mu;  // guards records, wanted_mode, stop
  std::vector<Record> records;
  Mode wanted_mode = Mode::kOk;
  bool stop = false;
  Mode mode = Mode::kOk;  // loop thread only

  bool OpenListeners() {
    listen_fds.assign(ports.size(), -1);
    for (size_t i = 0; i < ports.size(); ++i) {
      int fd = Listen(ports[i]);
      if (fd < 0) {
        std::fprintf(stderr, "bench receiver: listen on port %d: %s\n",
                     ports[i], std::strerror(errno));
        return false;
      }
      ports[i] = PortOf(fd);
      listen_fds[i] = fd;
      epoll_event ev{};
      ev.events = EPOLLIN;
      ev.data.u64 = kListenBit | i;
      epoll_ctl(epfd, EPOLL_CTL_ADD, fd, &ev);
    }
    return true;
  }

  void CloseAll() {
    for (int fd : listen_fds) {
      if (fd >= 0) close(fd);
    }
    listen_fds.assign(ports.size(), -1);
    for (auto& [fd, c] : conns) close(fd);
    conns.clear();
  }

  void Accept(size_t index) {
    while (true) {
      int fd = accept4(listen_fds[index], nullptr, nullptr,
                       SOCK_NONBLOCK | SOCK_CLOEXEC);
      if (fd < 0) return;
      int one = 1;
      setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
      Conn& c = conns[fd];
      c.fd = fd;
      c.port_index = static_cast<int>(index);
      epoll_event ev{};
      ev.events = EPOLLIN | EPOLLRDHUP;
      ev.data.u64 = static_cast<uint64_t>(fd);
      epoll_ctl(epfd, EPOLL_CTL_ADD, fd, &ev);
    }
  }

  void Close(Conn& c) {
    close(c.fd);
    conns.erase(c.fd);
  }

  // Appends a record; `now` is the answer time.
  void Recorded(std::vector<Record>& batch, int port_index, int64_t seq,
                std::string_view webhook_id, int64_t now) {
    Record r;
    r.arrival_ns = now;
    r.seq = seq;
    r.port_index = port_index;
    size_t n = std::min(webhook_id.size(), sizeof r.webhook_id - 1);
    std::memcpy(r.webhook_id, webhook_id.data(), n);
    batch.push_back(r);
  }

  // Parses every complete request in c.in; answers (or holds) each.
  // Returns false if the connection must be closed.
  bool Parse(Conn& c, std::vector<Record>& batch, int64_t& answered) {
    while (true) {
      std::string_view rest(c.in.data() + c.parsed, c.in.size() - c.parsed);
      size_t head_end = rest.find("\r\n\r\n");
      if (head_end == std::string_view::npos) break;
      std::string_view head = rest.substr(0, head_end + 2);
      size_t content_length = 0;
      bool expect_continue = false;
      std::string_view webhook_id;
      size_t pos = head.find("\r\n");  // skip the request line
      if (pos == std::string_view::npos) return false;
      pos += 2;
      while (pos < head.size()) {
        size_t eol = head.find("\r\n", pos);
        std::string_view line = head.substr(pos, eol - pos);
        pos = eol + 2;
        if (HeaderIs(line, "content-length")) {
          content_length = std::strtoul(
              std::string(Trim(line.substr(15))).c_str(), nullptr, 10);
        } else if (HeaderIs(line, "webhook-id")) {
          webhook_id = Trim(line.substr(11));
        } else if (HeaderIs(line, "expect")) {
          expect_continue = true;
        } else if (HeaderIs(line, "transfer-encoding")) {
          return false;  // herald and wrk send Content-Length
        }
      }
      const size_t total = head_end + 4 + content_length;
      if (rest.size() < total) {
        if (expect_continue && !c.continue_sent) {
          c.out.append(kContinue);
          c.continue_sent = true;
        }
        break;
      }
      std::string_view body = rest.substr(head_end + 4, content_length);
      int64_t seq = -1;
      if (size_t m = body.find(kMarker); m != std::string_view::npos) {
        seq = 0;
        for (size_t i = m + kMarker.size();
             i < body.size() && body[i] >= '0' && body[i] <= '9'; ++i) {
          seq = seq * 10 + (body[i] - '0');
        }
      }
      c.parsed += total;
      c.continue_sent = false;
      if (mode == Mode::kHang) {
        c.held.push_back(Held{seq, std::string(webhook_id)});
        continue;
      }
      if (!webhook_id.empty()) {
        Recorded(batch, c.port_index, seq, webhook_id, NowNs());
      }
      c.out.append(kResponse);
      ++answered;
    }
    if (c.parsed == c.in.size()) {
      c.in.clear();
      c.parsed = 0;
    } else if (c.parsed > 65536) {
      c.in.erase(0, c.parsed);
      c.parsed = 0;
    }
    return true;
  }

  // Writes c.out; false if the connection broke.
  bool Flush(Conn& c) {
    while (!c.out.empty()) {
      ssize_t n = send(c.fd, c.out.data(), c.out.size(), MSG_NOSIGNAL);
      if (n < 0) {
        if (errno == EAGAIN) break;
        return false;
      }
      c.out.erase(0, static_cast<size_t>(n));
    }
    epoll_event ev{};
    ev.events = EPOLLIN | EPOLLRDHUP | (c.out.empty() ? 0 : EPOLLOUT);
    ev.data.u64 = static_cast<uint64_t>(c.fd);
    epoll_ctl(epfd, EPOLL_CTL_MOD, c.fd, &ev);
    return true;
  }

  void OnReadable(Conn& c, std::vector<Record>& batch, int64_t& answered) {
    char buf[65536];
    while (true) {
      ssize_t n = recv(c.fd, buf, sizeof buf, 0);
      if (n > 0) {
        c.in.append(buf, static_cast<size_t>(n));
        if (static_cast<size_t>(n) < sizeof buf) break;
        continue;
      }
      if (n == 0 || errno != EAGAIN) {
        Close(c);
        return;
      }
      break;
    }
    if (!Parse(c, batch, answered) || !Flush(c)) Close(c);
  }

  void ApplyMode(Mode wanted, std::vector<Record>& batch, int64_t& answered) {
    if (wanted == mode) return;
    if (mode == Mode::kRefuse) {
      mode = wanted;
      if (!OpenListeners()) std::fprintf(stderr, "bench receiver: rebind failed\n");
      return;
    }
    mode = wanted;
    if (wanted == Mode::kRefuse) {
      CloseAll();
      return;
    }
    if (wanted == Mode::kOk) {
      const int64_t now = NowNs();
      std::vector<int> broken;
      for (auto& [fd, c] : conns) {
        for (const Held& h : c.held) {
          if (!h.webhook_id.empty()) {
            Recorded(batch, c.port_index, h.seq, h.webhook_id, now);
          }
          c.out.append(kResponse);
          ++answered;
        }
        c.held.clear();
        // Requests that arrived complete while holding are still in `in`
        // only if unparsed; parse them now.
        if (!Parse(c, batch, answered) || !Flush(c)) broken.push_back(fd);
      }
      for (int fd : broken) Close(conns[fd]);
    }
  }

  void Loop() {
    cpu_clock_ready.store(
        pthread_getcpuclockid(pthread_self(), &cpu_clock) == 0);
    epoll_event events[256];
    std::vector<Record> batch;
    while (true) {
      int n = epoll_wait(epfd, events, 256, -1);
      int64_t answered = 0;
      batch.clear();
      for (int i = 0; i < n; ++i) {
        const uint64_t data = events[i].data.u64;
        if (data == kWakeData) {
          uint64_t v;
          (void)!read(wakefd, &v, sizeof v);
          Mode wanted;
          {
            std::lock_guard<std::mutex> lock(mu);
            if (stop) {
              CloseAll();
              return;
            }
            wanted = wanted_mode;
          }
          ApplyMode(wanted, batch, answered);
          break;  // the connection table may have changed under `events`
        }
        if (data & kListenBit) {
          size_t index = data & ~kListenBit;
          if (index < listen_fds.size() && listen_fds[index] >= 0) Accept(index);
          continue;
        }
        auto it = conns.find(static_cast<int>(data));
        if (it == conns.end()) continue;
        Conn& c = it->second;
        if (events[i].events & (EPOLLIN | EPOLLRDHUP | EPOLLHUP | EPOLLERR)) {
          OnReadable(c, batch, answered);
        } else if (events[i].events & EPOLLOUT) {
          if (!Flush(c)) Close(c);
        }
      }
      if (!batch.empty()) {
        std::lock_guard<std::mutex> lock(mu);
        records.insert(records.end(), batch.begin(), batch.end());
        owner->recorded_.fetch_add(static_cast<int64_t>(batch.size()),
                                   std::memory_order_relaxed);
      }
      if (answered) owner->answered_.fetch_add(answered, std::memory_order_relaxed);
    }
  }

  void Wake() {
    uint64_t one = 1;
    (void)!write(wakefd, &one, sizeof one);
  }
};

BenchReceiver::BenchReceiver(std::unique_ptr<Impl> impl)
    : impl_(std::move(impl)) {}

std::unique_ptr<BenchReceiver> BenchReceiver::Start(int ports) {
  auto impl = std::make_unique<Impl>();
  impl->epfd = epoll_create1(EPOLL_CLOEXEC);
  impl->wakefd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
  epoll_event ev{};
  ev.events = EPOLLIN;
  ev.data.u64 = kWakeData;
  epoll_ctl(impl->epfd, EPOLL_CTL_ADD, impl->wakefd, &ev);
  impl->ports.assign(static_cast<size_t>(ports), 0);
  if (!impl->OpenListeners()) return nullptr;
  std::unique_ptr<BenchReceiver> r(new BenchReceiver(std::move(impl)));
  Impl* p = r->impl_.get();
  p->owner = r.get();
  p->thread = std::thread([p] { p->Loop(); });
  pthread_setname_np(p->thread.native_handle(), "bench-receiver");
  return r;
}

BenchReceiver::~BenchReceiver() {
  {
    std::lock_guard<std::mutex> lock(impl_->mu);
    impl_->stop = true;
  }
  impl_->Wake();
  impl_->thread.join();
  close(impl_->wakefd);
  close(impl_->epfd);
}

int BenchReceiver::port(int index) const {
  return impl_->ports[static_cast<size_t>(index)];
}
int BenchReceiver::port_count() const {
  return static_cast<int>(impl_->ports.size());
}
std::string BenchReceiver::url(int index, const std::string& path) const {
  return "http://127.0.0.1:" + std::to_string(port(index)) + path;
}

void BenchReceiver::SetMode(Mode mode) {
  {
    std::lock_guard<std::mutex> lock(impl_->mu);
    impl_->wanted_mode = mode;
  }
  impl_->Wake();
}

std::vector<Record> BenchReceiver::TakeRecords() {
  std::vector<Record> out;
  std::lock_guard<std::mutex> lock(impl_->mu);
  out.swap(impl_->records);
  recorded_.store(0, std::memory_order_relaxed);
  return out;
}

int64_t BenchReceiver::ThreadCpuNanos() const {
  if (!impl_->cpu_clock_ready.load()) return 0;
  timespec ts;
  if (clock_gettime(impl_->cpu_clock, &ts) != 0) return 0;
  return int64_t{ts.tv_sec} * 1000000000 + ts.tv_nsec;
}

}  // namespace herald::bench
