// The node's control socket: a unix stream socket answering one request line
// with one reply line (`status`, `checkpoint`, fault injection), served on its
// own thread so that a slow client never stalls the node.
#pragma once

#include <atomic>
#include <functional>
#include <string>
#include <thread>

namespace twinstep::replication {

class ControlSocket {
 public:
  using Handler = std::function<std::string(const std::string& request)>;
  // Binds `path` (an old socket file there is replaced); false and *error if it cannot.
  bool Start(const std::string& path, Handler handler, std::string* error);
  ~ControlSocket();

 private:
  void Serve();
  std::string path_;
  Handler handler_;
  int fd_ = -1;
  std::atomic<bool> stop_{false};
  std::thread thread_;
};

}  // namespace twinstep::replication
