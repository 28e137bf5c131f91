#!/usr/bin/env bash
# `twinstep vm` end to end with real clients: the test guest behind a TAP device
# in a private network namespace answers UDP echo and memcached from socat; a
# snapshot taken on SIGUSR1 is restored by a second process, whose store still
# holds the key. Usage: vm_cli_test.sh TWINSTEP TESTGUEST_ELF. Exit 77 = skipped.
set -uo pipefail
twinstep=$1
guest=$2
source "$(dirname "${BASH_SOURCE[0]}")/testing/vm_netns.sh"
require_vm_netns
udp() {  # udp PORT PAYLOAD: one datagram, prints the reply
  printf "$2" | $NS timeout 5 socat -t 3 - "UDP:10.0.2.15:$1"
}
mc() { udp 11211 '\x00\x01\x00\x00\x00\x01\x00\x00'"$1"; }

$NS "$twinstep" vm --kernel "$guest" --append "ip=10.0.2.15" --tap tap0 --mem 64 \
  --snapshot-on USR1 --snapshot "$work/snap" >"$work/out1" 2>"$work/err1" &
pids+=($!)
vm1=$!
up_tap
wait_for "$work/out1" "twinstep-testguest: ready" 15 || fail "no ready marker"
[[ $(udp 7 'hello from socat') == "hello from socat" ]] || fail "UDP echo"
[[ $(mc 'set city 0 0 5\r\nParis\r\n') == *STORED* ]] || fail "memcached set"
# ip netns exec execs the VMM, so $! is its pid.
kill -USR1 "$vm1"
wait_for "$work/err1" "snapshot $work/snap" 5 || fail "no snapshot written"
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
