// The node's event log: one JSON object per line (docs/replication.md) for
// `twinstep sim`'s report and for operators, and the same event as a human
// line on stdout. Thread-safe; written at control-path rate only.
#pragma once

#include <cstdio>
#include <mutex>
#include <string>

#include <nlohmann/json.hpp>

namespace twinstep::replication {

class EventLog {
 public:
  // `path` empty: stdout only. An unwritable path is an error at Open.
  static bool Open(const std::string& node, const std::string& path, EventLog* out, std::string* error);
  EventLog() = default;
  ~EventLog();
  EventLog(const EventLog&) = delete;
  EventLog& operator=(const EventLog&) = delete;

  // Adds "t" (CLOCK_REALTIME seconds), "node" and "event" to `fields`.
  void Emit(const std::string& event, nlohmann::json fields = nlohmann::json::object());
  // A progress or diagnostic line on stdout only.
  void Say(const std::string& text);

 private:
  std::mutex mu_;
  std::string node_;
  FILE* file_ = nullptr;
};

}  // namespace twinstep::replication
