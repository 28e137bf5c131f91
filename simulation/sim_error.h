// Errors of `twinstep sim`: one enum, each value with its message, and the
// detail naming what failed and where.
#pragma once

#include <string>

#include "common/expected.h"

namespace twinstep::sim {

enum class SimErrc {
  kNotRoot,
  kCommand,
  kTopology,
  kEtcd,
  kScenario,
  kNode,
  kWorkload,
  kReport,
  kIo,
};

const char* SimErrcMessage(SimErrc code);

struct SimError {
  SimErrc code = SimErrc::kIo;
  std::string detail;
  std::string Message() const { return std::string(SimErrcMessage(code)) + ": " + detail; }
};

template <typename T>
using SimResult = Expected<T, SimError>;

inline Unexpected<SimError> SimFail(SimErrc code, std::string detail) {
  return MakeUnexpected(SimError{code, std::move(detail)});
}

}  // namespace twinstep::sim
