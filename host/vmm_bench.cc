// host_vmm_bench: the VMM's figures for docs/BENCHMARKS.md. Test-guest boot
// time, snapshot size/save/restore of a 512 MiB guest, and dirty-set
// collection at 1k, 10k and 100k dirty pages. Prints one line per figure.
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include "host/boot/layout.h"
#include "host/devices/tap_backend.h"
#include "host/boot/x86_setup.h"
#include "host/devices/loopback_backend.h"
#include "host/machine.h"
#include "host/snapshot/snapshot.h"
#include "host/testing/guest_asm.h"

namespace twinstep::host {
namespace {

using Clock = std::chrono::steady_clock;
double Ms(Clock::duration d) { return std::chrono::duration<double, std::milli>(d).count(); }

double Median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  return v[v.size() / 2];
}

std::unique_ptr<Machine> BootTestGuest(uint64_t mem, LoopbackBackend* net, double* boot_ms) {
  MachineConfig c;
  c.mem_bytes = mem;
  c.console_fd = -1;
  c.keep_console = true;
  c.net = net;
  const auto t0 = Clock::now();
  auto m = Machine::Create(c);
  if (!m || !(*m)->Boot(TWINSTEP_TESTGUEST_ELF, "", "ip=10.0.2.15") || !(*m)->Start()) return nullptr;
  while ((*m)->uart().output().find("twinstep-testguest: ready") == std::string::npos) {
    if (Clock::now() - t0 > std::chrono::seconds(60)) return nullptr;
    std::this_thread::sleep_for(std::chrono::microseconds(200));
  }
  *boot_ms = Ms(Clock::now() - t0);
  return std::move(*m);
}

void BenchBoot() {
  std::vector<double> ms;
  for (int i = 0; i < 5; ++i) {
    LoopbackBackend net;
    double t = 0;
    auto m = BootTestGuest(64ull << 20, &net, &t);
    if (!m) {
      std::printf("boot: test guest did not boot\n");
      return;
    }
    ms.push_back(t);
    m->Pause();
  }
  std::printf("test-guest boot to ready marker (64 MiB, create VM + load + run): median %.1f ms, min %.1f ms of 5\n",
              Median(ms), *std::min_element(ms.begin(), ms.end()));
}

void BenchSnapshot(bool fill) {
  LoopbackBackend net;
  double boot = 0;
  auto m = BootTestGuest(512ull << 20, &net, &boot);
  if (!m) return;
  m->Pause();
  if (fill) {
    // Worst case: every page of RAM above 16 MiB holds data (a busy guest's page cache).
    std::mt19937_64 rng(1);
    GuestMemory& mem = m->vm().memory();
    for (uint64_t off = 16ull << 20; off < mem.size(); off += 8) {
      const uint64_t v = rng();
      std::memcpy(mem.base() + off, &v, 8);
    }
  }
  const std::string path = "/tmp/twinstep-bench.snap";
  std::vector<double> save, restore;
  SnapshotStats st;
  for (int i = 0; i < 3; ++i) {
    const auto t0 = Clock::now();
    auto s = SaveSnapshot(*m, path);
    save.push_back(Ms(Clock::now() - t0));
    if (!s) {
      std::printf("save failed: %s\n", s.error().ToString().c_str());
      return;
    }
    st = *s;
    MachineConfig c;
    c.mem_bytes = 512ull << 20;
    c.console_fd = -1;
    LoopbackBackend net2;
    c.net = &net2;
    auto target = Machine::Create(c);
    const auto t1 = Clock::now();
    auto f = SnapshotFile::Open(path);
    if (!f || !RestoreSnapshot(**target, **f)) {
      std::printf("restore failed\n");
      return;
    }
    restore.push_back(Ms(Clock::now() - t1));
  }
  std::remove(path.c_str());
  std::printf("snapshot 512 MiB guest (%s): file %.1f MiB (%llu non-zero pages), save median %.1f ms, restore (open+verify+apply) median %.1f ms, of 3\n",
              fill ? "test guest + 496 MiB of random data" : "test guest after boot",
              st.file_bytes / 1048576.0, static_cast<unsigned long long>(st.pages_saved), Median(save), Median(restore));
}

void BenchDirty() {
  MachineConfig c;
  c.mem_bytes = 512ull << 20;
  c.console_fd = -1;
  auto m = Machine::Create(c);
  if (!m) return;
  Vm& vm = (*m)->vm();
  for (uint64_t pages : {1000ull, 10000ull, 100000ull}) {
    std::vector<double> ms;
    size_t got = 0;
    for (int rep = 0; rep < 5; ++rep) {
      testing::GuestAsm prog(testing::GuestAsm::Mode::k64);
      prog.MovRdi(16ull << 20).MovRcx(pages).MovAl(static_cast<uint8_t>(rep + 1));
      const size_t loop = prog.here();
      prog.StoreAlAtRdi().AddRdi(kPageSize).DecRcx().Jnz(loop).Exit(0);
      (void)WriteBootTables(vm.memory(), true);
      (void)vm.memory().Write(0x100000, prog.bytes());
      (void)EnterLongMode(vm.vcpu(0), vm.memory(), 0x100000, 0, layout::kBootStack, true);
      (void)vm.DirtyPages();
      vm.ClearStop();
      (void)vm.Start();
      vm.WaitForStop(60000);
      vm.Stop();
      const auto t0 = Clock::now();
      auto d = vm.DirtyPages();
      ms.push_back(Ms(Clock::now() - t0));
      got = d ? d->size() : 0;
    }
    std::printf("dirty-set collection, %llu pages dirtied by the guest (512 MiB VM): median %.3f ms of 5 (returned %zu pages)\n",
                static_cast<unsigned long long>(pages), Median(ms), got);
  }
}

// UDP echo through the TAP backend, closed loop from this process. Run inside a
// private netns: `ip netns exec NS host_vmm_bench udp 20000`.
void BenchUdp(int n) {
  auto tap = TapBackend::Open("tsbench0");
  if (!tap) {
    std::printf("udp: %s\n", tap.error().ToString().c_str());
    return;
  }
  MachineConfig c;
  c.mem_bytes = 64ull << 20;
  c.console_fd = -1;
  c.keep_console = true;
  c.net = tap->get();
  auto m = Machine::Create(c);
  if (!m || !(*m)->Boot(TWINSTEP_TESTGUEST_ELF, "", "ip=10.0.2.15") || !(*m)->Start()) return;
  if (std::system("ip addr add 10.0.2.2/24 dev tsbench0 && ip link set tsbench0 up") != 0) return;
  while ((*m)->uart().output().find("twinstep-testguest: ready") == std::string::npos) {
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
  const int fd = socket(AF_INET, SOCK_DGRAM, 0);
  sockaddr_in to{};
  to.sin_family = AF_INET;
  to.sin_port = htons(7);
  inet_pton(AF_INET, "10.0.2.15", &to.sin_addr);
  timeval tv{0, 200000};
  setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  connect(fd, reinterpret_cast<sockaddr*>(&to), sizeof to);
  char buf[64] = "0123456789abcdef0123456789abcdef";
  for (int i = 0; i < 200; ++i) {  // warm-up (ARP, caches)
    (void)!send(fd, buf, 32, 0);
    (void)!recv(fd, buf, sizeof buf, 0);
  }
  std::vector<double> us;
  int lost = 0;
  const uint64_t exits0 = (*m)->vm().vcpu(0).counters().exits.load();
  const auto t0 = Clock::now();
  for (int i = 0; i < n; ++i) {
    const auto a = Clock::now();
    (void)!send(fd, buf, 32, 0);
    if (recv(fd, buf, sizeof buf, 0) != 32) {
      ++lost;
      continue;
    }
    us.push_back(std::chrono::duration<double, std::micro>(Clock::now() - a).count());
  }
  const double secs = std::chrono::duration<double>(Clock::now() - t0).count();
  const uint64_t exits = (*m)->vm().vcpu(0).counters().exits.load() - exits0;
  std::sort(us.begin(), us.end());
  std::printf("udp echo via TAP (32 bytes, %d requests, %d lost): p50 %.0f us, p99 %.0f us, %.0f requests/s, %.3f exits/request\n",
              n, lost, us[us.size() / 2], us[us.size() * 99 / 100], n / secs, static_cast<double>(exits) / n);
  close(fd);
  (*m)->Pause();
}

}  // namespace
}  // namespace twinstep::host

int main(int argc, char** argv) {
  if (argc >= 2 && std::string(argv[1]) == "udp") {
    twinstep::host::BenchUdp(argc >= 3 ? std::atoi(argv[2]) : 20000);
    return 0;
  }
  std::string why;
  if (!twinstep::host::KvmUsable(&why)) {
    std::printf("host_vmm_bench: skipped: %s\n", why.c_str());
    return 0;
  }
  twinstep::host::BenchBoot();
  twinstep::host::BenchSnapshot(false);
  twinstep::host::BenchSnapshot(true);
  twinstep::host::BenchDirty();
  return 0;
}
