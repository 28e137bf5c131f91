#!/usr/bin/env bash
# Build check: cross-compiles the freestanding supervisor for the NIC's aarch64
# core (no heap, no exceptions, no RTTI, no libc), checks the image holds no
# allocator, exception or RTTI symbol, and prints its size.
# Usage: cross_check.sh SOURCE_ROOT OUT_DIR
set -euo pipefail
src="$1"
out="$2"
cxx="${CROSS_CXX:-aarch64-linux-gnu-g++}"
if ! command -v "$cxx" >/dev/null; then
  echo "cross_check: $cxx not found (install g++-aarch64-linux-gnu, see scripts/packages.txt)" >&2
  exit 1
fi
mkdir -p "$out"
flags=(-std=c++20 -Os -ffreestanding -fno-exceptions -fno-rtti -fno-threadsafe-statics
       -fno-asynchronous-unwind-tables -fno-unwind-tables -fno-stack-protector -fno-builtin
       -ffunction-sections -fdata-sections -DTWINSTEP_FREESTANDING
       -Wall -Wextra -Werror -Wno-missing-field-initializers -I"$src")
objs=()
for f in firmware/role.cc firmware/supervisor.cc firmware/trace.cc common/wire.cc common/crc.cc firmware/nic/nic_main.cc; do
  o="$out/$(basename "${f%.cc}").o"
  "$cxx" "${flags[@]}" -c "$src/$f" -o "$o"
  objs+=("$o")
done
elf="$out/twinstep_nic.elf"
"$cxx" "${flags[@]}" -nostdlib -static -Wl,--gc-sections -Wl,-e,_start -Wl,-Ttext=0x80000 \
  "${objs[@]}" -o "$elf" -lgcc
machine=$(aarch64-linux-gnu-readelf -h "$elf" | awk -F: '/Machine/ {gsub(/^ +/, "", $2); print $2}')
if [[ "$machine" != "AArch64" ]]; then
  echo "cross_check: $elf is for '$machine', not AArch64" >&2
  exit 1
fi
forbidden=$(aarch64-linux-gnu-nm -C "$elf" | grep -E ' (malloc|free|calloc|realloc|operator new|operator delete|__cxa_throw|__cxa_allocate_exception|__gxx_personality|typeinfo|_Unwind_)' || true)
if [[ -n "$forbidden" ]]; then
  echo "cross_check: the NIC image links what firmware must not use:" >&2
  echo "$forbidden" >&2
  exit 1
fi
undefined=$(aarch64-linux-gnu-nm -u "$elf" || true)
if [[ -n "$undefined" ]]; then
  echo "cross_check: undefined symbols in the NIC image:" >&2
  echo "$undefined" >&2
  exit 1
fi
echo "cross_check: $elf is an AArch64 freestanding image"
aarch64-linux-gnu-size -A "$elf" | awk '$1 ~ /^\.(text|rodata|data|bss)/ {print "  " $1 " " $2 " bytes"}'
aarch64-linux-gnu-size "$elf" | awk 'NR == 2 {print "cross_check: size text=" $1 " data=" $2 " bss=" $3 " total=" $4 " bytes"}'
