#!/usr/bin/env bash
# The main job: installs what is missing, builds, and runs the default
# simulation scenario (simulation/scenarios/default.toml): two nodes on this
# machine, a UDP key-value workload, the primary killed mid-run, failover,
# re-protect. Extra arguments go to `twinstep sim` (another scenario file,
# --out DIR). Needs root (network namespaces).
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
"$root/scripts/build.sh" "$root/build"
exec "$root/build/cli/twinstep" sim "$@"
