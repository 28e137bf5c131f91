// A throwaway etcd for tests and benchmarks (see etcd_process.h).
#include "firmware/witness/etcd_process.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <thread>
#include <vector>

#include "firmware/witness/etcd_witness.h"

namespace twinstep::witness {
namespace {

// A loopback port nobody listens on right now (the kernel picks it).
int FreePort() {
  const int fd = socket(AF_INET, SOCK_STREAM, 0);
  if (fd < 0) return -1;
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t len = sizeof(a);
  int port = -1;
  if (bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof(a)) == 0 &&  // sockaddr_in is a sockaddr
      getsockname(fd, reinterpret_cast<sockaddr*>(&a), &len) == 0)
    port = ntohs(a.sin_port);
  close(fd);
  return port;
}

}  // namespace

std::unique_ptr<EtcdProcess> EtcdProcess::Start(std::string* error, const std::string& parent_dir,
                                                bool unsafe_no_fsync) {
  std::unique_ptr<EtcdProcess> p(new EtcdProcess());
  std::string tmpl = parent_dir + "/twinstep-etcd-XXXXXX";
  if (mkdtemp(tmpl.data()) == nullptr) {
    *error = "cannot create a temporary directory under " + parent_dir;
    return nullptr;
  }
  p->dir_ = tmpl;
  const int client_port = FreePort(), peer_port = FreePort();
  if (client_port < 0 || peer_port < 0) {
    *error = "no free loopback port";
    return nullptr;
  }
  const std::string client = "http://127.0.0.1:" + std::to_string(client_port);
  const std::string peer = "http://127.0.0.1:" + std::to_string(peer_port);
  p->endpoint_ = client;
  std::vector<std::string> args = {"etcd",
                                   "--name=witness",
                                   "--data-dir=" + p->dir_ + "/data",
                                   "--listen-client-urls=" + client,
                                   "--advertise-client-urls=" + client,
                                   "--listen-peer-urls=" + peer,
                                   "--initial-advertise-peer-urls=" + peer,
                                   "--initial-cluster=witness=" + peer,
                                   "--log-outputs=" + p->dir_ + "/etcd.log",
                                   "--logger=zap"};
  if (unsafe_no_fsync) args.push_back("--unsafe-no-fsync");
  std::vector<char*> argv;
  for (auto& a : args) argv.push_back(a.data());
  argv.push_back(nullptr);
  const pid_t pid = fork();
  if (pid < 0) {
    *error = "fork failed";
    return nullptr;
  }
  if (pid == 0) {
    const int devnull = open("/dev/null", O_RDWR);
    dup2(devnull, 1);
    dup2(devnull, 2);
    execvp("etcd", argv.data());
    _exit(127);
  }
  p->pid_ = pid;
  EtcdWitness probe({.endpoints = {client}, .pair = "probe", .lease_ttl_s = 5, .timeout_ms = 200});
  for (int i = 0; i < 200; ++i) {
    if (probe.Read()) return p;
    int status = 0;
    if (waitpid(pid, &status, WNOHANG) == pid) {
      p->pid_ = -1;
      *error = "etcd exited at start (is etcd-server installed? log: " + p->dir_ + "/etcd.log)";
      return nullptr;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  *error = "etcd did not serve within 10 s";
  return nullptr;
}

void EtcdProcess::Freeze() {
  if (pid_ > 0) kill(pid_, SIGSTOP);
}

void EtcdProcess::Thaw() {
  if (pid_ > 0) kill(pid_, SIGCONT);
}

void EtcdProcess::Kill() {
  if (pid_ <= 0) return;
  kill(pid_, SIGKILL);
  waitpid(pid_, nullptr, 0);
  pid_ = -1;
}

EtcdProcess::~EtcdProcess() {
  Kill();
  std::error_code ec;
  if (!dir_.empty()) std::filesystem::remove_all(dir_, ec);
}

}  // namespace twinstep::witness
