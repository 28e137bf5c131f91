// The report of one `twinstep sim` run, written to the output directory:
// report.json (outcome counts, request summary per 100 ms, merged events,
// steps and checks), requests.csv (every request), summary.txt (for people)
// and timeline.svg (latency and throughput over time, with the events).
#pragma once

#include <string>
#include <vector>

#include "simulation/node_process.h"
#include "simulation/scenario.h"
#include "simulation/sim_error.h"
#include "simulation/workload.h"

namespace twinstep::sim {

struct CheckResult {
  std::string name;
  bool passed = false;
  std::string detail;
};

struct StepLog {
  double t = 0;  // CLOCK_REALTIME seconds when it began
  std::string text;
  int line = 0;
  bool ok = true;
  std::string detail;
};

// Counted from the node events.
struct EventCounts {
  uint64_t failovers = 0, divergences = 0, checkpoints = 0, joins = 0, role_changes = 0, garps = 0, errors = 0;
  uint64_t fenced = 0;  // nodes the supervisor fenced or stopped (role events)
};
EventCounts CountEvents(const std::vector<NodeEvent>& events);

// A fault step and the longest pause the clients saw in the 5 s after it
// (the failover gap, for a kill of the primary).
struct FaultPause {
  std::string step;
  double t = 0;  // CLOCK_REALTIME seconds
  double pause_ms = 0;
};

struct RunReport {
  const Scenario* scenario = nullptr;
  std::string out_dir;
  double t0 = 0, t_end = 0;  // CLOCK_REALTIME seconds
  WorkloadTotals totals;
  const std::vector<RequestRecord>* records = nullptr;
  std::vector<std::string> problems;
  std::vector<NodeEvent> events;  // sorted by time
  std::vector<StepLog> steps;
  std::vector<CheckResult> checks;
  std::vector<FaultPause> fault_pauses;
  std::string aborted;            // why the run stopped early, or empty
  bool Passed() const;
};

// Writes the four files; the error names the file that could not be written.
SimResult<void> WriteReport(const RunReport& r);
std::string SummaryText(const RunReport& r);
std::string TimelineSvg(const RunReport& r);

}  // namespace twinstep::sim
