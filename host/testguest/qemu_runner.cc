// Starts the test guest under Debian's qemu-system-x86_64 and talks to it over UDP.
#include "host/testguest/qemu_runner.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <sched.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <chrono>
#include <cstring>
#include <fstream>
#include <map>
#include <sstream>
#include <thread>
#include <vector>

extern char** environ;

namespace twinstep::testguest {
namespace {

constexpr const char* kQemu = "qemu-system-x86_64";
// qboot (Debian ships it as bios-microvm.bin) boots PVH in milliseconds; SeaBIOS,
// whose ring-0 code this software KVM emulates, takes seconds.
constexpr const char* kQboot = "/usr/share/qemu/bios-microvm.bin";

std::string Errno(const char* what) { return std::string(what) + ": " + std::strerror(errno); }

// An unused port on 127.0.0.1 (bound and released; QEMU binds it next).
Expected<uint16_t, RunError> FreePort(int type = SOCK_DGRAM) {
  int fd = socket(AF_INET, type, 0);
  if (fd < 0) return MakeUnexpected(RunError{RunErrorCode::kSocket, Errno("socket")});
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t len = sizeof a;
  // bind/getsockname take a sockaddr*: sockaddr_in is its IPv4 layout.
  if (bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0 ||
      getsockname(fd, reinterpret_cast<sockaddr*>(&a), &len) != 0) {
    std::string e = Errno("bind");
    close(fd);
    return MakeUnexpected(RunError{RunErrorCode::kSocket, e});
  }
  close(fd);
  return ntohs(a.sin_port);
}

bool KvmUsable() {
  int fd = open("/dev/kvm", O_RDWR | O_CLOEXEC);
  if (fd < 0) return false;
  close(fd);
  return true;
}

std::string ReadFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::ostringstream s;
  s << in.rdbuf();
  return s.str();
}

}  // namespace

const char* RunErrorMessage(RunErrorCode code) {
  switch (code) {
    case RunErrorCode::kNoQemu: return "qemu-system-x86_64 is not installed";
    case RunErrorCode::kNoImage: return "the test guest image is missing";
    case RunErrorCode::kSpawn: return "QEMU could not be started";
    case RunErrorCode::kExited: return "QEMU exited before the guest was ready";
    case RunErrorCode::kNotReady: return "the guest printed no ready marker within the wait";
    case RunErrorCode::kSocket: return "a host socket call failed";
    case RunErrorCode::kTimeout: return "the guest did not reply";
    case RunErrorCode::kNetns: return "the network namespace or TAP device could not be set up";
  }
  return "unknown error";
}

std::string RunError::ToString() const { return std::string(RunErrorMessage(code)) + ": " + detail; }

bool QemuAvailable(std::string* reason) {
  const char* path = getenv("PATH");
  std::stringstream dirs(path ? path : "/usr/bin");
  for (std::string dir; std::getline(dirs, dir, ':');)
    if (access((dir + "/" + kQemu).c_str(), X_OK) == 0) return true;
  if (reason) *reason = std::string(kQemu) + " not found on PATH (package qemu-system-x86)";
  return false;
}

Expected<std::unique_ptr<QemuGuest>, RunError> QemuGuest::Start(const QemuConfig& config) {
  std::string reason;
  if (!QemuAvailable(&reason)) return MakeUnexpected(RunError{RunErrorCode::kNoQemu, reason});
  struct stat st;
  if (stat(config.image.c_str(), &st) != 0)
    return MakeUnexpected(RunError{RunErrorCode::kNoImage, config.image});
  auto echo = FreePort();
  if (!echo) return MakeUnexpected(echo.error());
  auto mc = FreePort();
  if (!mc) return MakeUnexpected(mc.error());
  auto tcp_echo = FreePort(SOCK_STREAM);
  if (!tcp_echo) return MakeUnexpected(tcp_echo.error());
  auto http = FreePort(SOCK_STREAM);
  if (!http) return MakeUnexpected(http.error());

  std::unique_ptr<QemuGuest> g(new QemuGuest());
  g->echo_port_ = *echo;
  g->memcache_port_ = *mc;
  g->accel_ = KvmUsable() && !config.force_tcg ? "kvm" : "tcg";
  if (const char* forced = getenv("TWINSTEP_QEMU_ACCEL"); forced && *forced) g->accel_ = forced;
  g->console_path_ = config.work_dir + "/console.log";
  unlink(g->console_path_.c_str());
  std::string qemu_log = config.work_dir + "/qemu.log";

  std::vector<std::string> args = {kQemu, "-accel", g->accel_, "-m", std::to_string(config.mem_mib),
                                   "-nographic", "-nodefaults", "-no-reboot", "-no-user-config",
                                   "-serial", "file:" + g->console_path_, "-kernel", config.image,
                                   "-append", config.append};
  if (access(kQboot, R_OK) == 0) args.insert(args.end(), {"-bios", kQboot});
  if (!config.initrd.empty()) args.insert(args.end(), {"-initrd", config.initrd});
  std::string net = !config.tap.empty() ? "tap,id=n0,ifname=" + config.tap + ",script=no,downscript=no,vhost=off"
                                        : "user,id=n0,hostfwd=udp:127.0.0.1:" + std::to_string(*echo) + "-:7,hostfwd=udp:127.0.0.1:" +
                    std::to_string(*mc) + "-:11211";
  if (!config.tap.empty()) {
    g->echo_port_ = 7;
    g->memcache_port_ = 11211;
  } else if (config.forward_tcp) {
    g->tcp_echo_port_ = *tcp_echo;
    g->http_port_ = *http;
    net += ",hostfwd=tcp:127.0.0.1:" + std::to_string(*tcp_echo) + "-:7,hostfwd=tcp:127.0.0.1:" +
           std::to_string(*http) + "-:80";
  }
  args.insert(args.end(), {"-netdev", net, "-device", "virtio-net-pci,netdev=n0,disable-legacy=on,romfile="});
  if (!config.disk.empty())
    args.insert(args.end(), {"-drive", "file=" + config.disk + ",if=none,format=raw,id=d0", "-device",
                             "virtio-blk-pci,drive=d0,disable-legacy=on"});
  std::vector<char*> argv;
  for (auto& a : args) argv.push_back(a.data());
  argv.push_back(nullptr);

  posix_spawn_file_actions_t fa;
  posix_spawn_file_actions_init(&fa);
  posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0);
  posix_spawn_file_actions_addopen(&fa, 1, qemu_log.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
  posix_spawn_file_actions_adddup2(&fa, 1, 2);
  auto t0 = std::chrono::steady_clock::now();
  int rc = posix_spawnp(&g->pid_, kQemu, &fa, nullptr, argv.data(), environ);
  posix_spawn_file_actions_destroy(&fa);
  if (rc != 0) {
    g->pid_ = -1;
    return MakeUnexpected(RunError{RunErrorCode::kSpawn, std::strerror(rc)});
  }
  auto deadline = t0 + std::chrono::seconds(config.ready_timeout_s);
  while (true) {
    if (ReadFile(g->console_path_).find(config.ready_marker) != std::string::npos) break;
    int status;
    if (waitpid(g->pid_, &status, WNOHANG) == g->pid_) {
      g->pid_ = -1;
      return MakeUnexpected(RunError{RunErrorCode::kExited, "qemu log: " + ReadFile(qemu_log) +
                                                                 " console: " + g->Console()});
    }
    if (std::chrono::steady_clock::now() > deadline)
      return MakeUnexpected(RunError{RunErrorCode::kNotReady, "console: " + g->Console()});
    std::this_thread::sleep_for(std::chrono::milliseconds(config.initrd.empty() ? 2 : 100));
  }
  g->seconds_to_ready_ = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  return g;
}

QemuGuest::~QemuGuest() { Stop(); }

void QemuGuest::Stop() {
  if (pid_ <= 0) return;
  kill(pid_, SIGTERM);
  int status;
  waitpid(pid_, &status, 0);
  pid_ = -1;
}

std::string QemuGuest::Console() const { return ReadFile(console_path_); }

Expected<std::unique_ptr<UdpClient>, RunError> UdpClient::Open(const std::string& host) {
  in_addr addr{};
  if (inet_pton(AF_INET, host.c_str(), &addr) != 1)
    return MakeUnexpected(RunError{RunErrorCode::kSocket, "not an IPv4 address: " + host});
  int fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return MakeUnexpected(RunError{RunErrorCode::kSocket, Errno("socket")});
  return std::unique_ptr<UdpClient>(new UdpClient(fd, addr.s_addr));
}

UdpClient::~UdpClient() { close(fd_); }

namespace {

// One datagram, or nothing within timeout_ms.
bool Receive(int fd, int timeout_ms, std::string* out) {
  pollfd p{fd, POLLIN, 0};
  if (poll(&p, 1, timeout_ms) <= 0) return false;
  char buf[65536];
  ssize_t n = recv(fd, buf, sizeof buf, 0);
  if (n < 0) return false;
  out->assign(buf, static_cast<size_t>(n));
  return true;
}

}  // namespace

bool UdpClient::SendTo(uint16_t port, std::string_view payload) {
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_port = htons(port);
  a.sin_addr.s_addr = host_;
  // sendto takes a sockaddr*: sockaddr_in is its IPv4 layout.
  return sendto(fd_, payload.data(), payload.size(), 0, reinterpret_cast<sockaddr*>(&a), sizeof a) ==
         static_cast<ssize_t>(payload.size());
}

Expected<std::string, RunError> UdpClient::Exchange(uint16_t port, std::string_view payload, int timeout_ms,
                                                    int tries) {
  for (int i = 0; i < tries; i++) {
    if (!SendTo(port, payload)) return MakeUnexpected(RunError{RunErrorCode::kSocket, Errno("sendto")});
    std::string reply;
    if (Receive(fd_, timeout_ms, &reply)) return reply;
  }
  return MakeUnexpected(RunError{RunErrorCode::kTimeout, "no reply on port " + std::to_string(port)});
}

Expected<std::string, RunError> UdpClient::Memcache(uint16_t port, std::string_view text, int timeout_ms,
                                                    int tries) {
  for (int attempt = 0; attempt < tries; attempt++) {
    uint16_t id = next_request_id_++;
    std::string frame = {static_cast<char>(id >> 8), static_cast<char>(id), 0, 0, 0, 1, 0, 0};
    frame.append(text);
    if (!SendTo(port, frame)) return MakeUnexpected(RunError{RunErrorCode::kSocket, Errno("sendto")});
    std::map<uint16_t, std::string> parts;
    uint16_t total = 0;
    std::string d;
    while (Receive(fd_, timeout_ms, &d)) {
      if (d.size() < 8) continue;
      auto u16 = [&d](size_t i) {
        return static_cast<uint16_t>((static_cast<uint8_t>(d[i]) << 8) | static_cast<uint8_t>(d[i + 1]));
      };
      if (u16(0) != id) continue;  // a late reply to an earlier attempt
      total = u16(4);
      parts[u16(2)] = d.substr(8);
      if (parts.size() == total) {
        std::string all;
        for (auto& [seq, part] : parts) all += part;
        return all;
      }
    }
    if (!parts.empty())
      return MakeUnexpected(RunError{RunErrorCode::kTimeout, "partial memcached reply (" +
                                                                 std::to_string(parts.size()) + " of " +
                                                                 std::to_string(total) + " datagrams)"});
  }
  return MakeUnexpected(RunError{RunErrorCode::kTimeout, "no memcached reply on port " + std::to_string(port)});
}

namespace {

// Runs an ip(8) command line; false (with its output in *err) on failure.
bool Ip(const std::string& args, std::string* err) {
  std::string cmd = "ip " + args + " 2>&1";
  FILE* p = popen(cmd.c_str(), "r");
  if (!p) return false;
  char buf[512];
  std::string out;
  while (fgets(buf, sizeof buf, p)) out += buf;
  int rc = pclose(p);
  if (rc != 0) *err = cmd + ": " + out;
  return rc == 0;
}

}  // namespace

Expected<std::unique_ptr<TapNetns>, RunError> TapNetns::Create() {
  std::unique_ptr<TapNetns> ns(new TapNetns());
  ns->name_ = "twinstep-tg-" + std::to_string(getpid());
  std::string err;
  if (!Ip("netns add " + ns->name_, &err)) return MakeUnexpected(RunError{RunErrorCode::kNetns, err});
  ns->original_ns_fd_ = open("/proc/self/ns/net", O_RDONLY | O_CLOEXEC);
  int fd = open(("/var/run/netns/" + ns->name_).c_str(), O_RDONLY | O_CLOEXEC);
  if (ns->original_ns_fd_ < 0 || fd < 0 || setns(fd, CLONE_NEWNET) != 0) {
    err = Errno("entering the namespace");
    if (fd >= 0) close(fd);
    return MakeUnexpected(RunError{RunErrorCode::kNetns, err});  // the destructor deletes it
  }
  close(fd);
  if (!Ip("link set lo up", &err) || !Ip(std::string("tuntap add dev ") + kTap + " mode tap", &err) ||
      !Ip(std::string("addr add ") + kHostAddress + "/24 dev " + kTap, &err) ||
      !Ip(std::string("link set ") + kTap + " up", &err))
    return MakeUnexpected(RunError{RunErrorCode::kNetns, err});
  return ns;
}

TapNetns::~TapNetns() {
  if (original_ns_fd_ >= 0) {
    if (setns(original_ns_fd_, CLONE_NEWNET) != 0) std::perror("TapNetns: returning to the original namespace");
    close(original_ns_fd_);
  }
  std::string err;
  if (!name_.empty() && !Ip("netns del " + name_, &err)) std::fprintf(stderr, "TapNetns: %s\n", err.c_str());
}

}  // namespace twinstep::testguest
