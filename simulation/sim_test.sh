#!/usr/bin/env bash
# One `twinstep sim` scenario as a test (label sim): passes when every check of
# the scenario passes. Usage: sim_test.sh TWINSTEP SCENARIO. Exit 77 = skipped.
set -uo pipefail
twinstep=$1
scenario=$2
if [[ $(id -u) -ne 0 ]]; then echo "SKIP: twinstep sim needs root (network namespaces, veths)"; exit 77; fi
for tool in ip etcd; do
  command -v "$tool" >/dev/null || { echo "SKIP: $tool is not installed (scripts/install-deps.sh)"; exit 77; }
done
out=$(mktemp -d /tmp/twinstep-simtest.XXXXXX)
trap 'rm -rf "$out"' EXIT
"$twinstep" sim "$scenario" --out "$out" --no-progress
rc=$?
cat "$out/summary.txt" 2>/dev/null
exit $rc
