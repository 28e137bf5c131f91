// ParseBzImage, BuildBootParams, PlaceInitrd and LoadLinux.
#include "host/boot/linux.h"

#include <algorithm>
#include <cstring>

#include "host/boot/layout.h"

namespace twinstep::host {
namespace {

constexpr uint64_t kHdrStart = 0x1f1;
constexpr uint32_t kHdrSMagic = 0x53726448;  // "HdrS"
constexpr uint8_t kLoadedHigh = 0x01, kCanUseHeap = 0x80;
constexpr uint16_t kXlfKernel64 = 0x01;

template <typename T>
T Get(std::span<const uint8_t> f, uint64_t off) {
  T v;
  std::memcpy(&v, f.data() + off, sizeof v);
  return v;
}
template <typename T>
void Put(std::vector<uint8_t>& p, uint64_t off, T v) {
  std::memcpy(p.data() + off, &v, sizeof v);
}

}  // namespace

Result<BzImage> ParseBzImage(std::span<const uint8_t> f) {
  if (f.size() < 0x264) return Fail(Errc::kKernelImage, "bzImage of " + std::to_string(f.size()) + " bytes is shorter than its setup header");
  if (Get<uint16_t>(f, 0x1fe) != 0xaa55) return Fail(Errc::kKernelImage, "bzImage boot_flag at 0x1fe is not 0xaa55");
  if (Get<uint32_t>(f, 0x202) != kHdrSMagic) return Fail(Errc::kKernelImage, "bzImage has no \"HdrS\" at 0x202");
  BzImage b;
  b.version = Get<uint16_t>(f, 0x206);
  if (b.version < 0x020c) {
    char v[16];
    std::snprintf(v, sizeof v, "%#x", b.version);
    return Fail(Errc::kKernelImage, std::string("boot protocol ") + v + " is older than 2.12 (no 64-bit entry)");
  }
  b.setup_sects = f[0x1f1] == 0 ? 4 : f[0x1f1];
  b.loadflags = f[0x211];
  b.initrd_addr_max = Get<uint32_t>(f, 0x22c);
  b.xloadflags = Get<uint16_t>(f, 0x236);
  b.cmdline_size = Get<uint32_t>(f, 0x238);
  b.init_size = Get<uint32_t>(f, 0x260);
  if (!(b.xloadflags & kXlfKernel64)) return Fail(Errc::kKernelImage, "bzImage lacks XLF_KERNEL_64 (no 64-bit entry)");
  if (!(b.loadflags & kLoadedHigh)) return Fail(Errc::kKernelImage, "bzImage is not LOADED_HIGH");
  b.kernel_offset = (uint64_t{b.setup_sects} + 1) * 512;
  if (b.kernel_offset >= f.size()) return Fail(Errc::kKernelImage, "bzImage ends inside its setup code");
  b.kernel_size = f.size() - b.kernel_offset;
  const uint64_t hdr_end = 0x202 + uint64_t{f[0x201]};
  if (hdr_end > f.size() || hdr_end > kBootParamsSize || hdr_end <= kHdrStart) {
    return Fail(Errc::kKernelImage, "bzImage setup header length byte at 0x201 is out of range");
  }
  b.header.assign(f.begin() + kHdrStart, f.begin() + static_cast<long>(hdr_end));
  return b;
}

Result<std::span<const uint8_t>> BzImagePayload(std::span<const uint8_t> f, const BzImage& image) {
  const uint32_t off = Get<uint32_t>(f, 0x248), len = Get<uint32_t>(f, 0x24c);
  if (image.version < 0x0208 || off > image.kernel_size || len > image.kernel_size - off || len == 0) {
    return Fail(Errc::kKernelImage, "bzImage payload_offset/payload_length do not lie inside the kernel");
  }
  return f.subspan(image.kernel_offset + off, len);
}

const char* PayloadCompression(std::span<const uint8_t> p) {
  struct Magic {
    const char* name;
    std::initializer_list<uint8_t> bytes;
  };
  static const Magic kMagics[] = {{"gzip", {0x1f, 0x8b}},          {"xz", {0xfd, '7', 'z', 'X', 'Z', 0}},
                                  {"zstd", {0x28, 0xb5, 0x2f, 0xfd}}, {"lz4", {0x02, 0x21, 0x4c, 0x18}},
                                  {"bzip2", {'B', 'Z', 'h'}},         {"lzma", {0x5d, 0, 0}},
                                  {"lzo", {0x89, 'L', 'Z', 'O'}}};
  for (const Magic& m : kMagics) {
    if (p.size() >= m.bytes.size() && std::equal(m.bytes.begin(), m.bytes.end(), p.begin())) return m.name;
  }
  return "unknown";
}

Result<std::vector<uint8_t>> BuildBootParams(const BzImage& image, uint64_t cmdline_addr, uint64_t cmdline_len,
                                              uint64_t initrd_addr, uint64_t initrd_size,
                                              std::span<const E820Entry> e820) {
  if (e820.size() > kE820Max) return Fail(Errc::kBoot, "e820 map of " + std::to_string(e820.size()) + " entries");
  if (image.cmdline_size != 0 && cmdline_len > image.cmdline_size) {
    return Fail(Errc::kBoot, "command line of " + std::to_string(cmdline_len) + " bytes exceeds the kernel's limit of " +
                                 std::to_string(image.cmdline_size));
  }
  std::vector<uint8_t> p(kBootParamsSize, 0);
  std::copy(image.header.begin(), image.header.end(), p.begin() + kHdrStart);
  p[0x210] = 0xff;  // type_of_loader: undefined
  p[0x211] = static_cast<uint8_t>(image.loadflags | kCanUseHeap | kLoadedHigh);
  Put<uint16_t>(p, 0x224, 0xfe00);  // heap_end_ptr
  Put<uint32_t>(p, 0x228, static_cast<uint32_t>(cmdline_addr));
  Put<uint32_t>(p, 0x218, static_cast<uint32_t>(initrd_addr));
  Put<uint32_t>(p, 0x21c, static_cast<uint32_t>(initrd_size));
  p[kE820EntriesOffset] = static_cast<uint8_t>(e820.size());
  for (size_t i = 0; i < e820.size(); ++i) {
    const uint64_t off = kE820TableOffset + i * 20;
    Put<uint64_t>(p, off, e820[i].addr);
    Put<uint64_t>(p, off + 8, e820[i].size);
    Put<uint32_t>(p, off + 16, e820[i].type);
  }
  return p;
}

Result<uint64_t> PlaceInitrd(const BzImage& image, uint64_t low_ram_end, uint64_t initrd_size) {
  const uint64_t limit = std::min<uint64_t>(uint64_t{image.initrd_addr_max} + 1, low_ram_end);
  const uint64_t kernel_end = layout::kHighStart + std::max<uint64_t>(image.init_size, image.kernel_size);
  if (initrd_size > limit || ((limit - initrd_size) & ~(kPageSize - 1)) < kernel_end) {
    return Fail(Errc::kBoot, "initramfs of " + std::to_string(initrd_size) + " bytes does not fit between the kernel and " +
                                 std::to_string(limit));
  }
  return (limit - initrd_size) & ~(kPageSize - 1);
}

Result<uint64_t> LoadLinux(GuestMemory& mem, std::span<const uint8_t> file, const BzImage& image,
                           std::span<const uint8_t> initrd, const std::string& cmdline,
                           std::span<const E820Entry> e820) {
  const uint64_t need = std::max<uint64_t>(image.init_size, image.kernel_size);
  if (mem.HostPtr(layout::kHighStart, need) == nullptr) {
    return Fail(Errc::kBoot, "kernel needs " + std::to_string(need) + " bytes from 1 MiB: more RAM required");
  }
  if (auto s = mem.Write(layout::kHighStart, file.subspan(image.kernel_offset)); !s) return MakeUnexpected(s.error());
  uint64_t initrd_addr = 0;
  if (!initrd.empty()) {
    const uint64_t low_end = mem.regions()[0].size;
    auto at = PlaceInitrd(image, low_end, initrd.size());
    if (!at) return MakeUnexpected(at.error());
    initrd_addr = *at;
    if (auto s = mem.Write(initrd_addr, initrd); !s) return MakeUnexpected(s.error());
  }
  if (cmdline.size() + 1 > layout::kCmdlineMax) return Fail(Errc::kBoot, "command line too long");
  std::vector<uint8_t> cl(cmdline.begin(), cmdline.end());
  cl.push_back(0);
  if (auto s = mem.Write(layout::kCmdline, cl); !s) return MakeUnexpected(s.error());
  auto params = BuildBootParams(image, layout::kCmdline, cmdline.size(), initrd_addr, initrd.size(), e820);
  if (!params) return MakeUnexpected(params.error());
  if (auto s = mem.Write(layout::kBootParams, *params); !s) return MakeUnexpected(s.error());
  return layout::kHighStart + 0x200;
}

}  // namespace twinstep::host
