// Measures the test guest under Debian's QEMU: seconds from starting QEMU to
// the ready marker, and UDP round trips (echo and memcached get) p50/p99 with
// the guest's virtio notifications per request, through QEMU user networking or
// (mode "tap", root) a TAP device in a private network namespace.
// Usage: testguest_bench [boots] [requests] [user|tap]
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include "host/testguest/qemu_runner.h"

using twinstep::testguest::QemuConfig;
using twinstep::testguest::QemuGuest;
using twinstep::testguest::TapNetns;
using twinstep::testguest::UdpClient;

namespace {

double Percentile(std::vector<double> v, double p) {
  std::sort(v.begin(), v.end());
  return v[std::min(v.size() - 1, static_cast<size_t>(p * static_cast<double>(v.size())))];
}

long Stat(const std::string& stats, const std::string& name) {
  auto at = stats.find("STAT " + name + " ");
  return at == std::string::npos ? -1 : std::atol(stats.c_str() + at + 6 + name.size());
}

}  // namespace

int main(int argc, char** argv) {
  int boots = argc > 1 ? std::atoi(argv[1]) : 10;
  int requests = argc > 2 ? std::atoi(argv[2]) : 20000;
  char tmpl[] = "/tmp/twinstep-testguest-bench-XXXXXX";
  if (!mkdtemp(tmpl)) {
    std::perror("mkdtemp");
    return 1;
  }
  bool tap = argc > 3 && std::string(argv[3]) == "tap";
  QemuConfig config;
  config.work_dir = tmpl;
  config.disk = std::string(tmpl) + "/disk.img";  // sets are persisted: 64 MiB of log
  std::ofstream(config.disk).close();
  std::filesystem::resize_file(config.disk, 64 << 20);
  std::unique_ptr<TapNetns> ns;
  if (tap) {
    auto n = TapNetns::Create();
    if (!n) {
      std::fprintf(stderr, "testguest_bench: %s\n", n.error().ToString().c_str());
      return 1;
    }
    ns = std::move(*n);
    config.tap = TapNetns::kTap;
    config.append = std::string("ip=") + TapNetns::kGuestAddress + " gw=" + TapNetns::kHostAddress;
  }
  std::vector<double> boot_s;
  std::unique_ptr<QemuGuest> guest;
  for (int i = 0; i < boots; i++) {
    auto g = QemuGuest::Start(config);
    if (!g) {
      std::fprintf(stderr, "testguest_bench: %s\n", g.error().ToString().c_str());
      return 1;
    }
    boot_s.push_back((*g)->seconds_to_ready());
    guest = std::move(*g);
    if (i + 1 < boots) guest->Stop();
  }
  std::printf("net=%s accel=%s boots=%d start-to-ready ms: min %.1f p50 %.1f max %.1f\n", tap ? "tap" : "user", guest->accel().c_str(), boots,
              1e3 * Percentile(boot_s, 0), 1e3 * Percentile(boot_s, 0.5), 1e3 * Percentile(boot_s, 1.0));

  auto client = UdpClient::Open(tap ? TapNetns::kGuestAddress : "127.0.0.1");
  if (!client) return 1;
  auto& c = **client;
  if (!c.Memcache(guest->memcache_port(), "set bench 0 0 32\r\n01234567890123456789012345678901\r\n")) return 1;
  auto before = c.Memcache(guest->memcache_port(), "stats\r\n");
  for (const char* kind : {"udp-echo", "memcached-get", "memcached-set"}) {
    std::vector<double> rtt_us;
    int lost = 0;
    auto start = std::chrono::steady_clock::now();
    for (int i = 0; i < requests; i++) {
      auto t0 = std::chrono::steady_clock::now();
      std::string k(kind);
      bool ok = k == "udp-echo"
                    ? static_cast<bool>(c.Exchange(guest->echo_port(), "0123456789abcdef0123456789abcdef", 1000, 1))
                : k == "memcached-get"
                    ? static_cast<bool>(c.Memcache(guest->memcache_port(), "get bench\r\n", 1000, 1))
                    : static_cast<bool>(c.Memcache(guest->memcache_port(),
                                                   "set bench 0 0 32\r\n01234567890123456789012345678901\r\n", 1000, 1));
      auto t1 = std::chrono::steady_clock::now();
      if (!ok) {
        lost++;
        continue;
      }
      rtt_us.push_back(std::chrono::duration<double, std::micro>(t1 - t0).count());
    }
    double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    if (rtt_us.empty()) return 1;
    std::printf("%s requests=%d lost=%d rtt us: p50 %.1f p99 %.1f; one client, closed loop: %.0f requests/s\n", kind,
                requests, lost, Percentile(rtt_us, 0.5), Percentile(rtt_us, 0.99),
                static_cast<double>(rtt_us.size()) / secs);
  }
  auto after = c.Memcache(guest->memcache_port(), "stats\r\n");
  if (before && after) {
    long n = Stat(*after, "virtio_notifies") - Stat(*before, "virtio_notifies");
    std::printf("guest virtio-net notifications (exits) per request, echo and get: %.3f\n",
                static_cast<double>(n) / (3.0 * requests));
  }
  guest->Stop();
  ns.reset();
  std::filesystem::remove_all(tmpl);
  return 0;
}
