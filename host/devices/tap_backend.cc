// TapBackend: TUNSETIFF, then one read() or write() per frame.
#include "host/devices/tap_backend.h"

#include <fcntl.h>
#include <linux/if.h>
#include <linux/if_tun.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

namespace twinstep::host {

Result<std::unique_ptr<TapBackend>> TapBackend::Open(const std::string& ifname) {
  if (ifname.empty() || ifname.size() >= IFNAMSIZ) {
    return Fail(Errc::kArgument, "TAP interface name '" + ifname + "' is empty or longer than 15 bytes");
  }
  const int fd = open("/dev/net/tun", O_RDWR | O_NONBLOCK | O_CLOEXEC);
  if (fd < 0) return FailErrno(Errc::kBackend, "open /dev/net/tun");
  ifreq ifr{};
  ifr.ifr_flags = IFF_TAP | IFF_NO_PI;
  std::strncpy(ifr.ifr_name, ifname.c_str(), IFNAMSIZ - 1);
  // ifr is a complete ifreq; TUNSETIFF only reads name and flags.
  if (ioctl(fd, TUNSETIFF, &ifr) != 0) {
    auto e = FailErrno(Errc::kBackend, "TUNSETIFF " + ifname);
    close(fd);
    return e;
  }
  return std::unique_ptr<TapBackend>(new TapBackend(fd, ifr.ifr_name));
}

TapBackend::~TapBackend() { close(fd_); }

NetStatus TapBackend::Send(std::span<const uint8_t> frame) {
  const ssize_t n = write(fd_, frame.data(), frame.size());
  if (n >= 0) return NetStatus::kOk;
  return (errno == EAGAIN || errno == EINTR) ? NetStatus::kAgain : NetStatus::kError;
}

NetStatus TapBackend::Receive(std::span<uint8_t> buf, size_t* len) {
  const ssize_t n = read(fd_, buf.data(), buf.size());
  if (n > 0) {
    *len = static_cast<size_t>(n);
    return NetStatus::kOk;
  }
  return (n < 0 && (errno == EAGAIN || errno == EINTR)) ? NetStatus::kAgain : NetStatus::kError;
}

}  // namespace twinstep::host
