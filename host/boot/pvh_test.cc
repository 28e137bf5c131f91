// ParsePvhElf on ELF images built here: a good one, and malformed ones.
#include "host/boot/pvh.h"

#include <elf.h>
#include <gtest/gtest.h>

#include <cstring>

namespace twinstep::host {
namespace {

// An ELF64 with one PT_LOAD (code at 1 MiB) and one PT_NOTE holding the PVH entry.
std::vector<uint8_t> BuildElf(uint32_t entry, bool with_note = true) {
  std::vector<uint8_t> f(0x200, 0);
  Elf64_Ehdr eh{};
  std::memcpy(eh.e_ident, ELFMAG, SELFMAG);
  eh.e_ident[EI_CLASS] = ELFCLASS64;
  eh.e_ident[EI_DATA] = ELFDATA2LSB;
  eh.e_machine = EM_X86_64;
  eh.e_phoff = sizeof eh;
  eh.e_phentsize = sizeof(Elf64_Phdr);
  eh.e_phnum = with_note ? 2 : 1;
  std::memcpy(f.data(), &eh, sizeof eh);
  Elf64_Phdr load{};
  load.p_type = PT_LOAD;
  load.p_offset = 0x100;
  load.p_paddr = 0x100000;
  load.p_filesz = 0x10;
  load.p_memsz = 0x2000;
  std::memcpy(f.data() + sizeof eh, &load, sizeof load);
  Elf64_Phdr note{};
  note.p_type = PT_NOTE;
  note.p_offset = 0x180;
  note.p_filesz = 20;
  if (with_note) std::memcpy(f.data() + sizeof eh + sizeof load, &note, sizeof note);
  const uint32_t nh[3] = {4, 4, kXenElfnotePhys32Entry};
  std::memcpy(f.data() + 0x180, nh, 12);
  std::memcpy(f.data() + 0x18c, "Xen", 4);
  std::memcpy(f.data() + 0x190, &entry, 4);
  return f;
}

TEST(PvhTest, ParsesSegmentsAndEntry) {
  auto img = ParsePvhElf(BuildElf(0x100040));
  ASSERT_TRUE(img) << img.error().ToString();
  EXPECT_EQ(img->entry32, 0x100040u);
  ASSERT_EQ(img->segments.size(), 1u);
  EXPECT_EQ(img->segments[0].paddr, 0x100000u);
  EXPECT_EQ(img->segments[0].memsz, 0x2000u);
}

TEST(PvhTest, RefusesMalformedImages) {
  EXPECT_FALSE(ParsePvhElf(BuildElf(1, false)));  // no note
  auto f = BuildElf(1);
  EXPECT_FALSE(ParsePvhElf(std::span<const uint8_t>(f.data(), 40)));  // truncated header
  auto bad_magic = f;
  bad_magic[1] = 'X';
  EXPECT_FALSE(ParsePvhElf(bad_magic));
  auto bad_seg = f;
  Elf64_Phdr load;
  std::memcpy(&load, bad_seg.data() + sizeof(Elf64_Ehdr), sizeof load);
  load.p_filesz = 0x10000;  // past the end of the file
  std::memcpy(bad_seg.data() + sizeof(Elf64_Ehdr), &load, sizeof load);
  auto r = ParsePvhElf(bad_seg);
  ASSERT_FALSE(r);
  EXPECT_NE(r.error().detail.find("PT_LOAD 0"), std::string::npos) << r.error().detail;
  auto bad_note = f;
  const uint32_t huge = 0x1000;
  std::memcpy(bad_note.data() + 0x184, &huge, 4);  // descsz runs past the segment
  EXPECT_FALSE(ParsePvhElf(bad_note));
}

TEST(PvhTest, LoadWritesStartInfoAndMemmap) {
  auto mem = GuestMemory::Create(8 << 20, false);
  ASSERT_TRUE(mem);
  const auto f = BuildElf(0x100000);
  auto img = ParsePvhElf(f);
  ASSERT_TRUE(img);
  const auto e820 = BuildE820((*mem)->regions());
  auto entry = LoadPvh(**mem, f, *img, "console=ttyS0", e820);
  ASSERT_TRUE(entry) << entry.error().ToString();
  HvmStartInfo si;
  ASSERT_TRUE((*mem)->Read(0x6000, {reinterpret_cast<uint8_t*>(&si), sizeof si}));
  EXPECT_EQ(si.magic, kHvmStartMagic);
  EXPECT_EQ(si.memmap_entries, e820.size());
  EXPECT_STREQ(reinterpret_cast<const char*>((*mem)->HostPtr(si.cmdline_paddr, 14)), "console=ttyS0");
  HvmMemmapEntry last;
  ASSERT_TRUE((*mem)->Read(si.memmap_paddr + (si.memmap_entries - 1) * sizeof last, {reinterpret_cast<uint8_t*>(&last), sizeof last}));
  EXPECT_EQ(last.addr + last.size, 8u << 20);
}

}  // namespace
}  // namespace twinstep::host
