// The `twinstep` subcommands. Each part of the product adds its own
// subcommands to the one CLI11 application; main() only dispatches.
#pragma once

#include <CLI/CLI.hpp>

namespace twinstep::cli {

// Every Add*Command registers a subcommand whose callback stores the process
// exit code in *exit_code (main() is the only place that ends the process).
void AddBenchCommand(CLI::App& app, int* exit_code);
void AddTuneCommand(CLI::App& app, int* exit_code);  // cli/tune/tune.cc
void AddVmCommand(CLI::App& app, int* exit_code);    // cli/vm.cc
void AddNodeCommand(CLI::App& app, int* exit_code);  // cli/node.cc
void AddSimCommand(CLI::App& app, int* exit_code);   // cli/sim.cc

}  // namespace twinstep::cli
