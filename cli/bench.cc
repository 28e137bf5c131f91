// `twinstep bench`: micro-benchmarks of the digest, the codec and the comparator.
#include <cstdio>

#include "cli/commands.h"

namespace twinstep::cli {

void AddBenchCommand(CLI::App& app, int* exit_code) {
  auto* bench = app.add_subcommand("bench", "Micro-benchmarks of the per-packet work");
  bench->require_subcommand(1);
  auto* comparator = bench->add_subcommand("comparator", "Comparator matches per second");
  comparator->callback([exit_code] {
    std::printf("bench comparator: not built yet\n");
    *exit_code = 1;
  });
}

}  // namespace twinstep::cli
