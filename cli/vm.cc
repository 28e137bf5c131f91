// `twinstep vm`: one unprotected VM with its console on stdin/stdout; writes a
// snapshot when a signal arrives and can start from one.
#include <poll.h>
#include <signal.h>
#include <sys/signalfd.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <cstring>
#include <map>
#include <memory>
#include <string>

#include "cli/commands.h"
#include "host/devices/tap_backend.h"
#include "host/machine.h"
#include "host/snapshot/snapshot.h"

namespace twinstep::cli {
namespace {

struct VmOptions {
  std::string kernel, initrd, append, disk, tap, snapshot_on, snapshot, restore;
  uint64_t mem_mib = 256;
  bool no_polling = false;
  bool hugepages = false;
};

int SignalNumber(const std::string& name) {
  static const std::map<std::string, int> kSignals = {{"USR1", SIGUSR1}, {"USR2", SIGUSR2}, {"HUP", SIGHUP},
                                                      {"SIGUSR1", SIGUSR1}, {"SIGUSR2", SIGUSR2}, {"SIGHUP", SIGHUP}};
  auto it = kSignals.find(name);
  return it == kSignals.end() ? -1 : it->second;
}

int Fail(const host::Error& e) {
  std::fprintf(stderr, "twinstep vm: %s\n", e.ToString().c_str());
  return 1;
}

int RunVm(const VmOptions& o) {
  const int snap_sig = o.snapshot_on.empty() ? 0 : SignalNumber(o.snapshot_on);
  if (snap_sig < 0) {
    std::fprintf(stderr, "twinstep vm: --snapshot-on %s: not one of USR1, USR2, HUP\n", o.snapshot_on.c_str());
    return 2;
  }
  if (snap_sig != 0 && o.snapshot.empty()) {
    std::fprintf(stderr, "twinstep vm: --snapshot-on needs --snapshot PATH\n");
    return 2;
  }
  if (o.kernel.empty() == o.restore.empty()) {
    std::fprintf(stderr, "twinstep vm: give either --kernel or --restore\n");
    return 2;
  }
  // Signals are taken from a signalfd; block them before any thread starts.
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, SIGINT);
  sigaddset(&set, SIGTERM);
  if (snap_sig != 0) sigaddset(&set, snap_sig);
  pthread_sigmask(SIG_BLOCK, &set, nullptr);
  const int sfd = signalfd(-1, &set, SFD_NONBLOCK | SFD_CLOEXEC);

  std::unique_ptr<host::TapBackend> tap;
  if (!o.tap.empty()) {
    auto t = host::TapBackend::Open(o.tap);
    if (!t) return Fail(t.error());
    tap = std::move(*t);
  }
  host::MachineConfig mc;
  mc.mem_bytes = o.mem_mib << 20;
  mc.disk = o.disk;
  mc.hugepages = o.hugepages;
  mc.net = tap.get();
  mc.net_config.polling = !o.no_polling;
  std::unique_ptr<host::SnapshotFile> from;
  if (!o.restore.empty()) {
    auto f = host::SnapshotFile::Open(o.restore);
    if (!f) return Fail(f.error());
    from = std::move(*f);
    auto conf = host::ReadSnapshotConfig(*from);
    if (!conf) return Fail(conf.error());
    mc.mem_bytes = conf->mem_bytes;
    mc.vcpus = conf->vcpus;
  }
  auto m = host::Machine::Create(mc);
  if (!m) return Fail(m.error());
  host::Machine& machine = **m;
  if (from) {
    if (auto s = host::RestoreSnapshot(machine, *from); !s) return Fail(s.error());
    from.reset();
    if (auto s = machine.Resume(); !s) return Fail(s.error());
  } else {
    if (auto s = machine.Boot(o.kernel, o.initrd, o.append); !s) return Fail(s.error());
    if (auto s = machine.Start(); !s) return Fail(s.error());
  }
  bool stdin_open = true;
  for (;;) {
    // Wait for a signal or console input (stdin goes to the UART).
    pollfd fds[2] = {{sfd, POLLIN, 0}, {0, POLLIN, 0}};
    if (poll(fds, stdin_open ? 2 : 1, 50) > 0 && stdin_open && (fds[1].revents & (POLLIN | POLLHUP))) {
      char buf[256];
      const ssize_t n = read(0, buf, sizeof buf);
      if (n > 0) {
        machine.uart().Input({buf, static_cast<size_t>(n)});
      } else {
        stdin_open = false;
      }
    }
    const host::VmStop why = machine.vm().WaitForStop(0);
    if (why.kind == host::VmStop::Kind::kGuestExit) {
      machine.Pause();
      return static_cast<int>(why.code & 0xff);
    }
    if (why.kind != host::VmStop::Kind::kNone) {
      machine.Pause();
      std::fprintf(stderr, "twinstep vm: guest stopped: %s\n", why.ToString().c_str());
      return 1;
    }
    signalfd_siginfo si{};
    while (read(sfd, &si, sizeof si) == sizeof si) {
      if (static_cast<int>(si.ssi_signo) == snap_sig) {
        const auto t0 = std::chrono::steady_clock::now();
        machine.Pause();
        auto st = host::SaveSnapshot(machine, o.snapshot);
        const auto us = std::chrono::duration_cast<std::chrono::microseconds>(std::chrono::steady_clock::now() - t0);
        if (!st) {
          std::fprintf(stderr, "twinstep vm: snapshot failed: %s\n", st.error().ToString().c_str());
        } else {
          std::fprintf(stderr, "twinstep vm: snapshot %s: %llu bytes, %llu pages, %lld us paused\n", o.snapshot.c_str(),
                       static_cast<unsigned long long>(st->file_bytes), static_cast<unsigned long long>(st->pages_saved),
                       static_cast<long long>(us.count()));
        }
        if (auto s = machine.Resume(); !s) return Fail(s.error());
      } else {
        machine.Pause();
        return 0;
      }
    }
  }
}

}  // namespace

void AddVmCommand(CLI::App& app, int* exit_code) {
  auto o = std::make_shared<VmOptions>();
  auto* vm = app.add_subcommand("vm", "Run one unprotected VM (console on stdout)");
  vm->add_option("--kernel", o->kernel, "Kernel: a PVH ELF (the test guest) or a Linux bzImage")->check(CLI::ExistingFile);
  vm->add_option("--initrd", o->initrd, "Initramfs for a bzImage")->check(CLI::ExistingFile);
  vm->add_option("--append", o->append, "Kernel command line");
  vm->add_option("--disk", o->disk, "Raw disk image for virtio-blk")->check(CLI::ExistingFile);
  vm->add_option("--tap", o->tap, "TAP interface for virtio-net (created if absent)");
  vm->add_option("--mem", o->mem_mib, "Guest RAM in MiB (a multiple of 2)")->check(CLI::Range(2, 1 << 20))->capture_default_str();
  vm->add_option("--snapshot-on", o->snapshot_on, "Signal that writes a snapshot: USR1, USR2 or HUP");
  vm->add_option("--snapshot", o->snapshot, "Where --snapshot-on writes the snapshot");
  vm->add_option("--restore", o->restore, "Start from this snapshot instead of booting")->check(CLI::ExistingFile);
  vm->add_flag("--hugepages", o->hugepages, "Back guest RAM with hugetlbfs pages (memfd MFD_HUGETLB; --mem a multiple of 2)");
  vm->add_flag("--no-polling", o->no_polling, "virtio-net waits for notifications instead of polling the rings");
  vm->callback([o, exit_code] { *exit_code = RunVm(*o); });
}

}  // namespace twinstep::cli
