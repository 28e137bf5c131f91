#!/usr/bin/env bash
# hwtests/pair: Debian's cloud kernel behind the protected pair (twinstep sim,
# hwtests/pair-linux.toml): a TCP connection (socat) and an HTTP download
# (curl) with verified content survive kill -9 of the primary with no reset.
# Needs hardware-backed KVM. Usage: pair_linux_test.sh TWINSTEP BUILD_IMAGE_SCRIPT.
# Exit 77 = skipped (with why).
set -uo pipefail
twinstep=$1
build_image=$2
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
skip() { echo "SKIP: $*"; exit 77; }
[[ $(id -u) == 0 ]] || skip "needs root (network namespaces)"
[[ -r /dev/kvm && -w /dev/kvm ]] || skip "no usable /dev/kvm"
if [[ -d /sys/module/kvm_pvm ]]; then skip "KVM is kvm_pvm (software): ring-0 guest code is emulated, Linux cannot boot here"; fi
[[ -d /sys/module/kvm_intel || -d /sys/module/kvm_amd ]] || skip "no hardware KVM module (kvm_intel or kvm_amd)"
for tool in socat curl cmp; do command -v $tool >/dev/null || skip "$tool is not installed"; done
images=$("$build_image" 2>&1) || skip "the Linux guest image could not be built: $(tail -1 <<<"$images")"
kernel=$(sed -n 's/^kernel: //p' <<<"$images")
initrd=$(sed -n 's/^initramfs: //p' <<<"$images")
out=$(mktemp -d /tmp/twinstep-pair-linux.XXXXXX)
"$twinstep" sim "$here/pair-linux.toml" --kernel "$kernel" --initrd "$initrd" --out "$out" --no-progress
rc=$?
cat "$out"/client-*.log 2>/dev/null
[[ $rc == 0 ]] && rm -rf "$out" || echo "report kept in $out"
exit $rc
