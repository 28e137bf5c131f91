// MachineImage, ApplyMachineImage, SaveSnapshot / RestoreSnapshot.
#include "host/snapshot/snapshot.h"

#include "host/snapshot/vcpu_state.h"

namespace twinstep::host {

Result<MachineImage> MachineImage::Capture(Machine& m, std::span<const uint64_t> gfns, uint32_t page_flags) {
  Vm& vm = m.vm();
  if (vm.running()) return Fail(Errc::kArgument, "image of a running VM: pause it first");
  MachineImage img;
  img.conf_.Put(vm.memory().size());
  img.conf_.Put(vm.vcpu_count());
  auto msrs = SavedMsrIndices(vm.kvm_fd(), vm.vcpu(0));
  if (!msrs) return MakeUnexpected(msrs.error());
  img.vcpus_.resize(vm.vcpu_count());
  for (uint32_t i = 0; i < vm.vcpu_count(); ++i) {
    auto s = GetVcpuState(vm.vcpu(i), *msrs);
    if (!s) return MakeUnexpected(s.error());
    EncodeVcpuState(img.vcpus_[i], *s);
  }
  auto kvmd = GetVmDeviceState(vm.vm_fd());
  if (!kvmd) return MakeUnexpected(kvmd.error());
  EncodeVmDeviceState(img.kvmd_, *kvmd);
  m.SaveDevices(img.devs_);
  auto pages = PageSectionWriter::Build(vm.memory(), gfns, page_flags);
  if (!pages) return MakeUnexpected(pages.error());
  img.pages_ = std::move(*pages);
  return img;
}

std::vector<SectionData> MachineImage::Sections() const {
  auto bytes = [](const ByteWriter& w) { return std::span<const uint8_t>(w.bytes()); };
  std::vector<SectionData> s;
  s.push_back({kSecConfig, {bytes(conf_)}});
  for (uint32_t i = 0; i < vcpus_.size(); ++i) s.push_back({VcpuSectionId(i), {bytes(vcpus_[i])}});
  s.push_back({kSecVmDevices, {bytes(kvmd_)}});
  s.push_back({kSecDevices, {bytes(devs_)}});
  s.push_back(pages_.Section());
  s.insert(s.end(), extra_.begin(), extra_.end());
  return s;
}

Result<SnapshotConfig> ReadSnapshotConfig(const SnapshotIndex& image) {
  std::span<const uint8_t> b;
  if (!image.Find(kSecConfig, &b)) return Fail(Errc::kSnapshotCorrupt, "no CONF section");
  ByteReader r(b);
  SnapshotConfig c;
  r.Get(&c.mem_bytes);
  r.Get(&c.vcpus);
  if (!r.ok() || !r.at_end()) return Fail(Errc::kSnapshotCorrupt, "CONF section has the wrong length");
  return c;
}

Status ApplyMachineImage(Machine& m, const SnapshotIndex& idx, bool require_complete) {
  Vm& vm = m.vm();
  if (vm.running()) return Fail(Errc::kArgument, "restore into a running VM: pause it first");
  // 1. Check and decode everything.
  auto conf = ReadSnapshotConfig(idx);
  if (!conf) return MakeUnexpected(conf.error());
  if (conf->mem_bytes != vm.memory().size() || conf->vcpus != vm.vcpu_count()) {
    return Fail(Errc::kSnapshotMismatch, "image has " + std::to_string(conf->mem_bytes >> 20) + " MiB and " +
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
  if (!idx.Find(kSecPages, &mem)) return Fail(Errc::kSnapshotCorrupt, "no PAGE section");
  auto pages = ParsePageSection(mem, vm.memory());
  if (!pages) return MakeUnexpected(pages.error());
  if (require_complete && !pages->complete()) {
    return Fail(Errc::kSnapshotMismatch, "the image holds only some pages (an incremental checkpoint), not all of RAM");
  }
  // 2. Apply. Devices first: a device that does not match this machine (another
  // disk size, a missing NIC) is refused before guest memory is touched, and
  // the devices go back to the state they had.
  ByteWriter before;
  m.SaveDevices(before);
  ByteReader dr(devs);
  if (auto s = m.LoadDevices(dr); !s) {
    ByteReader back(before.bytes());
    if (auto b = m.LoadDevices(back); !b) {
      Error e = s.error();
      e.detail += "; putting the devices back failed too: " + b.error().ToString();
      return MakeUnexpected(e);
    }
    return s;
  }
  WritePages(vm.memory(), *pages);
  if (auto s = SetVmDeviceState(vm.vm_fd(), kvmd); !s) return s;
  for (uint32_t i = 0; i < vm.vcpu_count(); ++i) {
    if (auto s = SetVcpuState(vm.vcpu(i), vcpus[i]); !s) return s;
  }
  return {};
}

Result<SnapshotStats> SaveSnapshot(Machine& m, const std::string& path) {
  const std::vector<uint64_t> pages = NonZeroPages(m.vm().memory());
  auto img = MachineImage::Capture(m, pages, kPagesComplete);
  if (!img) return MakeUnexpected(img.error());
  const std::vector<SectionData> sections = img->Sections();
  if (auto s = WriteSnapshotFile(path, sections); !s) return MakeUnexpected(s.error());
  SnapshotStats st;
  st.pages_saved = img->pages();
  for (const auto& s : sections) {
    for (auto p : s.parts) st.file_bytes += p.size();
  }
  st.file_bytes += sizeof(SnapshotHeader) + sections.size() * sizeof(SectionEntry);
  return st;
}

Status RestoreSnapshot(Machine& m, const SnapshotFile& file) {
  if (auto s = ApplyMachineImage(m, file.index(), true); !s) return s;
  // The restored image is the new baseline for dirty tracking.
  if (auto d = m.vm().DirtyPages(); !d) return MakeUnexpected(d.error());
  return {};
}

}  // namespace twinstep::host
