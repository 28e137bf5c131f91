// ParsePvhElf and LoadPvh.
#include "host/boot/pvh.h"

#include <elf.h>

#include <cstring>

#include "host/boot/layout.h"

namespace twinstep::host {
namespace {

template <typename T>
bool ReadAt(std::span<const uint8_t> f, uint64_t off, T* out) {
  if (off > f.size() || sizeof(T) > f.size() - off) return false;
  std::memcpy(out, f.data() + off, sizeof(T));
  return true;
}

std::string Hex(uint64_t v) {
  char b[24];
  std::snprintf(b, sizeof b, "%#llx", static_cast<unsigned long long>(v));
  return b;
}

// Program headers normalized to 64-bit fields.
struct Phdr {
  uint32_t type;
  uint64_t offset, paddr, filesz, memsz;
};

Result<uint32_t> FindPvhNote(std::span<const uint8_t> f, const Phdr& ph) {
  if (ph.offset > f.size() || ph.filesz > f.size() - ph.offset) {
    return Fail(Errc::kKernelImage, "PT_NOTE at " + Hex(ph.offset) + " runs past the end of the file");
  }
  uint64_t off = ph.offset;
  const uint64_t end = ph.offset + ph.filesz;
  while (off + 12 <= end) {
    uint32_t hdr[3];  // namesz, descsz, type
    std::memcpy(hdr, f.data() + off, sizeof hdr);
    const uint64_t name_off = off + 12;
    const uint64_t desc_off = name_off + ((uint64_t{hdr[0]} + 3) & ~3ull);
    const uint64_t next = desc_off + ((uint64_t{hdr[1]} + 3) & ~3ull);
    if (next > end) return Fail(Errc::kKernelImage, "ELF note at " + Hex(off) + " runs past its segment");
    if (hdr[2] == kXenElfnotePhys32Entry && hdr[0] == 4 && std::memcmp(f.data() + name_off, "Xen", 4) == 0) {
      if (hdr[1] < 4) return Fail(Errc::kKernelImage, "PVH entry note at " + Hex(off) + " is shorter than 4 bytes");
      uint32_t entry;
      std::memcpy(&entry, f.data() + desc_off, 4);
      return entry;
    }
    off = next;
  }
  return Fail(Errc::kKernelImage, "no PVH note");
}

}  // namespace

Result<PvhImage> ParsePvhElf(std::span<const uint8_t> f) {
  unsigned char ident[EI_NIDENT];
  if (!ReadAt(f, 0, &ident) || std::memcmp(ident, ELFMAG, SELFMAG) != 0) {
    return Fail(Errc::kKernelImage, "not an ELF file (bad magic)");
  }
  if (ident[EI_DATA] != ELFDATA2LSB) return Fail(Errc::kKernelImage, "ELF is not little-endian");
  std::vector<Phdr> phdrs;
  if (ident[EI_CLASS] == ELFCLASS64) {
    Elf64_Ehdr eh;
    if (!ReadAt(f, 0, &eh)) return Fail(Errc::kKernelImage, "ELF64 header truncated");
    if (eh.e_machine != EM_X86_64) return Fail(Errc::kKernelImage, "ELF machine " + std::to_string(eh.e_machine) + " is not x86-64");
    if (eh.e_phentsize != sizeof(Elf64_Phdr)) return Fail(Errc::kKernelImage, "ELF64 program header size is wrong");
    for (uint32_t i = 0; i < eh.e_phnum; ++i) {
      Elf64_Phdr p;
      if (!ReadAt(f, eh.e_phoff + uint64_t{i} * sizeof p, &p)) {
        return Fail(Errc::kKernelImage, "program header " + std::to_string(i) + " past the end of the file");
      }
      phdrs.push_back({p.p_type, p.p_offset, p.p_paddr, p.p_filesz, p.p_memsz});
    }
  } else if (ident[EI_CLASS] == ELFCLASS32) {
    Elf32_Ehdr eh;
    if (!ReadAt(f, 0, &eh)) return Fail(Errc::kKernelImage, "ELF32 header truncated");
    if (eh.e_machine != EM_386) return Fail(Errc::kKernelImage, "ELF machine " + std::to_string(eh.e_machine) + " is not i386");
    if (eh.e_phentsize != sizeof(Elf32_Phdr)) return Fail(Errc::kKernelImage, "ELF32 program header size is wrong");
    for (uint32_t i = 0; i < eh.e_phnum; ++i) {
      Elf32_Phdr p;
      if (!ReadAt(f, eh.e_phoff + uint64_t{i} * sizeof p, &p)) {
        return Fail(Errc::kKernelImage, "program header " + std::to_string(i) + " past the end of the file");
      }
      phdrs.push_back({p.p_type, p.p_offset, p.p_paddr, p.p_filesz, p.p_memsz});
    }
  } else {
    return Fail(Errc::kKernelImage, "unknown ELF class " + std::to_string(ident[EI_CLASS]));
  }
  PvhImage img;
  bool have_entry = false;
  for (size_t i = 0; i < phdrs.size(); ++i) {
    const Phdr& p = phdrs[i];
    if (p.type == PT_LOAD) {
      if (p.offset > f.size() || p.filesz > f.size() - p.offset || p.filesz > p.memsz) {
        return Fail(Errc::kKernelImage, "PT_LOAD " + std::to_string(i) + " (offset " + Hex(p.offset) + ", filesz " +
                                            Hex(p.filesz) + ") does not fit the file");
      }
      if (p.memsz > 0) img.segments.push_back({p.paddr, p.offset, p.filesz, p.memsz});
    } else if (p.type == PT_NOTE && !have_entry) {
      auto e = FindPvhNote(f, p);
      if (e) {
        img.entry32 = *e;
        have_entry = true;
      } else if (e.error().detail != "no PVH note") {
        return MakeUnexpected(e.error());
      }
    }
  }
  if (!have_entry) return Fail(Errc::kKernelImage, "ELF has no XEN_ELFNOTE_PHYS32_ENTRY note: not a PVH kernel");
  if (img.segments.empty()) return Fail(Errc::kKernelImage, "ELF has no loadable segment");
  return img;
}

Result<uint32_t> LoadPvh(GuestMemory& mem, std::span<const uint8_t> file, const PvhImage& image,
                         const std::string& cmdline, std::span<const E820Entry> e820) {
  for (const ElfSegment& s : image.segments) {
    uint8_t* dst = mem.HostPtr(s.paddr, s.memsz);
    if (dst == nullptr || s.paddr < layout::kHighStart) {
      return Fail(Errc::kBoot, "segment at " + Hex(s.paddr) + " size " + Hex(s.memsz) + " is not in RAM above 1 MiB");
    }
    std::memcpy(dst, file.data() + s.offset, s.filesz);
    std::memset(dst + s.filesz, 0, s.memsz - s.filesz);
    mem.MarkDirty(s.paddr, s.memsz);
  }
  if (cmdline.size() + 1 > layout::kCmdlineMax) {
    return Fail(Errc::kBoot, "command line of " + std::to_string(cmdline.size()) + " bytes is too long");
  }
  std::vector<uint8_t> cl(cmdline.begin(), cmdline.end());
  cl.push_back(0);
  if (auto s = mem.Write(layout::kCmdline, cl); !s) return MakeUnexpected(s.error());
  std::vector<HvmMemmapEntry> map;
  for (const E820Entry& e : e820) map.push_back({e.addr, e.size, e.type, 0});
  if (layout::kPvhMemmap + map.size() * sizeof(HvmMemmapEntry) > layout::kBootParams) {
    return Fail(Errc::kBoot, "memory map of " + std::to_string(map.size()) + " entries does not fit");
  }
  if (auto s = mem.Write(layout::kPvhMemmap, {reinterpret_cast<const uint8_t*>(map.data()), map.size() * sizeof(HvmMemmapEntry)}); !s) {
    return MakeUnexpected(s.error());
  }
  HvmStartInfo si{};
  si.magic = kHvmStartMagic;
  si.version = 1;
  si.cmdline_paddr = layout::kCmdline;
  si.memmap_paddr = layout::kPvhMemmap;
  si.memmap_entries = static_cast<uint32_t>(map.size());
  if (auto s = mem.Write(layout::kPvhStartInfo, {reinterpret_cast<const uint8_t*>(&si), sizeof si}); !s) {
    return MakeUnexpected(s.error());
  }
  return image.entry32;
}

}  // namespace twinstep::host
