#!/usr/bin/env bash
# `twinstep vm` end to end with real clients: the test guest behind a TAP device
# in a private network namespace answers UDP echo and memcached from socat; a
# snapshot taken on SIGUSR1 is restored by a second process, whose store still
# holds the key. Usage: vm_cli_test.sh TWINSTEP TESTGUEST_ELF. Exit 77 = skipped.
set -uo pipefail
twinstep=$1
guest=$2
skip() { echo "SKIPPED: $*"; exit 77; }
[[ -r /dev/kvm && -w /dev/kvm ]] || skip "no usable /dev/kvm"
[[ $(id -u) == 0 ]] || skip "needs root for a network namespace and a TAP device"
command -v socat >/dev/null || skip "socat is not installed (scripts/packages.txt)"
ns=tsvm$$
work=$(mktemp -d)
pids=()
cleanup() {
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null; done
  wait 2>/dev/null
  ip netns del "$ns" 2>/dev/null
  rm -rf "$work"
}
trap cleanup EXIT
fail() { echo "FAIL: $*"; echo "--- console 1"; cat "$work/out1" 2>/dev/null; echo "--- stderr"; cat "$work"/err* 2>/dev/null; exit 1; }
ip netns add "$ns" || skip "cannot create a network namespace"
NS="ip netns exec $ns"
$NS ip link set lo up
up_tap() {
  for _ in $(seq 100); do $NS ip link show tap0 >/dev/null 2>&1 && break; sleep 0.05; done
  $NS ip addr add 10.0.2.2/24 dev tap0 2>/dev/null
  $NS ip link set tap0 up
}
wait_ready() {
  for _ in $(seq 300); do grep -q "twinstep-testguest: ready" "$1" && return 0; sleep 0.05; done
  return 1
}
udp() {  # udp PORT PAYLOAD: one datagram, prints the reply
  printf "$2" | $NS timeout 5 socat -t 3 - "UDP:10.0.2.15:$1"
}
mc() { udp 11211 '\x00\x01\x00\x00\x00\x01\x00\x00'"$1"; }

$NS "$twinstep" vm --kernel "$guest" --append "ip=10.0.2.15" --tap tap0 --mem 64 \
  --snapshot-on USR1 --snapshot "$work/snap" >"$work/out1" 2>"$work/err1" &
pids+=($!)
vm1=$!
up_tap
wait_ready "$work/out1" || fail "no ready marker"
[[ $(udp 7 'hello from socat') == "hello from socat" ]] || fail "UDP echo"
mc 'set city 0 0 5\r\nParis\r\n' | grep -q STORED || fail "memcached set"
# ip netns exec execs the VMM, so $! is its pid.
kill -USR1 "$vm1"
for _ in $(seq 100); do grep -q "snapshot $work/snap" "$work/err1" && break; sleep 0.05; done
grep -q "snapshot $work/snap" "$work/err1" || fail "no snapshot written"
kill -TERM "$vm1"
wait "$vm1"
$NS "$twinstep" vm --restore "$work/snap" --tap tap0 >"$work/out2" 2>"$work/err2" &
pids+=($!)
up_tap
reply=""
for _ in $(seq 20); do
  reply=$(mc 'get city\r\n' | tr -d '\0\1')
  [[ $reply == *"Paris"* ]] && break
  sleep 0.2
done
[[ $reply == *"VALUE city 0 5"*"Paris"*"END"* ]] || fail "restored store: got '$reply'"
# A corrupt snapshot is refused with a clear error and a non-zero exit.
printf 'garbage' >"$work/bad"
if "$twinstep" vm --restore "$work/bad" 2>"$work/err3"; then fail "corrupt snapshot accepted"; fi
grep -q "snapshot" "$work/err3" || fail "no clear error for a corrupt snapshot: $(cat "$work/err3")"
echo "PASS: UDP echo, memcached set, snapshot on SIGUSR1, restore in another process, corrupt snapshot refused"
