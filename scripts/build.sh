#!/usr/bin/env bash
# Configures and builds one twinstep tree. Usage: scripts/build.sh [DIR [cmake args...]]
# DIR defaults to build/. Installs missing Debian packages first.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
"$root/scripts/install-deps.sh"
dir="${1:-$root/build}"
shift || true
# ccache (when present) makes a rebuild in a fresh clone of the same sources
# cheap: paths are taken relative to the checkout, so any clone hits the cache.
launcher=()
if command -v ccache >/dev/null; then
  export CCACHE_BASEDIR="$root" CCACHE_NOHASHDIR=1
  launcher=(-DCMAKE_C_COMPILER_LAUNCHER=ccache -DCMAKE_CXX_COMPILER_LAUNCHER=ccache)
fi
if [[ ! -f "$dir/build.ninja" ]]; then
  cmake -S "$root" -B "$dir" -G Ninja "${launcher[@]}" "$@" >/dev/null
fi
cmake --build "$dir" -j "$(nproc)"
