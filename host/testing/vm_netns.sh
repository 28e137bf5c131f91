# Shell support for the VMM's end-to-end tests (sourced): a private network
# namespace with the guest's TAP device at 10.0.2.2/24, background processes
# killed and the namespace removed on exit. Exit code 77 means skipped.
skip() { echo "SKIPPED: $*"; exit 77; }
pids=()
work=$(mktemp -d)
ns=tsvm$$
NS="ip netns exec $ns"
cleanup() {
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null; done
  wait 2>/dev/null
  ip netns del "$ns" 2>/dev/null
  rm -rf "$work"
}
trap cleanup EXIT
fail() {
  echo "FAIL: $*"
  for f in "$work"/out* "$work"/err*; do [[ -f $f ]] && { echo "--- $f"; tail -50 "$f"; }; done
  exit 1
}
# Checks what every test here needs, then makes the namespace.
require_vm_netns() {
  [[ -r /dev/kvm && -w /dev/kvm ]] || skip "no usable /dev/kvm"
  [[ $(id -u) == 0 ]] || skip "needs root for a network namespace and a TAP device"
  for t in socat "$@"; do command -v "$t" >/dev/null || skip "$t is not installed (scripts/packages.txt)"; done
  ip netns add "$ns" || skip "cannot create a network namespace"
  $NS ip link set lo up
}
# Waits for the VMM to create tap0, then gives it the host side's address.
up_tap() {
  for _ in $(seq 200); do $NS ip link show tap0 >/dev/null 2>&1 && break; sleep 0.05; done
  $NS ip addr add 10.0.2.2/24 dev tap0 2>/dev/null
  $NS ip link set tap0 up
}
# wait_for FILE PATTERN SECONDS
wait_for() {
  for _ in $(seq $(($3 * 20))); do grep -q "$2" "$1" && return 0; sleep 0.05; done
  return 1
}
