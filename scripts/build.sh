#!/usr/bin/env bash
# Configures and builds one twinstep tree. Usage: scripts/build.sh [DIR [cmake args...]]
# DIR defaults to build/. Installs missing Debian packages first.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
"$root/scripts/install-deps.sh"
dir="${1:-$root/build}"
shift || true
if [[ ! -f "$dir/build.ninja" ]]; then
  cmake -S "$root" -B "$dir" -G Ninja "$@" >/dev/null
fi
cmake --build "$dir" -j "$(nproc)"
