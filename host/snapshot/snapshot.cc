// SaveSnapshot / RestoreSnapshot.
#include "host/snapshot/snapshot.h"

#include <fcntl.h>
#include <linux/falloc.h>
#include <unistd.h>

#include <bit>
#include <cstring>

#include "host/snapshot/vcpu_state.h"

namespace twinstep::host {
namespace {

bool PageIsZero(const uint8_t* p) {
  const auto* w = reinterpret_cast<const uint64_t*>(p);  // pages are 4 KiB aligned in the mapping
  uint64_t acc = 0;
  for (size_t i = 0; i < kPageSize / 8; ++i) acc |= w[i];
  return acc == 0;
}

// Memory section: u64 bytes | u64 pages | bitmap (u64 words) | non-zero pages in order.
struct MemoryImage {
  uint64_t header[2];
  std::vector<uint64_t> bitmap;
  std::vector<std::span<const uint8_t>> runs;
  uint64_t pages_saved = 0;
};

void BuildMemoryImage(GuestMemory& mem, MemoryImage* img) {
  const uint64_t pages = mem.size() / kPageSize;
  img->header[0] = mem.size();
  img->header[1] = pages;
  img->bitmap.assign((pages + 63) / 64, 0);
  // Holes of the memfd were never touched: skip them without faulting pages in.
  off_t pos = 0;
  const off_t end = static_cast<off_t>(mem.size());
  while (pos < end) {
    off_t data = lseek(mem.fd(), pos, SEEK_DATA);
    if (data < 0) break;
    off_t hole = lseek(mem.fd(), data, SEEK_HOLE);
    if (hole < 0 || hole > end) hole = end;
    uint64_t run_start = ~0ull;
    for (uint64_t pg = static_cast<uint64_t>(data) / kPageSize; pg < static_cast<uint64_t>(hole) / kPageSize; ++pg) {
      const uint8_t* p = mem.base() + pg * kPageSize;
      const bool keep = !PageIsZero(p);
      if (keep) {
        img->bitmap[pg / 64] |= 1ull << (pg % 64);
        ++img->pages_saved;
        if (run_start == ~0ull) run_start = pg;
      }
      if (!keep && run_start != ~0ull) {
        img->runs.push_back({mem.base() + run_start * kPageSize, (pg - run_start) * kPageSize});
        run_start = ~0ull;
      }
    }
    if (run_start != ~0ull) {
      img->runs.push_back({mem.base() + run_start * kPageSize, (static_cast<uint64_t>(hole) / kPageSize - run_start) * kPageSize});
    }
    pos = hole;
  }
}

template <typename T>
std::span<const uint8_t> AsBytes(const T* p, size_t n) {
  return {reinterpret_cast<const uint8_t*>(p), n * sizeof(T)};
}

}  // namespace

Result<SnapshotStats> SaveSnapshot(Machine& m, const std::string& path) {
  Vm& vm = m.vm();
  if (vm.running()) return Fail(Errc::kArgument, "snapshot of a running VM: pause it first");
  ByteWriter conf;
  conf.Put(vm.memory().size());
  conf.Put(vm.vcpu_count());
  auto msrs = SavedMsrIndices(vm.kvm_fd(), vm.vcpu(0));
  if (!msrs) return MakeUnexpected(msrs.error());
  std::vector<ByteWriter> vcpus(vm.vcpu_count());
  for (uint32_t i = 0; i < vm.vcpu_count(); ++i) {
    auto s = GetVcpuState(vm.vcpu(i), *msrs);
    if (!s) return MakeUnexpected(s.error());
    EncodeVcpuState(vcpus[i], *s);
  }
  auto kvmd = GetVmDeviceState(vm.vm_fd());
  if (!kvmd) return MakeUnexpected(kvmd.error());
  ByteWriter kvmd_w;
  EncodeVmDeviceState(kvmd_w, *kvmd);
  ByteWriter devs;
  m.SaveDevices(devs);
  MemoryImage img;
  BuildMemoryImage(vm.memory(), &img);

  std::vector<SectionData> sections;
  sections.push_back({kSecConfig, {conf.bytes()}});
  for (uint32_t i = 0; i < vm.vcpu_count(); ++i) sections.push_back({VcpuSectionId(i), {vcpus[i].bytes()}});
  sections.push_back({kSecVmDevices, {kvmd_w.bytes()}});
  sections.push_back({kSecDevices, {devs.bytes()}});
  SectionData mem{kSecMemory, {AsBytes(img.header, 2), AsBytes(img.bitmap.data(), img.bitmap.size())}};
  mem.parts.insert(mem.parts.end(), img.runs.begin(), img.runs.end());
  sections.push_back(std::move(mem));
  if (auto s = WriteSnapshotFile(path, sections); !s) return MakeUnexpected(s.error());
  SnapshotStats st;
  st.pages_saved = img.pages_saved;
  for (const auto& s : sections) {
    for (auto p : s.parts) st.file_bytes += p.size();
  }
  st.file_bytes += sizeof(SnapshotHeader) + sections.size() * sizeof(SectionEntry);
  return st;
}

Result<SnapshotConfig> ReadSnapshotConfig(const SnapshotFile& file) {
  std::span<const uint8_t> b;
  if (!file.index().Find(kSecConfig, &b)) return Fail(Errc::kSnapshotCorrupt, "no CONF section");
  ByteReader r(b);
  SnapshotConfig c;
  r.Get(&c.mem_bytes);
  r.Get(&c.vcpus);
  if (!r.ok() || !r.at_end()) return Fail(Errc::kSnapshotCorrupt, "CONF section has the wrong length");
  return c;
}

Status RestoreSnapshot(Machine& m, const SnapshotFile& file) {
  Vm& vm = m.vm();
  if (vm.running()) return Fail(Errc::kArgument, "restore into a running VM");
  const SnapshotIndex& idx = file.index();
  // 1. Check and decode everything.
  auto conf = ReadSnapshotConfig(file);
  if (!conf) return MakeUnexpected(conf.error());
  if (conf->mem_bytes != vm.memory().size() || conf->vcpus != vm.vcpu_count()) {
    return Fail(Errc::kSnapshotMismatch, "snapshot has " + std::to_string(conf->mem_bytes >> 20) + " MiB and " +
                                             std::to_string(conf->vcpus) + " vCPUs, this VM " +
                                             std::to_string(vm.memory().size() >> 20) + " MiB and " +
                                             std::to_string(vm.vcpu_count()));
  }
  std::vector<VcpuState> vcpus(vm.vcpu_count());
  for (uint32_t i = 0; i < vm.vcpu_count(); ++i) {
    std::span<const uint8_t> b;
    if (!idx.Find(VcpuSectionId(i), &b)) return Fail(Errc::kSnapshotCorrupt, "no section for vCPU " + std::to_string(i));
    ByteReader r(b);
    if (auto s = DecodeVcpuState(r, &vcpus[i]); !s) return s;
  }
  VmDeviceState kvmd;
  {
    std::span<const uint8_t> b;
    if (!idx.Find(kSecVmDevices, &b)) return Fail(Errc::kSnapshotCorrupt, "no KVMD section");
    ByteReader r(b);
    if (auto s = DecodeVmDeviceState(r, &kvmd); !s) return s;
  }
  std::span<const uint8_t> devs, mem;
  if (!idx.Find(kSecDevices, &devs)) return Fail(Errc::kSnapshotCorrupt, "no DEVS section");
  if (!idx.Find(kSecMemory, &mem)) return Fail(Errc::kSnapshotCorrupt, "no MEMR section");
  uint64_t hdr[2];
  if (mem.size() < sizeof hdr) return Fail(Errc::kSnapshotCorrupt, "MEMR section too short");
  std::memcpy(hdr, mem.data(), sizeof hdr);
  const uint64_t pages = vm.memory().size() / kPageSize;
  const uint64_t words = (pages + 63) / 64;
  if (hdr[0] != vm.memory().size() || hdr[1] != pages || mem.size() < sizeof hdr + words * 8) {
    return Fail(Errc::kSnapshotCorrupt, "MEMR header does not match the memory size");
  }
  std::vector<uint64_t> bitmap(words);
  std::memcpy(bitmap.data(), mem.data() + sizeof hdr, words * 8);
  uint64_t set = 0;
  for (uint64_t w : bitmap) set += static_cast<uint64_t>(std::popcount(w));
  if (mem.size() != sizeof hdr + words * 8 + set * kPageSize) {
    return Fail(Errc::kSnapshotCorrupt, "MEMR holds " + std::to_string(mem.size()) + " bytes, its bitmap says " +
                                            std::to_string(sizeof hdr + words * 8 + set * kPageSize));
  }
  // 2. Apply. Devices first: a device that does not match this machine (another
  // disk size, a missing NIC) is refused before guest memory is touched.
  ByteReader dr(devs);
  if (auto s = m.LoadDevices(dr); !s) return s;
  GuestMemory& gm = vm.memory();
  if (fallocate(gm.fd(), FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE, 0, static_cast<off_t>(gm.size())) != 0) {
    std::memset(gm.base(), 0, gm.size());
  }
  const uint8_t* src = mem.data() + sizeof hdr + words * 8;
  std::vector<uint64_t> gfns;
  AppendSetBits(bitmap, 0, gfns);
  for (uint64_t pg : gfns) {
    std::memcpy(gm.base() + pg * kPageSize, src, kPageSize);
    src += kPageSize;
  }
  if (auto s = SetVmDeviceState(vm.vm_fd(), kvmd); !s) return s;
  for (uint32_t i = 0; i < vm.vcpu_count(); ++i) {
    if (auto s = SetVcpuState(vm.vcpu(i), vcpus[i]); !s) return s;
  }
  // The restored image is the new baseline for dirty tracking.
  if (auto d = vm.DirtyPages(); !d) return MakeUnexpected(d.error());
  return {};
}

}  // namespace twinstep::host
