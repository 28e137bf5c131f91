#!/usr/bin/env bash
# hwtests/host: Debian's cloud kernel + the busybox initramfs on twinstep's VMM
# where KVM is hardware-backed: boot to the ready marker, UDP echo, TCP echo and
# HTTP from socat and curl through a TAP device in a private netns, and an open
# TCP connection that survives a snapshot restored by another process.
# Usage: host_linux_test.sh TWINSTEP BUILD_IMAGE_SCRIPT. Exit 77 = skipped (with why).
set -uo pipefail
twinstep=$1
build_image=$2
source "$(dirname "${BASH_SOURCE[0]}")/../host/testing/vm_netns.sh"
[[ -r /dev/kvm && -w /dev/kvm ]] || skip "no usable /dev/kvm"
# The probe: kvm_pvm is software KVM (ring-0 guest code emulated; Linux cannot boot).
if [[ -d /sys/module/kvm_pvm ]]; then skip "KVM is kvm_pvm (software): ring-0 guest code is emulated, Linux cannot boot here"; fi
[[ -d /sys/module/kvm_intel || -d /sys/module/kvm_amd ]] || skip "no hardware KVM module (kvm_intel or kvm_amd)"
images=$("$build_image" 2>&1) || skip "the Linux guest image could not be built: $(tail -1 <<<"$images")"
kernel=$(sed -n 's/^kernel: //p' <<<"$images")
initrd=$(sed -n 's/^initramfs: //p' <<<"$images")
cmdline=$(sed -n 's/^cmdline: //p' <<<"$images")
require_vm_netns curl
$NS "$twinstep" vm --kernel "$kernel" --initrd "$initrd" --append "$cmdline" --tap tap0 --mem 512 \
  --snapshot-on USR1 --snapshot "$work/snap" >"$work/out1" 2>"$work/err1" &
vm1=$!
pids+=($vm1)
up_tap
wait_for "$work/out1" "twinstep-linux-guest: ready" 120 || fail "no ready marker"
grep -q "Command line: $cmdline" "$work/out1" || fail "kernel did not print our command line"
[[ $(printf 'udp hello' | $NS timeout 5 socat -t 3 - UDP:10.0.2.15:7) == "udp hello" ]] || fail "UDP echo"
[[ $(printf 'tcp hello' | $NS timeout 5 socat -t 3 - TCP:10.0.2.15:7) == "tcp hello" ]] || fail "TCP echo"
$NS timeout 10 curl -sf http://10.0.2.15/ >/dev/null || fail "HTTP"
# An open TCP connection across save/restore into another process.
mkfifo "$work/in"
$NS socat -t 30 "PIPE:$work/in" TCP:10.0.2.15:7 >"$work/tcp_out" &
pids+=($!)
exec 3>"$work/in"
printf 'before\n' >&3
wait_for "$work/tcp_out" before 10 || fail "TCP echo before the snapshot"
kill -USR1 "$vm1"
wait_for "$work/err1" "snapshot $work/snap" 30 || fail "no snapshot written"
kill -TERM "$vm1"
wait "$vm1"
$NS "$twinstep" vm --restore "$work/snap" --tap tap0 >"$work/out2" 2>"$work/err2" &
pids+=($!)
up_tap
printf 'after\n' >&3
wait_for "$work/tcp_out" after 30 || fail "the TCP connection did not survive save and restore"
exec 3>&-
echo "PASS: Linux booted to ready; UDP, TCP, HTTP; a TCP connection survived restore in another process"
