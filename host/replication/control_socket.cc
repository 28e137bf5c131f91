// The node's control socket (see control_socket.h).
#include "host/replication/control_socket.h"

#include <poll.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

namespace twinstep::replication {

bool ControlSocket::Start(const std::string& path, Handler handler, std::string* error) {
  sockaddr_un addr{};
  if (path.size() >= sizeof addr.sun_path) {
    *error = "control socket path '" + path + "' is longer than " + std::to_string(sizeof addr.sun_path - 1) + " bytes";
    return false;
  }
  fd_ = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd_ < 0) {
    *error = std::string("control socket: ") + std::strerror(errno);
    return false;
  }
  addr.sun_family = AF_UNIX;
  std::memcpy(addr.sun_path, path.c_str(), path.size());
  unlink(path.c_str());
  // sockaddr_un is the sockaddr this AF_UNIX socket expects.
  if (bind(fd_, reinterpret_cast<const sockaddr*>(&addr), sizeof addr) != 0 || listen(fd_, 8) != 0) {
    *error = "control socket '" + path + "': " + std::strerror(errno);
    close(fd_);
    fd_ = -1;
    return false;
  }
  path_ = path;
  handler_ = std::move(handler);
  thread_ = std::thread([this] { Serve(); });
  return true;
}

ControlSocket::~ControlSocket() {
  stop_ = true;
  if (thread_.joinable()) thread_.join();
  if (fd_ >= 0) {
    close(fd_);
    unlink(path_.c_str());
  }
}

void ControlSocket::Serve() {
  while (!stop_) {
    pollfd p{fd_, POLLIN, 0};
    if (poll(&p, 1, 100) <= 0) continue;
    const int c = accept4(fd_, nullptr, nullptr, SOCK_CLOEXEC);
    if (c < 0) continue;
    std::string request;
    char buf[512];
    pollfd cp{c, POLLIN, 0};
    while (request.find('\n') == std::string::npos && request.size() < 4096 && poll(&cp, 1, 1000) > 0) {
      const ssize_t n = read(c, buf, sizeof buf);
      if (n <= 0) break;
      request.append(buf, static_cast<size_t>(n));
    }
    if (const size_t nl = request.find('\n'); nl != std::string::npos) request.resize(nl);
    const std::string reply = handler_(request) + "\n";
    (void)!write(c, reply.data(), reply.size());
    close(c);
  }
}

}  // namespace twinstep::replication
