// `twinstep tune` (see tune.h).
#include "cli/tune/tune.h"

#include <unistd.h>

#include <cctype>
#include <cstdio>
#include <filesystem>
#include <memory>

#include "cli/commands.h"
#include "cli/config/node_config.h"
#include "cli/tune/report.h"

namespace twinstep::tune {
namespace {

namespace fs = std::filesystem;

// Why `path` cannot take the config, or "" when it can.
std::string OutputPathProblem(const std::string& path) {
  std::error_code ec;
  if (fs::is_directory(path, ec)) return path + " is a folder; give a file name";
  fs::path dir = fs::path(path).parent_path();
  if (dir.empty()) dir = ".";
  if (!fs::is_directory(dir, ec)) return "folder " + dir.string() + " does not exist";
  if (::access(dir.c_str(), W_OK) != 0) return "folder " + dir.string() + " is not writable";
  if (fs::exists(path, ec) && ::access(path.c_str(), W_OK) != 0) return path + " is not writable";
  // Root passes access() everywhere; creating the temporary file is the real test.
  const std::string probe = path + ".tmp";
  if (FILE* f = std::fopen(probe.c_str(), "w")) {
    std::fclose(f);
    std::remove(probe.c_str());
    return "";
  }
  return "cannot create files in folder " + dir.string();
}

// "81:00.0" -> "0000:81:00.0"; lower case.
std::string NormalizePci(std::string pci) {
  for (char& ch : pci) ch = static_cast<char>(std::tolower(static_cast<unsigned char>(ch)));
  if (pci.size() == 7) pci = "0000:" + pci;
  return pci;
}

std::string PciFlagProblem(const std::string& flag, const std::string& pci) {
  if (pci.empty()) return "";
  const bool ok = pci.size() == 12 && pci[4] == ':' && pci[7] == ':' && pci[10] == '.' &&
                  std::isxdigit(static_cast<unsigned char>(pci[0]));
  return ok ? "" : flag + " " + pci + ": not a PCI address (DDDD:BB:DD.F or BB:DD.F)";
}

}  // namespace

int RunTune(const TuneOptions& o, std::string* out, std::string* err) {
  auto fail = [&](const std::string& why) {
    *err += "twinstep tune: error: " + why + "\n";
    return 1;
  };
  if (o.config_doc) {
    *out += config::RenderConfigDoc();
    return 0;
  }
  if (!o.write_config.empty()) {
    if (auto why = OutputPathProblem(o.write_config); !why.empty()) return fail("--write-config: " + why);
  }
  TopologySource source;
  if (!o.topology_xml.empty()) {
    source = {TopologySource::Kind::kXml, o.topology_xml, o.sysfs_root, ""};
  } else if (!o.synthetic.empty()) {
    source = {TopologySource::Kind::kSynthetic, o.synthetic, o.sysfs_root, ""};
  } else {
    source = {TopologySource::Kind::kHost, "", o.sysfs_root.empty() ? "/sys" : o.sysfs_root, "/proc/net/route"};
  }
  if (o.apply && source.kind != TopologySource::Kind::kHost) {
    return fail("--apply changes this host, so it cannot go with --topology-xml or --synthetic");
  }
  TuneReport r;
  r.request.node_name = o.node_name;
  r.request.vcpus = o.vcpus;
  r.request.guest_memory_mib = o.guest_memory_mib;
  r.request.client_pci = NormalizePci(o.client_pci);
  r.request.sync_pci = NormalizePci(o.sync_pci);
  for (const auto& [flag, pci] : {std::pair{"--client-pci", r.request.client_pci}, {"--sync-pci", r.request.sync_pci}}) {
    if (auto why = PciFlagProblem(flag, pci); !why.empty()) return fail(why);
  }

  auto topology = LoadTopology(source);
  if (!topology) return fail(topology.error().Message());
  r.topology = std::move(*topology);
  auto plan = MakePlan(r.topology, r.request);
  if (!plan) return fail(plan.error().Message());
  r.plan = std::move(*plan);
  const config::NodeConfig node_config = ConfigFromPlan(r.plan, r.request);
  if (auto valid = config::ValidateNodeConfig(node_config); !valid) {
    return fail("the planned node config is invalid (check --node-name, --vcpus, --guest-memory-mib): " +
                valid.error().Message());
  }

  const HostPaths paths;
  if (r.topology.is_host) {
    if (o.apply) {
      r.applied = true;
      r.apply_actions = ApplyHugepages(r.plan, paths);
    }
    r.checks_run = true;
    r.checks = RunHostChecks(r.topology, r.plan, paths, r.request.guest_memory_mib);
    r.kernel_params = KernelParamsToAdd(r.checks);
  } else {
    r.checks_skipped = "the topology is " + r.topology.source + ", not this host";
  }
  if (!r.topology.is_host) {
    r.benches_skipped = "the topology is not this host";
  } else if (o.no_bench) {
    r.benches_skipped = "--no-bench";
  } else {
    r.benches.push_back(MeasureMemcpy(o.bench_mib, 3, node_config.replication.dirty_page_bound));
    for (auto& b : ComparatorRateBench(0.5)) r.benches.push_back(std::move(b));
    for (auto& b : SyncLinkBench()) r.benches.push_back(std::move(b));
  }

  if (!o.write_config.empty()) {
    std::vector<std::string> header = {
        "twinstep node config for '" + o.node_name + "', written by `twinstep tune` from " + r.topology.source,
        "plan: " + r.plan.eal_mode + (r.plan.dedicated ? ", dedicated cores" : ", shared CPUs")};
    for (const auto& n : r.plan.notes) header.push_back("note: " + n);
    header.push_back("every option is documented in docs/config.md");
    auto written = config::WriteNodeConfig(o.write_config, node_config, header);
    if (!written) return fail(written.error().Message());
    r.config_path = o.write_config;
  }
  *out += o.json ? RenderJson(r) : RenderTable(r);
  for (const auto& a : r.apply_actions) {
    if (!a.ok) return 1;
  }
  return 0;
}

}  // namespace twinstep::tune

namespace twinstep::cli {

void AddTuneCommand(CLI::App& app, int* exit_code) {
  using tune::TuneOptions;
  auto opts = std::make_shared<TuneOptions>();
  auto* cmd = app.add_subcommand(
      "tune", "Read the topology, plan cores for a node, check the host, measure, and write the node config");
  auto* xml = cmd->add_option("--topology-xml", opts->topology_xml,
                              "Plan for this hwloc XML topology (lstopo --of xml) instead of this host");
  cmd->add_option("--synthetic", opts->synthetic, "Plan for this hwloc synthetic topology, e.g. \"pack:2 core:8 pu:2\"")
      ->excludes(xml);
  cmd->add_option("--sysfs-root", opts->sysfs_root,
                  "Read PCI driver bindings and link speeds from this sysfs copy (default: /sys for this host)");
  cmd->add_option("--client-pci", opts->client_pci, "PCI address of the client (LAN) port; default: chosen");
  cmd->add_option("--sync-pci", opts->sync_pci, "PCI address of the sync (peer) port; default: chosen");
  cmd->add_option("--node-name", opts->node_name, "Name of the node in the config")->capture_default_str();
  cmd->add_option("--vcpus", opts->vcpus, "Guest vCPUs to plan for")->check(CLI::Range(1, 256))->capture_default_str();
  cmd->add_option("--guest-memory-mib", opts->guest_memory_mib, "Guest memory to plan for, in MiB")
      ->check(CLI::Range(int64_t{16}, int64_t{1048576}))
      ->capture_default_str();
  cmd->add_flag("--json", opts->json, "Print JSON instead of the table");
  cmd->add_option("--write-config", opts->write_config, "Write the planned node config (TOML) to this file");
  cmd->add_flag("--apply", opts->apply,
                "Reserve the planned hugepages through sysfs; print the kernel command line for what needs a reboot");
  cmd->add_flag("--no-bench", opts->no_bench, "Skip the micro-benchmarks");
  cmd->add_option("--bench-mib", opts->bench_mib, "Buffer size of the memory copy benchmark, in MiB")
      ->check(CLI::Range(int64_t{1}, int64_t{4096}))
      ->capture_default_str();
  cmd->add_flag("--config-doc", opts->config_doc, "Print docs/config.md (the node config reference) and exit");
  cmd->callback([opts, exit_code] {
    std::string out, err;
    *exit_code = tune::RunTune(*opts, &out, &err);
    std::fputs(out.c_str(), stdout);
    std::fputs(err.c_str(), stderr);
  });
}

}  // namespace twinstep::cli
