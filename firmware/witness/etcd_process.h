// A throwaway etcd for tests and benchmarks: started on free loopback ports
// with a temporary data dir, killed and removed on destruction.
#pragma once

#include <sys/types.h>

#include <memory>
#include <string>

namespace twinstep::witness {

class EtcdProcess {
 public:
  // Starts `etcd` from PATH with its data dir under `parent_dir` and waits
  // until it serves; nullptr and *error set if it cannot (for example: etcd
  // not installed). `unsafe_no_fsync`: etcd skips its WAL fsyncs (a local
  // benchmark etcd only: a crash may lose what it acknowledged).
  static std::unique_ptr<EtcdProcess> Start(std::string* error, const std::string& parent_dir = "/tmp",
                                            bool unsafe_no_fsync = false);
  ~EtcdProcess();
  EtcdProcess(const EtcdProcess&) = delete;
  EtcdProcess& operator=(const EtcdProcess&) = delete;

  const std::string& endpoint() const { return endpoint_; }  // http://127.0.0.1:<port>
  void Freeze();  // SIGSTOP: connections are accepted, nothing is answered
  void Thaw();    // SIGCONT
  void Kill();    // gone for good: connections are refused

 private:
  EtcdProcess() = default;
  pid_t pid_ = -1;
  std::string dir_;
  std::string endpoint_;
};

}  // namespace twinstep::witness
