// The node's event log (see event_log.h).
#include "host/replication/event_log.h"

#include <time.h>

#include <cerrno>
#include <cstring>

namespace twinstep::replication {

bool EventLog::Open(const std::string& node, const std::string& path, EventLog* out, std::string* error) {
  out->node_ = node;
  if (path.empty()) return true;
  out->file_ = std::fopen(path.c_str(), "a");
  if (!out->file_) {
    *error = "cannot open the event log '" + path + "': " + std::strerror(errno);
    return false;
  }
  return true;
}

EventLog::~EventLog() {
  if (file_) std::fclose(file_);
}

void EventLog::Emit(const std::string& event, nlohmann::json fields) {
  timespec ts{};
  clock_gettime(CLOCK_REALTIME, &ts);
  fields["t"] = static_cast<double>(ts.tv_sec) + static_cast<double>(ts.tv_nsec) * 1e-9;
  fields["node"] = node_;
  fields["event"] = event;
  const std::string line = fields.dump();
  std::lock_guard<std::mutex> lock(mu_);
  if (file_) {
    std::fprintf(file_, "%s\n", line.c_str());
    std::fflush(file_);
  }
  std::printf("twinstep node %s: %s\n", node_.c_str(), line.c_str());
  std::fflush(stdout);
}

void EventLog::Say(const std::string& text) {
  std::lock_guard<std::mutex> lock(mu_);
  std::printf("twinstep node %s: %s\n", node_.c_str(), text.c_str());
  std::fflush(stdout);
}

}  // namespace twinstep::replication
