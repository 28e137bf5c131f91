#!/usr/bin/env bash
# The main job: installs what is missing, builds, and runs the default job
# (until the simulation lands: the comparator benchmark).
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
"$root/scripts/build.sh" "$root/build"
exec "$root/build/cli/twinstep" bench comparator "$@"
