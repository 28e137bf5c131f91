// Child processes for the simulation: one-shot commands (ip, tc, ethtool) with
// their output captured, and long-running children (nodes, guests) whose
// stdout and stderr go to a file.
#pragma once

#include <sys/types.h>

#include <string>
#include <vector>

#include "simulation/sim_error.h"

namespace twinstep::sim {

struct CommandResult {
  int exit_code = -1;  // -1: could not start or killed by a signal
  std::string output;  // stdout and stderr, interleaved
};

// Runs argv[0] (searched in PATH) to completion.
CommandResult RunCommand(const std::vector<std::string>& argv);
// RunCommand, and an error naming the command and its output unless it exits 0.
SimResult<std::string> Check(const std::vector<std::string>& argv, SimErrc code = SimErrc::kCommand);
// "a b c" for messages.
std::string JoinArgs(const std::vector<std::string>& argv);

// Starts argv[0] (a path, or a name searched in PATH) with stdout and stderr
// appended to log_path, stdin from /dev/null, in its own process group.
// `netns`, when not empty, is entered first (ip netns exec semantics: the
// child is `ip netns exec NETNS argv...`).
SimResult<pid_t> SpawnLogged(const std::vector<std::string>& argv, const std::string& log_path,
                             const std::string& netns = "");

// Sends `sig` to pid if it still lives; reaps it with WNOHANG. Returns true
// when the process has exited (and fills *status).
bool Reap(pid_t pid, int* status);
// SIGTERM, wait up to grace_ms, then SIGKILL; always reaps.
void Terminate(pid_t pid, int grace_ms);

}  // namespace twinstep::sim
