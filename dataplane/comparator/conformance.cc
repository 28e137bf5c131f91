// Conformance harness shared by every comparator backend's tests.
#include "dataplane/comparator/conformance.h"

#include <algorithm>
#include <bit>
#include <filesystem>

#include "common/digest.h"

namespace twinstep::compare {
namespace {

class CollectingSink : public VerdictSink {
 public:
  void OnVerdict(const Verdict& v) override { got.push_back(v); }
  std::vector<Verdict> got;
};

}  // namespace

ConformanceReport RunVector(const golden::VectorFile& v, const ComparatorFactory& make) {
  ConformanceReport report;
  CollectingSink sink;
  auto backend = make(v.config, &sink);
  // The secondary's own digester turns `sec` frames into records, as its dataplane would.
  std::vector<digest::Digester::Slot> slots(std::bit_ceil(static_cast<size_t>(v.config.digester_flows) * 2));
  digest::Digester secondary(slots);
  for (const golden::Step& s : v.steps) {
    sink.got.clear();
    switch (s.kind) {
      case golden::StepKind::kOutput: backend->SubmitOutput(s.frame, s.handle, s.time_ns); break;
      case golden::StepKind::kSecondary: backend->SubmitRecord(secondary.Digest(s.frame), s.time_ns); break;
      case golden::StepKind::kRecord: backend->SubmitRecord(s.record, s.time_ns); break;
      case golden::StepKind::kAdvance: backend->Advance(s.time_ns); break;
      case golden::StepKind::kReleaseAll: backend->ReleaseAll(s.time_ns); break;
    }
    ++report.steps;
    report.verdicts += sink.got.size();
    std::vector<Verdict> want = s.expect;
    golden::SortVerdicts(want);
    golden::SortVerdicts(sink.got);
    const bool same = want.size() == sink.got.size() &&
                      std::equal(want.begin(), want.end(), sink.got.begin(), golden::SameVerdict);
    if (!same && report.failures.size() < 20) {
      std::string msg = v.name + ":" + std::to_string(s.line) + ": " + std::string(backend->name()) + " backend:";
      for (const auto& w : want) msg += "\n  expected " + golden::ToString(w);
      for (const auto& g : sink.got) msg += "\n  got      " + golden::ToString(g);
      if (want.empty() && sink.got.empty()) msg += " (no verdicts)";
      report.failures.push_back(msg);
    }
  }
  return report;
}

std::vector<std::string> GoldenVectorPaths() {
  std::vector<std::string> out;
  for (const auto& e : std::filesystem::directory_iterator(TWINSTEP_GOLDEN_DIR)) {
    if (e.path().extension() == ".tgv") out.push_back(e.path().string());
  }
  std::sort(out.begin(), out.end());
  return out;
}

}  // namespace twinstep::compare
