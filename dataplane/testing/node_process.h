// Test helper: runs dataplane_node in a child process (one EAL per process),
// waits for its "ready" line, stops it with SIGTERM and reads its log.
#pragma once

#include <signal.h>
#include <spawn.h>
#include <sys/select.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <fstream>
#include <map>
#include <string>
#include <vector>

extern char** environ;

namespace twinstep::dataplane::testing {

struct NodeRun {
  std::vector<std::string> lines;           // the log, but for stat lines
  std::map<std::string, uint64_t> stats;    // "stat NAME VALUE"
  int exit_code = -1;
  std::string output;                       // stdout + stderr
};

class NodeProcess {
 public:
  NodeProcess(const std::string& binary, std::vector<std::string> args, std::string log_path = "")
      : log_path_(std::move(log_path)) {
    args.insert(args.begin(), binary);
    if (!log_path_.empty()) args.insert(args.end(), {"--log", log_path_});
    std::vector<char*> argv;
    for (auto& a : args) argv.push_back(a.data());
    argv.push_back(nullptr);
    int fds[2];
    if (pipe(fds) != 0) return;
    posix_spawn_file_actions_t fa;
    posix_spawn_file_actions_init(&fa);
    posix_spawn_file_actions_adddup2(&fa, fds[1], 1);
    posix_spawn_file_actions_adddup2(&fa, fds[1], 2);
    posix_spawn_file_actions_addclose(&fa, fds[0]);
    if (posix_spawn(&pid_, binary.c_str(), &fa, nullptr, argv.data(), environ) != 0) pid_ = -1;
    posix_spawn_file_actions_destroy(&fa);
    close(fds[1]);
    out_fd_ = fds[0];
  }
  ~NodeProcess() {
    if (pid_ > 0) {
      kill(pid_, SIGKILL);
      waitpid(pid_, nullptr, 0);
    }
    if (out_fd_ >= 0) close(out_fd_);
  }
  bool started() const { return pid_ > 0; }

  // Reads output until a line equal to `word` appears, the process ends, or the time is up.
  bool WaitFor(const std::string& word, int timeout_s) {
    const auto end = std::chrono::steady_clock::now() + std::chrono::seconds(timeout_s);
    while (std::chrono::steady_clock::now() < end) {
      if (output_.find(word + "\n") != std::string::npos) return true;
      if (!ReadSome(100)) return output_.find(word + "\n") != std::string::npos;
    }
    return false;
  }

  // SIGTERM (or wait for a process that exits by itself), then read the log.
  NodeRun Stop(bool terminate = true, int timeout_s = 60) {
    NodeRun run;
    if (pid_ <= 0) return run;
    if (terminate) kill(pid_, SIGTERM);
    const auto end = std::chrono::steady_clock::now() + std::chrono::seconds(timeout_s);
    int status = 0;
    while (waitpid(pid_, &status, WNOHANG) == 0) {
      if (std::chrono::steady_clock::now() > end) {
        kill(pid_, SIGKILL);
        waitpid(pid_, &status, 0);
        break;
      }
      ReadSome(50);
    }
    while (ReadSome(0)) {
    }
    pid_ = -1;
    run.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
    run.output = output_;
    if (!log_path_.empty()) {
      std::ifstream in(log_path_);
      std::string line;
      while (std::getline(in, line)) {
        if (line.rfind("stat ", 0) == 0) {
          const size_t sp = line.find(' ', 5);
          run.stats[line.substr(5, sp - 5)] = std::stoull(line.substr(sp + 1));
        } else {
          run.lines.push_back(line);
        }
      }
    }
    return run;
  }

 private:
  // False at end of file.
  bool ReadSome(int timeout_ms) {
    if (out_fd_ < 0) return false;
    fd_set set;
    FD_ZERO(&set);
    FD_SET(out_fd_, &set);
    timeval tv{timeout_ms / 1000, (timeout_ms % 1000) * 1000};
    if (select(out_fd_ + 1, &set, nullptr, nullptr, &tv) <= 0) return true;
    char buf[4096];
    const ssize_t n = read(out_fd_, buf, sizeof buf);
    if (n <= 0) return false;
    output_.append(buf, static_cast<size_t>(n));
    return true;
  }
  pid_t pid_ = -1;
  int out_fd_ = -1;
  std::string log_path_;
  std::string output_;
};

}  // namespace twinstep::dataplane::testing
