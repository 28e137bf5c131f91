// `twinstep bench checkpoint`: checkpoint image encode/apply time against the
// number of dirty pages, and the memory digest rate (host/replication/).
#pragma once

#include <CLI/CLI.hpp>

namespace twinstep::cli {

void AddCheckpointBench(CLI::App* bench, int* exit_code);

}  // namespace twinstep::cli
