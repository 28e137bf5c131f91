// Checkpoint images on /dev/kvm: the test guest moved from one machine to a
// fresh one (then both answer the same requests byte for byte), incremental
// checkpoints of the dirty pages of both sides, and corrupt images refused
// with the target unchanged.
#include "host/replication/state_image.h"

#include <gtest/gtest.h>
#include <sys/ioctl.h>

#include <algorithm>
#include <filesystem>
#include <string>

#include "host/snapshot/snapshot.h"
#include "host/testing/kvm_guest.h"
#include "host/testing/test_guest.h"

namespace twinstep::host {
namespace {

using testing::Guest;
using testing::Memcached;
using testing::TempDisk;

// Sends one UDP datagram and returns the whole reply frame (Ethernet to payload).
std::vector<uint8_t> AskFrame(Guest& g, uint16_t port, const std::string& payload) {
  testing::UdpDatagram d{testing::kClientMac, testing::kGuestMac, testing::kClientIp, testing::kGuestIp, 40000, port, payload};
  EXPECT_TRUE(g.net.Inject(testing::BuildUdpFrame(d)));
  std::vector<uint8_t> reply;
  testing::WaitFor(
      [&] {
        while (auto f = g.net.TakeSent()) {
          auto u = testing::ParseUdpFrame(*f);
          if (u && u->src_port == port && u->dst_port == 40000) {
            reply = *f;
            return true;
          }
        }
        return false;
      },
      20000);
  return reply;
}

std::string Payload(const std::vector<uint8_t>& frame) {
  auto u = testing::ParseUdpFrame(frame);
  return u ? u->payload : std::string();
}

std::vector<uint64_t> Collect(Machine& m) {
  auto d = m.vm().DirtyPages();
  EXPECT_TRUE(d) << d.error().ToString();
  return d ? *d : std::vector<uint64_t>{};
}

std::vector<uint64_t> Union(const std::vector<uint64_t>& a, const std::vector<uint64_t>& b) {
  std::vector<uint64_t> u;
  std::set_union(a.begin(), a.end(), b.begin(), b.end(), std::back_inserter(u));
  return u;
}

kvm_regs Regs(Machine& m) {
  kvm_regs r{};
  EXPECT_EQ(ioctl(m.vm().vcpu(0).fd(), KVM_GET_REGS, &r), 0);
  return r;
}

TEST(StateImageTest, CheckpointsKeepTwoTestGuestsIdentical) {
  TWINSTEP_SKIP_WITHOUT_KVM();
  TempDisk disk_a(8 << 20), disk_b(8 << 20);
  Guest a;
  ASSERT_TRUE(a.Boot(disk_a.path));
  ASSERT_TRUE(a.WaitReady());
  for (int i = 0; i < 8; ++i) {
    const std::string v = "value-" + std::to_string(i * i);
    ASSERT_NE(a.Ask(11211, Memcached("set k" + std::to_string(i) + " 0 0 " + std::to_string(v.size()) + "\r\n" + v + "\r\n"))
                  .find("STORED"),
              std::string::npos);
  }
  // Full image A -> B. The baseline of A's dirty tracking is the moment of the image.
  a.m->Pause();
  (void)Collect(*a.m);
  std::filesystem::copy_file(disk_a.path, disk_b.path, std::filesystem::copy_options::overwrite_existing);
  const std::string ctl = "epoch 1";
  auto full = EncodeCheckpoint(*a.m, NonZeroPages(a.m->vm().memory()),
                               {reinterpret_cast<const uint8_t*>(ctl.data()), ctl.size()}, true);
  ASSERT_TRUE(full) << full.error().ToString();
  Guest b;
  ASSERT_TRUE(b.Create(disk_b.path));
  std::vector<uint8_t> extra;
  auto s = ApplyCheckpoint(*b.m, *full, &extra);
  ASSERT_TRUE(s) << s.error().ToString();
  EXPECT_EQ(std::string(extra.begin(), extra.end()), ctl);
  EXPECT_EQ(MemoryDigest(a.m->vm().memory()), MemoryDigest(b.m->vm().memory()));
  EXPECT_EQ(Regs(*a.m).rip, Regs(*b.m).rip);
  EXPECT_EQ(Collect(*b.m), std::vector<uint64_t>{}) << "the apply's own writes are not B's dirty pages";

  // Both run on: the same requests give byte-identical reply frames.
  ASSERT_TRUE(a.m->Resume());
  ASSERT_TRUE(b.m->Resume());
  const std::vector<std::string> requests = {
      Memcached("get k1 k3 k7\r\n"), Memcached("set n 0 0 1\r\n5\r\n"), Memcached("incr n 37\r\n"),
      Memcached("append k2 0 0 2\r\n!!\r\n"), Memcached("get k2 n\r\n"), Memcached("delete k4\r\n"),
      Memcached("get k4\r\n")};
  for (const auto& r : requests) {
    const auto ra = AskFrame(a, 11211, r), rb = AskFrame(b, 11211, r);
    ASSERT_FALSE(ra.empty()) << r;
    EXPECT_EQ(ra, rb) << r << "\nA: " << Payload(ra) << "\nB: " << Payload(rb);
  }
  EXPECT_NE(Payload(AskFrame(a, 11211, Memcached("get k1 n\r\n"))).find("VALUE k1 0 7\r\nvalue-1\r\nVALUE n 0 2\r\n42\r\nEND"),
            std::string::npos);
  (void)AskFrame(b, 11211, Memcached("get k1 n\r\n"));

  // Incremental: A alone takes more writes. The checkpoint carries the pages
  // dirtied on either side since the last one; then the memories are equal.
  for (int i = 0; i < 4; ++i) {
    ASSERT_NE(a.Ask(11211, Memcached("set only-a" + std::to_string(i) + " 0 0 3\r\nyes\r\n")).find("STORED"), std::string::npos);
  }
  a.m->Pause();
  b.m->Pause();
  const auto dirty_a = Collect(*a.m), dirty_b = Collect(*b.m);
  EXPECT_FALSE(dirty_a.empty());
  EXPECT_FALSE(dirty_b.empty()) << "B ran and served requests: it dirtied pages of its own";
  EXPECT_NE(MemoryDigest(a.m->vm().memory()), MemoryDigest(b.m->vm().memory()));
  std::filesystem::copy_file(disk_a.path, disk_b.path, std::filesystem::copy_options::overwrite_existing);
  const auto pages = Union(dirty_a, dirty_b);
  auto inc = EncodeCheckpoint(*a.m, pages, {});
  ASSERT_TRUE(inc) << inc.error().ToString();
  EXPECT_LT(inc->size(), full->size());
  s = ApplyCheckpoint(*b.m, *inc, &extra);
  ASSERT_TRUE(s) << s.error().ToString();
  EXPECT_TRUE(extra.empty());
  EXPECT_EQ(MemoryDigest(a.m->vm().memory()), MemoryDigest(b.m->vm().memory()))
      << pages.size() << " pages sent (A dirtied " << dirty_a.size() << ", B " << dirty_b.size() << ")";
  EXPECT_EQ(Collect(*b.m), std::vector<uint64_t>{});
  ASSERT_TRUE(a.m->Resume());
  ASSERT_TRUE(b.m->Resume());
  for (const auto& r : {Memcached("get only-a0 only-a3 k2\r\n"), Memcached("incr n 1\r\n")}) {
    const auto ra = AskFrame(a, 11211, r), rb = AskFrame(b, 11211, r);
    ASSERT_FALSE(ra.empty()) << r;
    EXPECT_EQ(ra, rb) << r << "\nA: " << Payload(ra) << "\nB: " << Payload(rb);
  }
  a.m->Pause();
  b.m->Pause();

  // A full resynchronisation of a B whose memory went astray where A's is
  // zero: all of A's pages are not enough, the image must be complete.
  const auto all_a = NonZeroPages(a.m->vm().memory());
  uint64_t stray = 0x800;  // 8 MiB: above the test guest's image and data
  while (std::binary_search(all_a.begin(), all_a.end(), stray)) ++stray;
  const uint8_t junk[8] = {1, 2, 3, 4, 5, 6, 7, 8};
  ASSERT_TRUE(b.m->vm().memory().Write(stray << kPageShift, junk));
  auto partial = EncodeCheckpoint(*a.m, all_a, {});
  ASSERT_TRUE(partial);
  ASSERT_TRUE(ApplyCheckpoint(*b.m, *partial, nullptr));
  EXPECT_NE(MemoryDigest(a.m->vm().memory()), MemoryDigest(b.m->vm().memory()));
  auto complete = EncodeCheckpoint(*a.m, all_a, {}, true);
  ASSERT_TRUE(complete);
  ASSERT_TRUE(ApplyCheckpoint(*b.m, *complete, nullptr));
  EXPECT_EQ(MemoryDigest(a.m->vm().memory()), MemoryDigest(b.m->vm().memory()));
}

// A spinning asm guest: vCPU state and a counter page that changes while it runs.
std::unique_ptr<Machine> SpinningMachine(uint64_t mem_bytes) {
  MachineConfig c;
  c.mem_bytes = mem_bytes;
  c.console_fd = -1;
  auto m = Machine::Create(c);
  EXPECT_TRUE(m) << m.error().ToString();
  if (!m) return nullptr;
  testing::GuestAsm prog(testing::GuestAsm::Mode::k64);
  prog.MovRdi(0x400000);
  const size_t loop = prog.here();
  prog.IncQwordAtRdi().Jmp(loop);
  testing::LoadLongMode((*m)->vm(), prog);
  return std::move(*m);
}

// Rebuilds an image with one section edited (or renamed to rename_to), so
// that the damage is inside a well-formed container whose CRCs all match.
std::vector<uint8_t> WithSection(std::span<const uint8_t> image, uint32_t id,
                                 const std::function<void(std::vector<uint8_t>&)>& edit, uint32_t rename_to = 0,
                                 bool drop = false) {
  auto idx = SnapshotIndex::Parse(image);
  EXPECT_TRUE(idx);
  std::vector<std::vector<uint8_t>> bytes;
  for (const SectionEntry& e : idx->sections()) bytes.emplace_back(image.begin() + e.offset, image.begin() + e.offset + e.size);
  std::vector<SectionData> sections;
  for (size_t i = 0; i < bytes.size(); ++i) {
    uint32_t sid = idx->sections()[i].id;
    if (sid == id) {
      if (drop) continue;
      edit(bytes[i]);
      if (rename_to != 0) sid = rename_to;
    }
    sections.push_back({sid, {bytes[i]}});
  }
  return BuildSnapshotImage(sections);
}

std::vector<uint8_t> Without(std::span<const uint8_t> image, uint32_t id) {
  return WithSection(image, id, [](auto&) {}, 0, true);
}

TEST(StateImageTest, CorruptCheckpointsAreRefusedAndLeaveTheTargetAlone) {
  TWINSTEP_SKIP_WITHOUT_KVM();
  auto a = SpinningMachine(32ull << 20);
  ASSERT_TRUE(a);
  ASSERT_TRUE(a->Start());
  ASSERT_TRUE(testing::WaitFor(
      [&] {
        uint64_t v = 0;
        (void)a->vm().memory().Read(0x400000, {reinterpret_cast<uint8_t*>(&v), 8});
        return v > 0;
      },
      10000));
  a->Pause();
  const std::vector<uint64_t> gfns = {0x100, 0x400, 0x401};
  const uint8_t ctl[3] = {'c', 't', 'l'};
  auto good = EncodeCheckpoint(*a, gfns, ctl);
  ASSERT_TRUE(good) << good.error().ToString();
  auto idx = SnapshotIndex::Parse(*good);
  ASSERT_TRUE(idx);

  auto b = SpinningMachine(32ull << 20);
  ASSERT_TRUE(b);
  (void)Collect(*b);  // the loader's writes
  const uint8_t scratch = 0x5a;
  b->uart().Write(7, {&scratch, 1});
  const uint8_t keep[4] = {'k', 'e', 'e', 'p'};
  ASSERT_TRUE(b->vm().memory().Write(0x401000, keep));
  const uint64_t digest = MemoryDigest(b->vm().memory());
  const uint64_t rip = Regs(*b).rip;
  ByteWriter devices_before;
  b->SaveDevices(devices_before);
  auto unchanged = [&](const std::string& what) {
    EXPECT_EQ(MemoryDigest(b->vm().memory()), digest) << what;
    EXPECT_EQ(Regs(*b).rip, rip) << what;
    ByteWriter now;
    b->SaveDevices(now);
    EXPECT_EQ(now.bytes(), devices_before.bytes()) << what;
  };
  auto expect_refused = [&](const std::string& what, std::span<const uint8_t> image, Errc code, const std::string& says) {
    auto s = ApplyCheckpoint(*b, image, nullptr);
    ASSERT_FALSE(s) << what;
    EXPECT_EQ(s.error().code, code) << what << ": " << s.error().ToString();
    EXPECT_NE(s.error().detail.find(says), std::string::npos) << what << ": " << s.error().detail;
    unchanged(what);
  };

  // A flipped byte in each section is found by that section's CRC and named.
  for (const SectionEntry& e : idx->sections()) {
    std::vector<uint8_t> bad = *good;
    bad[e.offset + e.size / 2] ^= 0x40;
    expect_refused("flip in " + SectionName(e.id), bad, Errc::kSnapshotCorrupt, "section " + SectionName(e.id) + " checksum");
  }
  expect_refused("truncated", std::span(*good).first(good->size() - 1), Errc::kSnapshotTruncated, "ends past the end");
  expect_refused("frame outside RAM", WithSection(*good, kSecPages, [](auto& p) { std::memset(p.data() + 24 + 16, 0x7f, 8); }),
                 Errc::kSnapshotCorrupt, "page #2 (frame 0x7f7f7f7f7f7f7f7f) is not a page of the 32 MiB");
  expect_refused("frame in the hole", WithSection(*good, kSecPages, [](auto& p) {
                   const uint64_t g = kMmioHoleStart >> kPageShift;
                   std::memcpy(p.data() + 24 + 16, &g, 8);
                 }),
                 Errc::kSnapshotCorrupt, "page #2 (frame 0xc0000)");
  expect_refused("vCPU section short", WithSection(*good, VcpuSectionId(0), [](auto& p) { p.pop_back(); }),
                 Errc::kSnapshotCorrupt, "vCPU section has the wrong length");
  // The UART and PCI states load before the trailing bytes are found: the
  // devices must be put back (B's UART scratch register differs from A's).
  expect_refused("device section too long", WithSection(*good, kSecDevices, [](auto& p) { p.resize(p.size() + 3); }),
                 Errc::kSnapshotCorrupt, "device section has the wrong length");
  expect_refused("PCI function missing", WithSection(*good, kSecDevices, [](auto& p) { p.resize(p.size() - 3); }),
                 Errc::kSnapshotMismatch, "PCI state has fewer functions");
  expect_refused("extra section missing", Without(*good, kSecExtra), Errc::kSnapshotCorrupt, "no XTRA section");
  expect_refused("second vCPU section", WithSection(*good, kSecExtra, [](auto& p) { p.clear(); }, VcpuSectionId(1)),
                 Errc::kSnapshotCorrupt, "unexpected section VCP\x01");
  auto big = SpinningMachine(64ull << 20);
  ASSERT_TRUE(big);
  big->Pause();
  auto other = EncodeCheckpoint(*big, gfns, {});
  ASSERT_TRUE(other);
  expect_refused("another RAM size", *other, Errc::kSnapshotMismatch, "image has 64 MiB and 1 vCPUs, this VM 32 MiB");

  // The good image still applies, and the page B had dirtied before stays reported.
  ASSERT_TRUE(ApplyCheckpoint(*b, *good, nullptr));
  EXPECT_EQ(std::memcmp(b->vm().memory().HostPtr(0x400000, 2 * kPageSize), a->vm().memory().HostPtr(0x400000, 2 * kPageSize),
                        2 * kPageSize),
            0);
  EXPECT_EQ(Regs(*b).rip, Regs(*a).rip);
  EXPECT_EQ(Collect(*b), std::vector<uint64_t>{0x401});
  // A running machine takes no checkpoint and no apply.
  ASSERT_TRUE(b->Resume());
  auto applied = ApplyCheckpoint(*b, *good, nullptr);
  ASSERT_FALSE(applied);
  EXPECT_EQ(applied.error().code, Errc::kArgument) << applied.error().ToString();
  auto encoded = EncodeCheckpoint(*b, gfns, {});
  ASSERT_FALSE(encoded);
  EXPECT_EQ(encoded.error().code, Errc::kArgument) << encoded.error().ToString();
  b->Pause();
}

}  // namespace
}  // namespace twinstep::host
