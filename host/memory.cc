// Guest RAM on a memfd, its KVM slots and its dirty tracking.
#include "host/memory.h"

#include <linux/kvm.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <unistd.h>

#include <algorithm>
#include <bit>
#include <cstring>
#include <string>

namespace twinstep::host {

void AppendSetBits(std::span<const uint64_t> bitmap, uint64_t base_gfn, std::vector<uint64_t>& out) {
  for (size_t w = 0; w < bitmap.size(); ++w) {
    uint64_t bits = bitmap[w];
    while (bits != 0) {
      const int b = std::countr_zero(bits);
      out.push_back(base_gfn + w * 64 + static_cast<uint64_t>(b));
      bits &= bits - 1;
    }
  }
}

Result<std::unique_ptr<GuestMemory>> GuestMemory::Create(uint64_t size_bytes, bool hugepages) {
  constexpr uint64_t k2M = 2ull << 20;
  if (size_bytes < k2M || size_bytes % k2M != 0) {
    return Fail(Errc::kArgument, "guest memory size " + std::to_string(size_bytes) +
                                     " is not a positive multiple of 2 MiB");
  }
  std::unique_ptr<GuestMemory> m(new GuestMemory());
  m->size_ = size_bytes;
  const unsigned flags = MFD_CLOEXEC | (hugepages ? MFD_HUGETLB : 0u);
  m->fd_ = memfd_create("twinstep-guest-ram", flags);
  if (m->fd_ < 0) return FailErrno(Errc::kMemory, "memfd_create");
  if (ftruncate(m->fd_, static_cast<off_t>(size_bytes)) != 0) {
    return FailErrno(Errc::kMemory, "ftruncate guest memfd to " + std::to_string(size_bytes));
  }
  // hugetlb: no MAP_NORESERVE, so that a short pool fails here instead of a
  // SIGBUS at the first touch.
  const int reserve = hugepages ? 0 : MAP_NORESERVE;
  void* p = mmap(nullptr, size_bytes, PROT_READ | PROT_WRITE, MAP_SHARED | reserve, m->fd_, 0);
  if (p == MAP_FAILED) {
    return FailErrno(Errc::kMemory, hugepages ? "mmap guest memfd on hugetlb pages (too few in /proc/sys/vm/nr_hugepages?)"
                                              : "mmap guest memfd");
  }
  m->base_ = static_cast<uint8_t*>(p);
  madvise(p, size_bytes, MADV_MERGEABLE);  // best effort: KSM may share zero pages
  const uint64_t low = std::min(size_bytes, kMmioHoleStart);
  m->regions_.push_back(MemRegion{0, low, 0, 0});
  if (size_bytes > low) m->regions_.push_back(MemRegion{kHighMemStart, size_bytes - low, low, 1});
  const uint64_t words = (size_bytes / kPageSize + 63) / 64;
  m->vmm_dirty_ = std::make_unique<std::atomic<uint64_t>[]>(words);
  return m;
}

GuestMemory::~GuestMemory() {
  if (base_ != nullptr) munmap(base_, size_);
  if (fd_ >= 0) close(fd_);
}

const MemRegion* GuestMemory::Find(uint64_t gpa, uint64_t len) const {
  for (const MemRegion& r : regions_) {
    if (gpa >= r.gpa && len <= r.size && gpa - r.gpa <= r.size - len) return &r;
  }
  return nullptr;
}

uint8_t* GuestMemory::HostPtr(uint64_t gpa, uint64_t len) const {
  const MemRegion* r = Find(gpa, len);
  return r == nullptr ? nullptr : base_ + r->offset + (gpa - r->gpa);
}

static std::string Range(uint64_t gpa, uint64_t len) {
  char buf[64];
  std::snprintf(buf, sizeof buf, "[%#llx, +%#llx)", static_cast<unsigned long long>(gpa),
                static_cast<unsigned long long>(len));
  return buf;
}

Status GuestMemory::Read(uint64_t gpa, std::span<uint8_t> out) const {
  const uint8_t* p = HostPtr(gpa, out.size());
  if (p == nullptr) return Fail(Errc::kGuestAddress, "read " + Range(gpa, out.size()));
  std::memcpy(out.data(), p, out.size());
  return {};
}

Status GuestMemory::Write(uint64_t gpa, std::span<const uint8_t> in) {
  uint8_t* p = HostPtr(gpa, in.size());
  if (p == nullptr) return Fail(Errc::kGuestAddress, "write " + Range(gpa, in.size()));
  std::memcpy(p, in.data(), in.size());
  MarkDirty(gpa, in.size());
  return {};
}

void GuestMemory::MarkDirty(uint64_t gpa, uint64_t len) {
  if (len == 0) return;
  const MemRegion* r = Find(gpa, len);
  if (r == nullptr) return;
  const uint64_t first = (r->offset + gpa - r->gpa) >> kPageShift;
  const uint64_t last = (r->offset + gpa - r->gpa + len - 1) >> kPageShift;
  for (uint64_t pg = first; pg <= last; ++pg) {
    vmm_dirty_[pg / 64].fetch_or(1ull << (pg % 64), std::memory_order_relaxed);
  }
}

Status GuestMemory::Register(int vm_fd) {
  vm_fd_ = vm_fd;
  for (const MemRegion& r : regions_) {
    kvm_userspace_memory_region region{};
    region.slot = r.slot;
    region.flags = KVM_MEM_LOG_DIRTY_PAGES;
    region.guest_phys_addr = r.gpa;
    region.memory_size = r.size;
    region.userspace_addr = reinterpret_cast<uint64_t>(base_ + r.offset);
    // The mapping outlives the VM: GuestMemory is destroyed after the VM fd is closed.
    if (ioctl(vm_fd, KVM_SET_USER_MEMORY_REGION, &region) != 0) {
      return FailErrno(Errc::kKvmIoctl, "KVM_SET_USER_MEMORY_REGION slot " + std::to_string(r.slot));
    }
  }
  return {};
}

Result<std::vector<uint64_t>> GuestMemory::CollectDirty() {
  std::vector<uint64_t> out;
  for (const MemRegion& r : regions_) {
    const uint64_t pages = r.size / kPageSize;
    const uint64_t words = (pages + 63) / 64;
    scratch_.assign(words, 0);
    if (vm_fd_ >= 0) {
      kvm_dirty_log log{};
      log.slot = r.slot;
      log.dirty_bitmap = scratch_.data();
      // scratch_ holds one bit per page of the slot, as KVM requires.
      if (ioctl(vm_fd_, KVM_GET_DIRTY_LOG, &log) != 0) {
        return FailErrno(Errc::kKvmIoctl, "KVM_GET_DIRTY_LOG slot " + std::to_string(r.slot));
      }
    }
    // Slot offsets are 2 MiB aligned, so the VMM bitmap words line up with the slot's.
    const uint64_t first_word = (r.offset / kPageSize) / 64;
    for (uint64_t w = 0; w < words; ++w) {
      scratch_[w] |= vmm_dirty_[first_word + w].exchange(0, std::memory_order_relaxed);
    }
    AppendSetBits(scratch_, r.gpa >> kPageShift, out);
  }
  return out;
}

}  // namespace twinstep::host
