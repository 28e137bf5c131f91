// Micro-benchmarks of `twinstep tune` (see bench.h).
#include "cli/tune/bench.h"

#include <cstring>
#include <ios>
#include <memory>
#include <sstream>

#include "dataplane/comparator/comparator_bench.h"
#include "dataplane/comparator/software_comparator.h"
#include "dataplane/sync_bench.h"
#include "fpga/sim/rtl_comparator.h"

namespace twinstep::tune {
namespace {

constexpr size_t kPageBytes = 4096;

}  // namespace

BenchResult MeasureMemcpy(int64_t buffer_mib, int rounds, int64_t dirty_page_bound) {
  BenchResult r{"memory copy (4 KiB pages)"};
  r.unit = "GB/s";
  const size_t bytes = static_cast<size_t>(buffer_mib) << 20;
  std::unique_ptr<char[]> src(new (std::nothrow) char[bytes]);
  std::unique_ptr<char[]> dst(new (std::nothrow) char[bytes]);
  if (!src || !dst || bytes == 0) {
    r.detail = "cannot allocate 2 x " + std::to_string(buffer_mib) + " MiB";
    return r;
  }
  // Touch both buffers so that page faults stay out of the timed copies.
  std::memset(src.get(), 0x5a, bytes);
  std::memset(dst.get(), 0, bytes);
  double best_s = 0;
  for (int round = 0; round < rounds; ++round) {
    const double start = compare::ThreadCpuSeconds();
    for (size_t off = 0; off < bytes; off += kPageBytes) std::memcpy(dst.get() + off, src.get() + off, kPageBytes);
    const double s = compare::ThreadCpuSeconds() - start;
    if (round == 0 || s < best_s) best_s = s;
  }
  // Keep the copies observable so the compiler cannot drop them.
  volatile char sink = dst[bytes - 1];
  (void)sink;
  r.available = best_s > 0;
  r.value = best_s > 0 ? static_cast<double>(bytes) / best_s / 1e9 : 0;
  std::ostringstream detail;
  detail.precision(3);
  detail << "best of " << rounds << " copies of " << buffer_mib << " MiB, timed in CPU time of one core";
  if (r.available && dirty_page_bound > 0) {
    const double ms = static_cast<double>(dirty_page_bound) * kPageBytes / (r.value * 1e9) * 1e3;
    detail << "; a checkpoint of " << dirty_page_bound << " dirty pages (dirty_page_bound) spends ~" << ms
           << " ms copying";
  }
  r.detail = detail.str();
  return r;
}

std::vector<BenchResult> ComparatorRateBench(double seconds) {
  std::vector<BenchResult> out;
  const compare::ComparatorFactory software = [](const compare::ComparatorConfig& c, compare::VerdictSink* s) {
    return std::make_unique<compare::SoftwareComparator>(c, s);
  };
  constexpr size_t kFlows = 1000;
  constexpr size_t kFrameBytes = 64;
  const auto r = compare::BenchComparator(software, "software", /*with_digest=*/true, kFlows, kFrameBytes, seconds);
  std::ostringstream detail;
  detail.setf(std::ios::fixed);
  detail.precision(2);
  detail << r.matches << " matches of " << kFrameBytes << "-byte UDP frames over " << kFlows
         << " flows, each digested by the comparator, in " << r.seconds << " s of CPU time on one core";
  out.push_back({"comparator rate (software)", r.matches > 0, r.matches_per_second() / 1e6, "M matches/s", detail.str()});
  // The RTL model: the fpga/ design under Verilator, digesting every frame.
  // Cycle-accurate simulation is slow, so it gets fewer flows and a short run.
  const compare::ComparatorFactory rtl = [](const compare::ComparatorConfig& c, compare::VerdictSink* s) {
    return std::make_unique<fpga::RtlComparator>(c, s);
  };
  try {
    constexpr size_t kRtlFlows = 64;
    const auto m = compare::BenchComparator(rtl, "rtl", /*with_digest=*/true, kRtlFlows, kFrameBytes, seconds / 4);
    std::ostringstream d;
    d.setf(std::ios::fixed);
    d.precision(2);
    d << m.matches << " matches over " << kRtlFlows << " flows in " << m.seconds
      << " s of CPU time: the speed of the cycle-accurate simulation, not of the card (docs/fpga.md)";
    out.push_back({"comparator rate (rtl model)", m.matches > 0, m.matches_per_second() / 1e6, "M matches/s", d.str()});
  } catch (const std::exception& e) {
    out.push_back({"comparator rate (rtl model)", false, 0, "", std::string("not measured: ") + e.what()});
  }
  out.push_back({"comparator rate (xrt)", false, 0, "",
                 "needs an FPGA card with the twinstep xclbin (hwtests/fpga_xrt); none on this machine"});
  return out;
}

std::vector<BenchResult> SyncLinkBench() {
  dataplane::SyncBenchOptions options;
  options.round_trips = 5000;
  const auto r = dataplane::MeasureSyncLinkLoopback(options);
  if (!r) {
    return {{"sync link (memif loopback)", false, 0, "", "not measured: " + r.error().Message()}};
  }
  std::ostringstream rtt, bulk;
  rtt.setf(std::ios::fixed);
  bulk.setf(std::ios::fixed);
  rtt.precision(1);
  bulk.precision(2);
  rtt << options.round_trips << " round trips of one record each way, sender and receiver polled by one thread; p99 "
      << r->rtt_p99_us << " us, p99.9 " << r->rtt_p999_us << " us";
  bulk << (options.bulk_bytes >> 20) << " MiB checkpoint image in " << r->bulk_frames << " frames, "
       << r->retransmits << " retransmits, " << r->bulk_gbytes_per_cpu_s << " GB per CPU second, receiver CRC "
       << (r->digest_ok ? "matched" : "DID NOT MATCH");
  return {{"sync link round trip p50 (memif loopback)", true, r->rtt_p50_us, "us", rtt.str()},
          {"sync link bulk transfer (memif loopback)", r->digest_ok, r->bulk_gbytes_per_s, "GB/s", bulk.str()}};
}

}  // namespace twinstep::tune
