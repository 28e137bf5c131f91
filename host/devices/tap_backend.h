// A NetBackend on a Linux TAP device (/dev/net/tun, IFF_TAP | IFF_NO_PI),
// non-blocking: the interface must exist or be creatable by this process.
#pragma once

#include <memory>
#include <string>

#include "host/devices/net_backend.h"
#include "host/error.h"

namespace twinstep::host {

class TapBackend : public NetBackend {
 public:
  static Result<std::unique_ptr<TapBackend>> Open(const std::string& ifname);
  ~TapBackend() override;
  NetStatus Send(std::span<const uint8_t> frame) override;
  NetStatus Receive(std::span<uint8_t> buf, size_t* len) override;
  int ReadableFd() const override { return fd_; }
  const std::string& name() const { return name_; }

 private:
  TapBackend(int fd, std::string name) : fd_(fd), name_(std::move(name)) {}
  int fd_;
  std::string name_;
};

}  // namespace twinstep::host
