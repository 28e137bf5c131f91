// `twinstep bench`: micro-benchmarks of the per-packet work — the digest, the
// sync-link codec and the comparator — plus checkpoint images and failover
// timing (their own files). Figures go to docs/BENCHMARKS.md.
#include <cstdio>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "cli/bench_checkpoint.h"
#include "cli/commands.h"
#include "common/digest.h"
#include "common/testing/packet_builder.h"
#include "common/wire.h"
#include "dataplane/comparator/comparator_bench.h"
#include "dataplane/comparator/software_comparator.h"
#include "firmware/bench/failover_bench.h"

namespace twinstep::cli {
namespace {

struct Options {
  double seconds = 1.0;
  size_t flows = 1000;
  bool json = false;
};

struct Row {
  std::string name;
  double per_second = 0;  // events, matches or records per second
  double bytes_per_second = 0;
  std::string unit;
};

void Print(const char* title, const std::vector<Row>& rows, bool json) {
  if (json) {
    nlohmann::json out = nlohmann::json::array();
    for (const auto& r : rows) {
      out.push_back({{"name", r.name}, {"per_second", r.per_second}, {"unit", r.unit}, {"bytes_per_second", r.bytes_per_second}});
    }
    std::printf("%s\n", out.dump(2).c_str());
    return;
  }
  std::printf("%s (one core, rates per second of CPU time)\n", title);
  std::printf("  %-46s %14s %12s\n", "case", "rate", "GB/s");
  for (const auto& r : rows) {
    std::printf("  %-46s %10.2f M%-3s %12.2f\n", r.name.c_str(), r.per_second / 1e6, r.unit.c_str(),
                r.bytes_per_second / 1e9);
  }
}

// Runs `body` (which returns items done) repeatedly for about `seconds` of this
// thread's CPU time, so that the rate is per core even on a shared machine.
template <typename Fn>
double Rate(double seconds, Fn&& body) {
  const double start = compare::ThreadCpuSeconds();
  uint64_t items = 0;
  double elapsed = 0;
  do {
    items += body();
    elapsed = compare::ThreadCpuSeconds() - start;
  } while (elapsed < seconds);
  return items / elapsed;
}

std::vector<uint8_t> UdpFrame(size_t bytes, uint32_t flow) {
  return testing::PacketBuilder().Ipv4(0x0A000002, 0x0A010000 + flow).Udp(7, static_cast<uint16_t>(20000 + flow % 40000),
                                                                          std::string(bytes - 42, 'd'));
}

std::vector<Row> BenchDigest(const Options& o) {
  std::vector<Row> rows;
  for (size_t bytes : {64, 1500}) {
    std::vector<std::vector<uint8_t>> frames;
    for (uint32_t f = 0; f < 1024; ++f) frames.push_back(UdpFrame(bytes, f % o.flows));
    std::vector<digest::Digester::Slot> slots(1u << 17);
    digest::Digester d(slots);
    volatile uint64_t sink = 0;  // keeps the work from being optimized away
    const double eps = Rate(o.seconds, [&] {
      uint64_t x = 0;
      for (const auto& f : frames) x ^= d.Digest(f).digest;
      sink = sink ^ x;
      return frames.size();
    });
    rows.push_back({"digest " + std::to_string(bytes) + " B UDP (parse + normalize + CRC-64)", eps, eps * bytes, "ev/s"});
  }
  return rows;
}

std::vector<Row> BenchCodec(const Options& o) {
  std::vector<Row> rows;
  const uint8_t mac[6] = {2, 0, 0, 0, 0, 1};
  std::vector<uint8_t> buf(wire::kEthHeaderBytes + wire::kHeaderBytes + 1452);
  const auto packet = UdpFrame(64, 1);
  for (bool digests : {true, false}) {
    wire::FrameWriter w(buf, mac, mac);
    size_t per_frame = 0;
    auto fill = [&](uint64_t seq) {
      w.Begin({.type = wire::FrameType::kData, .epoch = 1, .seq = seq});
      size_t n = 0;
      for (;; ++n) {
        const auto st = digests ? w.AddOutputDigest({n, seq, 64, n * 31})
                                : w.AddMirroredInput({seq * 64 + n, 0, packet});
        if (!st.has_value()) break;
      }
      per_frame = n;
      return w.Finish();
    };
    uint64_t seq = 0;
    const std::string what = digests ? "output-digest records" : "mirrored 64 B inputs";
    const double enc = Rate(o.seconds, [&] {
      for (int i = 0; i < 256; ++i) fill(++seq);
      return 256 * per_frame;
    });
    const auto frame = fill(1);
    std::vector<uint8_t> copy(frame.begin(), frame.end());
    const double dec = Rate(o.seconds, [&] {
      size_t n = 0;
      for (int i = 0; i < 256; ++i) {
        auto r = wire::FrameReader::Parse(copy);
        while (r.has_value() && !r->Done() && r->Next().has_value()) ++n;
      }
      return n;
    });
    const double bytes_per_record = static_cast<double>(copy.size()) / per_frame;
    rows.push_back({"encode " + what + " (" + std::to_string(per_frame) + "/frame)", enc, enc * bytes_per_record, "rec/s"});
    rows.push_back({"decode " + what + " (CRC32C checked)", dec, dec * bytes_per_record, "rec/s"});
  }
  return rows;
}

std::vector<Row> BenchComparators(const Options& o) {
  std::vector<Row> rows;
  const compare::ComparatorFactory software = [](const compare::ComparatorConfig& c, compare::VerdictSink* s) {
    return std::make_unique<compare::SoftwareComparator>(c, s);
  };
  for (bool with_digest : {false, true}) {
    const auto r = compare::BenchComparator(software, "software", with_digest, o.flows, 64, o.seconds);
    rows.push_back({std::string("software, ") + (with_digest ? "frames digested by the comparator" : "pre-digested events") +
                        ", " + std::to_string(r.flows) + " flows",
                    r.matches_per_second(), r.matches_per_second() * r.frame_bytes, "m/s"});
  }
  return rows;
}

void AddCase(CLI::App* bench, const char* name, const char* help, Options* o, int* exit_code,
             std::vector<Row> (*run)(const Options&), const char* title) {
  auto* c = bench->add_subcommand(name, help);
  c->add_option("--seconds", o->seconds, "Seconds per case")->check(CLI::Range(0.01, 600.0))->capture_default_str();
  c->add_option("--flows", o->flows, "Interleaved flows")->check(CLI::Range(1, 1000000))->capture_default_str();
  c->add_flag("--json", o->json, "Print JSON instead of a table");
  c->callback([=] {
    try {
      Print(title, run(*o), o->json);
      *exit_code = 0;
    } catch (const std::exception& e) {
      std::fprintf(stderr, "twinstep bench %s: %s\n", name, e.what());
      *exit_code = 1;
    }
  });
}

// Failover timing is latency, not a rate: its own options and output.
void AddFailoverCase(CLI::App* bench, int* exit_code) {
  static firmware::FailoverBenchOptions o;
  auto* c = bench->add_subcommand("failover",
                                  "Failure detection and suspicion-to-grant latency against a local etcd it starts");
  c->add_option("--part", o.part, "What to measure")
      ->check(CLI::IsMember({"all", "detection", "grant", "etcd"}))
      ->capture_default_str();
  c->add_option("--trials", o.trials, "Samples per part")->check(CLI::Range(1, 1000000))->capture_default_str();
  c->add_option("--interval-us", o.interval_us, "Heartbeat interval of the detection part")
      ->check(CLI::Range(1, 10000000))
      ->capture_default_str();
  c->add_option("--k", o.k, "Missed intervals before a suspicion")->check(CLI::Range(1, 1000))->capture_default_str();
  c->add_option("--etcd-parent", o.etcd_parent,
                "Directory for the etcd data dir (/dev/shm: tmpfs, no disk flush; the default is on disk)")
      ->check(CLI::ExistingDirectory)
      ->capture_default_str();
  c->add_flag("--etcd-no-fsync", o.etcd_no_fsync,
              "Start the local etcd with --unsafe-no-fsync (benchmark only: a crash may lose acknowledged writes)");
  c->callback([=] { *exit_code = firmware::RunFailoverBench(o); });
}

}  // namespace

void AddBenchCommand(CLI::App& app, int* exit_code) {
  static Options options;
  auto* bench = app.add_subcommand("bench", "Micro-benchmarks of the per-packet work and failover timing");
  bench->require_subcommand(1);
  AddCase(bench, "comparator", "Comparator matches per second (64-byte events, interleaved flows)", &options, exit_code,
          BenchComparators, "comparator: matches per second");
  AddCase(bench, "digest", "Digest rate for 64 B and 1500 B events", &options, exit_code, BenchDigest,
          "digest: events per second");
  AddCase(bench, "codec", "Sync-link encode and decode rates", &options, exit_code, BenchCodec,
          "codec: records per second");
  AddCheckpointBench(bench, exit_code);
  AddFailoverCase(bench, exit_code);
}

}  // namespace twinstep::cli
