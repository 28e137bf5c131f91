// Child processes for the simulation (see command.h).
#include "simulation/command.h"

#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <thread>

extern char** environ;

namespace twinstep::sim {
namespace {

std::vector<char*> Argv(std::vector<std::string>& args) {
  std::vector<char*> v;
  for (auto& a : args) v.push_back(a.data());
  v.push_back(nullptr);
  return v;
}

}  // namespace

const char* SimErrcMessage(SimErrc code) {
  switch (code) {
    case SimErrc::kNotRoot: return "needs root (network namespaces, veth pairs, KVM)";
    case SimErrc::kCommand: return "a command failed";
    case SimErrc::kTopology: return "cannot build the topology";
    case SimErrc::kEtcd: return "cannot start the etcd witness";
    case SimErrc::kScenario: return "bad scenario";
    case SimErrc::kNode: return "node process";
    case SimErrc::kWorkload: return "workload";
    case SimErrc::kReport: return "cannot write the report";
    case SimErrc::kIo: return "I/O error";
  }
  return "unknown error";
}

std::string JoinArgs(const std::vector<std::string>& argv) {
  std::string s;
  for (const auto& a : argv) s += (s.empty() ? "" : " ") + a;
  return s;
}

CommandResult RunCommand(const std::vector<std::string>& argv) {
  CommandResult r;
  int fds[2];
  if (pipe2(fds, O_CLOEXEC) != 0) return r;
  posix_spawn_file_actions_t fa;
  posix_spawn_file_actions_init(&fa);
  posix_spawn_file_actions_adddup2(&fa, fds[1], 1);
  posix_spawn_file_actions_adddup2(&fa, fds[1], 2);
  posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0);
  std::vector<std::string> args = argv;
  auto cargv = Argv(args);
  pid_t pid = -1;
  const int rc = posix_spawnp(&pid, cargv[0], &fa, nullptr, cargv.data(), environ);
  posix_spawn_file_actions_destroy(&fa);
  close(fds[1]);
  if (rc != 0) {
    close(fds[0]);
    r.output = "cannot run " + argv[0];
    return r;
  }
  char buf[4096];
  for (ssize_t n; (n = read(fds[0], buf, sizeof buf)) > 0;) r.output.append(buf, static_cast<size_t>(n));
  close(fds[0]);
  int status = 0;
  waitpid(pid, &status, 0);
  r.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  return r;
}

SimResult<std::string> Check(const std::vector<std::string>& argv, SimErrc code) {
  CommandResult r = RunCommand(argv);
  if (r.exit_code != 0) {
    while (!r.output.empty() && r.output.back() == '\n') r.output.pop_back();
    return SimFail(code, "'" + JoinArgs(argv) + "' failed (exit " + std::to_string(r.exit_code) + "): " + r.output);
  }
  return r.output;
}

SimResult<pid_t> SpawnLogged(const std::vector<std::string>& argv, const std::string& log_path,
                             const std::string& netns) {
  std::vector<std::string> args = argv;
  if (!netns.empty()) args.insert(args.begin(), {"ip", "netns", "exec", netns});
  const int log = open(log_path.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
  if (log < 0) return SimFail(SimErrc::kIo, "cannot open " + log_path);
  posix_spawn_file_actions_t fa;
  posix_spawn_file_actions_init(&fa);
  posix_spawn_file_actions_adddup2(&fa, log, 1);
  posix_spawn_file_actions_adddup2(&fa, log, 2);
  posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0);
  posix_spawnattr_t attr;
  posix_spawnattr_init(&attr);
  // Own process group, so that a Ctrl-C on the terminal reaches only the sim,
  // which then stops its children in order.
  posix_spawnattr_setflags(&attr, POSIX_SPAWN_SETPGROUP | POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF);
  posix_spawnattr_setpgroup(&attr, 0);
  sigset_t none, all;
  sigemptyset(&none);
  sigfillset(&all);
  posix_spawnattr_setsigmask(&attr, &none);
  posix_spawnattr_setsigdefault(&attr, &all);
  auto cargv = Argv(args);
  pid_t pid = -1;
  const int rc = posix_spawnp(&pid, cargv[0], &fa, &attr, cargv.data(), environ);
  posix_spawn_file_actions_destroy(&fa);
  posix_spawnattr_destroy(&attr);
  close(log);
  if (rc != 0) return SimFail(SimErrc::kNode, "cannot start '" + JoinArgs(args) + "'");
  return pid;
}

bool Reap(pid_t pid, int* status) {
  if (pid <= 0) return true;
  int st = 0;
  const pid_t r = waitpid(pid, &st, WNOHANG);
  if (r == pid || r < 0) {
    if (status) *status = st;
    return true;
  }
  return false;
}

void Terminate(pid_t pid, int grace_ms) {
  if (pid <= 0) return;
  kill(pid, SIGCONT);  // a stopped process cannot act on SIGTERM
  kill(pid, SIGTERM);
  const auto end = std::chrono::steady_clock::now() + std::chrono::milliseconds(grace_ms);
  while (std::chrono::steady_clock::now() < end) {
    if (Reap(pid, nullptr)) return;
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  kill(pid, SIGKILL);
  waitpid(pid, nullptr, 0);
}

}  // namespace twinstep::sim
