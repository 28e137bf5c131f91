#!/usr/bin/env bash
# The whole test suite: installs what is missing, builds the normal tree and the
# ASan + UBSan tree of the hardware-independent parts, and runs every test.
# Extra arguments go to ctest for the normal tree (for example: -L unit).
set -uo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
set -e
"$root/scripts/build.sh" "$root/build-asan" -DTWINSTEP_SANITIZE=ON -DTWINSTEP_PURE_ONLY=ON -DCMAKE_BUILD_TYPE=RelWithDebInfo
"$root/scripts/build.sh" "$root/build"
set +e
echo "== sanitizer tree (ASan + UBSan): unit and fuzz tests"
ctest --test-dir "$root/build-asan" --output-on-failure -j 2 -L 'unit|fuzz'
asan_rc=$?
echo "== normal tree: every test"
ctest --test-dir "$root/build" --output-on-failure "$@"
rc=$?
if ((asan_rc != 0 || rc != 0)); then
  echo "test.sh: FAILED (sanitizer tree exit $asan_rc, normal tree exit $rc)"
  exit 1
fi
