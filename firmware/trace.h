// Event traces for RoleMachine replay (issue 9: SPIN walks replayed against
// the firmware). One step per line: `<event> [<arg>] [=> <role> <epoch>]`;
// blank lines and `#` comments are skipped. Example:
//   start_alone
//   witness_grant 1 => solo 1
// Pure and heap-free, like the machine.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string_view>

#include "common/expected.h"
#include "firmware/role.h"

namespace twinstep::firmware {

enum class TraceError : uint8_t {
  kUnknownEvent = 1,
  kBadNumber,
  kUnknownRole,
  kMissingExpectation,  // "=>" without "<role> <epoch>"
  kTrailingText,
};
const char* TraceErrorMessage(TraceError e);

struct TraceStep {
  EventRecord event;
  bool has_expectation = false;
  Role role = Role::kJoining;  // expected role after the step
  uint64_t epoch = 0;          // expected epoch after the step
};

// Parses one line; returns false (no step) for a blank or comment line.
Expected<bool, TraceError> ParseTraceLine(std::string_view line, TraceStep* out);

struct ReplayResult {
  bool ok = true;
  size_t line = 0;         // 1-based line of the first failure
  bool parse_failed = false;
  TraceError error = TraceError::kUnknownEvent;  // when parse_failed
  TraceStep step;          // the failing step
  RoleState got;           // the machine's state after it
  size_t steps = 0;        // steps applied
};

// Applies every step of `text` to `m`, stopping at the first line that does
// not parse or whose expectation the machine does not meet.
ReplayResult ReplayTrace(std::string_view text, RoleMachine& m);

}  // namespace twinstep::firmware
