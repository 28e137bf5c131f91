// Golden vectors: a versioned text format holding a primary event stream, a
// secondary record stream and the verdicts each step must produce
// (docs/comparator.md, section "Golden vectors"). Every comparator backend is
// run over the same files by the conformance suite (conformance.h).
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "common/expected.h"
#include "common/wire.h"
#include "dataplane/comparator/comparator.h"

namespace twinstep::compare::golden {

inline constexpr int kFormatVersion = 1;
inline constexpr std::string_view kMagicLine = "twinstep-golden-vectors";

enum class StepKind : uint8_t {
  kOutput,      // `out T HANDLE HEX`: a primary output event
  kSecondary,   // `sec T HEX`: a secondary output, digested into a record by the harness
  kRecord,      // `rec T FLOW SEQ LEN DIGEST`: a raw secondary record
  kAdvance,     // `adv T`
  kReleaseAll,  // `rall T`
};

struct Step {
  StepKind kind = StepKind::kAdvance;
  uint64_t time_ns = 0;
  uint64_t handle = 0;
  std::vector<uint8_t> frame;
  wire::OutputDigest record;
  std::vector<Verdict> expect;  // `expect KIND HANDLE|- FLOW SEQ LEN PDIGEST SDIGEST` lines after the step
  int line = 0;                 // where the step is in its file
};

struct VectorFile {
  std::string name;
  std::string description;
  ComparatorConfig config;
  std::vector<Step> steps;
};

struct ParseError {
  std::string source;
  int line = 0;
  std::string message;
  std::string ToString() const;
};

Expected<VectorFile, ParseError> Parse(std::string_view text, std::string_view source);
Expected<VectorFile, ParseError> Load(const std::string& path);
std::string Format(const VectorFile& v);

// Canonical order of one step's verdicts: flow, output sequence, kind, handle.
void SortVerdicts(std::vector<Verdict>& v);
bool SameVerdict(const Verdict& a, const Verdict& b);
std::string ToString(const Verdict& v);

}  // namespace twinstep::compare::golden
