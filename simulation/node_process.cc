// One simulated node as a child process (see node_process.h).
#include "simulation/node_process.h"

#include <signal.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <chrono>
#include <cstring>
#include <fstream>

#include "dataplane/eal.h"
#include "simulation/command.h"

namespace twinstep::sim {

double NowSeconds() {
  timespec ts;
  clock_gettime(CLOCK_REALTIME, &ts);
  return static_cast<double>(ts.tv_sec) + static_cast<double>(ts.tv_nsec) * 1e-9;
}

NodeProcess::~NodeProcess() {
  StopSlow();
  if (pid_ > 0) {
    kill(pid_, SIGKILL);
    waitpid(pid_, nullptr, 0);
  }
}

void NodeProcess::Note(const std::string& event, nlohmann::json fields) {
  pending_.push_back(NodeEvent{NowSeconds(), launch_.name, event, std::move(fields)});
  pending_.back().fields["source"] = "sim";
}

SimResult<void> NodeProcess::Start() {
  if (pid_ > 0) return SimFail(SimErrc::kNode, launch_.name + " is running already");
  starts_again_ = 0;
  return Spawn();
}

SimResult<void> NodeProcess::Spawn() {
  ++starts_;
  const std::string tag = launch_.name + "-" + std::to_string(starts_);
  log_path_ = launch_.out_dir + "/" + tag + ".log";
  events_path_ = launch_.out_dir + "/" + tag + ".events.jsonl";
  events_offset_ = 0;
  partial_.clear();
  last_exit_.clear();
  ready_ = false;
  role_ = "none";
  std::vector<std::string> argv;
  std::string netns;
  if (launch_.mode == "pair") {
    argv = {launch_.twinstep, "node", "--config", launch_.config, "--events", events_path_};
  } else if (launch_.mode == "solo-vm") {
    argv = {launch_.twinstep, "vm", "--kernel", launch_.kernel, "--tap", launch_.tap, "--append", launch_.append,
            "--mem", std::to_string(launch_.memory_mib)};
    netns = launch_.netns;
  } else {
    argv = {"qemu-system-x86_64", "-m", std::to_string(launch_.memory_mib), "-nographic", "-nodefaults",
            "-no-reboot", "-bios", "/usr/share/qemu/bios-microvm.bin", "-serial", "stdio", "-kernel", launch_.kernel,
            "-append", launch_.append, "-netdev", "tap,id=n0,ifname=" + launch_.tap + ",script=no,downscript=no",
            "-device", "virtio-net-pci,netdev=n0,disable-legacy=on,romfile=,mac=" + launch_.append.substr(
                launch_.append.find("mac=") + 4, 17)};
    argv.insert(argv.begin() + 1, {"-accel", access("/dev/kvm", R_OK | W_OK) == 0 ? "kvm" : "tcg"});
    netns = launch_.netns;
  }
  auto pid = SpawnLogged(argv, log_path_, netns);
  if (!pid) return MakeUnexpected(pid.error());
  pid_ = *pid;
  Note("spawn", {{"pid", pid_}, {"log", log_path_}, {"start", starts_}});
  return {};
}

void NodeProcess::Kill9() {
  if (pid_ <= 0) return;
  StopSlow();
  kill(pid_, SIGKILL);
  Note("kill9", {{"pid", pid_}});
}

void NodeProcess::Sigstop() {
  if (pid_ <= 0) return;
  kill(pid_, SIGSTOP);
  Note("sigstop");
}

void NodeProcess::Sigcont() {
  if (pid_ <= 0) return;
  kill(pid_, SIGCONT);
  Note("sigcont");
}

void NodeProcess::Stop() {
  StopSlow();
  if (pid_ <= 0) return;
  Note("sigterm");
  int status = 0;
  Terminate(pid_, 10000);
  (void)status;
  Note("exit", {{"reason", "stopped by the sim"}});
  pid_ = -1;
  ReadEvents();
}

void NodeProcess::StopSlow() {
  if (!slow_thread_.joinable()) return;
  slow_stop_ = true;
  slow_thread_.join();
  if (pid_ > 0) kill(pid_, SIGCONT);
}

void NodeProcess::Slow(uint32_t run_ms, uint32_t stop_ms) {
  StopSlow();
  Note("slow", {{"run_ms", run_ms}, {"stop_ms", stop_ms}});
  if (run_ms == 0 || pid_ <= 0) return;
  slow_stop_ = false;
  const pid_t pid = pid_;
  slow_thread_ = std::thread([this, pid, run_ms, stop_ms] {
    while (!slow_stop_) {
      kill(pid, SIGSTOP);
      std::this_thread::sleep_for(std::chrono::milliseconds(stop_ms));
      kill(pid, SIGCONT);
      std::this_thread::sleep_for(std::chrono::milliseconds(run_ms));
    }
  });
}

void NodeProcess::ReadEvents() {
  if (launch_.mode != "pair") {
    // The solo guest has no events file: its console says when it is ready.
    if (ready_ || log_path_.empty()) return;
    std::ifstream in(log_path_);
    std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    if (text.find("twinstep-testguest: ready") != std::string::npos) {
      ready_ = true;
      role_ = "solo";
      Note("ready", {{"role", "solo"}});
    }
    return;
  }
  std::ifstream in(events_path_, std::ios::binary);
  if (!in) return;
  in.seekg(static_cast<std::streamoff>(events_offset_));
  std::string chunk((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  events_offset_ += chunk.size();
  partial_ += chunk;
  size_t start = 0;
  for (size_t nl; (nl = partial_.find('\n', start)) != std::string::npos; start = nl + 1) {
    const std::string line = partial_.substr(start, nl - start);
    auto j = nlohmann::json::parse(line, nullptr, false);
    if (j.is_discarded() || !j.is_object()) {
      Note("bad_event_line", {{"line", line.substr(0, 200)}});
      continue;
    }
    NodeEvent e;
    e.t = j.value("t", NowSeconds());
    e.node = j.value("node", launch_.name);
    e.event = j.value("event", "?");
    e.fields = j;
    if (e.event == "ready") ready_ = true;
    if (e.event == "role" && j.contains("role") && j["role"].is_string()) role_ = j["role"].get<std::string>();
    pending_.push_back(std::move(e));
  }
  partial_.erase(0, start);
}

std::string NodeProcess::LastLogLine() const {
  std::ifstream in(log_path_);
  std::string line, last;
  while (std::getline(in, line)) {
    if (!line.empty()) last = line;
  }
  constexpr size_t kMax = 300;
  if (last.size() > kMax) last = last.substr(0, kMax) + "...";
  return last;
}

std::vector<NodeEvent> NodeProcess::Poll() {
  ReadEvents();
  int status = 0;
  if (pid_ > 0 && Reap(pid_, &status)) {
    ReadEvents();
    std::string why = WIFSIGNALED(status) ? "killed by signal " + std::to_string(WTERMSIG(status))
                                          : "exit status " + std::to_string(WEXITSTATUS(status));
    // A node that fails says why on its last line: the summary names it, so
    // a failed run (in CI, say) can be understood without the node's log.
    if (!WIFSIGNALED(status) && WEXITSTATUS(status) != 0) {
      if (const std::string last = LastLogLine(); !last.empty()) why += ": " + last;
    }
    Note("exit", {{"reason", why}, {"pid", pid_}});
    last_exit_ = why;
    pid_ = -1;
    const bool was_ready = ready_;
    ready_ = false;
    role_ = "dead";
    StopSlow();
    // A node that failed to start for a reason a new process avoids (DPDK
    // 22.11's af_packet fanout ids are getpid() XOR ifindex: two nodes'
    // ports can collide) is started again, as an operator would.
    if (!WIFSIGNALED(status) && WEXITSTATUS(status) == dataplane::kExitStartAgain && !was_ready &&
        starts_again_ < kMaxStartsAgain) {
      ++starts_again_;
      Note("start_again", {{"reason", why}});
      if (auto r = Spawn(); !r) Note("start_again_failed", {{"reason", r.error().Message()}});
    }
  }
  std::vector<NodeEvent> out;
  out.swap(pending_);
  return out;
}

SimResult<std::string> NodeProcess::Control(const std::string& request) const {
  if (launch_.control_socket.empty()) return SimFail(SimErrc::kNode, launch_.name + " has no control socket");
  const int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_un a{};
  a.sun_family = AF_UNIX;
  std::strncpy(a.sun_path, launch_.control_socket.c_str(), sizeof a.sun_path - 1);
  // sockaddr_un is the sockaddr of an AF_UNIX socket.
  if (fd < 0 || connect(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0) {
    if (fd >= 0) close(fd);
    return SimFail(SimErrc::kNode, launch_.name + ": cannot connect to " + launch_.control_socket);
  }
  timeval tv{5, 0};
  setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  const std::string line = request + "\n";
  std::string reply;
  if (write(fd, line.data(), line.size()) == static_cast<ssize_t>(line.size())) {
    char buf[4096];
    for (ssize_t n; (n = read(fd, buf, sizeof buf)) > 0;) reply.append(buf, static_cast<size_t>(n));
  }
  close(fd);
  while (!reply.empty() && (reply.back() == '\n' || reply.back() == '\r')) reply.pop_back();
  if (reply.empty()) return SimFail(SimErrc::kNode, launch_.name + ": no reply to '" + request + "'");
  return reply;
}

}  // namespace twinstep::sim
