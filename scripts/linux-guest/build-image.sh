#!/usr/bin/env bash
# Builds the Linux guest: Debian's cloud kernel (downloaded with apt-get download,
# unpacked with dpkg-deb -x, never installed) and a busybox initramfs that loads
# the virtio modules, configures eth0 from the command line and serves UDP/TCP
# echo and HTTP. Prints the kernel and initramfs paths at the end.
#   usage: scripts/linux-guest/build-image.sh [OUTDIR]
# Cache: ${XDG_CACHE_HOME:-~/.cache}/twinstep/linux (outside git). See docs/linux-guest.md.
# Exit status: 0 built, 1 error, 2 the kernel package could not be fetched.
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
cache="${XDG_CACHE_HOME:-$HOME/.cache}/twinstep/linux"
out="${1:-$cache/out}"
modules=(virtio_pci virtio_net virtio_blk)
mkdir -p "$cache" "$out"

die() { echo "linux-guest: $*" >&2; exit 1; }
for tool in apt-cache apt-get dpkg-deb objcopy gzip gcc; do
  command -v "$tool" >/dev/null || die "missing tool: $tool"
done
[[ -x /bin/busybox ]] && file_bb=/bin/busybox || die "missing /bin/busybox (package busybox-static)"
# grep reads the whole list: with -q it would stop at "cpio" and busybox, which
# writes a line at a time, would die of SIGPIPE (pipefail: a CI run failed so).
/bin/busybox --list | grep -x cpio >/dev/null || die "/bin/busybox has no cpio applet"
ldd "$file_bb" >/dev/null 2>&1 && die "/bin/busybox is dynamically linked: install busybox-static"

# The package linux-image-cloud-amd64 depends on, e.g. linux-image-6.1.0-56-cloud-amd64.
pkg_of_meta() { apt-cache depends linux-image-cloud-amd64 2>/dev/null | awk '/Depends: linux-image-/ {print $2; exit}'; }
pkg="$(pkg_of_meta)"
if [[ -z "$pkg" ]]; then
  echo "linux-guest: package lists lack linux-image-cloud-amd64; running apt-get update" >&2
  sudo_cmd=(); [[ $(id -u) -ne 0 ]] && sudo_cmd=(sudo)
  "${sudo_cmd[@]}" apt-get update -qq || { echo "linux-guest: apt-get update failed" >&2; exit 2; }
  pkg="$(pkg_of_meta)"
fi
[[ -n "$pkg" ]] || die "cannot resolve linux-image-cloud-amd64 to a kernel package"
kver="${pkg#linux-image-}"
tree="$cache/$pkg"

if [[ ! -f "$tree/boot/vmlinuz-$kver" ]]; then
  if ! (cd "$cache" && { ls "${pkg}"_*.deb >/dev/null 2>&1 || apt-get download "$pkg"; }); then
    echo "linux-guest: apt-get download $pkg failed (no Debian mirror?)" >&2
    exit 2
  fi
  deb="$(ls "$cache/${pkg}"_*.deb | head -1)"
  rm -rf "$tree.tmp" && mkdir -p "$tree.tmp"
  dpkg-deb -x "$deb" "$tree.tmp"
  rm -rf "$tree" && mv "$tree.tmp" "$tree"
fi
kernel="$tree/boot/vmlinuz-$kver"
moddir="$tree/lib/modules/$kver"
[[ -f "$kernel" ]] || die "no kernel in $deb"

# Module name -> file, and its dependencies from the .modinfo section.
declare -A path_of
while IFS= read -r f; do
  n="$(basename "$f")"; n="${n%%.ko*}"; path_of["${n//-/_}"]="$f"
done < <(find "$moddir/kernel" -name '*.ko*')
modinfo_depends() {
  local f="$1" tmp
  tmp="$(mktemp)"
  case "$f" in
    *.ko.xz) xz -dc "$f" > "$tmp" ;;
    *.ko.zst) zstd -qdc "$f" > "$tmp" ;;
    *) cp "$f" "$tmp" ;;
  esac
  objcopy -O binary --only-section=.modinfo "$tmp" /dev/stdout 2>/dev/null | tr '\0' '\n' |
    sed -n 's/^depends=//p' | tr ',' ' '
  rm -f "$tmp"
}
order=()
declare -A seen
visit() {
  local m="${1//-/_}" d
  [[ -n "${seen[$m]:-}" ]] && return
  seen[$m]=1
  [[ -n "${path_of[$m]:-}" ]] || die "module $m not in $pkg (built in?)"
  for d in $(modinfo_depends "${path_of[$m]}"); do visit "$d"; done
  order+=("$m")
}
for m in "${modules[@]}"; do visit "$m"; done

# The initramfs tree.
root="$out/initramfs.root"
rm -rf "$root"
mkdir -p "$root"/{bin,dev,proc,sys,etc,www,lib/modules,tmp}
cp /bin/busybox "$root/bin/busybox"
ln -s busybox "$root/bin/sh"
cp "$here/init" "$root/init"
chmod 755 "$root/init"
gcc -O2 -static -Wall -Wextra -o "$root/bin/echod" "$here/echod.c"
for m in "${order[@]}"; do
  f="${path_of[$m]}"
  case "$f" in
    *.ko.xz) xz -dc "$f" > "$root/lib/modules/$m.ko" ;;
    *.ko.zst) zstd -qdc "$f" > "$root/lib/modules/$m.ko" ;;
    *) cp "$f" "$root/lib/modules/$m.ko" ;;
  esac
done
printf '%s\n' "${order[@]}" > "$root/etc/modules-load"
cat > "$root/www/index.html" <<HTML
<html><body><h1>twinstep linux guest</h1><p>kernel $kver</p></body></html>
HTML
initramfs="$out/initramfs-$kver.cpio.gz"
(cd "$root" && find . | LC_ALL=C sort | /bin/busybox cpio -o -H newc 2>/dev/null | gzip -9n > "$initramfs.tmp")
mv "$initramfs.tmp" "$initramfs"
rm -rf "$root"

echo "linux-guest: modules: ${order[*]}"
echo "kernel: $kernel"
echo "initramfs: $initramfs"
echo "cmdline: console=ttyS0 earlyprintk=serial ip=10.0.2.15 mask=255.255.255.0 gw=10.0.2.2"
