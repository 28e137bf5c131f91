// twinstep: the one binary of the product (vm, node, sim, tune, status, bench).
#include <cstdio>

#include "cli/commands.h"

int main(int argc, char** argv) {
  CLI::App app{"twinstep: two servers run one guest VM in lockstep, so that either may fail"};
  app.set_version_flag("--version", "twinstep " TWINSTEP_VERSION);
  app.require_subcommand(1);
  int exit_code = 0;
  twinstep::cli::AddBenchCommand(app, &exit_code);
  twinstep::cli::AddTuneCommand(app, &exit_code);
  twinstep::cli::AddVmCommand(app, &exit_code);
  twinstep::cli::AddNodeCommand(app, &exit_code);
  twinstep::cli::AddSimCommand(app, &exit_code);
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    return app.exit(e);
  }
  return exit_code;
}
