// `twinstep sim`: the whole protected pair on one machine, running a scenario
// file with client workloads and fault injection, and writing a report
// (docs/simulation.md).
#include <signal.h>
#include <unistd.h>

#include <atomic>
#include <climits>
#include <string>

#include "cli/commands.h"
#include "simulation/runner.h"

namespace twinstep::cli {
namespace {

std::atomic<bool> g_interrupted{false};
void OnInterrupt(int) { g_interrupted = true; }

std::string SelfPath() {
  char buf[PATH_MAX];
  const ssize_t n = readlink("/proc/self/exe", buf, sizeof buf - 1);
  return n > 0 ? std::string(buf, static_cast<size_t>(n)) : "twinstep";
}

}  // namespace

void AddSimCommand(CLI::App& app, int* exit_code) {
  auto o = std::make_shared<sim::RunOptions>();
  o->scenario = TWINSTEP_SIM_DEFAULT_SCENARIO;
  auto* cmd = app.add_subcommand("sim", "Run a scenario on a simulated pair on this machine (docs/simulation.md)");
  cmd->add_option("scenario", o->scenario, "Scenario file (TOML)")->check(CLI::ExistingFile)->capture_default_str();
  cmd->add_option("--out", o->out_dir, "Output directory for the report (default: sim-out/<scenario name>)");
  cmd->add_option("--test-guest", o->test_guest, "Test guest image, unless the scenario names one")
      ->capture_default_str();
  o->test_guest = TWINSTEP_TESTGUEST_ELF;
  cmd->add_option("--kernel", o->kernel, "guest = \"linux\": the guest kernel (scripts/linux-guest/build-image.sh)");
  cmd->add_option("--initrd", o->initrd, "guest = \"linux\": the guest initramfs");
  cmd->add_flag("!--no-progress", o->progress, "No progress line on stderr");
  cmd->callback([o, exit_code] {
    // Without SA_RESTART, so that a Ctrl-C ends the run in order: the load
    // stops, the nodes are stopped, the topology is removed, the report written.
    struct sigaction sa{};
    sa.sa_handler = OnInterrupt;
    sigaction(SIGINT, &sa, nullptr);
    sigaction(SIGTERM, &sa, nullptr);
    sigaction(SIGHUP, &sa, nullptr);
    o->twinstep = SelfPath();
    o->interrupted = &g_interrupted;
    *exit_code = sim::RunScenario(*o);
  });
}

}  // namespace twinstep::cli
