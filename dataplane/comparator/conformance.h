// The comparator conformance suite: runs any backend over the golden vectors
// and reports, step by step, every verdict that differs from the expected one.
#pragma once

#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "dataplane/comparator/comparator.h"
#include "dataplane/comparator/golden.h"

namespace twinstep::compare {

using ComparatorFactory = std::function<std::unique_ptr<Comparator>(const ComparatorConfig&, VerdictSink*)>;

struct ConformanceReport {
  size_t steps = 0;
  size_t verdicts = 0;
  std::vector<std::string> failures;  // "file:line: ..." for each differing step
};

// Runs one vector file through a fresh backend made by `make`.
ConformanceReport RunVector(const golden::VectorFile& v, const ComparatorFactory& make);

// The checked-in golden vector files (dataplane/comparator/golden/*.tgv).
std::vector<std::string> GoldenVectorPaths();

}  // namespace twinstep::compare
