// Random walks of the SPIN model (twinstep.pml, -DWALK), read line by line:
// shared by the replays against the role machine and the witness client.
#pragma once

#include <cstdio>
#include <functional>
#include <string>

namespace twinstep::firmware {

// Fault budgets of the walks: larger than the exhaustive checks', since a walk
// is one path, not all of them.
inline constexpr const char* kWalkFlags =
    "-DWALK -DCRASHES=2 -DFALSESUSP=2 -DLINKFAULTS=3 -DWFAULTS=2 -DLEASEFAULTS=1";
inline constexpr long kStepsPerSeed = 1500000;  // about 2000 walks per seed

// Runs `spin` (TWINSTEP_SPIN) on the model with `seed` and hands every output
// line to `line`, which returns false to stop early. False if spin did not run.
inline bool RunWalks(const char* spin, const char* model, int seed,
                     const std::function<bool(const std::string&)>& line) {
  // spin preprocesses into its working directory: give it a scratch one.
  const std::string cmd = std::string("d=$(mktemp -d) && cd \"$d\" && ") + spin + " " + kWalkFlags + " -n" +
                          std::to_string(seed) + " -u" + std::to_string(kStepsPerSeed) + " " + model +
                          " 2>&1; cd / && rm -rf \"$d\"";
  FILE* out = popen(cmd.c_str(), "r");
  if (out == nullptr) return false;
  char buf[512];
  bool more = true;
  while (more && fgets(buf, sizeof buf, out) != nullptr) more = line(buf);
  if (!more) {
    while (fgets(buf, sizeof buf, out) != nullptr) {
    }
  }
  pclose(out);
  return true;
}

}  // namespace twinstep::firmware
