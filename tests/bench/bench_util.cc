#include "tests/bench/bench_util.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <signal.h>
#include <spawn.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <sstream>

extern char** environ;

namespace herald::bench {

int64_t NowNs() {
  timespec ts;
  clock_gettime(CLOCK_REALTIME, &ts);
  return int64_t{ts.tv_sec} * 1000000000 + ts.tv_nsec;
}

void SleepUntilNs(int64_t realtime_ns) {
  timespec ts;
  ts.tv_sec = realtime_ns / 1000000000;
  ts.tv_nsec = realtime_ns % 1000000000;
  while (clock_nanosleep(CLOCK_REALTIME, TIMER_ABSTIME, &ts, nullptr) == EINTR) {
  }
}

void SleepMs(int64_t ms) { SleepUntilNs(NowNs() + ms * 1000000); }

int64_t Percentile(std::vector<int64_t>& v, double p) {
  if (v.empty()) return -1;
  std::sort(v.begin(), v.end());
  size_t rank = static_cast<size_t>(std::ceil(p * static_cast<double>(v.size())));
  if (rank == 0) rank = 1;
  return v[std::min(rank, v.size()) - 1];
}

std::optional<ProcStat> ReadProcStat(pid_t pid) {
  const std::string base = "/proc/" + std::to_string(pid);
  std::string stat = ReadFile(base + "/stat");
  if (stat.empty()) return std::nullopt;
  // Fields after the command name (which may contain spaces) in parens.
  size_t close = stat.rfind(')');
  if (close == std::string::npos) return std::nullopt;
  std::istringstream in(stat.substr(close + 2));
  std::vector<std::string> f;
  for (std::string s; in >> s;) f.push_back(s);
  // f[0] is field 3 (state); utime is field 14, stime 15, threads 20.
  if (f.size() < 18) return std::nullopt;
  ProcStat out;
  const double tick = static_cast<double>(sysconf(_SC_CLK_TCK));
  out.cpu_seconds = (std::stod(f[11]) + std::stod(f[12])) / tick;
  out.threads = std::stoi(f[17]);
  std::istringstream status(ReadFile(base + "/status"));
  for (std::string line; std::getline(status, line);) {
    if (line.rfind("VmRSS:", 0) == 0) out.rss_kb = std::atoll(line.c_str() + 6);
    if (line.rfind("VmHWM:", 0) == 0) out.hwm_kb = std::atoll(line.c_str() + 6);
  }
  return out;
}

double SelfCpuSeconds() {
  rusage u;
  getrusage(RUSAGE_SELF, &u);
  return static_cast<double>(u.ru_utime.tv_sec + u.ru_stime.tv_sec) +
         static_cast<double>(u.ru_utime.tv_usec + u.ru_stime.tv_usec) / 1e6;
}

std::optional<Child> Spawn(const std::vector<std::string>& argv,
                           const std::string& log_path,
                           const std::map<std::string, std::string>& env) {
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_addopen(&actions, 1, log_path.c_str(),
                                   O_WRONLY | O_CREAT | O_TRUNC, 0644);
  posix_spawn_file_actions_adddup2(&actions, 1, 2);
  posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0);
  std::vector<char*> args;
  for (const std::string& a : argv) args.push_back(const_cast<char*>(a.c_str()));
  args.push_back(nullptr);
  std::vector<std::string> env_strings;
  for (char** e = environ; *e != nullptr; ++e) {
    std::string s(*e);
    std::string name = s.substr(0, s.find('='));
    if (!env.count(name)) env_strings.push_back(s);
  }
  for (const auto& [k, v] : env) env_strings.push_back(k + "=" + v);
  std::vector<char*> envp;
  for (std::string& s : env_strings) envp.push_back(s.data());
  envp.push_back(nullptr);
  pid_t pid;
  int rc = posix_spawnp(&pid, args[0], &actions, nullptr, args.data(), envp.data());
  posix_spawn_file_actions_destroy(&actions);
  if (rc != 0) {
    std::fprintf(stderr, "spawn %s: %s\n", argv[0].c_str(), std::strerror(rc));
    return std::nullopt;
  }
  return Child{pid, log_path};
}

int WaitChild(pid_t pid, struct rusage* usage) {
  int status = 0;
  struct rusage ignored;
  if (wait4(pid, &status, 0, usage ? usage : &ignored) < 0) return -1;
  return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

int StopChild(pid_t pid, int timeout_ms) {
  if (pid <= 0) return -1;
  kill(pid, SIGTERM);
  int status = 0;
  for (int waited = 0; waited < timeout_ms; waited += 10) {
    pid_t r = waitpid(pid, &status, WNOHANG);
    if (r == pid) return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
    SleepMs(10);
  }
  kill(pid, SIGKILL);
  waitpid(pid, &status, 0);
  return -1;
}

std::string ReadFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

bool WriteFile(const std::string& path, const std::string& content) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out << content;
  return static_cast<bool>(out);
}

std::string MakeTempDir(const std::string& prefix) {
  const char* tmp = std::getenv("TMPDIR");
  std::string tmpl = std::string(tmp && *tmp ? tmp : "/tmp") + "/" + prefix + "XXXXXX";
  std::vector<char> buf(tmpl.begin(), tmpl.end());
  buf.push_back('\0');
  if (mkdtemp(buf.data()) == nullptr) return "";
  return std::string(buf.data());
}

void RemoveTree(const std::string& path) {
  std::error_code ec;
  std::filesystem::remove_all(path, ec);
}

namespace {
int Connect(int port) {
  int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return -1;
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  addr.sin_port = htons(static_cast<uint16_t>(port));
  if (connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0) {
    close(fd);
    return -1;
  }
  int one = 1;
  setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
  return fd;
}
}  // namespace

HttpConnection::HttpConnection(int port) : fd_(Connect(port)) {}
HttpConnection::~HttpConnection() {
  if (fd_ >= 0) close(fd_);
}

int HttpConnection::RoundTrip(const std::string& request, std::string* body) {
  if (fd_ < 0) return -1;
  for (size_t sent = 0; sent < request.size();) {
    ssize_t n = send(fd_, request.data() + sent, request.size() - sent, MSG_NOSIGNAL);
    if (n <= 0) return -1;
    sent += static_cast<size_t>(n);
  }
  char buf[16384];
  while (true) {
    size_t end = buffer_.find("\r\n\r\n");
    if (end != std::string::npos) {
      size_t length = 0;
      std::string head = buffer_.substr(0, end);
      std::string lower = head;
      std::transform(lower.begin(), lower.end(), lower.begin(), ::tolower);
      if (size_t p = lower.find("content-length:"); p != std::string::npos) {
        length = std::strtoul(head.c_str() + p + 15, nullptr, 10);
      }
      if (buffer_.size() >= end + 4 + length) {
        int status = std::atoi(head.c_str() + head.find(' ') + 1);
        if (body) *body = buffer_.substr(end + 4, length);
        buffer_.erase(0, end + 4 + length);
        return status;
      }
    }
    ssize_t n = recv(fd_, buf, sizeof buf, 0);
    if (n <= 0) return -1;
    buffer_.append(buf, static_cast<size_t>(n));
  }
}

std::optional<std::string> HttpGet(const std::string& host_port,
                                   const std::string& path) {
  const int port = std::atoi(host_port.c_str() + host_port.rfind(':') + 1);
  int fd = Connect(port);
  if (fd < 0) return std::nullopt;
  std::string req = "GET " + path + " HTTP/1.1\r\nHost: " + host_port +
                    "\r\nConnection: close\r\n\r\n";
  if (send(fd, req.data(), req.size(), MSG_NOSIGNAL) != static_cast<ssize_t>(req.size())) {
    close(fd);
    return std::nullopt;
  }
  std::string all;
  char buf[65536];
  for (ssize_t n; (n = recv(fd, buf, sizeof buf, 0)) > 0;) all.append(buf, static_cast<size_t>(n));
  close(fd);
  size_t end = all.find("\r\n\r\n");
  if (end == std::string::npos) return std::nullopt;
  std::string body = all.substr(end + 4);
  if (all.find("chunked") != std::string::npos && all.find("chunked") < end) {
    // De-chunk.
    std::string out;
    size_t pos = 0;
    while (pos < body.size()) {
      size_t eol = body.find("\r\n", pos);
      if (eol == std::string::npos) break;
      size_t n = std::strtoul(body.c_str() + pos, nullptr, 16);
      if (n == 0) break;
      out.append(body, eol + 2, n);
      pos = eol + 2 + n + 2;
    }
    body = out;
  }
  return body;
}

}  // namespace herald::bench
