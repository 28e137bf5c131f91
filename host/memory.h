// Guest RAM: one memfd mapped once, exposed to KVM as up to two slots (below the
// 3 GiB PCI hole and above 4 GiB), with dirty tracking of guest (KVM dirty log)
// and VMM writes (devices filling guest buffers, which KVM does not see).
#pragma once

#include <atomic>
#include <cstdint>
#include <memory>
#include <span>
#include <vector>

#include "host/error.h"

namespace twinstep::host {

inline constexpr uint64_t kPageSize = 4096;
inline constexpr uint64_t kPageShift = 12;
inline constexpr uint64_t kMmioHoleStart = 0xC000'0000;  // 3 GiB: PCI BARs, IOAPIC, LAPIC
inline constexpr uint64_t kHighMemStart = 0x1'0000'0000;  // 4 GiB

struct MemRegion {
  uint64_t gpa = 0;
  uint64_t size = 0;
  uint64_t offset = 0;  // into the memfd (and into the host mapping)
  uint32_t slot = 0;
};

// Appends base_gfn + i for every bit i set in bitmap (64 pages per word).
// Pure: the dirty-log bitmap format of KVM_GET_DIRTY_LOG.
void AppendSetBits(std::span<const uint64_t> bitmap, uint64_t base_gfn, std::vector<uint64_t>& out);

class GuestMemory {
 public:
  // size_bytes: a multiple of 2 MiB, at least 2 MiB.
  static Result<std::unique_ptr<GuestMemory>> Create(uint64_t size_bytes, bool hugepages);
  ~GuestMemory();
  GuestMemory(const GuestMemory&) = delete;
  GuestMemory& operator=(const GuestMemory&) = delete;

  uint64_t size() const { return size_; }
  int fd() const { return fd_; }
  const std::vector<MemRegion>& regions() const { return regions_; }
  // The whole of RAM in memfd order (regions back to back).
  uint8_t* base() const { return base_; }

  // Host address of [gpa, gpa + len) when it lies inside one region, else nullptr.
  uint8_t* HostPtr(uint64_t gpa, uint64_t len) const;
  // Copies with bounds checks; Write marks the pages dirty.
  Status Read(uint64_t gpa, std::span<uint8_t> out) const;
  Status Write(uint64_t gpa, std::span<const uint8_t> in);
  // Records a VMM write into guest memory for the next CollectDirty().
  void MarkDirty(uint64_t gpa, uint64_t len);

  // Registers the slots with KVM, dirty logging on.
  Status Register(int vm_fd);
  // Guest frame numbers written since the last call (guest and VMM writes),
  // sorted ascending, without duplicates.
  Result<std::vector<uint64_t>> CollectDirty();

 private:
  GuestMemory() = default;
  const MemRegion* Find(uint64_t gpa, uint64_t len) const;

  int fd_ = -1;
  int vm_fd_ = -1;
  uint8_t* base_ = nullptr;
  uint64_t size_ = 0;
  std::vector<MemRegion> regions_;
  // One bit per page of RAM in memfd order; set by MarkDirty.
  std::unique_ptr<std::atomic<uint64_t>[]> vmm_dirty_;
  std::vector<uint64_t> scratch_;
};

}  // namespace twinstep::host
