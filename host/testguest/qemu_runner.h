// Starts the test guest under Debian's qemu-system-x86_64 (user networking with
// UDP port forwards, an optional virtio-blk disk) and talks to it over UDP.
#ifndef TWINSTEP_HOST_TESTGUEST_QEMU_RUNNER_H_
#define TWINSTEP_HOST_TESTGUEST_QEMU_RUNNER_H_

#include <sys/types.h>

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>

#include "common/expected.h"

namespace twinstep::testguest {

enum class RunErrorCode {
  kNoQemu,    // qemu-system-x86_64 is not on PATH
  kNoImage,   // the guest image is missing
  kSpawn,     // QEMU could not be started
  kExited,    // QEMU exited before the guest was ready
  kNotReady,  // no ready marker within the bounded wait
  kSocket,    // a host socket call failed
  kTimeout,   // no reply from the guest after every retry
  kNetns,     // the network namespace or TAP device could not be set up
};
const char* RunErrorMessage(RunErrorCode code);

struct RunError {
  RunErrorCode code;
  std::string detail;
  std::string ToString() const;
};

struct QemuConfig {
  std::string image = TWINSTEP_TESTGUEST_ELF;
  std::string disk;          // raw disk image for virtio-blk; empty: no disk
  std::string append;        // the guest's command line
  std::string work_dir;      // console.log and qemu.log are written here
  int mem_mib = 64;
  int ready_timeout_s = 120; // bounded wait for the ready marker
  // For the Linux guest (scripts/linux-guest): an initramfs, its marker, TCG
  // (Linux does not boot on this software KVM), and TCP 7 and 80 forwarded.
  std::string initrd;
  std::string ready_marker = "twinstep-testguest: ready\n";
  bool force_tcg = false;
  bool forward_tcp = false;
  // A TAP device (in the current network namespace) instead of user networking;
  // the guest is then reached at its own address, ports 7 and 11211.
  std::string tap;
};

inline constexpr std::string_view kReadyMarker = "twinstep-testguest: ready\n";

class QemuGuest {
 public:
  // Starts QEMU (KVM when /dev/kvm opens, else TCG; the environment variable
  // TWINSTEP_QEMU_ACCEL overrides) and waits for the marker.
  static Expected<std::unique_ptr<QemuGuest>, RunError> Start(const QemuConfig& config);
  ~QemuGuest();
  QemuGuest(const QemuGuest&) = delete;
  QemuGuest& operator=(const QemuGuest&) = delete;

  void Stop();  // SIGTERM, then waits; idempotent
  uint16_t echo_port() const { return echo_port_; }
  uint16_t memcache_port() const { return memcache_port_; }
  uint16_t tcp_echo_port() const { return tcp_echo_port_; }  // forward_tcp only
  uint16_t http_port() const { return http_port_; }          // forward_tcp only
  const std::string& accel() const { return accel_; }
  double seconds_to_ready() const { return seconds_to_ready_; }
  std::string Console() const;

 private:
  QemuGuest() = default;
  pid_t pid_ = -1;
  uint16_t echo_port_ = 0, memcache_port_ = 0, tcp_echo_port_ = 0, http_port_ = 0;
  std::string accel_, console_path_;
  double seconds_to_ready_ = 0;
};

// One UDP socket on 127.0.0.1 for requests to the guest's forwarded ports.
class UdpClient {
 public:
  // host: the address requests go to (127.0.0.1 for user networking's forwards).
  static Expected<std::unique_ptr<UdpClient>, RunError> Open(const std::string& host = "127.0.0.1");
  ~UdpClient();
  UdpClient(const UdpClient&) = delete;
  UdpClient& operator=(const UdpClient&) = delete;

  // Sends payload and returns the first reply; resends up to tries times.
  Expected<std::string, RunError> Exchange(uint16_t port, std::string_view payload, int timeout_ms, int tries);
  // A memcached ASCII request in one UDP frame; the reply's datagrams are
  // reassembled by sequence number. Retries only if no reply at all arrived.
  Expected<std::string, RunError> Memcache(uint16_t port, std::string_view text, int timeout_ms = 2000,
                                           int tries = 3);

 private:
  UdpClient(int fd, uint32_t host) : fd_(fd), host_(host) {}
  bool SendTo(uint16_t port, std::string_view payload);
  int fd_;
  uint32_t host_;  // network byte order
  uint16_t next_request_id_ = 1;
};

// A network namespace with a TAP device, entered by the whole process for its
// lifetime (QEMU and sockets started meanwhile live in it); the destructor
// returns to the original namespace and deletes the namespace with the TAP.
class TapNetns {
 public:
  static constexpr const char* kTap = "tstap0";
  static constexpr const char* kHostAddress = "10.77.0.1";   // on the TAP, /24
  static constexpr const char* kGuestAddress = "10.77.0.2";
  static Expected<std::unique_ptr<TapNetns>, RunError> Create();
  ~TapNetns();
  TapNetns(const TapNetns&) = delete;
  TapNetns& operator=(const TapNetns&) = delete;
  const std::string& name() const { return name_; }

 private:
  TapNetns() = default;
  std::string name_;
  int original_ns_fd_ = -1;
};

// True when qemu-system-x86_64 is on PATH; the reason otherwise.
bool QemuAvailable(std::string* reason);

}  // namespace twinstep::testguest

#endif  // TWINSTEP_HOST_TESTGUEST_QEMU_RUNNER_H_
