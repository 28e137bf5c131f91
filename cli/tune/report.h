// What `twinstep tune` found and decided, rendered as a readable table or as
// JSON.
#pragma once

#include <string>
#include <vector>

#include "cli/tune/bench.h"
#include "cli/tune/checks.h"
#include "cli/tune/plan.h"
#include "cli/tune/topology.h"

namespace twinstep::tune {

struct TuneReport {
  Topology topology;
  PlanRequest request;
  Plan plan;
  bool checks_run = false;
  std::string checks_skipped;  // why, when not run
  std::vector<HostCheck> checks;
  std::vector<BenchResult> benches;
  std::string benches_skipped;
  bool applied = false;
  std::vector<ApplyAction> apply_actions;
  std::string kernel_params;   // to add to the kernel command line (reboot)
  std::string config_path;     // written, or empty
};

std::string RenderTable(const TuneReport& report);
std::string RenderJson(const TuneReport& report);

}  // namespace twinstep::tune
