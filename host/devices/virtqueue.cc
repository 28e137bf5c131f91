// Virtqueue: descriptor walking with bounds checks, used-ring updates with the
// barriers the virtio memory model needs, and vring_need_event.
#include "host/devices/virtqueue.h"

#include <atomic>
#include <cstring>

namespace twinstep::host {
namespace {

constexpr uint16_t kDescFNext = 1, kDescFWrite = 2, kDescFIndirect = 4;
constexpr uint16_t kUsedFNoNotify = 1;
constexpr uint16_t kAvailFNoInterrupt = 1;

// Ring fields are naturally aligned inside guest RAM, and the driver updates
// them concurrently: atomic_ref gives single-copy atomic 16-bit accesses.
uint16_t Load16(uint8_t* p) { return std::atomic_ref<uint16_t>(*reinterpret_cast<uint16_t*>(p)).load(std::memory_order_acquire); }
void Store16(uint8_t* p, uint16_t v) {
  std::atomic_ref<uint16_t>(*reinterpret_cast<uint16_t*>(p)).store(v, std::memory_order_release);
}

bool NeedEvent(uint16_t event, uint16_t new_idx, uint16_t old) {
  return static_cast<uint16_t>(new_idx - event - 1) < static_cast<uint16_t>(new_idx - old);
}

}  // namespace

bool Virtqueue::Activate(GuestMemory& mem, bool event_idx) {
  if (size == 0 || size > kMaxSize || (size & (size - 1)) != 0) return false;
  if ((desc_gpa & 15) || (avail_gpa & 1) || (used_gpa & 3)) return false;
  desc_ = mem.HostPtr(desc_gpa, 16ull * size);
  avail_ = mem.HostPtr(avail_gpa, 6 + 2ull * size);
  used_ = mem.HostPtr(used_gpa, 6 + 8ull * size);
  if (desc_ == nullptr || avail_ == nullptr || used_ == nullptr) {
    desc_ = avail_ = used_ = nullptr;
    return false;
  }
  mem_ = &mem;
  event_idx_ = event_idx;
  broken_ = false;
  return true;
}

void Virtqueue::Reset() {
  *this = Virtqueue{};
}

bool Virtqueue::HasAvailable() const {
  return avail_ != nullptr && Load16(avail_ + 2) != last_avail_;
}

bool Virtqueue::Pop(VirtqChain* chain) {
  if (avail_ == nullptr || broken_) return false;
  const uint16_t avail_idx = Load16(avail_ + 2);
  if (avail_idx == last_avail_) return false;
  if (static_cast<uint16_t>(avail_idx - last_avail_) > size) {
    broken_ = true;  // the driver claims more buffers than the ring holds
    return false;
  }
  const uint16_t head = Load16(avail_ + 4 + 2 * (last_avail_ % size));
  ++last_avail_;
  chain->head = head;
  chain->bufs.clear();
  uint16_t i = head;
  for (uint32_t n = 0;; ++n) {
    if (i >= size || n >= size) {
      broken_ = true;
      return false;
    }
    uint64_t addr;
    uint32_t len;
    uint16_t flags, next;
    const uint8_t* d = desc_ + 16ull * i;
    std::memcpy(&addr, d, 8);
    std::memcpy(&len, d + 8, 4);
    std::memcpy(&flags, d + 12, 2);
    std::memcpy(&next, d + 14, 2);
    uint8_t* host = mem_->HostPtr(addr, len);
    if ((flags & kDescFIndirect) || host == nullptr) {
      broken_ = true;
      return false;
    }
    chain->bufs.push_back({host, addr, len, (flags & kDescFWrite) != 0});
    if (!(flags & kDescFNext)) break;
    i = next;
  }
  SuppressNotifications(suppress_);
  return true;
}

void Virtqueue::Push(uint16_t head, uint32_t written) {
  uint8_t* elem = used_ + 4 + 8ull * (used_idx_ % size);
  const uint32_t id = head;
  std::memcpy(elem, &id, 4);
  std::memcpy(elem + 4, &written, 4);
  ++used_idx_;
  Store16(used_ + 2, used_idx_);  // release: the element is visible before the index
  mem_->MarkDirty(used_gpa, 6 + 8ull * size);
}

bool Virtqueue::NeedInterrupt() {
  std::atomic_thread_fence(std::memory_order_seq_cst);  // used idx store before reading used_event
  const uint16_t old = signalled_used_;
  signalled_used_ = used_idx_;
  if (old == used_idx_) return false;
  if (event_idx_) return NeedEvent(Load16(avail_ + 4 + 2ull * size), used_idx_, old);
  return !(Load16(avail_) & kAvailFNoInterrupt);
}

void Virtqueue::SuppressNotifications(bool suppress) {
  suppress_ = suppress;
  if (used_ == nullptr) return;
  if (event_idx_) {
    // avail_event: the driver notifies when its index passes this value. One
    // behind what we have taken is out of reach for 64K buffers.
    Store16(used_ + 4 + 8ull * size, suppress ? static_cast<uint16_t>(last_avail_ - 1) : last_avail_);
  } else {
    Store16(used_, suppress ? kUsedFNoNotify : 0);
  }
  mem_->MarkDirty(used_gpa, 6 + 8ull * size);
  std::atomic_thread_fence(std::memory_order_seq_cst);  // then re-check avail (the caller does)
}

void Virtqueue::SaveState(ByteWriter& w) const {
  w.Put(size);
  w.Put(static_cast<uint8_t>(enabled));
  w.Put(desc_gpa);
  w.Put(avail_gpa);
  w.Put(used_gpa);
  w.Put(last_avail_);
  w.Put(used_idx_);
  w.Put(signalled_used_);
  w.Put(static_cast<uint8_t>(suppress_));
}

bool Virtqueue::LoadState(ByteReader& r) {
  Virtqueue q;
  uint8_t en = 0, sup = 0;
  r.Get(&q.size);
  r.Get(&en);
  r.Get(&q.desc_gpa);
  r.Get(&q.avail_gpa);
  r.Get(&q.used_gpa);
  r.Get(&q.last_avail_);
  r.Get(&q.used_idx_);
  r.Get(&q.signalled_used_);
  r.Get(&sup);
  if (!r.ok() || q.size == 0 || q.size > kMaxSize) return false;
  q.enabled = en != 0;
  q.suppress_ = sup != 0;
  *this = q;
  return true;
}

}  // namespace twinstep::host
