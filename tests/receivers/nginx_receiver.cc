#include "tests/receivers/nginx_receiver.h"

#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <system_error>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/string_view.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"

namespace herald::receivers {
namespace {

constexpr char kNginx[] = "/usr/sbin/nginx";

int FreePort() {
  const int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t len = sizeof(addr);
  bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr));
  getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len);
  close(fd);
  return ntohs(addr.sin_port);
}

bool Accepts(int port) {
  const int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  addr.sin_port = htons(static_cast<uint16_t>(port));
  const bool ok =
      connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) == 0;
  close(fd);
  return ok;
}

}  // namespace

bool NginxReceiver::Available() { return access(kNginx, X_OK) == 0; }

absl::StatusOr<std::unique_ptr<NginxReceiver>> NginxReceiver::Start(
    Options options) {
  if (!Available()) return absl::NotFoundError("nginx is not installed");
  std::unique_ptr<NginxReceiver> n(new NginxReceiver());
  n->tls_ = options.tls;
  namespace fs = std::filesystem;
  std::string tmpl = (fs::temp_directory_path() / "herald_nginx_XXXXXX").string();
  if (mkdtemp(tmpl.data()) == nullptr) {
    return absl::InternalError("mkdtemp failed");
  }
  n->dir_ = tmpl;
  const fs::path dir(n->dir_);
  fs::create_directories(dir / "logs");

  std::string tls_lines;
  if (options.tls) {
    TlsIdentity id;
    if (options.identity.has_value()) {
      id = *options.identity;
    } else {
      absl::StatusOr<TlsIdentity> generated = GenerateTlsIdentity();
      if (!generated.ok()) return generated.status();
      id = *std::move(generated);
    }
    n->ca_pem_ = id.ca_pem;
    std::ofstream(dir / "cert.pem") << id.cert_pem;
    std::ofstream(dir / "key.pem") << id.key_pem;
    tls_lines = absl::StrCat("    ssl_certificate ", (dir / "cert.pem").string(),
                             ";\n    ssl_certificate_key ",
                             (dir / "key.pem").string(), ";\n");
  }

  // The port is picked before nginx binds it; retry if someone took it.
  for (int attempt = 0; attempt < 3; ++attempt) {
    n->port_ = FreePort();
    std::ofstream conf(dir / "nginx.conf");
    if (geteuid() == 0) conf << "user root;\n";
    conf << "worker_processes 1;\ndaemon off;\nmaster_process off;\n"
         << "error_log " << (dir / "logs/error.log").string() << " error;\n"
         << "pid " << (dir / "nginx.pid").string() << ";\n"
         << "events { worker_connections 8192; }\n"
         << "http {\n  access_log off;\n  keepalive_requests 100000000;\n"
         << "  keepalive_timeout 120s;\n"
         << "  client_body_temp_path " << (dir / "body").string() << ";\n"
         << "  proxy_temp_path " << (dir / "proxy").string() << ";\n"
         << "  fastcgi_temp_path " << (dir / "fastcgi").string() << ";\n"
         << "  uwsgi_temp_path " << (dir / "uwsgi").string() << ";\n"
         << "  scgi_temp_path " << (dir / "scgi").string() << ";\n"
         << "  server {\n    listen 127.0.0.1:" << n->port_
         << (options.tls ? " ssl http2" : "") << ";\n"
         << tls_lines << "    location / { " << options.location << " }\n"
         << "  }\n}\n";
    conf.close();

    const std::string prefix = n->dir_ + "/";
    const std::string file = (dir / "nginx.conf").string();
    const pid_t pid = fork();
    if (pid < 0) return absl::InternalError("fork failed");
    if (pid == 0) {
      execl(kNginx, "nginx", "-p", prefix.c_str(), "-c", file.c_str(),
            static_cast<char*>(nullptr));
      _exit(127);
    }
    n->pid_ = pid;
    for (int i = 0; i < 500; ++i) {
      if (Accepts(n->port_)) return n;
      int status = 0;
      if (waitpid(pid, &status, WNOHANG) == pid) {  // exited: bind failed?
        n->pid_ = -1;
        break;
      }
      absl::SleepFor(absl::Milliseconds(10));
    }
    if (n->pid_ > 0) {
      kill(n->pid_, SIGKILL);
      waitpid(n->pid_, nullptr, 0);
      n->pid_ = -1;
    }
  }
  std::ifstream log(dir / "logs/error.log");
  std::string why((std::istreambuf_iterator<char>(log)), {});
  return absl::InternalError(absl::StrCat("nginx did not start: ", why));
}

NginxReceiver::~NginxReceiver() {
  if (pid_ > 0) {
    kill(pid_, SIGTERM);
    waitpid(pid_, nullptr, 0);
  }
  std::error_code ignored;
  if (!dir_.empty()) std::filesystem::remove_all(dir_, ignored);
}

std::string NginxReceiver::base_url() const {
  return absl::StrCat(tls_ ? "https" : "http", "://127.0.0.1:", port_);
}

std::string NginxReceiver::url(std::string_view path) const {
  return absl::StrCat(base_url(), absl::string_view(path.data(), path.size()));
}

}  // namespace herald::receivers
