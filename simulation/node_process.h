// One node of the simulated pair as a child process: `twinstep node` (mode
// pair) or the guest alone (`twinstep vm` or QEMU on a TAP, modes solo-vm and
// solo-qemu, as a baseline). Start, kill -9, freeze, slow down, restart; its
// events file is followed and its control socket asked.
#pragma once

#include <sys/types.h>

#include <atomic>
#include <string>
#include <thread>
#include <vector>

#include <nlohmann/json.hpp>

#include "simulation/sim_error.h"

namespace twinstep::sim {

// One event of a node (its events file, docs/replication.md) or of the sim
// about a node ("source": "sim": start, kill9, exit seen by the sim, faults).
struct NodeEvent {
  double t = 0;  // CLOCK_REALTIME seconds
  std::string node, event;
  nlohmann::json fields;
};

double NowSeconds();

struct NodeLaunch {
  std::string name;                // node-a / node-b
  std::string mode = "pair";       // pair | solo-vm | solo-qemu
  std::string twinstep;            // the twinstep binary
  std::string config;              // pair: the node's config file
  std::string control_socket;      // pair
  std::string out_dir;             // logs and events files go here
  // solo modes: the guest, its TAP in `netns`, its command line and memory
  std::string kernel, tap, netns, append;
  int64_t memory_mib = 64;
};

class NodeProcess {
 public:
  explicit NodeProcess(NodeLaunch launch) : launch_(std::move(launch)) {}
  ~NodeProcess();
  NodeProcess(const NodeProcess&) = delete;
  NodeProcess& operator=(const NodeProcess&) = delete;

  // Starts the node. One that exits with kExitStartAgain before it is ready
  // is started again by Poll, up to kMaxStartsAgain times.
  SimResult<void> Start();
  static constexpr int kMaxStartsAgain = 3;
  void Kill9();
  void Sigstop();
  void Sigcont();
  void Stop();  // SIGTERM, then SIGKILL after 10 s
  // Alternate SIGCONT for run_ms and SIGSTOP for stop_ms; (0, 0) ends it.
  void Slow(uint32_t run_ms, uint32_t stop_ms);

  // Reaps the process and reads new events; returns the events since the last call.
  std::vector<NodeEvent> Poll();
  bool running() const { return pid_ > 0; }
  bool ready() const { return ready_; }
  const std::string& role() const { return role_; }
  // Why the last start ended ("exit status 1: <its last log line>"); empty while it runs.
  const std::string& last_exit() const { return last_exit_; }
  int starts() const { return starts_; }
  const std::string& name() const { return launch_.name; }
  pid_t pid() const { return pid_; }

  // One control-socket request (pair mode); the reply line.
  SimResult<std::string> Control(const std::string& request) const;

 private:
  void Note(const std::string& event, nlohmann::json fields = nlohmann::json::object());
  void ReadEvents();
  std::string LastLogLine() const;  // the last non-empty line of this start's log
  SimResult<void> Spawn();           // one process (Start, or Poll starting it again)
  int starts_again_ = 0;             // since the scenario's last Start
  void StopSlow();
  NodeLaunch launch_;
  pid_t pid_ = -1;
  std::string last_exit_;
  int starts_ = 0;
  bool ready_ = false;
  std::string role_ = "none";
  std::string events_path_, log_path_;
  size_t events_offset_ = 0;
  std::string partial_;
  std::vector<NodeEvent> pending_;
  std::thread slow_thread_;
  std::atomic<bool> slow_stop_{false};
};

}  // namespace twinstep::sim
