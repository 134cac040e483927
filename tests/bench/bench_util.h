// Small helpers of the benchmark driver: clocks, percentiles, /proc
// readings, child processes (heraldd, wrk) and a blocking loopback HTTP
// client. Linux only.
#ifndef HERALD_TESTS_BENCH_BENCH_UTIL_H_
#define HERALD_TESTS_BENCH_BENCH_UTIL_H_

#include <sys/resource.h>
#include <sys/types.h>

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

namespace herald::bench {

// CLOCK_REALTIME in ns (comparable with heraldd's timestamps).
int64_t NowNs();
void SleepUntilNs(int64_t realtime_ns);
void SleepMs(int64_t ms);

// The p-quantile (0 < p <= 1, nearest rank) of `v`, which it sorts; -1 if
// empty.
int64_t Percentile(std::vector<int64_t>& v, double p);

struct ProcStat {
  double cpu_seconds = 0;  // utime + stime
  int64_t rss_kb = 0;      // VmRSS
  int64_t hwm_kb = 0;      // VmHWM (peak RSS)
  int threads = 0;
};
// Reads /proc/<pid>/stat and /proc/<pid>/status; nullopt if gone.
std::optional<ProcStat> ReadProcStat(pid_t pid);
// This process's CPU seconds (user + sys, all threads).
double SelfCpuSeconds();

// A child process with stdout and stderr going to `log_path`.
struct Child {
  pid_t pid = -1;
  std::string log_path;
};
std::optional<Child> Spawn(const std::vector<std::string>& argv,
                           const std::string& log_path,
                           const std::map<std::string, std::string>& env = {});
// Waits for the child; its exit status (or -1) and resource usage.
int WaitChild(pid_t pid, struct rusage* usage);
// SIGTERM, wait up to `timeout_ms`, then SIGKILL; returns the exit status.
int StopChild(pid_t pid, int timeout_ms);

std::string ReadFile(const std::string& path);
bool WriteFile(const std::string& path, const std::string& content);
// A fresh directory under $TMPDIR (or /tmp).
std::string MakeTempDir(const std::string& prefix);
void RemoveTree(const std::string& path);

// A blocking HTTP/1.1 keep-alive connection to 127.0.0.1:<port>.
class HttpConnection {
 public:
  explicit HttpConnection(int port);
  ~HttpConnection();
  bool ok() const { return fd_ >= 0; }
  // Sends `request` (complete bytes) and reads one response; returns its
  // status code (or -1) and fills `body`.
  int RoundTrip(const std::string& request, std::string* body = nullptr);

 private:
  int fd_ = -1;
  std::string buffer_;
};

// GET http://<host:port><path> with Connection: close; the body, or
// nullopt.
std::optional<std::string> HttpGet(const std::string& host_port,
                                   const std::string& path);

}  // namespace herald::bench

#endif  // HERALD_TESTS_BENCH_BENCH_UTIL_H_
