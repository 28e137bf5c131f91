// Event-trace parsing and replay for RoleMachine (see trace.h).
#include "firmware/trace.h"

namespace twinstep::firmware {
namespace {

bool IsSpace(char c) { return c == ' ' || c == '\t' || c == '\r'; }

// Splits off the next whitespace-separated word of `*rest`; empty at the end.
std::string_view NextWord(std::string_view* rest) {
  size_t i = 0;
  while (i < rest->size() && IsSpace((*rest)[i])) ++i;
  size_t j = i;
  while (j < rest->size() && !IsSpace((*rest)[j])) ++j;
  std::string_view w = rest->substr(i, j - i);
  *rest = rest->substr(j);
  return w;
}

bool ParseU64(std::string_view w, uint64_t* out) {
  if (w.empty() || w.size() > 20) return false;
  uint64_t v = 0;
  for (char c : w) {
    if (c < '0' || c > '9') return false;
    const uint64_t d = uint64_t(c - '0');
    if (v > (UINT64_MAX - d) / 10) return false;
    v = v * 10 + d;
  }
  *out = v;
  return true;
}

// Name lookup without a NUL-terminated copy.
template <typename T, typename NameFn>
bool Lookup(std::string_view w, size_t count, NameFn name, T* out) {
  for (size_t i = 1; i < count; ++i) {
    if (w == std::string_view(name(static_cast<T>(i)))) {
      *out = static_cast<T>(i);
      return true;
    }
  }
  return false;
}

}  // namespace

const char* TraceErrorMessage(TraceError e) {
  switch (e) {
    case TraceError::kUnknownEvent: return "unknown event name";
    case TraceError::kBadNumber: return "argument or epoch is not a decimal number";
    case TraceError::kUnknownRole: return "unknown role name after =>";
    case TraceError::kMissingExpectation: return "=> must be followed by <role> <epoch>";
    case TraceError::kTrailingText: return "unexpected text at the end of the line";
  }
  return "unknown trace error";
}

Expected<bool, TraceError> ParseTraceLine(std::string_view line, TraceStep* out) {
  const size_t hash = line.find('#');
  if (hash != std::string_view::npos) line = line.substr(0, hash);
  std::string_view rest = line;
  const std::string_view name = NextWord(&rest);
  if (name.empty()) return false;
  TraceStep step;
  if (!Lookup(name, kEventCount, EventName, &step.event.event)) return MakeUnexpected(TraceError::kUnknownEvent);
  std::string_view w = NextWord(&rest);
  if (!w.empty() && w != "=>") {
    if (!ParseU64(w, &step.event.arg)) return MakeUnexpected(TraceError::kBadNumber);
    w = NextWord(&rest);
  }
  if (w == "=>") {
    const std::string_view role = NextWord(&rest);
    const std::string_view epoch = NextWord(&rest);
    if (role.empty() || epoch.empty()) return MakeUnexpected(TraceError::kMissingExpectation);
    if (!Lookup(role, kRoleCount, RoleName, &step.role)) return MakeUnexpected(TraceError::kUnknownRole);
    if (!ParseU64(epoch, &step.epoch)) return MakeUnexpected(TraceError::kBadNumber);
    step.has_expectation = true;
    w = NextWord(&rest);
  }
  if (!w.empty()) return MakeUnexpected(TraceError::kTrailingText);
  *out = step;
  return true;
}

ReplayResult ReplayTrace(std::string_view text, RoleMachine& m) {
  ReplayResult r;
  size_t line_no = 0;
  while (!text.empty()) {
    const size_t nl = text.find('\n');
    const std::string_view line = text.substr(0, nl);
    text = nl == std::string_view::npos ? std::string_view() : text.substr(nl + 1);
    ++line_no;
    TraceStep step;
    auto parsed = ParseTraceLine(line, &step);
    if (!parsed) {
      r.ok = false;
      r.line = line_no;
      r.parse_failed = true;
      r.error = parsed.error();
      return r;
    }
    if (!*parsed) continue;
    m.Step(step.event.event, step.event.arg);
    ++r.steps;
    if (step.has_expectation && (m.role() != step.role || m.epoch() != step.epoch)) {
      r.ok = false;
      r.line = line_no;
      r.step = step;
      r.got = m.state();
      return r;
    }
  }
  return r;
}

}  // namespace twinstep::firmware
