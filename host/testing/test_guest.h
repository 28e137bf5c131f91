// Test support: the project's test guest in a Machine, reached through the
// loopback backend (UDP echo, memcached), with a temporary disk.
#pragma once

#include <gtest/gtest.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <functional>
#include <memory>
#include <string>
#include <thread>

#include "host/devices/loopback_backend.h"
#include "host/machine.h"
#include "host/testing/frames.h"

namespace twinstep::host::testing {

inline constexpr Mac kGuestMac = {0x52, 0x54, 0x00, 0x12, 0x34, 0x56};
inline constexpr Mac kClientMac = {0x02, 0, 0, 0, 0, 1};
inline constexpr Ip4 kGuestIp = {10, 0, 2, 15};
inline constexpr Ip4 kClientIp = {10, 0, 2, 2};

inline bool WaitFor(const std::function<bool()>& cond, int timeout_ms) {
  const auto end = std::chrono::steady_clock::now() + std::chrono::milliseconds(timeout_ms);
  while (std::chrono::steady_clock::now() < end) {
    if (cond()) return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(2));
  }
  return cond();
}

// A temporary raw disk image, removed at the end.
struct TempDisk {
  std::string path;
  explicit TempDisk(uint64_t bytes) {
    char tmpl[] = "/tmp/twinstep-disk-XXXXXX";
    const int fd = mkstemp(tmpl);
    path = tmpl;
    if (fd >= 0) {
      (void)!ftruncate(fd, static_cast<off_t>(bytes));
      close(fd);
    }
  }
  ~TempDisk() { std::remove(path.c_str()); }
};

struct Guest {
  LoopbackBackend net;
  std::unique_ptr<Machine> m;

  // Creates the machine; with boot, loads the test guest and starts it.
  bool Create(const std::string& disk) {
    MachineConfig c;
    c.mem_bytes = 64ull << 20;
    c.console_fd = -1;
    c.keep_console = true;
    c.disk = disk;
    c.net = &net;
    auto mm = Machine::Create(c);
    if (!mm) {
      ADD_FAILURE() << mm.error().ToString();
      return false;
    }
    m = std::move(*mm);
    return true;
  }
  bool Boot(const std::string& disk) {
    if (!Create(disk)) return false;
    auto s = m->Boot(TWINSTEP_TESTGUEST_ELF, "", "ip=10.0.2.15");
    if (!s) {
      ADD_FAILURE() << s.error().ToString();
      return false;
    }
    return static_cast<bool>(m->Start());
  }
  bool WaitReady() {
    const bool ok = WaitFor([this] { return m->uart().output().find("twinstep-testguest: ready") != std::string::npos; }, 60000);
    if (!ok) ADD_FAILURE() << "no ready marker; console:\n" << m->uart().output() << "\nstop: " << m->vm().WaitForStop(0).ToString();
    return ok;
  }
  // Sends one UDP datagram to the guest and returns the payload of its reply.
  std::string Ask(uint16_t port, const std::string& payload) {
    UdpDatagram d{kClientMac, kGuestMac, kClientIp, kGuestIp, 40000, port, payload};
    EXPECT_TRUE(net.Inject(BuildUdpFrame(d)));
    std::string reply;
    WaitFor(
        [&] {
          while (auto f = net.TakeSent()) {
            auto u = ParseUdpFrame(*f);
            if (u && u->src_port == port && u->dst_port == 40000) {
              reply = u->payload;
              return true;
            }
          }
          return false;
        },
        20000);
    return reply;
  }
};

inline std::string Memcached(const std::string& cmd) {
  std::string hdr = {0, 1, 0, 0, 0, 1, 0, 0};  // request id 1, seq 0, 1 datagram
  return hdr + cmd;
}

}  // namespace twinstep::host::testing
