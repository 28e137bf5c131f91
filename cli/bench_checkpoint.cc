// `twinstep bench checkpoint`. With a usable /dev/kvm the images are whole
// checkpoints of a paused Machine (pages, vCPU, irqchip/PIT/clock, devices);
// without one, page images of plain guest memory (the part that grows with the
// dirty set), and the output says so.
#include "cli/bench_checkpoint.h"

#include <time.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <random>
#include <string>
#include <vector>

#include "common/crc.h"
#include "host/machine.h"
#include "host/replication/state_image.h"

namespace twinstep::cli {
namespace {

struct Options {
  uint64_t mem_mib = 512;
  double seconds = 0.5;  // per case, at least 3 repetitions
};

double Now() { return std::chrono::duration<double>(std::chrono::steady_clock::now().time_since_epoch()).count(); }
double CpuNow() {
  timespec ts{};
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
  return static_cast<double>(ts.tv_sec) + ts.tv_nsec * 1e-9;
}

struct Timing {
  double wall_median = 0, cpu_median = 0;
};

// Runs body until `seconds` have passed and at least 3 times; medians.
template <typename Fn>
Timing Measure(double seconds, Fn&& body) {
  std::vector<double> wall, cpu;
  const double end = Now() + seconds;
  while (wall.size() < 3 || Now() < end) {
    const double w0 = Now(), c0 = CpuNow();
    body();
    wall.push_back(Now() - w0);
    cpu.push_back(CpuNow() - c0);
  }
  std::sort(wall.begin(), wall.end());
  std::sort(cpu.begin(), cpu.end());
  return {wall[wall.size() / 2], cpu[cpu.size() / 2]};
}

void Check(bool ok, const std::string& what) {
  if (!ok) throw std::runtime_error(what);
}
template <typename T>
T Take(host::Result<T> r, const char* what) {
  if (!r) throw std::runtime_error(std::string(what) + ": " + r.error().ToString());
  return std::move(*r);
}

// Two memories (or machines) of mem_mib; n distinct random frames filled with random bytes on the source.
struct Pair {
  std::unique_ptr<host::Machine> ma, mb;
  std::unique_ptr<host::GuestMemory> ga, gb;
  host::GuestMemory& a() { return ma ? ma->vm().memory() : *ga; }
  host::GuestMemory& b() { return mb ? mb->vm().memory() : *gb; }
};

Pair MakePair(const Options& o, bool kvm) {
  Pair p;
  const uint64_t bytes = o.mem_mib << 20;
  if (kvm) {
    host::MachineConfig c;
    c.mem_bytes = bytes;
    c.console_fd = -1;
    p.ma = Take(host::Machine::Create(c), "create machine");
    p.mb = Take(host::Machine::Create(c), "create machine");
  } else {
    p.ga = Take(host::GuestMemory::Create(bytes, false), "create guest memory");
    p.gb = Take(host::GuestMemory::Create(bytes, false), "create guest memory");
  }
  return p;
}

std::vector<uint64_t> FillRandom(host::GuestMemory& mem, uint64_t n, std::mt19937_64& rng) {
  const uint64_t pages = std::min<uint64_t>(mem.size(), host::kMmioHoleStart) / host::kPageSize;
  std::vector<uint64_t> all(pages);
  for (uint64_t i = 0; i < pages; ++i) all[i] = i;
  std::shuffle(all.begin(), all.end(), rng);
  all.resize(std::min(n, pages));
  std::sort(all.begin(), all.end());
  for (uint64_t g : all) {
    auto* w = reinterpret_cast<uint64_t*>(host::PagePtr(mem, g));  // a 4 KiB aligned page of the mapping
    for (size_t i = 0; i < host::kPageSize / 8; ++i) w[i] = rng() | 1;
  }
  return all;
}

int Run(const Options& o) {
  std::string why;
  const bool kvm = host::KvmUsable(&why);
  std::printf("checkpoint images, %llu MiB guest, %s\n", static_cast<unsigned long long>(o.mem_mib),
              kvm ? "whole checkpoints (pages + vCPU + irqchip/PIT/clock + devices) of paused machines"
                  : ("page images only (no vCPU/device state: no usable KVM: " + why + ")").c_str());
  std::printf("  %-8s %12s %12s %14s %14s %12s\n", "pages", "image MiB", "encode us", "apply us", "enc+apply us", "cpu us");
  std::mt19937_64 rng(7);
  for (uint64_t n : {1ull, 16ull, 256ull, 4096ull, 16384ull}) {
    Pair p = MakePair(o, kvm);
    const auto gfns = FillRandom(p.a(), n, rng);
    std::vector<uint8_t> image;  // reused, as a controller would (a fresh buffer faults in every page)
    auto encode = [&] {
      Check(static_cast<bool>(kvm ? host::EncodeCheckpointInto(*p.ma, gfns, {}, &image)
                                  : host::EncodePagesInto(p.a(), gfns, false, &image)),
            "encode");
    };
    auto apply = [&] {
      Check(static_cast<bool>(kvm ? host::ApplyCheckpoint(*p.mb, image, nullptr) : host::ApplyPages(p.b(), image)), "apply");
    };
    const Timing te = Measure(o.seconds, encode);
    const Timing ta = Measure(o.seconds, apply);
    Check(host::MemoryDigest(p.a()) == host::MemoryDigest(p.b()), "digests differ after apply");
    std::printf("  %-8llu %12.2f %12.1f %14.1f %14.1f %12.1f\n", static_cast<unsigned long long>(gfns.size()),
                image.size() / 1048576.0, te.wall_median * 1e6, ta.wall_median * 1e6, (te.wall_median + ta.wall_median) * 1e6,
                (te.cpu_median + ta.cpu_median) * 1e6);
  }

  // The first pre-copy round of a join: every page of a fully written guest,
  // complete, into a target whose memory is dropped and faulted in again.
  {
    Pair p = MakePair(o, false);
    FillRandom(p.a(), p.a().size() / host::kPageSize, rng);
    std::vector<uint64_t> pages;
    std::vector<uint8_t> image;
    const Timing ts = Measure(0, [&] { pages = host::NonZeroPages(p.a()); });
    const Timing te = Measure(0, [&] { Check(static_cast<bool>(host::EncodePagesInto(p.a(), pages, true, &image)), "encode"); });
    const double t0 = Now();
    Check(static_cast<bool>(host::ApplyPages(p.b(), image)), "apply");
    const double fresh = Now() - t0;
    const Timing ta = Measure(0, [&] { Check(static_cast<bool>(host::ApplyPages(p.b(), image)), "apply"); });
    Check(host::MemoryDigest(p.a()) == host::MemoryDigest(p.b()), "digests differ after apply");
    std::printf("first pre-copy round, every page (%zu), complete, %.1f MiB image: scan %.1f ms, encode %.1f ms, "
                "apply %.1f ms into a fresh target (%.1f ms again)\n",
                pages.size(), image.size() / 1048576.0, ts.wall_median * 1e3, te.wall_median * 1e3, fresh * 1e3,
                ta.wall_median * 1e3);
  }

  // The digest of a fully written guest, and of one with 1/8 of its pages written.
  std::printf("memory digest (CRC-64 over every non-zero page)\n");
  for (uint64_t eighths : {8ull, 1ull}) {
    auto mem = Take(host::GuestMemory::Create(o.mem_mib << 20, false), "create guest memory");
    FillRandom(*mem, (mem->size() / host::kPageSize) * eighths / 8, rng);
    uint64_t d = 0;
    const Timing t = Measure(o.seconds, [&] { d = host::MemoryDigest(*mem); });
    const Timing raw = Measure(o.seconds, [&] { d ^= Crc64({mem->base(), mem->size()}); });
    std::printf("  %llu/8 of %llu MiB written: %.1f ms (%.2f GB/s of RAM, cpu %.1f ms); plain CRC-64 of the buffer %.2f GB/s\n",
                static_cast<unsigned long long>(eighths), static_cast<unsigned long long>(o.mem_mib), t.wall_median * 1e3,
                mem->size() / t.wall_median / 1e9, t.cpu_median * 1e3, mem->size() / raw.wall_median / 1e9);
  }
  return 0;
}

}  // namespace

void AddCheckpointBench(CLI::App* bench, int* exit_code) {
  static Options o;
  auto* c = bench->add_subcommand("checkpoint", "Checkpoint encode/apply time against dirty pages; memory digest rate");
  c->add_option("--mem", o.mem_mib, "Guest memory in MiB")->check(CLI::Range(32, 16384))->capture_default_str();
  c->add_option("--seconds", o.seconds, "Seconds per case (at least 3 runs)")->check(CLI::Range(0.01, 600.0))->capture_default_str();
  c->callback([exit_code] {
    try {
      *exit_code = Run(o);
    } catch (const std::exception& e) {
      std::fprintf(stderr, "twinstep bench checkpoint: %s\n", e.what());
      *exit_code = 1;
    }
  });
}

}  // namespace twinstep::cli
