// Scenario files of `twinstep sim` (TOML, docs/simulation.md): the workload,
// the node settings, the checks at the end, and a list of timed steps (start,
// wait, kill -9, freeze, cut or degrade the sync link, corrupt memory, ...).
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "cli/config/node_config.h"
#include "simulation/sim_error.h"
#include "simulation/workload.h"

namespace twinstep::sim {

inline constexpr const char* kNodeNames[2] = {"node-a", "node-b"};

enum class Action {
  kStart, kRestart, kStop, kKill9, kSigstop, kSigcont, kSlow, kWait, kExpect,
  kCutSync, kRestoreSync, kSyncLoss, kCorrupt, kCheckpoint, kLoadStart, kLoadStop, kSleep, kClient, kStall,
};
const char* ActionName(Action a);

// What `wait` waits for and `expect` checks.
enum class Condition { kReady, kRole, kRunning, kExited };

struct Step {
  double at_s = -1;          // seconds since the scenario began; -1: right after the previous step
  Action action = Action::kSleep;
  int node = -1;             // 0 = node-a, 1 = node-b
  std::string text;          // the step as written, for the report
  int line = 0;              // in the scenario file
  Condition condition = Condition::kReady;
  std::vector<std::string> roles;  // role=a|b
  double timeout_s = 60;     // wait
  double seconds = 0;        // sleep
  double percent = 0;        // sync-loss
  std::string gpa_symbol;    // corrupt: a symbol of the test guest image, or empty
  uint64_t gpa = 0;          // corrupt: the address, or the offset from gpa_symbol
  uint64_t len = 0;          // corrupt
  uint32_t run_ms = 0, stop_ms = 0;  // slow; both 0 = off
  uint32_t stall_ms = 0;     // stall: the node's control thread stops this long
  std::string command;       // client: a shell command run in the LAN namespace
};

// Limits on the outcome, checked at the end of the run.
struct Expectations {
  uint64_t max_lost_acked_writes = 0;
  uint64_t max_wrong_replies = 0;
  uint64_t max_unanswered = 0;
  uint64_t max_duplicate_replies = 0;
  uint64_t min_acked_writes = 1;
  uint64_t min_failovers = 0;
  uint64_t min_divergences = 0;
  uint64_t min_checkpoints = 0;
  uint64_t min_joins = 0;
  int64_t fenced = -1;  // exactly this many nodes fenced or stopped by their supervisor; -1: not checked
};

// The [node] table: node-config options the sim writes into both nodes'
// configs; defaults, ranges and choices are the node config's own.
struct NodeSettings {
  config::NodeConfig config;
  std::vector<int64_t> lcores_a, lcores_b;  // optional DPDK lcores per node
};

struct Scenario {
  std::string file;          // where it was read from
  std::string name;
  std::string description;
  double duration_s = 60;    // the scenario runs at least this long
  double timeout_s = 0;      // abort after this long; 0 = duration_s + 180
  std::string mode = "pair"; // pair | solo-vm | solo-qemu
  std::string guest_ip = "10.77.0.10";
  std::string guest_mac = "52:54:00:77:00:10";
  std::string client_cidr = "10.77.0.1/24";
  std::string test_guest;
  std::string sync_link = "veth";  // veth (af_packet over a veth pair) | memif (shared memory)
  std::string guest = "auto";  // test (KVM), soft (no VM), linux (KVM; --kernel, --initrd), auto: test where /dev/kvm works, else soft
  WorkloadConfig workload;
  NodeSettings node;
  Expectations expect;
  std::vector<Step> steps;
};

SimResult<Scenario> LoadScenario(const std::string& path);
// The same from text; `name` stands for the file in error messages.
SimResult<Scenario> ParseScenario(std::string_view text, const std::string& name);
// Parses one step's `do` text (exposed for tests); the error names nothing but the problem.
SimResult<Step> ParseStep(const std::string& text);

}  // namespace twinstep::sim
